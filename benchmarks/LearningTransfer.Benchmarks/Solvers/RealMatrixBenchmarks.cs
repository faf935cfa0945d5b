using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Engines;
using TrajectoryTransfer.Permutations;

namespace TrajectoryTransfer.Benchmarks.Solvers;

/// <summary>
/// Solves of real weight-matching similarity matrices saved as files (see <see cref="RealMatrixTiming"/> for the format), from
/// the folder in the environment variable LT_BENCH_MATRICES (default /work/lap-matrices/fgmt-linear-mlp-4096). Runs the first,
/// a middle and the last matrix found; with no folder or no matrices there are no cases and nothing runs (CI has none).
/// </summary>
[MemoryDiagnoser]
[SimpleJob(RunStrategy.Monitoring, launchCount: 1, warmupCount: 1, iterationCount: 3)]
public class RealMatrixBenchmarks
{
    private float[] _similarity = [];
    private int[] _hint = [];
    private int _size;

    /// <summary>The matrix folder.</summary>
    public static string Directory =>
        Environment.GetEnvironmentVariable("LT_BENCH_MATRICES") is { Length: > 0 } d ? d : "/work/lap-matrices/fgmt-linear-mlp-4096";

    /// <summary>The matrix names to run: the first, a middle and the last found (none when the folder is missing).</summary>
    public static IEnumerable<string> Names
    {
        get
        {
            var all = RealMatrixTiming.Find(Directory).Select(m => m.Name).ToList();
            return all.Count == 0 ? [] : new[] { all[0], all[all.Count / 2], all[^1] }.Distinct().ToList();
        }
    }

    /// <summary>The matrix.</summary>
    [ParamsSource(nameof(Names))]
    public string Matrix { get; set; } = "";

    /// <summary>Loads the matrix and its hint (the identity when it has none).</summary>
    [GlobalSetup]
    public void Setup()
    {
        var (_, matrix, hint, size) = RealMatrixTiming.Find(Directory).First(m => m.Name == Matrix);
        _size = size;
        _similarity = RealMatrixTiming.Load<float>(matrix);
        _hint = hint is null ? Enumerable.Range(0, size).ToArray() : RealMatrixTiming.Load<int>(hint);
    }

    /// <summary>OR-Tools LinearSumAssignment, including scaling and adding the n² arcs.</summary>
    [Benchmark(Baseline = true)]
    public int[] OrTools() => AssignmentSolvers.OrTools.SolveMaximum(_similarity, _size);

    /// <summary>Jonker–Volgenant given the previous step's solution as hint.</summary>
    [Benchmark]
    public int[] JonkerVolgenantHinted() => AssignmentSolvers.JonkerVolgenant.SolveMaximum(_similarity, _size, _hint);

    /// <summary>Auction + exact JV finish, cold.</summary>
    [Benchmark]
    public int[] Auction() => AssignmentSolvers.Auction.SolveMaximum(_similarity, _size);

    /// <summary>Auction + exact JV finish given the previous step's solution as hint.</summary>
    [Benchmark]
    public int[] AuctionHinted() => AssignmentSolvers.Auction.SolveMaximum(_similarity, _size, _hint);
}
