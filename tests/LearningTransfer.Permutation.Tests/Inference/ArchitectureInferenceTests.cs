using TorchSharp;
using TrajectoryTransfer.Permutations.Tests.TestModels;
using static TorchSharp.torch;

namespace TrajectoryTransfer.Permutations.Tests.Inference;

/// <summary>Every ready-made architecture of the library: inference alone must find the spec it ships with.</summary>
public sealed class ArchitectureInferenceTests
{
    /// <summary>
    /// The library's architectures, small, with a sample input and the spec they ship with. Add a line for a new one.
    /// </summary>
    private static readonly Dictionary<string, (Func<nn.Module<Tensor, Tensor>> Create, long[] Input, Func<nn.Module<Tensor, Tensor>, PermutationSpec> Shipped)> Architectures = new()
    {
        ["Mlp"] = (() => new Mlp(10, [8, 6], 3), [16, 10], m => ((Mlp)m).CreatePermutationSpec()),
        ["Mlp, BatchNorm"] = (() => new Mlp(10, [8, 6], 3, new MlpOptions { Normalization = MlpNormalization.BatchNorm }), [16, 10], m => ((Mlp)m).CreatePermutationSpec()),
        ["Mlp, LayerNorm"] = (() => new Mlp(10, [8, 6], 3, new MlpOptions { Normalization = MlpNormalization.LayerNorm }), [16, 10], m => ((Mlp)m).CreatePermutationSpec()),
        ["Mlp, linear without biases (the paper's)"] = (() => new Mlp(12, [9], 4, new MlpOptions { Bias = false, Activation = MlpActivation.None }), [16, 12], m => ((Mlp)m).CreatePermutationSpec()),
        ["VggNet.Small"] = (() => VggNet.Small(imageSize: 8), [4, 3, 8, 8], m => ((VggNet)m).CreatePermutationSpec()),
        ["VggNet.Small, BatchNorm"] = (() => VggNet.Small(imageSize: 8, batchNorm: true), [4, 3, 8, 8], m => ((VggNet)m).CreatePermutationSpec()),
        ["VggNet.Conv4"] = (() => VggNet.Conv4(1, 12, 10, widthMultiplier: 0.125), [4, 1, 12, 12], m => ((VggNet)m).CreatePermutationSpec()),
        ["VggNet.Conv6, BatchNorm"] = (() => VggNet.Conv6(3, 16, 10, widthMultiplier: 0.125, batchNorm: true), [4, 3, 16, 16], m => ((VggNet)m).CreatePermutationSpec()),
        ["VggNet.Conv8"] = (() => VggNet.Conv8(3, 16, 10, widthMultiplier: 0.125), [4, 3, 16, 16], m => ((VggNet)m).CreatePermutationSpec()),
        ["Conv8 (the authors')"] = (() => new Conv8(1, 10, widthFactor: 1.0 / 16), [4, 1, 28, 28], m => ((Conv8)m).CreatePermutationSpec()),
        ["Conv8, BatchNorm"] = (() => new Conv8(1, 10, widthFactor: 1.0 / 16, batchNorm: true), [4, 1, 32, 32], m => ((Conv8)m).CreatePermutationSpec()),
        ["ResNet.ResNet20"] = (() => ResNet.ResNet20(classes: 5, widthMultiplier: 0.25), [4, 3, 8, 8], m => ((ResNet)m).CreatePermutationSpec()),
        ["ResNet.ResNet18"] = (() => ResNet.ResNet18(classes: 5, widthMultiplier: 0.125), [4, 3, 8, 8], m => ((ResNet)m).CreatePermutationSpec()),
    };

    public static TheoryData<string> Names => new(Architectures.Keys);

    [Theory]
    [MemberData(nameof(Names))]
    public void Infer_ReadyMadeArchitecture_EqualsItsShippedSpecUpToGroupNames(string name)
    {
        var (create, shape, shipped) = Architectures[name];
        torch.manual_seed(110);
        using var model = create();
        using var x = torch.randn(shape);

        var spec = PermutationSpecInference.Infer(model, x);

        SpecComparison.AssertEquivalent(shipped(model), spec);
    }

    [Fact]
    public void Canonical_DifferentGroupNames_Agree()
    {
        using var model = new Mlp(5, [4], 3);
        var renamed = PermutationSpec.CreateBuilder()
            .Permute("fc1.weight", "hidden", null).Permute("fc1.bias", "hidden")
            .Permute("fc2.weight", null, "hidden").LeaveAlone("fc2.bias")
            .Build(model);

        SpecComparison.AssertEquivalent(model.CreatePermutationSpec(), renamed);
    }

    [Fact]
    public void Canonical_DifferentGrouping_Disagrees()
    {
        using var model = new Mlp(5, [4, 4], 3);
        var merged = PermutationSpec.CreateBuilder()
            .Permute("fc1.weight", "h", null).Permute("fc1.bias", "h")
            .Permute("fc2.weight", "h", "h").Permute("fc2.bias", "h")
            .Permute("fc3.weight", null, "h").LeaveAlone("fc3.bias")
            .Build(model);

        Assert.NotEqual(SpecComparison.Canonical(model.CreatePermutationSpec()), SpecComparison.Canonical(merged));
    }
}
