using TorchSharp;
using TrajectoryTransfer.Permutations.Tests.TestModels;
using static TorchSharp.torch;

namespace TrajectoryTransfer.Permutations.Tests.Architectures;

public sealed class ResNetTests
{
    [Fact]
    public void CreatePermutationSpec_ResNet20_IsExactInTrainAndEval()
    {
        torch.manual_seed(40);
        using var model = ResNet.ResNet20(inChannels: 3, classes: 5, widthMultiplier: 0.25);
        using var x = torch.randn(4, 3, 8, 8);

        ModelTesting.AssertExactInTrainAndEval(model, model.CreatePermutationSpec(), x, trainInFloat64: true);
    }

    [Fact]
    public void CreatePermutationSpec_ResNet18_IsExactInTrainAndEval()
    {
        torch.manual_seed(41);
        using var model = ResNet.ResNet18(inChannels: 3, classes: 5, widthMultiplier: 0.125);
        using var x = torch.randn(4, 3, 8, 8);

        ModelTesting.AssertExactInTrainAndEval(model, model.CreatePermutationSpec(), x, trainInFloat64: true);
    }

    [Fact]
    public void CreatePermutationSpec_ResNet20_TiesEveryAddIntoAStreamToOneGroup()
    {
        using var model = ResNet.ResNet20(widthMultiplier: 0.5);

        var spec = model.CreatePermutationSpec();

        // 3 streams (stem, layer2, layer3) and one inner group per block.
        Assert.Equal(3 + 9, spec.Groups.Count);
        var stem = Members(spec, "stem");
        Assert.Contains("conv1.weight[0]", stem);
        Assert.Contains("bn1.running_mean[0]", stem);
        foreach (var block in new[] { 0, 1, 2 })
        {
            Assert.Contains($"layer1.{block}.conv2.weight[0]", stem);
            Assert.Contains($"layer1.{block}.bn2.weight[0]", stem);
            Assert.Contains($"layer1.{block}.conv1.weight[1]", stem);
        }

        Assert.Contains("layer2.0.conv1.weight[1]", stem);
        Assert.Contains("layer2.0.downsample.0.weight[1]", stem);
        var layer2 = Members(spec, "layer2");
        Assert.Contains("layer2.0.downsample.0.weight[0]", layer2);
        Assert.Contains("layer2.0.downsample.1.running_var[0]", layer2);
        Assert.Contains("layer2.2.bn2.bias[0]", layer2);
        Assert.Contains("layer3.0.downsample.0.weight[1]", layer2);
        Assert.Equal(["layer3.0.conv1.weight[0]", "layer3.0.bn1.weight[0]", "layer3.0.bn1.bias[0]", "layer3.0.bn1.running_mean[0]", "layer3.0.bn1.running_var[0]", "layer3.0.conv2.weight[1]"], Members(spec, "layer3.0.conv1"));
        Assert.Equal([null, new AxisPermutation("layer3")], spec.AxesOf("fc.weight"));
        Assert.Equal([null], spec.AxesOf("fc.bias"));
        Assert.Empty(spec.AxesOf("layer2.0.downsample.1.num_batches_tracked"));
        Assert.Equal(32, spec.Group("layer3").Size);
    }

    [Fact]
    public void ResNet20_Layout_HasShortcutsOnlyWhereTheShapeChanges()
    {
        using var model = ResNet.ResNet20(widthMultiplier: 0.5);
        var names = model.state_dict().Keys.ToHashSet();

        Assert.DoesNotContain("layer1.0.downsample.0.weight", names);
        Assert.Contains("layer2.0.downsample.0.weight", names);
        Assert.DoesNotContain("layer2.1.downsample.0.weight", names);
        Assert.Contains("layer3.2.conv2.weight", names);
        Assert.DoesNotContain("layer4.0.conv1.weight", names);
        Assert.Equal([16L, 8L, 1L, 1L], model.state_dict()["layer2.0.downsample.0.weight"].shape);
    }

    [Fact]
    public void ResNet18_OnMnistSizedImages_ComputesLogits()
    {
        torch.manual_seed(42);
        using var model = ResNet.ResNet18(inChannels: 1, classes: 10, widthMultiplier: 0.125);
        using var x = torch.randn(1, 1, 28, 28);

        using var y = model.forward(x);

        Assert.Equal([1L, 10L], y.shape);
        Assert.Equal([8, 16, 32, 64], model.StageWidths);
        Assert.Contains("layer4.1.bn2.running_mean", model.state_dict().Keys);
    }

    [Fact]
    public void Match_PlantedPermutation_RecoversItExactly()
    {
        torch.manual_seed(43);
        using var source = ResNet.ResNet20(widthMultiplier: 0.5);
        using var target = ResNet.ResNet20(widthMultiplier: 0.5);
        ModelTesting.RandomizeNorms(source);

        ModelTesting.AssertMatchingRecoversPlantedPermutation(source.CreatePermutationSpec(), source, target, seed: 44);
    }

    private static List<string> Members(PermutationSpec spec, string group) =>
        spec.Group(group).Members.Select(m => $"{m.Parameter}[{m.Axis}]").ToList();
}
