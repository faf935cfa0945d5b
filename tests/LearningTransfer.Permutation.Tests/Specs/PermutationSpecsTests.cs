using TorchSharp;
using TrajectoryTransfer.Permutations.Tests.TestModels;
using static TorchSharp.torch;

namespace TrajectoryTransfer.Permutations.Tests.Specs;

public sealed class PermutationSpecsTests
{
    [Fact]
    public void Mlp_UserSequential_IsExactAndNamesGroupsAfterLayers()
    {
        torch.manual_seed(50);
        using var model = nn.Sequential(
            ("fc1", nn.Linear(6, 5)), ("bn1", nn.BatchNorm1d(5)), ("act1", nn.ReLU()),
            ("fc2", nn.Linear(5, 4, hasBias: false)), ("act2", nn.Tanh()),
            ("fc3", nn.Linear(4, 3)));
        using var x = torch.randn(8, 6);

        var spec = PermutationSpecs.Mlp(model, ["fc1", "fc2", "fc3"], ["bn1", null]);

        Assert.Equal(["fc1", "fc2"], spec.GroupNames);
        Assert.Equal([new AxisPermutation("fc2"), new AxisPermutation("fc1")], spec.AxesOf("fc2.weight"));
        Assert.False(spec.Covers("fc2.bias"));
        ModelTesting.AssertExactInTrainAndEval(model, spec, x);
    }

    [Fact]
    public void Mlp_MissingLayer_ThrowsNamingTensor()
    {
        using var model = new TinyMlp();

        var ex = Assert.Throws<PermutationSpecException>(() => PermutationSpecs.Mlp(model, ["fc1", "fc9"]));
        Assert.Contains("'fc9.weight'", ex.Message, StringComparison.Ordinal);
        Assert.Contains("'fc1.weight'", ex.Message, StringComparison.Ordinal); // lists what the model has
    }

    [Fact]
    public void Mlp_NormLayerForgotten_ThrowsNamingUncoveredTensor()
    {
        using var model = new Mlp(6, [5], 3, new MlpOptions { Normalization = MlpNormalization.BatchNorm });

        var ex = Assert.Throws<PermutationSpecException>(() => PermutationSpecs.Mlp(model, ["fc1", "fc2"]));
        Assert.Contains("'norm1.weight' [5] is not covered", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Mlp_WrongNumberOfNormEntries_ThrowsArgumentException()
    {
        using var model = new TinyMlp();

        var ex = Assert.Throws<ArgumentException>(() => PermutationSpecs.Mlp(model, ["fc1", "fc2", "fc3"], ["n1"]));
        Assert.Equal("normLayers", ex.ParamName);
    }

    [Fact]
    public void Mlp_MisspeltNormLayer_ThrowsNamingIt()
    {
        using var model = new Mlp(6, [5], 3, new MlpOptions { Normalization = MlpNormalization.LayerNorm });

        var ex = Assert.Throws<PermutationSpecException>(() => PermutationSpecs.Mlp(model, ["fc1", "fc2"], ["nrm1"]));
        Assert.Contains("'nrm1'", ex.Message, StringComparison.Ordinal);
        Assert.Contains("after 'fc1'", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Vgg_DerivedBlockSize_EqualsArchitectureSpec()
    {
        using var model = VggNet.Small(imageSize: 8, batchNorm: true);

        var derived = PermutationSpecs.Vgg(model, ["conv1", "conv2"], ["bn1", "bn2"], ["fc1", "fc2"]);

        Assert.Equal(model.CreatePermutationSpec().ToString(), derived.ToString());
    }

    [Fact]
    public void Vgg_WrongFlattenBlockSize_ThrowsWithSizesSeenAndExpected()
    {
        using var model = VggNet.Small(imageSize: 8);

        // conv2 has 16 channels of 2×2: fc1 takes 64 inputs, not 16 × 9.
        var ex = Assert.Throws<PermutationSpecException>(() => PermutationSpecs.Vgg(model, ["conv1", "conv2"], null, ["fc1", "fc2"], flattenBlockSize: 9));
        Assert.Contains("'fc1.weight' axis 1 has size 64", ex.Message, StringComparison.Ordinal);
        Assert.Contains("16 units of 'conv2' in blocks of 9 expect 144", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Chain_SizesDoNotChain_ThrowsNamingLayersAndSizes()
    {
        var layout = new ParameterLayout([
            new ParameterInfo("a.weight", [5, 6], ScalarType.Float32),
            new ParameterInfo("b.weight", [3, 4], ScalarType.Float32),
        ]);

        var ex = Assert.Throws<PermutationSpecException>(() => PermutationSpecs.Chain(layout, [new ChainLayer("a"), new ChainLayer("b")]));
        Assert.Contains("'b.weight' axis 1 has size 4", ex.Message, StringComparison.Ordinal);
        Assert.Contains("not a multiple of 5", ex.Message, StringComparison.Ordinal);
        Assert.Contains("'a'", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Chain_UnexpectedTensorInLayer_ThrowsNamingIt()
    {
        var layout = new ParameterLayout([
            new ParameterInfo("a.weight", [5, 6], ScalarType.Float32),
            new ParameterInfo("a.scale", [5], ScalarType.Float32),
            new ParameterInfo("b.weight", [3, 5], ScalarType.Float32),
        ]);

        var ex = Assert.Throws<PermutationSpecException>(() => PermutationSpecs.Chain(layout, [new ChainLayer("a"), new ChainLayer("b")]));
        Assert.Contains("'a.scale' [5]", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ResNet_ModelNotNamedLikeAResNet_Throws()
    {
        using var model = new TinyMlp();

        var ex = Assert.Throws<PermutationSpecException>(() => PermutationSpecs.ResNet(model));
        Assert.Contains("layer{s}.{b}.conv1.weight", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ResNet_BlockChangesWidthWithoutShortcut_ThrowsWithSizes()
    {
        // The stem has 4 channels, layer1.0 outputs 8 but has no downsampling shortcut: its output cannot add to the stream.
        var layout = new ParameterLayout([
            new ParameterInfo("conv1.weight", [4, 3, 3, 3], ScalarType.Float32),
            new ParameterInfo("layer1.0.conv1.weight", [8, 4, 3, 3], ScalarType.Float32),
            new ParameterInfo("layer1.0.conv2.weight", [8, 8, 3, 3], ScalarType.Float32),
            new ParameterInfo("fc.weight", [10, 8], ScalarType.Float32),
            new ParameterInfo("fc.bias", [10], ScalarType.Float32),
        ]);

        var ex = Assert.Throws<PermutationSpecException>(() => PermutationSpecs.ResNet(layout));
        Assert.Contains("'layer1.0.conv2.weight' axis 0 has size 8", ex.Message, StringComparison.Ordinal);
        Assert.Contains("group 'stem' expects 4", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ResNet_MissingStage_ThrowsNamingIt()
    {
        using var model = ResNet.ResNet20(widthMultiplier: 0.25);
        var layout = new ParameterLayout(ParameterLayout.Of(model).Entries.Where(e => !e.Name.StartsWith("layer2.", StringComparison.Ordinal)));

        var ex = Assert.Throws<PermutationSpecException>(() => PermutationSpecs.ResNet(layout));
        Assert.Contains("layer3", ex.Message, StringComparison.Ordinal);
        Assert.Contains("layer2 was expected", ex.Message, StringComparison.Ordinal);
    }
}
