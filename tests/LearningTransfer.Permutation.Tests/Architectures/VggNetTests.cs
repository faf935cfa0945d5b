using TorchSharp;
using TrajectoryTransfer.Permutations.Tests.TestModels;
using static TorchSharp.torch;

namespace TrajectoryTransfer.Permutations.Tests.Architectures;

public sealed class VggNetTests
{
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void CreatePermutationSpec_WithAndWithoutBatchNorm_IsExactInTrainAndEval(bool batchNorm)
    {
        torch.manual_seed(30);
        using var model = VggNet.Small(inChannels: 3, imageSize: 8, classes: 5, batchNorm: batchNorm);
        using var x = torch.randn(6, 3, 8, 8);

        var spec = model.CreatePermutationSpec();

        Assert.Equal(["conv1", "conv2", "fc1"], spec.GroupNames);
        ModelTesting.AssertExactInTrainAndEval(model, spec, x);
    }

    [Fact]
    public void CreatePermutationSpec_FirstLinear_FollowsLastConvolutionInBlocksOfFeatureMap()
    {
        using var model = VggNet.Small(imageSize: 8, batchNorm: true);

        var spec = model.CreatePermutationSpec();

        Assert.Equal(2, model.FeatureMapSize);
        Assert.Equal([new AxisPermutation("fc1"), new AxisPermutation("conv2", 4)], spec.AxesOf("fc1.weight"));
        Assert.Equal([new AxisPermutation("conv2"), new AxisPermutation("conv1"), null, null], spec.AxesOf("conv2.weight"));
        Assert.Equal([new AxisPermutation("conv1")], spec.AxesOf("bn1.running_var"));
    }

    [Fact]
    public void Conv8_OnMnistSizedImages_HasEightConvolutionsAndPaperClassifier()
    {
        torch.manual_seed(31);
        using var model = VggNet.Conv8(inChannels: 1, imageSize: 28, classes: 10, widthMultiplier: 1.0 / 16);
        using var x = torch.randn(2, 1, 28, 28);

        using var y = model.forward(x);
        var shapes = model.state_dict().ToDictionary(kv => kv.Key, kv => kv.Value.shape);

        Assert.Equal([2L, 10L], y.shape);
        Assert.Equal(8, model.ConvLayerNames.Count);
        Assert.Equal([4L, 1L, 3L, 3L], shapes["conv1.weight"]);
        Assert.Equal([32L, 32L, 3L, 3L], shapes["conv8.weight"]);
        Assert.Equal(1, model.FeatureMapSize); // 28 → 14 → 7 → 3 → 1
        Assert.Equal([16L, 32L], shapes["fc1.weight"]);
        Assert.Equal([10L, 16L], shapes["fc3.weight"]);
    }

    [Fact]
    public void Conv4AndConv6_HaveTwoAndThreeStages()
    {
        using var conv4 = VggNet.Conv4(3, 32, 10, widthMultiplier: 0.125);
        using var conv6 = VggNet.Conv6(3, 32, 10, widthMultiplier: 0.125, batchNorm: true);

        Assert.Equal(4, conv4.ConvLayerNames.Count);
        Assert.Equal(8, conv4.FeatureMapSize);
        Assert.Equal(6, conv6.ConvLayerNames.Count);
        Assert.Equal(4, conv6.FeatureMapSize);
        Assert.Equal(["fc1", "fc2", "fc3"], conv6.LinearLayerNames);
        Assert.Equal(8, conv6.CreatePermutationSpec().Groups.Count); // 6 convolutions and 2 hidden Linear layers; fc3 is the head
    }

    [Fact]
    public void Constructor_ImageTooSmallForStages_Throws()
    {
        var ex = Assert.Throws<ArgumentException>(() => VggNet.Conv8(3, 8, 10));
        Assert.Contains("8×8", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Forward_WrongImageSize_ThrowsWithShape()
    {
        using var model = VggNet.Small(imageSize: 8);
        using var x = torch.randn(2, 3, 9, 9);

        var ex = Assert.Throws<ArgumentException>(() => model.forward(x));
        Assert.Contains("[2, 3, 9, 9]", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Match_PlantedPermutation_RecoversItExactly()
    {
        torch.manual_seed(32);
        using var source = VggNet.Small(imageSize: 8, batchNorm: true);
        using var target = VggNet.Small(imageSize: 8, batchNorm: true);
        ModelTesting.RandomizeNorms(source);

        ModelTesting.AssertMatchingRecoversPlantedPermutation(source.CreatePermutationSpec(), source, target, seed: 33);
    }
}
