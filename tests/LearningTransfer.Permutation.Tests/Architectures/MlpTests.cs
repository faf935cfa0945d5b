using TorchSharp;
using TrajectoryTransfer.Permutations.Tests.TestModels;
using static TorchSharp.torch;

namespace TrajectoryTransfer.Permutations.Tests.Architectures;

public sealed class MlpTests
{
    public static TheoryData<string> Variants => ["relu", "no-bias", "batch-norm", "layer-norm", "linear-no-bias"];

    [Theory]
    [MemberData(nameof(Variants))]
    public void CreatePermutationSpec_Variant_IsExactInTrainAndEval(string variant)
    {
        torch.manual_seed(20);
        using var model = new Mlp(12, [10, 8], 4, OptionsFor(variant));
        using var x = torch.randn(16, 12);

        var spec = model.CreatePermutationSpec();

        Assert.Equal(["fc1", "fc2"], spec.GroupNames);
        ModelTesting.AssertExactInTrainAndEval(model, spec, x);
    }

    [Fact]
    public void CreatePermutationSpec_BatchNorm_PermutesRunningStatisticsAndLeavesCounterAlone()
    {
        using var model = new Mlp(6, [5], 3, new MlpOptions { Normalization = MlpNormalization.BatchNorm });

        var spec = model.CreatePermutationSpec();

        Assert.Equal([new AxisPermutation("fc1")], spec.AxesOf("norm1.running_mean"));
        Assert.Equal([new AxisPermutation("fc1")], spec.AxesOf("norm1.running_var"));
        Assert.Empty(spec.AxesOf("norm1.num_batches_tracked"));
        Assert.Equal([null, new AxisPermutation("fc1")], spec.AxesOf("fc2.weight"));
        Assert.Equal([null], spec.AxesOf("fc2.bias"));
    }

    [Fact]
    public void StateDict_WithNormalization_HasStableNames()
    {
        using var model = new Mlp(6, [5, 4], 3, new MlpOptions { Normalization = MlpNormalization.LayerNorm });

        Assert.Equal(
            ["fc1.weight", "fc1.bias", "norm1.weight", "norm1.bias", "fc2.weight", "fc2.bias", "norm2.weight", "norm2.bias", "fc3.weight", "fc3.bias"],
            model.state_dict().Keys);
        Assert.Equal(["fc1", "fc2", "fc3"], model.LinearLayerNames);
        Assert.Equal(["norm1", "norm2"], model.NormLayerNames);
    }

    [Fact]
    public void Constructor_PaperMnistModel_IsTwoBiasFreeLinearLayersWithoutActivation()
    {
        torch.manual_seed(21);
        using var model = new Mlp(784, [4096], 10, new MlpOptions { Bias = false, Activation = MlpActivation.None });
        using var a = torch.randn(3, 1, 28, 28);
        using var b = torch.randn(3, 1, 28, 28);

        var shapes = model.state_dict().ToDictionary(kv => kv.Key, kv => kv.Value.shape);
        using var sum = model.forward(a + b);
        using var separate = model.forward(a) + model.forward(b);

        Assert.Equal(["fc1.weight", "fc2.weight"], shapes.Keys);
        Assert.Equal([4096L, 784L], shapes["fc1.weight"]);
        Assert.Equal([10L, 4096L], shapes["fc2.weight"]);
        Assert.True((sum - separate).abs().max().ToDouble() < 1e-4, "the network is not linear");
        Assert.Equal(4096, model.CreatePermutationSpec().Group("fc1").Size);
    }

    [Fact]
    public void Forward_ImageBatch_FlattensToInputSize()
    {
        torch.manual_seed(22);
        using var model = new Mlp(16, [8], 3);
        using var images = torch.randn(5, 1, 4, 4);

        using var fromImages = model.forward(images);
        using var fromRows = model.forward(images.reshape(5, 16));

        Assert.Equal([5L, 3L], fromImages.shape);
        Assert.True(fromImages.eq(fromRows).all().ToBoolean());
    }

    [Fact]
    public void Forward_WrongFeatureCount_ThrowsWithShape()
    {
        using var model = new Mlp(16, [8], 3);
        using var x = torch.randn(5, 15);

        var ex = Assert.Throws<ArgumentException>(() => model.forward(x));
        Assert.Contains("[5, 15]", ex.Message, StringComparison.Ordinal);
        Assert.Contains("16 features", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Constructor_NoHiddenLayer_Throws()
    {
        Assert.Throws<ArgumentException>(() => new Mlp(4, [], 2));
        Assert.Throws<ArgumentOutOfRangeException>(() => new Mlp(4, [3, 0], 2));
    }

    [Fact]
    public void Match_PlantedPermutation_RecoversItExactly()
    {
        torch.manual_seed(23);
        using var source = new Mlp(20, [32, 24], 5, new MlpOptions { Normalization = MlpNormalization.BatchNorm });
        using var target = new Mlp(20, [32, 24], 5, new MlpOptions { Normalization = MlpNormalization.BatchNorm });
        ModelTesting.RandomizeNorms(source);

        ModelTesting.AssertMatchingRecoversPlantedPermutation(source.CreatePermutationSpec(), source, target, seed: 24);
    }

    private static MlpOptions OptionsFor(string variant) => variant switch
    {
        "relu" => new MlpOptions(),
        "no-bias" => new MlpOptions { Bias = false },
        "batch-norm" => new MlpOptions { Normalization = MlpNormalization.BatchNorm },
        "layer-norm" => new MlpOptions { Normalization = MlpNormalization.LayerNorm },
        "linear-no-bias" => new MlpOptions { Bias = false, Activation = MlpActivation.None },
        _ => throw new ArgumentOutOfRangeException(nameof(variant)),
    };
}
