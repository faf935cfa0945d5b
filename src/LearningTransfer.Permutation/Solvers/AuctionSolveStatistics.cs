namespace TrajectoryTransfer.Permutations;

/// <summary>What one <see cref="AuctionAssignmentSolver"/> solve did, for benchmarks and diagnostics.</summary>
/// <param name="Bids">The auction's bids.</param>
/// <param name="AugmentedRows">The rows the exact Jonker–Volgenant finish assigned along shortest paths (n when the auction was skipped).</param>
/// <param name="AuctionTime">The time the auction took.</param>
/// <param name="FinishTime">The time the exact finish (or the Jonker–Volgenant solve alone) took.</param>
/// <param name="AuctionSkipped">
/// Whether the Jonker–Volgenant solver solved the problem alone: max |S| lay outside the range float prices hold safely
/// (about 10⁻²⁹ to 10²⁹), or a price stopped being finite.
/// </param>
public readonly record struct AuctionSolveStatistics(long Bids, int AugmentedRows, TimeSpan AuctionTime, TimeSpan FinishTime, bool AuctionSkipped)
{
    /// <summary>Whether the solve started from an <see cref="AssignmentWarmStart"/>'s prices and assignment (false for a cold solve, including one whose warm start did not fit).</summary>
    public bool WarmStarted { get; init; }

    /// <summary>The auction's ε phases (0 when the auction was skipped).</summary>
    public int Phases { get; init; }

    /// <summary>
    /// The first phase's ε relative to max |S| (0 when no phase ran): the configured start for a cold solve; for a warm solve
    /// the point of the cold schedule that the measured violations of complementary slackness called for.
    /// </summary>
    public double StartEpsilon { get; init; }
}
