namespace TrajectoryTransfer.Permutations;

/// <summary>
/// An assignment solver that can start from the prices and assignment of an earlier solve (<see cref="AssignmentWarmStart"/>),
/// for sequences of nearby matrices such as one group's matrices over the steps of a transfer. The result is optimal
/// whatever the state holds; a state from a nearby matrix only makes the solve faster. Weight matching uses this capability
/// when it is given warm starts (<see cref="WeightMatchingProblem.Solve(Permutation?, AssignmentWarmStartSet?, IProgress{WeightMatchingProgress}?, CancellationToken)"/>).
/// </summary>
public interface IWarmStartAssignmentSolver : IAssignmentSolver
{
    /// <summary>
    /// Finds an assignment maximising the total similarity, starting from <paramref name="warmStart"/> when it holds a solve
    /// of the same size, and then stores this solve's optimal prices and assignment in it.
    /// </summary>
    /// <param name="similarity">The n×n similarity matrix, row-major (row i, column j at <c>i * size + j</c>). Must be finite.</param>
    /// <param name="size">n, at least 1.</param>
    /// <param name="hint">
    /// Optionally an assignment known to be good, used as in <see cref="IAssignmentSolver.SolveMaximum"/> only when
    /// <paramref name="warmStart"/> is empty or holds another size (its own assignment is the better start). Empty for none.
    /// </param>
    /// <param name="warmStart">The state to start from (an empty or other-size state means a cold solve) and to update.</param>
    /// <param name="cancellationToken">Cancels a long solve where the solver supports it; a canceled solve leaves the state as it was.</param>
    /// <returns>σ, with row i assigned to column σ[i] (a new array; the state keeps its own copy).</returns>
    /// <exception cref="ArgumentNullException"><paramref name="warmStart"/> is null.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="size"/> is not positive.</exception>
    /// <exception cref="ArgumentException">The matrix length is not size², it holds NaN or infinity, or the hint is not a permutation of that size.</exception>
    /// <exception cref="AssignmentSolverException">The underlying solver failed.</exception>
    int[] SolveMaximum(ReadOnlySpan<float> similarity, int size, ReadOnlySpan<int> hint, AssignmentWarmStart warmStart, CancellationToken cancellationToken = default);
}
