using System.Globalization;

namespace TrajectoryTransfer.Benchmarks.Transfer;

/// <summary>
/// <c>--transfer-quick</c>: one run per (method, T, width), printing where the time goes (gradients, similarity,
/// assignment, evaluation) as a markdown table. BenchmarkDotNet gives the statistics; this gives the split.
/// </summary>
public static class QuickTransferTiming
{
    public static void Run(string[] args)
    {
        var widths = Values(args, "--widths", [512, 1024, 2048, 4096]);
        var steps = Values(args, "--steps", [5, 10, 20, 40]);
        Console.WriteLine("| method | width | T | total s | gradients s | similarity s | assignment s | evaluation s | gradient evals | solves |");
        Console.WriteLine("|---|---|---|---|---|---|---|---|---|---|");
        foreach (var width in widths)
        {
            using var workload = new SyntheticTransfer(width);
            foreach (var t in steps)
            {
                foreach (var method in new[] { TransferMethod.Fgmt, TransferMethod.Gmt })
                {
                    using var r = workload.Run(method, t);
                    var x = r.Timings;
                    Console.WriteLine(string.Create(
                        CultureInfo.InvariantCulture,
                        $"| {method} | {width} | {t} | {x.Total.TotalSeconds:F2} | {x.Gradients.TotalSeconds:F2} | {x.Similarity.TotalSeconds:F2} | {x.Assignment.TotalSeconds:F2} | {x.Evaluation.TotalSeconds:F2} | {r.GradientEvaluations} | {r.History.Sum(h => h.Solves)} |"));
                }
            }
        }
    }

    private static int[] Values(string[] args, string name, int[] fallback)
    {
        var i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length
            ? args[i + 1].Split(',').Select(s => int.Parse(s, CultureInfo.InvariantCulture)).ToArray()
            : fallback;
    }
}
