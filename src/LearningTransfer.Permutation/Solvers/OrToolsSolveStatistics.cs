namespace TrajectoryTransfer.Permutations;

/// <summary>What one <see cref="OrToolsAssignmentSolver"/> solve did, for benchmarks and diagnostics.</summary>
/// <param name="AddArcsTime">The time adding the n² arcs to OR-Tools took.</param>
/// <param name="SolveTime">The time OR-Tools' solve took.</param>
/// <param name="ScaleFactor">The factor the similarities were multiplied by before rounding to int64 costs.</param>
public readonly record struct OrToolsSolveStatistics(TimeSpan AddArcsTime, TimeSpan SolveTime, double ScaleFactor);
