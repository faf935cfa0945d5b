namespace TrajectoryTransfer.Permutations;

/// <summary>
/// Solves dense linear assignment problems: for an n×n similarity matrix S, finds the permutation σ
/// maximising Σᵢ S[i, σ(i)]. Weight matching calls it once per hidden-unit group and sweep.
/// </summary>
public interface IAssignmentSolver
{
    /// <summary>A short name for reports and logs, such as <c>"or-tools"</c> or <c>"jonker-volgenant"</c>.</summary>
    string Name { get; }

    /// <summary>Finds an assignment maximising the total similarity.</summary>
    /// <param name="similarity">The n×n similarity matrix, row-major (row i, column j at <c>i * size + j</c>). Must be finite.</param>
    /// <param name="size">n, at least 1.</param>
    /// <param name="hint">
    /// Optionally an assignment known to be good (for example, the previous solution for a nearby matrix). Solvers may use
    /// it to start faster; the result is optimal either way. Empty for none.
    /// </param>
    /// <param name="cancellationToken">Cancels a long solve where the solver supports it.</param>
    /// <returns>σ, with row i assigned to column σ[i].</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="size"/> is not positive.</exception>
    /// <exception cref="ArgumentException">The matrix length is not size², it holds NaN or infinity, or the hint is not a permutation of that size.</exception>
    /// <exception cref="AssignmentSolverException">The underlying solver failed (the message says n, max |S| and the status).</exception>
    int[] SolveMaximum(ReadOnlySpan<float> similarity, int size, ReadOnlySpan<int> hint = default, CancellationToken cancellationToken = default);
}

/// <summary>Thrown when an assignment solver cannot return an optimal assignment.</summary>
public sealed class AssignmentSolverException : PermutationException
{
    /// <summary>Creates the exception.</summary>
    public AssignmentSolverException()
    {
    }

    /// <summary>Creates the exception with a message.</summary>
    /// <param name="message">What failed: include n, max |S| and the solver status.</param>
    public AssignmentSolverException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with a message and the cause.</summary>
    /// <param name="message">What failed.</param>
    /// <param name="innerException">The cause.</param>
    public AssignmentSolverException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
