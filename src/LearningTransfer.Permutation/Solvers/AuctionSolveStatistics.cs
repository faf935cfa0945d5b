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
public readonly record struct AuctionSolveStatistics(long Bids, int AugmentedRows, TimeSpan AuctionTime, TimeSpan FinishTime, bool AuctionSkipped);
