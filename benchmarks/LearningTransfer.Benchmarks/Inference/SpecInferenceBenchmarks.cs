using BenchmarkDotNet.Attributes;
using TorchSharp;
using TrajectoryTransfer.Permutations;
using static TorchSharp.torch;

namespace TrajectoryTransfer.Benchmarks.Inference;

/// <summary>What <see cref="PermutationSpecInference.Infer"/> costs, verification included, per model.</summary>
[MemoryDiagnoser]
public class SpecInferenceBenchmarks
{
    private nn.Module<Tensor, Tensor> _model = null!;
    private Tensor _input = null!;

    [Params("resnet18", "resnet50", "mobilenet_v2", "vgg11_bn", "residual MLP", "Mlp 784-512-512-10", "VggNet.Conv8", "ResNet.ResNet18")]
    public string Model { get; set; } = "resnet18";

    [GlobalSetup]
    public void Setup()
    {
        torch.manual_seed(1);
        var (create, input) = InferenceWorkloads.All[Model];
        _model = create();
        _input = torch.randn(input);
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _model.Dispose();
        _input.Dispose();
    }

    [Benchmark]
    public int Infer() => PermutationSpecInference.Infer(_model, _input).Groups.Count;
}
