using TorchSharp;
using TrajectoryTransfer.Permutations.Tests.TestModels;
using static TorchSharp.torch;

namespace TrajectoryTransfer.Permutations.Tests.Architectures;

public sealed class Conv8Tests
{
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void CreatePermutationSpec_WithAndWithoutBatchNorm_IsExactInTrainAndEval(bool batchNorm)
    {
        torch.manual_seed(40);
        // In float64: He-initialized, the eleven layers' gradients reach about 30, where float32 rounding of the permuted
        // sums alone is about 2e-5, above the check's absolute 1e-5.
        using var model = new Conv8(inChannels: 1, classes: 10, widthFactor: 1.0 / 16, batchNorm: batchNorm);
        model.to(ScalarType.Float64);
        using var x = torch.randn(4, 1, 32, 32, dtype: ScalarType.Float64);

        var spec = model.CreatePermutationSpec();

        Assert.Equal(["conv1", "conv2", "conv3", "conv4", "conv5", "conv6", "conv7", "conv8", "head1", "head2"], spec.GroupNames);
        ModelTesting.AssertExactInTrainAndEval(model, spec, x);
    }

    [Fact]
    public void Constructor_WidthFactor_ScalesEveryLayerLikeTheAuthorsNetwork()
    {
        using var model = new Conv8(inChannels: 1, classes: 10, widthFactor: 0.25);
        var shapes = model.state_dict().ToDictionary(kv => kv.Key, kv => kv.Value.shape);

        Assert.Equal([16, 16, 32, 32, 64, 64, 128, 128], model.Channels);
        Assert.Equal(64, model.HeadWidth);
        Assert.Equal([16L, 1L, 3L, 3L], shapes["conv1.weight"]);
        Assert.Equal([128L, 128L, 3L, 3L], shapes["conv8.weight"]);
        Assert.Equal([64L, 128L, 1L, 1L], shapes["head1.weight"]);
        Assert.Equal([10L, 64L, 1L, 1L], shapes["head3.weight"]);
    }

    [Fact]
    public void Forward_MnistSizedImages_AreZeroPaddedTo32()
    {
        torch.manual_seed(41);
        using var model = new Conv8(inChannels: 1, classes: 10, widthFactor: 1.0 / 16);
        using var small = torch.randn(3, 1, 28, 28);
        using var padded = nn.functional.pad(small, [2, 2, 2, 2]);

        using var fromSmall = model.call(small);
        using var fromPadded = model.call(padded);

        Assert.Equal([3L, 10L], fromSmall.shape);
        Assert.True(fromSmall.allclose(fromPadded));
    }

    [Fact]
    public void Forward_OtherImageSize_SaysWhatItExpects()
    {
        using var model = new Conv8(inChannels: 1, classes: 10, widthFactor: 1.0 / 16);
        using var x = torch.randn(2, 1, 30, 30);

        var ex = Assert.Throws<ArgumentException>(() => model.forward(x));

        Assert.Contains("[N, 1, 32, 32] or [N, 1, 28, 28]", ex.Message, StringComparison.Ordinal);
        Assert.Contains("[2, 1, 30, 30]", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Constructor_WidthFactorLeavingALayerEmpty_NamesTheFactor()
    {
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => new Conv8(widthFactor: 0.005));

        Assert.Equal("widthFactor", ex.ParamName);
        Assert.Contains("rounds to none", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Constructor_HeInitialization_GivesZeroBiasesAndHeScaledWeights()
    {
        torch.manual_seed(42);
        using var he = new Conv8(inChannels: 1, classes: 10, widthFactor: 0.5, initialization: Conv8Initialization.He);
        torch.manual_seed(42);
        using var standard = new Conv8(inChannels: 1, classes: 10, widthFactor: 0.5);
        var heState = he.state_dict();
        var standardState = standard.state_dict();

        // conv4: fan-in 64 × 9; He's std √(2 / 576) ≈ 0.059, TorchSharp's default about 0.4 of it.
        Assert.Equal(Math.Sqrt(2.0 / 576), heState["conv4.weight"].std().ToDouble(), 0.005);
        Assert.InRange(standardState["conv4.weight"].std().ToDouble() / heState["conv4.weight"].std().ToDouble(), 0.35, 0.46);
        Assert.Equal(0, heState["conv4.bias"].abs().max().ToDouble());
        Assert.NotEqual(0, standardState["conv4.bias"].abs().max().ToDouble());
    }
}
