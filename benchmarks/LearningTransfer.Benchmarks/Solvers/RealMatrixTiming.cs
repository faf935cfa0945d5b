using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using TrajectoryTransfer.Permutations;

namespace TrajectoryTransfer.Benchmarks.Solvers;

/// <summary>
/// Per-matrix solve times on real similarity matrices saved as files (<c>--matrices DIR</c>): every <c>mNN_SIZE.bin</c>
/// (raw little-endian float32, row-major SIZE×SIZE) with an optional hint <c>hNN.bin</c> (int32[SIZE]). Each solver runs cold
/// and hinted; the minimum over <c>--repeat R</c> runs (default 2) is printed as a markdown table, with each objective's
/// difference from the best found. Options: <c>--solvers auction-jv,jonker-volgenant,or-tools</c>, <c>--only m00,m03</c>.
/// </summary>
public static class RealMatrixTiming
{
    /// <summary>The matrices in a folder, sorted by name: (name, matrix path, hint path or null, size).</summary>
    public static IReadOnlyList<(string Name, string Matrix, string? Hint, int Size)> Find(string directory)
    {
        if (!Directory.Exists(directory))
        {
            return [];
        }

        var found = new List<(string, string, string?, int)>();
        foreach (var path in Directory.GetFiles(directory, "m*_*.bin").Order(StringComparer.Ordinal))
        {
            var stem = Path.GetFileNameWithoutExtension(path);
            var underscore = stem.IndexOf('_', StringComparison.Ordinal);
            if (!int.TryParse(stem.AsSpan(underscore + 1), NumberStyles.None, CultureInfo.InvariantCulture, out var size)
                || new FileInfo(path).Length != 4L * size * size)
            {
                continue;
            }

            var name = stem[..underscore];
            var hint = Path.Combine(directory, "h" + name[1..] + ".bin");
            found.Add((name, path, File.Exists(hint) && new FileInfo(hint).Length == 4L * size ? hint : null, size));
        }

        return found;
    }

    /// <summary>Reads a raw little-endian float32 or int32 file.</summary>
    public static T[] Load<T>(string path)
        where T : unmanaged
    {
        var bytes = File.ReadAllBytes(path);
        return MemoryMarshal.Cast<byte, T>(bytes).ToArray();
    }

    /// <summary>The solvers by name.</summary>
    public static IAssignmentSolver Solver(string name) => name switch
    {
        "auction-jv" => AssignmentSolvers.Auction,
        "jonker-volgenant" => AssignmentSolvers.JonkerVolgenant,
        "or-tools" => AssignmentSolvers.OrTools,
        _ when name.StartsWith("auction:", StringComparison.Ordinal) => Tuned(name),
        _ => throw new ArgumentException($"Unknown solver {name}."),
    };

    /// <summary>Runs the timings.</summary>
    public static void Run(string[] args)
    {
        ArgumentNullException.ThrowIfNull(args);
        var directory = Option(args, "--matrices", "");
        var solvers = Option(args, "--solvers", "auction-jv,jonker-volgenant,or-tools").Split(',');
        var only = Option(args, "--only", "").Split(',', StringSplitOptions.RemoveEmptyEntries);
        var repeat = int.Parse(Option(args, "--repeat", "2"), CultureInfo.InvariantCulture);
        var matrices = Find(directory).Where(m => only.Length == 0 || only.Contains(m.Name)).ToList();
        if (matrices.Count == 0)
        {
            Console.WriteLine($"No mNN_SIZE.bin matrices in '{directory}'; nothing to time.");
            return;
        }

        var warm = new float[64 * 64];
        new Random(1).NextBytes(MemoryMarshal.AsBytes(warm.AsSpan()));
        for (var k = 0; k < warm.Length; k++)
        {
            warm[k] = (k * 7919 % 1000) / 1000f;
        }

        foreach (var name in solvers)
        {
            Solver(name).SolveMaximum(warm, 64);
            Solver(name).SolveMaximum(warm, 64, Enumerable.Range(0, 64).ToArray());
        }

        Console.WriteLine($"| matrix | n | {string.Join(" | ", solvers.SelectMany(s => new[] { s + " cold (s)", s + " hinted (s)" }))} | objective spread (rel.) | notes |");
        Console.WriteLine($"|---|---:|{string.Concat(Enumerable.Repeat("---:|", 2 * solvers.Length))}---:|---|");
        foreach (var (matrixName, matrixPath, hintPath, size) in matrices)
        {
            var s = Load<float>(matrixPath);
            var hint = hintPath is null ? [] : Load<int>(hintPath);
            var times = new List<string>();
            var objectives = new List<double>();
            var notes = new List<string>();
            foreach (var name in solvers)
            {
                var solver = Solver(name);
                foreach (var h in new[] { Array.Empty<int>(), hint })
                {
                    if (h.Length == 0 && times.Count % 2 == 1)
                    {
                        continue;
                    }

                    var best = double.PositiveInfinity;
                    int[] result = [];
                    AuctionSolveStatistics statistics = default;
                    for (var r = 0; r < repeat; r++)
                    {
                        GC.Collect();
                        var start = Stopwatch.GetTimestamp();
                        result = solver is AuctionAssignmentSolver auction
                            ? auction.SolveMaximum(s, size, h, CancellationToken.None, out statistics)
                            : solver.SolveMaximum(s, size, h);
                        best = Math.Min(best, Stopwatch.GetElapsedTime(start).TotalSeconds);
                    }

                    times.Add(best.ToString("F3", CultureInfo.InvariantCulture));
                    objectives.Add(AssignmentSolvers.Objective(s, size, result));
                    if (solver is AuctionAssignmentSolver)
                    {
                        notes.Add(string.Create(
                            CultureInfo.InvariantCulture,
                            $"{name}{(h.Length == 0 ? "" : "+h")}: {statistics.Bids} bids, {statistics.AugmentedRows} augmented, auction {statistics.AuctionTime.TotalSeconds:F3} s"));
                    }
                }

                if (hint.Length == 0)
                {
                    times.Add("-");
                }
            }

            var max = objectives.Max();
            var spread = (max - objectives.Min()) / Math.Abs(max);
            Console.WriteLine($"| {matrixName} | {size} | {string.Join(" | ", times)} | {spread.ToString("G3", CultureInfo.InvariantCulture)} | {string.Join("; ", notes)} |");
            Console.Error.WriteLine($"{matrixName}: objectives {string.Join(", ", objectives.Select(o => o.ToString("R", CultureInfo.InvariantCulture)))}");
        }
    }

    private static AuctionAssignmentSolver Tuned(string spec)
    {
        var p = spec["auction:".Length..].Split('/').Select(v => double.Parse(v, CultureInfo.InvariantCulture)).ToArray();
        return new AuctionAssignmentSolver(new AuctionAssignmentSolverOptions { StartEpsilon = p[0], FinalEpsilon = p[1], EpsilonFactor = p[2] });
    }

    private static string Option(string[] args, string name, string fallback)
    {
        var i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length ? args[i + 1] : fallback;
    }
}
