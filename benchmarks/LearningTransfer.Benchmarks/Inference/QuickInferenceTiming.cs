using System.Diagnostics;
using System.Globalization;
using TorchSharp;
using TrajectoryTransfer.Permutations;

namespace TrajectoryTransfer.Benchmarks.Inference;

/// <summary>
/// <c>--inference-quick [--runs N] [--models a,b]</c>: the time of <see cref="PermutationSpecInference.Infer"/> per model (after
/// one warm-up run, the median and the fastest of N runs) as a markdown table, with the groups found.
/// </summary>
public static class QuickInferenceTiming
{
    public static void Run(string[] args)
    {
        var runs = int.Parse(Option(args, "--runs") ?? "3", CultureInfo.InvariantCulture);
        var models = Option(args, "--models")?.Split(',') ?? InferenceWorkloads.All.Keys.ToArray();
        Console.WriteLine($"libtorch threads: {torch.get_num_threads()}");
        Console.WriteLine("| model | parameters | groups | median s | fastest s |");
        Console.WriteLine("|---|---|---|---|---|");
        foreach (var name in models)
        {
            var (create, shape) = InferenceWorkloads.All[name];
            torch.manual_seed(1);
            using var model = create();
            using var input = torch.randn(shape);
            var groups = PermutationSpecInference.Infer(model, input).Groups.Count;
            var times = new List<double>();
            for (var i = 0; i < runs; i++)
            {
                var clock = Stopwatch.StartNew();
                _ = PermutationSpecInference.Infer(model, input);
                times.Add(clock.Elapsed.TotalSeconds);
            }

            times.Sort();
            var parameters = model.parameters().Sum(p => p.numel());
            Console.WriteLine(string.Create(
                CultureInfo.InvariantCulture,
                $"| {name} | {parameters / 1e6:F1} M | {groups} | {times[times.Count / 2]:F2} | {times[0]:F2} |"));
        }
    }

    private static string? Option(string[] args, string name)
    {
        var i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length ? args[i + 1] : null;
    }
}
