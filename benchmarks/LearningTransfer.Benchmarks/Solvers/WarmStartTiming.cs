using System.Diagnostics;
using System.Globalization;
using TrajectoryTransfer.Permutations;

namespace TrajectoryTransfer.Benchmarks.Solvers;

/// <summary>
/// <c>--matrices DIR --warm</c>: solves a folder's matrices in name order as one sequence (the steps of a transfer), each
/// cold (zero prices, the previous step's assignment as hint, as weight matching did before warm starts) and warm-started
/// from the previous step's solve (<see cref="AssignmentWarmStart"/>), and prints per matrix the
/// minimum time over <c>--repeat R</c> runs (default 2), the auction's bids, phases and starting ε, the rows the exact finish
/// augmented, and whether the objectives agree. <c>--solvers</c> picks the warm-capable solvers (default auction-jv);
/// <c>--violations</c> also prints, to stderr, quantiles of each row's violation of complementary slackness under the
/// previous step's prices (relative to max |S|), the quantity the auction's warm start is sized by.
/// </summary>
public static class WarmStartTiming
{
    /// <summary>Runs the timings.</summary>
    public static void Run(string[] args)
    {
        ArgumentNullException.ThrowIfNull(args);
        var directory = Option(args, "--matrices", "");
        var solvers = Option(args, "--solvers", "auction-jv").Split(',');
        var repeat = int.Parse(Option(args, "--repeat", "2"), CultureInfo.InvariantCulture);
        var matrices = RealMatrixTiming.Find(directory);
        if (matrices.Count == 0)
        {
            Console.WriteLine($"No mNN_SIZE.bin matrices in '{directory}'; nothing to time.");
            return;
        }

        foreach (var name in solvers)
        {
            if (RealMatrixTiming.Solver(name) is not IWarmStartAssignmentSolver solver)
            {
                throw new ArgumentException($"Solver {name} cannot be warm-started.");
            }

            Console.WriteLine($"{directory}, {name}, load average {LoadAverage()}");
            Console.WriteLine("| matrix | n | cold (ms) | warm (ms) | cold bids | warm bids | warm phases | warm start ε (× max abs S) | cold / warm augmented | cold / warm auction (ms) | objective warm − cold |");
            Console.WriteLine("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
            var state = new AssignmentWarmStart();
            double coldTotal = 0, warmTotal = 0;
            long coldBids = 0, warmBids = 0;
            foreach (var (matrixName, matrixPath, _, size) in matrices)
            {
                var s = RealMatrixTiming.Load<float>(matrixPath);
                var hint = state.IsEmpty ? [] : state.Assignment.ToArray();
                var (cold, coldSeconds, coldStatistics) = Time(repeat, () => Solve(solver, s, size, hint, null));
                var before = new AssignmentWarmStart();
                if (!state.IsEmpty)
                {
                    before.Set(state.Prices, state.Assignment);
                    if (args.Contains("--violations"))
                    {
                        PrintViolations(matrixName, s, size, before);
                    }
                }

                // Every repetition starts from the same state: the one the previous matrix's warm solve left.
                var (warm, warmSeconds, warmStatistics) = Time(repeat, () =>
                {
                    var copy = new AssignmentWarmStart();
                    if (!before.IsEmpty)
                    {
                        copy.Set(before.Prices, before.Assignment);
                    }

                    var result = Solve(solver, s, size, [], copy);
                    state = copy;
                    return result;
                });

                coldTotal += coldSeconds;
                coldBids += coldStatistics.Bids;
                warmBids += warmStatistics.Bids;
                warmTotal += warmSeconds;
                var difference = AssignmentSolvers.Objective(s, size, warm) - AssignmentSolvers.Objective(s, size, cold);
                Console.WriteLine(string.Create(
                    CultureInfo.InvariantCulture,
                    $"| {matrixName} | {size} | {coldSeconds * 1000:F1} | {warmSeconds * 1000:F1} | {coldStatistics.Bids} | {warmStatistics.Bids} | {warmStatistics.Phases} | {(warmStatistics.WarmStarted ? warmStatistics.StartEpsilon.ToString("G2", CultureInfo.InvariantCulture) : "cold")} | {coldStatistics.AugmentedRows} / {warmStatistics.AugmentedRows} | {coldStatistics.AuctionTime.TotalMilliseconds:F1} / {warmStatistics.AuctionTime.TotalMilliseconds:F1} | {difference:G3} |"));
            }

            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"total: cold {coldTotal:F3} s, warm {warmTotal:F3} s; bids cold {coldBids}, warm {warmBids}; load average {LoadAverage()}"));
        }
    }

    private static (int[] Result, AuctionSolveStatistics Statistics) Solve(IWarmStartAssignmentSolver solver, float[] s, int size, int[] hint, AssignmentWarmStart? state)
    {
        AuctionSolveStatistics statistics = default;
        int[] result = solver switch
        {
            AuctionAssignmentSolver auction when state is null => auction.SolveMaximum(s, size, hint, CancellationToken.None, out statistics),
            AuctionAssignmentSolver auction => auction.SolveMaximum(s, size, hint, state, CancellationToken.None, out statistics),
            _ when state is null => solver.SolveMaximum(s, size, hint),
            _ => solver.SolveMaximum(s, size, hint, state),
        };
        return (result, statistics);
    }

    /// <summary>Quantiles of the rows' violations of complementary slackness under the state's prices, relative to max |S|.</summary>
    private static void PrintViolations(string name, float[] s, int size, AssignmentWarmStart state)
    {
        var v = new double[size];
        var maxAbs = s.Max(Math.Abs);
        for (var i = 0; i < size; i++)
        {
            var min = double.PositiveInfinity;
            for (var j = 0; j < size; j++)
            {
                min = Math.Min(min, state.Prices[j] - s[(i * size) + j]);
            }

            var column = state.Assignment[i];
            v[i] = (state.Prices[column] - s[(i * size) + column] - min) / maxAbs;
        }

        Array.Sort(v);
        Console.Error.WriteLine(string.Create(
            CultureInfo.InvariantCulture,
            $"{name}: violation mean {v.Average():G2}, quantiles 50 % {v[size / 2]:G2}, 75 % {v[size * 3 / 4]:G2}, 90 % {v[size * 9 / 10]:G2}, 99 % {v[size * 99 / 100]:G2}, max {v[^1]:G2}; rows above 0: {v.Count(x => x > 0)}"));
    }

    private static (int[] Result, double Seconds, AuctionSolveStatistics Statistics) Time(int repeat, Func<(int[] Result, AuctionSolveStatistics Statistics)> solve)
    {
        var best = double.PositiveInfinity;
        (int[] Result, AuctionSolveStatistics Statistics) last = default;
        for (var r = 0; r < repeat; r++)
        {
            GC.Collect();
            var start = Stopwatch.GetTimestamp();
            last = solve();
            best = Math.Min(best, Stopwatch.GetElapsedTime(start).TotalSeconds);
        }

        return (last.Result!, best, last.Statistics);
    }

    private static string LoadAverage() =>
        File.Exists("/proc/loadavg") ? string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3)) : "unknown";

    private static string Option(string[] args, string name, string fallback)
    {
        var i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length ? args[i + 1] : fallback;
    }
}
