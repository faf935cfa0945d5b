using System.Globalization;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Engines;
using TrajectoryTransfer.Permutations;

namespace TrajectoryTransfer.Benchmarks.Solvers;

/// <summary>
/// One step's assignment solve, cold against warm-started from the previous step's solve (<see cref="AssignmentWarmStart"/>),
/// with the default auction-jv solver. Cold is what weight matching did before warm starts: zero prices, the previous step's
/// assignment as the hint. Cases: real matrix sequences recorded from transfers (<c>--paper-transfer --width W
/// --dump-matrices DIR</c>) in the folder named by the environment variable LT_BENCH_WARM_MATRICES (default
/// /work/lap-matrices), laid out as DIR/linear-mlp-N/{fgmt,gmt}-SEED/mNN_N.bin, step 5 against step 4; and a synthetic
/// Planted8 matrix against its nearby matrix (<see cref="SimilarityMatrices"/>), so that the benchmark runs without the
/// recorded files too. The previous step is solved in the setup; each warm invocation starts from a copy of its state.
/// </summary>
[MemoryDiagnoser]
[SimpleJob(RunStrategy.Monitoring, launchCount: 1, warmupCount: 2, iterationCount: 15)]
public class WarmStartBenchmarks
{
    private const int Step = 5;

    private readonly AssignmentWarmStart _previous = new();
    private readonly AssignmentWarmStart _state = new();
    private float[] _similarity = [];
    private int _size;

    /// <summary>The root folder of the recorded matrix sequences.</summary>
    public static string Directory =>
        Environment.GetEnvironmentVariable("LT_BENCH_WARM_MATRICES") is { Length: > 0 } d ? d : "/work/lap-matrices";

    /// <summary>The cases: "fgmt-N" and "gmt-N" for every recorded sequence found, and "synthetic-N".</summary>
    public static IEnumerable<string> Cases
    {
        get
        {
            var recorded = System.IO.Directory.Exists(Directory)
                ? System.IO.Directory.GetDirectories(Directory, "linear-mlp-*")
                    .SelectMany(width => System.IO.Directory.GetDirectories(width))
                    .Where(sequence => RealMatrixTiming.Find(sequence).Count > Step)
                    .Select(sequence => (Method: Path.GetFileName(sequence).Split('-')[0], Size: RealMatrixTiming.Find(sequence)[Step].Size))
                    .Distinct()
                    .OrderBy(c => c.Method, StringComparer.Ordinal).ThenBy(c => c.Size)
                    .Select(c => string.Create(CultureInfo.InvariantCulture, $"{c.Method}-{c.Size}"))
                : [];
            return [.. recorded, "synthetic-1024", "synthetic-4096"];
        }
    }

    /// <summary>The case.</summary>
    [ParamsSource(nameof(Cases))]
    public string Case { get; set; } = "";

    /// <summary>Loads (or makes) the two matrices and solves the previous one into the state the warm solves start from.</summary>
    [GlobalSetup]
    public void Setup()
    {
        var parts = Case.Split('-');
        _size = int.Parse(parts[1], CultureInfo.InvariantCulture);
        float[] previous;
        if (parts[0] == "synthetic")
        {
            (_similarity, previous, _) = SimilarityMatrices.Create(MatrixKind.Planted8, _size, seed: 4321 + _size);
        }
        else
        {
            var sequence = System.IO.Directory.GetDirectories(Path.Combine(Directory, $"linear-mlp-{_size}"), parts[0] + "-*").Order(StringComparer.Ordinal).First();
            var matrices = RealMatrixTiming.Find(sequence);
            previous = RealMatrixTiming.Load<float>(matrices[Step - 1].Matrix);
            _similarity = RealMatrixTiming.Load<float>(matrices[Step].Matrix);
        }

        ((IWarmStartAssignmentSolver)AssignmentSolvers.Auction).SolveMaximum(previous, _size, default, _previous);
    }

    /// <summary>The solve from zero prices, with the previous step's assignment as hint.</summary>
    [Benchmark(Baseline = true)]
    public int[] Cold() => AssignmentSolvers.Auction.SolveMaximum(_similarity, _size, _previous.Assignment);

    /// <summary>The solve from the previous step's prices and assignment (copying them, O(n), is part of it).</summary>
    [Benchmark]
    public int[] Warm()
    {
        _state.Set(_previous.Prices, _previous.Assignment);
        return ((IWarmStartAssignmentSolver)AssignmentSolvers.Auction).SolveMaximum(_similarity, _size, default, _state);
    }
}
