using System.Diagnostics;
using System.Globalization;
using TorchSharp;
using TrajectoryTransfer.Permutations;
using static TorchSharp.torch;

namespace TrajectoryTransfer.Trajectories.Benchmarks;

/// <summary>
/// Recording overhead measured A/B-interleaved (<c>dotnet run -c Release -- overhead</c>): each round times one plain SGD
/// step, one step followed by a recorder snapshot to memory, and one followed by a snapshot to a store (the loop's view:
/// copy and hand-off; the write runs in the background and is finished outside the timing). Interleaving keeps a shared,
/// busy machine's drift out of the differences; medians are reported.
/// </summary>
internal static class RecorderOverhead
{
    public static void Run(int rounds)
    {
        torch.manual_seed(0);
        using var model = new Mlp();
        using var optimizer = optim.SGD(model.parameters(), 0.01);
        using var x = torch.rand(128, 784);
        using var y = torch.randint(0, 10, [128], dtype: ScalarType.Int64);
        var root = Path.Combine(Path.GetTempPath(), "lt-recorder-overhead", Guid.NewGuid().ToString("N"));
        var plain = new List<double>();
        var memory = new List<double>();
        var store = new List<double>();
        var watch = new Stopwatch();

        void Step()
        {
            using var scope = torch.NewDisposeScope();
            optimizer.zero_grad();
            var loss = nn.functional.cross_entropy(model.forward(x), y);
            loss.backward();
            optimizer.step();
        }

        for (var round = -3; round < rounds; round++)
        {
            watch.Restart();
            Step();
            var plainMs = watch.Elapsed.TotalMilliseconds;

            using (var trajectory = InMemoryTrajectory.ForModule(model))
            using (var recorder = new TrajectoryRecorder(model, trajectory, new TrajectoryRecorderOptions { SnapshotOnAttach = false, EveryNSteps = 1 }))
            {
                watch.Restart();
                Step();
                recorder.OnOptimizerStep();
                var memoryMs = watch.Elapsed.TotalMilliseconds;
                if (round >= 0)
                {
                    memory.Add(memoryMs);
                }
            }

            using (var target = TrajectoryStore.Create(Path.Combine(root, round.ToString(CultureInfo.InvariantCulture)), ParameterLayout.Of(model), new TrajectoryStoreOptions { FlushToDisk = false }))
            using (var recorder = new TrajectoryRecorder(model, target, new TrajectoryRecorderOptions { SnapshotOnAttach = false, EveryNSteps = 1 }))
            {
                watch.Restart();
                Step();
                recorder.OnOptimizerStep();
                var storeMs = watch.Elapsed.TotalMilliseconds;
                recorder.Flush();
                if (round >= 0)
                {
                    store.Add(storeMs);
                    plain.Add(plainMs);
                }
            }

            Directory.Delete(Path.Combine(root, round.ToString(CultureInfo.InvariantCulture)), recursive: true);
        }

        Directory.Delete(root, recursive: true);
        static double Median(List<double> values)
        {
            var sorted = values.Order().ToArray();
            return sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[(sorted.Length / 2) - 1] + sorted[sorted.Length / 2]) / 2;
        }

        var step = Median(plain);
        var toMemory = Median(memory.Zip(plain, (a, b) => a - b).ToList());
        var toStore = Median(store.Zip(plain, (a, b) => a - b).ToList());
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"rounds: {rounds}"));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"median training step (784-4096-10 MLP, batch 128, SGD): {step:0.0} ms"));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"median step + snapshot to memory: {Median(memory):0.0} ms; overhead (median of paired differences): {toMemory:0.0} ms = {toMemory / step:P1} of a step"));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"median step + snapshot to store (background write): {Median(store):0.0} ms; overhead: {toStore:0.0} ms = {toStore / step:P1} of a step"));
    }
}
