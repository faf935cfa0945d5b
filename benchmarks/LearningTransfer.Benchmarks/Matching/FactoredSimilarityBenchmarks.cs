using BenchmarkDotNet.Attributes;
using TorchSharp;
using TrajectoryTransfer.Permutations;
using static TorchSharp.torch;

namespace TrajectoryTransfer.Benchmarks.Matching;

/// <summary>
/// One gradient pair's similarity term for a Linear layer [width, 784] on a minibatch of 128 (the paper model's first
/// layer at other widths), added to a matching problem from the full gradients (width × 784 × width multiply-adds) or
/// from their factors (output gradients [128, width] and inputs [128, 784]: about width × 128 × width).
/// </summary>
[MemoryDiagnoser]
[SimpleJob(launchCount: 1, warmupCount: 1, iterationCount: 5)]
public class FactoredSimilarityBenchmarks
{
    private const int Batch = 128;
    private const int Inputs = 784;
    private PermutationSpec _spec = null!;
    private Dictionary<string, Tensor> _denseA = null!;
    private Dictionary<string, Tensor> _denseB = null!;
    private Dictionary<string, LowRankTensor> _factorsA = null!;
    private Dictionary<string, LowRankTensor> _factorsB = null!;
    private WeightMatchingProblem _problem = null!;

    [Params(512, 1024, 2048, 4096, 8192)]
    public int Width { get; set; } = 4096;

    [GlobalSetup]
    public void Setup()
    {
        using var generator = new Generator(1);
        _spec = PermutationSpec.CreateBuilder().Permute("w", "h", null).Group("h", Width).Build();
        var inputs = torch.randn([Batch, Inputs], generator: generator);
        _factorsA = new() { ["w"] = new LowRankTensor(torch.randn([Batch, Width], generator: generator), inputs.clone(), [Width, Inputs]) };
        _factorsB = new() { ["w"] = new LowRankTensor(torch.randn([Batch, Width], generator: generator), inputs, [Width, Inputs]) };
        _denseA = new() { ["w"] = _factorsA["w"].ToDense() };
        _denseB = new() { ["w"] = _factorsB["w"].ToDense() };
        _problem = new WeightMatchingProblem(_spec);
        _problem.AddPair(_denseA, _denseB); // the n×n sum exists: every measured call accumulates into it
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _problem.Dispose();
        foreach (var t in _denseA.Values.Concat(_denseB.Values))
        {
            t.Dispose();
        }

        foreach (var f in _factorsA.Values.Concat(_factorsB.Values))
        {
            f.Dispose();
        }
    }

    [Benchmark(Baseline = true)]
    public void Direct() => _problem.AddPair(_denseA, _denseB);

    [Benchmark]
    public void Factored() => _problem.AddPair(new Dictionary<string, Tensor>(), new Dictionary<string, Tensor>(), _factorsA, _factorsB);
}
