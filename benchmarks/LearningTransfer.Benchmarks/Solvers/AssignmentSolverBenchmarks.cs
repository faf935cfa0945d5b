using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Engines;
using TrajectoryTransfer.Permutations;

namespace TrajectoryTransfer.Benchmarks.Solvers;

/// <summary>
/// One dense assignment solve on realistic weight-matching similarities: OR-Tools (arcs included) against Jonker–Volgenant
/// and the auction with JV finish, cold and with the previous solution of a nearby matrix as hint. Matrices are made in the setup, outside the measurement.
/// Monitoring strategy: every iteration is one solve (they take milliseconds to tens of seconds).
/// </summary>
[MemoryDiagnoser]
[SimpleJob(RunStrategy.Monitoring, launchCount: 1, warmupCount: 1, iterationCount: 3)]
public class AssignmentSolverBenchmarks
{
    private float[] _similarity = [];
    private int[] _hint = [];

    /// <summary>n.</summary>
    [Params(512, 1024, 2048, 4096, 8192)]
    public int N { get; set; }

    /// <summary>The kind of matrix.</summary>
    [ParamsAllValues]
    public MatrixKind Kind { get; set; }

    /// <summary>OR-Tools is skipped above this n (environment variable LT_BENCH_ORTOOLS_MAX_N; default 4096): one 8192 solve takes minutes.</summary>
    public static int OrToolsMaxN =>
        int.TryParse(Environment.GetEnvironmentVariable("LT_BENCH_ORTOOLS_MAX_N"), out var n) ? n : 4096;

    /// <summary>Makes the matrix and the hint (JV's solution of the nearby matrix).</summary>
    [GlobalSetup]
    public void Setup()
    {
        var (similarity, nearby, _) = SimilarityMatrices.Create(Kind, N, seed: 1234 + N);
        _similarity = similarity;
        _hint = AssignmentSolvers.JonkerVolgenant.SolveMaximum(nearby, N);
    }

    /// <summary>Setup for OR-Tools, which refuses the sizes it would take minutes on.</summary>
    [GlobalSetup(Target = nameof(OrTools))]
    public void SetupOrTools()
    {
        if (N > OrToolsMaxN)
        {
            throw new NotSupportedException($"OR-Tools skipped at n = {N} (> LT_BENCH_ORTOOLS_MAX_N = {OrToolsMaxN}); see the quick mode for its time.");
        }

        Setup();
    }

    /// <summary>OR-Tools LinearSumAssignment, including scaling and adding the n² arcs.</summary>
    [Benchmark(Baseline = true)]
    public int[] OrTools() => AssignmentSolvers.OrTools.SolveMaximum(_similarity, N);

    /// <summary>Jonker–Volgenant from scratch.</summary>
    [Benchmark]
    public int[] JonkerVolgenant() => AssignmentSolvers.JonkerVolgenant.SolveMaximum(_similarity, N);

    /// <summary>Jonker–Volgenant given the nearby matrix's solution as hint.</summary>
    [Benchmark]
    public int[] JonkerVolgenantHinted() => AssignmentSolvers.JonkerVolgenant.SolveMaximum(_similarity, N, _hint);

    /// <summary>Auction prices + exact JV finish, from scratch.</summary>
    [Benchmark]
    public int[] Auction() => AssignmentSolvers.Auction.SolveMaximum(_similarity, N);

    /// <summary>Auction prices + exact JV finish, given the nearby matrix's solution as hint.</summary>
    [Benchmark]
    public int[] AuctionHinted() => AssignmentSolvers.Auction.SolveMaximum(_similarity, N, _hint);
}
