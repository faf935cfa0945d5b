using System.Diagnostics;
using System.Globalization;
using TrajectoryTransfer.Permutations;

namespace TrajectoryTransfer.Benchmarks.Solvers;

/// <summary>
/// Single-solve timings for every n and matrix kind in a few minutes (<c>--quick</c>), printed as a markdown table.
/// Options: <c>--sizes 512,1024</c>, <c>--kinds Planted1,Random</c>, <c>--ortools-max-n 4096</c> (OR-Tools skipped above),
/// <c>--seed 1234</c>. Every solve is checked: the JV objectives (cold and all hints) and the auction-jv ones must be equal, and OR-Tools' is shown as a difference.
/// </summary>
public static class QuickSolverTiming
{
    /// <summary>Runs the timings.</summary>
    /// <param name="args">The command line.</param>
    public static void Run(string[] args)
    {
        ArgumentNullException.ThrowIfNull(args);
        var sizes = Option(args, "--sizes", "512,1024,2048,4096,8192").Split(',').Select(s => int.Parse(s, CultureInfo.InvariantCulture)).ToArray();
        var kinds = Option(args, "--kinds", string.Join(',', Enum.GetNames<MatrixKind>())).Split(',').Select(Enum.Parse<MatrixKind>).ToArray();
        var orToolsMaxN = int.Parse(Option(args, "--ortools-max-n", "8192"), CultureInfo.InvariantCulture);
        var seed = int.Parse(Option(args, "--seed", "1234"), CultureInfo.InvariantCulture);

        // Warm up the JIT and load the OR-Tools native library on a small problem.
        var (warm, _, _) = SimilarityMatrices.Create(MatrixKind.Random, 64, seed);
        AssignmentSolvers.JonkerVolgenant.SolveMaximum(warm, 64);
        AssignmentSolvers.JonkerVolgenant.SolveMaximum(warm, 64, Enumerable.Range(0, 64).ToArray());
        AssignmentSolvers.OrTools.SolveMaximum(warm, 64);
        AssignmentSolvers.Auction.SolveMaximum(warm, 64);

        Console.WriteLine("| n | matrix | OR-Tools: add arcs (s) | OR-Tools: total (s) | JV cold (s) | JV hint = nearby solution (s) | JV hint = optimum (s) | JV hint = random (s) | auction-jv cold (s) | auction-jv hint = nearby (s) | objective JV − OR-Tools | hint rows ≠ optimum | JV = planted |");
        Console.WriteLine("|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|");
        foreach (var n in sizes)
        {
            foreach (var kind in kinds)
            {
                var (similarity, nearby, planted) = SimilarityMatrices.Create(kind, n, seed + n);
                var nearbyHint = AssignmentSolvers.JonkerVolgenant.SolveMaximum(nearby, n);
                var randomHint = Enumerable.Range(0, n).ToArray();
                new Random(seed).Shuffle(randomHint);
                GC.Collect();

                var (jv, jvTime) = Time(() => AssignmentSolvers.JonkerVolgenant.SolveMaximum(similarity, n));
                var (jvNearby, jvNearbyTime) = Time(() => AssignmentSolvers.JonkerVolgenant.SolveMaximum(similarity, n, nearbyHint));
                var (jvOptimum, jvOptimumTime) = Time(() => AssignmentSolvers.JonkerVolgenant.SolveMaximum(similarity, n, jv));
                var (jvRandom, jvRandomTime) = Time(() => AssignmentSolvers.JonkerVolgenant.SolveMaximum(similarity, n, randomHint));

                var (auction, auctionTime) = Time(() => AssignmentSolvers.Auction.SolveMaximum(similarity, n));
                var (auctionNearby, auctionNearbyTime) = Time(() => AssignmentSolvers.Auction.SolveMaximum(similarity, n, nearbyHint));

                var objective = AssignmentSolvers.Objective(similarity, n, jv);
                foreach (var other in new[] { jvNearby, jvOptimum, jvRandom, auction, auctionNearby })
                {
                    var difference = AssignmentSolvers.Objective(similarity, n, other) - objective;
                    if (Math.Abs(difference) > 1e-9 * Math.Abs(objective))
                    {
                        throw new InvalidOperationException($"A hinted JV or an auction solve differs from the cold one by {difference} at n = {n}, {kind}.");
                    }
                }

                string orArcs = "skipped", orTotal = "skipped", orDifference = "-";
                if (n <= orToolsMaxN)
                {
                    GC.Collect();
                    var start = Stopwatch.GetTimestamp();
                    var or = new OrToolsAssignmentSolver().SolveMaximum(similarity, n, default, CancellationToken.None, out var statistics);
                    orTotal = F(Stopwatch.GetElapsedTime(start).TotalSeconds);
                    orArcs = F(statistics.AddArcsTime.TotalSeconds);
                    orDifference = (objective - AssignmentSolvers.Objective(similarity, n, or)).ToString("G3", CultureInfo.InvariantCulture);
                }

                var hintRows = nearbyHint.Where((c, i) => c != jv[i]).Count();
                var isPlanted = planted.Length == 0 ? "-" : jv.AsSpan().SequenceEqual(planted) ? "yes" : $"no ({jv.Where((c, i) => c != planted[i]).Count()} rows differ)";
                Console.WriteLine($"| {n} | {kind} | {orArcs} | {orTotal} | {F(jvTime)} | {F(jvNearbyTime)} | {F(jvOptimumTime)} | {F(jvRandomTime)} | {F(auctionTime)} | {F(auctionNearbyTime)} | {orDifference} | {hintRows} | {isPlanted} |");
            }
        }
    }

    private static (int[] Result, double Seconds) Time(Func<int[]> solve)
    {
        var start = Stopwatch.GetTimestamp();
        var result = solve();
        return (result, Stopwatch.GetElapsedTime(start).TotalSeconds);
    }

    private static string F(double seconds) => seconds.ToString("F3", CultureInfo.InvariantCulture);

    private static string Option(string[] args, string name, string fallback)
    {
        var at = Array.IndexOf(args, name);
        return at >= 0 && at + 1 < args.Length ? args[at + 1] : fallback;
    }
}
