namespace TrajectoryTransfer.Permutations;

/// <summary>Settings for weight matching (coordinate descent over groups, as in Git Re-Basin). Validated when used.</summary>
public sealed record WeightMatchingOptions
{
    /// <summary>The options every call uses unless told otherwise.</summary>
    public static WeightMatchingOptions Default { get; } = new();

    /// <summary>Divide each (tensor, pair) term by the product of the two tensors' norms.</summary>
    /// <value>The default is <see langword="false"/>.</value>
    public bool Normalize { get; init; }

    /// <summary>The most sweeps over the groups.</summary>
    /// <value>The default is 100.</value>
    public int MaxSweeps { get; init; } = 100;

    /// <summary>
    /// A group's new assignment is adopted only if it raises that group's objective by more than this fraction of its
    /// magnitude (relative, so that tiny gradients are not mistaken for convergence).
    /// </summary>
    /// <value>The default is 1e-7.</value>
    public double Tolerance { get; init; } = 1e-7;

    /// <summary>Seeds the random order in which groups are visited in each sweep.</summary>
    /// <value>The default is 0.</value>
    public int Seed { get; init; }

    /// <summary>The assignment solver.</summary>
    /// <value>The default is <see cref="AssignmentSolvers.Default"/>.</value>
    public IAssignmentSolver? Solver { get; init; }

    /// <summary>Throws if a setting is out of range.</summary>
    /// <exception cref="ArgumentOutOfRangeException">MaxSweeps is not positive, or Tolerance is negative or not finite.</exception>
    public void Validate()
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(MaxSweeps);
        ArgumentOutOfRangeException.ThrowIfNegative(Tolerance);
        if (!double.IsFinite(Tolerance))
        {
            throw new ArgumentOutOfRangeException(nameof(Tolerance), Tolerance, "The tolerance must be finite.");
        }
    }
}

/// <summary>Progress of weight matching, reported after each sweep.</summary>
/// <param name="Sweep">The sweep just finished (1-based).</param>
/// <param name="MaxSweeps">The sweep limit.</param>
/// <param name="Objective">Σₖ cₖ ⟨Aₖ, π(Bₖ)⟩ after the sweep.</param>
/// <param name="GroupsSolved">Assignment problems solved in this sweep.</param>
/// <param name="GroupsChanged">Groups whose permutation changed in this sweep.</param>
/// <param name="Elapsed">Time since matching started.</param>
public readonly record struct WeightMatchingProgress(int Sweep, int MaxSweeps, double Objective, int GroupsSolved, int GroupsChanged, TimeSpan Elapsed);

/// <summary>The outcome of weight matching.</summary>
/// <param name="Permutation">The permutation found.</param>
/// <param name="InitialObjective">The objective at the starting permutation.</param>
/// <param name="ObjectiveBySweep">The objective after each sweep.</param>
/// <param name="Solves">Assignment problems solved in all.</param>
/// <param name="SimilarityTime">Time spent building similarity matrices (including their copy to the CPU).</param>
/// <param name="AssignmentTime">Time spent in the assignment solver.</param>
public sealed record WeightMatchingResult(
    Permutation Permutation,
    double InitialObjective,
    IReadOnlyList<double> ObjectiveBySweep,
    int Solves,
    TimeSpan SimilarityTime,
    TimeSpan AssignmentTime)
{
    /// <summary>The objective at the returned permutation.</summary>
    public double Objective => ObjectiveBySweep.Count > 0 ? ObjectiveBySweep[^1] : InitialObjective;

    /// <summary>The number of sweeps run.</summary>
    public int Sweeps => ObjectiveBySweep.Count;
}
