using BenchmarkDotNet.Attributes;
using TorchSharp;
using TrajectoryTransfer.Permutations;
using static TorchSharp.torch;

namespace TrajectoryTransfer.Benchmarks.Matching;

/// <summary>Weight matching of two independently initialised networks: two 784-4096-10 MLPs, and two small VGG-style nets (Conv4, width ×0.25, BatchNorm).</summary>
[MemoryDiagnoser]
[SimpleJob(launchCount: 1, warmupCount: 1, iterationCount: 3)]
public class WeightMatchingBenchmarks
{
    private nn.Module _a = null!;
    private nn.Module _b = null!;
    private PermutationSpec _spec = null!;

    [Params("mlp-784-4096-10", "vgg-conv4-bn")]
    public string Model { get; set; } = "mlp-784-4096-10";

    [GlobalSetup]
    public void Setup()
    {
        torch.manual_seed(1);
        if (Model.StartsWith("mlp", StringComparison.Ordinal))
        {
            var a = new Mlp(784, [4096], 10);
            _a = a;
            _b = new Mlp(784, [4096], 10);
            _spec = a.CreatePermutationSpec();
        }
        else
        {
            var a = VggNet.Conv4(1, 28, 10, widthMultiplier: 0.25, batchNorm: true);
            _a = a;
            _b = VggNet.Conv4(1, 28, 10, widthMultiplier: 0.25, batchNorm: true);
            _spec = a.CreatePermutationSpec();
        }
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _a.Dispose();
        _b.Dispose();
    }

    [Benchmark]
    public double Match() => WeightMatching.Match(_spec, _a, _b).Objective;
}
