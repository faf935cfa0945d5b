using TorchSharp;
using TrajectoryTransfer.Permutations.Tests.TestModels;
using static TorchSharp.torch;

namespace TrajectoryTransfer.Permutations.Tests.Inference;

public sealed class PermutationSpecInferenceTests
{
    [Fact]
    public void Infer_SequentialMlpWithoutSampleInput_EqualsHandWrittenChain()
    {
        torch.manual_seed(60);
        using var model = nn.Sequential(("fc1", nn.Linear(6, 5)), ("relu1", nn.ReLU()), ("fc2", nn.Linear(5, 4)), ("relu2", nn.ReLU()), ("fc3", nn.Linear(4, 3)));

        var spec = PermutationSpecInference.Infer(model);

        Assert.Equal(PermutationSpecs.Mlp(model, ["fc1", "fc2", "fc3"]).ToString(), spec.ToString());
        Assert.Equal([new AxisPermutation("fc2"), new AxisPermutation("fc1")], spec.AxesOf("fc2.weight"));
        using var x = torch.randn(8, 6);
        ModelTesting.AssertExactInTrainAndEval(model, spec, x);
    }

    [Fact]
    public void Infer_NestedSequentialWithNormsActivationsAndDropout_IsExact()
    {
        torch.manual_seed(61);
        using var model = nn.Sequential(
            ("body", nn.Sequential(
                ("fc1", nn.Linear(8, 7)), ("bn1", nn.BatchNorm1d(7)), ("act1", nn.LeakyReLU(0.1)), ("drop1", nn.Dropout(0.2)),
                ("fc2", nn.Linear(7, 6)), ("ln2", nn.LayerNorm(6)), ("act2", nn.GELU()))),
            ("fc3", nn.Linear(6, 5)), ("act3", nn.SiLU()), ("act4", nn.ELU()), ("act5", nn.Softplus()), ("act6", nn.Sigmoid()), ("act7", nn.Tanh()),
            ("head", nn.Linear(5, 2)));
        using var x = torch.randn(16, 8);

        var spec = PermutationSpecInference.Infer(model, x);

        Assert.Equal(["body.fc1", "body.fc2", "fc3"], spec.GroupNames);
        Assert.Equal([new AxisPermutation("body.fc1")], spec.AxesOf("body.bn1.running_mean"));
        Assert.Equal([new AxisPermutation("body.fc2")], spec.AxesOf("body.ln2.bias"));
        Assert.Empty(spec.AxesOf("body.bn1.num_batches_tracked"));
        model.eval(); // dropout makes train mode random
        ModelTesting.RandomizeNorms(model);
        ModelTesting.AssertExact(model, spec, x);
    }

    [Fact]
    public void Infer_ConvSequentialWithFlatten_PermutesLinearInputInBlocksOfFeatureMap()
    {
        torch.manual_seed(62);
        using var model = nn.Sequential(
            ("conv1", nn.Conv2d(3, 4, 3, padding: 1)), ("bn1", nn.BatchNorm2d(4)), ("relu1", nn.ReLU()), ("pool1", nn.MaxPool2d(2)),
            ("conv2", nn.Conv2d(4, 6, 3, padding: 1)), ("relu2", nn.ReLU()), ("pool2", nn.AvgPool2d(2)),
            ("flatten", nn.Flatten()), ("fc1", nn.Linear(6 * 2 * 2, 12)), ("relu3", nn.ReLU()), ("fc2", nn.Linear(12, 3)));
        using var x = torch.randn(6, 3, 8, 8);

        var spec = PermutationSpecInference.Infer(model, x);

        Assert.Equal(["conv1", "conv2", "fc1"], spec.GroupNames);
        Assert.Equal([new AxisPermutation("fc1"), new AxisPermutation("conv2", 4)], spec.AxesOf("fc1.weight"));
        ModelTesting.AssertExactInTrainAndEval(model, spec, x);
    }

    [Fact]
    public void Infer_GlobalAveragePoolingBeforeHead_UsesBlockSizeOne()
    {
        torch.manual_seed(63);
        using var model = nn.Sequential(
            ("conv1", nn.Conv2d(1, 5, 3)), ("relu", nn.ReLU()), ("gap", nn.AdaptiveAvgPool2d(1)), ("flatten", nn.Flatten()), ("fc", nn.Linear(5, 2)));
        using var x = torch.randn(4, 1, 6, 6);

        var spec = PermutationSpecInference.Infer(model, x);

        Assert.Equal([null, new AxisPermutation("conv1")], spec.AxesOf("fc.weight"));
    }

    [Fact]
    public void Infer_ArchitecturesThatAreChains_EqualTheirReadyMadeSpecs()
    {
        torch.manual_seed(64);
        using var mlp = new Mlp(10, [8, 6], 3, new MlpOptions { Normalization = MlpNormalization.BatchNorm });
        using var vgg = VggNet.Small(imageSize: 8, batchNorm: true);
        using var images = torch.randn(4, 3, 8, 8);

        Assert.Equal(mlp.CreatePermutationSpec().ToString(), PermutationSpecInference.Infer(mlp).ToString());
        Assert.Equal(vgg.CreatePermutationSpec().ToString(), PermutationSpecInference.Infer(vgg, images).ToString());
    }

    [Fact]
    public void Infer_ModuleCallingForwardDirectly_FallsBackToRegistrationOrderAndVerifies()
    {
        // TinyMlp calls fc1.forward(...), which runs no hooks: the registration order fc1, fc2, fc3 is used and verified.
        torch.manual_seed(65);
        using var model = new TinyMlp(6, 5, 4, 3);

        var spec = PermutationSpecInference.Infer(model);

        Assert.Equal([new AxisPermutation("fc2"), new AxisPermutation("fc1")], spec.AxesOf("fc2.weight"));
        Assert.Equal([null, new AxisPermutation("fc2")], spec.AxesOf("fc3.weight"));
    }

    [Fact]
    public void Infer_LeavesModelAsItWas()
    {
        torch.manual_seed(66);
        using var model = nn.Sequential(("fc1", nn.Linear(6, 5)), ("bn1", nn.BatchNorm1d(5)), ("relu", nn.ReLU()), ("fc2", nn.Linear(5, 3)));
        ModelTesting.RandomizeNorms(model);
        model.train();
        model.named_modules().Single(m => m.name == "bn1").module.eval();
        using var before = ParameterSet.FromModule(model);

        _ = PermutationSpecInference.Infer(model);

        Assert.True(model.training);
        Assert.True(model.named_modules().Single(m => m.name == "fc1").module.training);
        Assert.False(model.named_modules().Single(m => m.name == "bn1").module.training);
        using var after = ParameterSet.FromModule(model);
        foreach (var (name, tensor) in before)
        {
            Assert.True(tensor.eq(after[name]).all().ToBoolean(), name);
        }
    }

    [Fact]
    public void Infer_ConvolutionFirstWithoutSampleInput_AsksForOne()
    {
        using var model = nn.Sequential(("conv", nn.Conv2d(3, 4, 3)), ("flatten", nn.Flatten()), ("fc", nn.Linear(4, 2)));

        var ex = Assert.Throws<ArgumentException>(() => PermutationSpecInference.Infer(model));
        Assert.Equal("sampleInput", ex.ParamName);
        Assert.Contains("'conv'", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Infer_UnsupportedModule_ThrowsNamingItAndItsType()
    {
        using var model = nn.Sequential(("conv", nn.Conv2d(3, 4, 3)), ("gn", nn.GroupNorm(2, 4)), ("flatten", nn.Flatten()), ("fc", nn.Linear(4, 2)));

        var ex = Assert.Throws<PermutationSpecException>(() => PermutationSpecInference.Infer(model));
        Assert.Contains("'gn' (GroupNorm)", ex.Message, StringComparison.Ordinal);
        Assert.Contains("PermutationSpecs", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Infer_ResNet_ThrowsNotASupportedChain()
    {
        torch.manual_seed(67);
        using var model = ResNet.ResNet20(widthMultiplier: 0.25);
        using var x = torch.randn(2, 3, 8, 8);

        var ex = Assert.Throws<PermutationSpecException>(() => PermutationSpecInference.Infer(model, x));

        Assert.Contains("(ResNet) is not a supported chain of layers", ex.Message, StringComparison.Ordinal);
        Assert.Contains("residual connections", ex.Message, StringComparison.Ordinal);
        Assert.Contains("PermutationSpec.CreateBuilder()", ex.Message, StringComparison.Ordinal);
        Assert.Contains("PermutationSpecs", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Infer_ResidualMlpWhoseSizesChain_FailsVerificationNamingGroups()
    {
        torch.manual_seed(68);
        using var model = new ResidualMlp();

        var ex = Assert.Throws<PermutationSpecException>(() => PermutationSpecInference.Infer(model));

        Assert.Contains("is not a symmetry of the model", ex.Message, StringComparison.Ordinal);
        Assert.Contains("Groups that break it alone: 'fc1', 'fc2'", ex.Message, StringComparison.Ordinal);
        Assert.Contains("not a supported chain", ex.Message, StringComparison.Ordinal);
        Assert.Contains("PermutationSpecs", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Infer_LayerUsedTwice_ThrowsNamingIt()
    {
        using var model = new TwiceMlp();

        var ex = Assert.Throws<PermutationSpecException>(() => PermutationSpecInference.Infer(model));
        Assert.Contains("'shared' (Linear) ran 2 times", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Infer_SingleLinear_HasNoGroupsAndCoversEverything()
    {
        using var model = nn.Linear(4, 3);

        var spec = PermutationSpecInference.Infer(model);

        Assert.Empty(spec.Groups);
        Assert.True(spec.Covers("weight"));
        Assert.True(spec.Covers("bias"));
    }

    /// <summary>h = relu(fc1(x)); h = h + relu(fc2(h)); fc3(h): the sizes chain, but the add ties fc1 and fc2 together.</summary>
    private sealed class ResidualMlp : nn.Module<Tensor, Tensor>
    {
        private readonly nn.Module<Tensor, Tensor> _fc1 = nn.Linear(6, 8);
        private readonly nn.Module<Tensor, Tensor> _fc2 = nn.Linear(8, 8);
        private readonly nn.Module<Tensor, Tensor> _fc3 = nn.Linear(8, 3);

        public ResidualMlp()
            : base(nameof(ResidualMlp))
        {
            register_module("fc1", _fc1);
            register_module("fc2", _fc2);
            register_module("fc3", _fc3);
        }

        public override Tensor forward(Tensor input)
        {
            var h = nn.functional.relu(_fc1.call(input));
            h = h + nn.functional.relu(_fc2.call(h));
            return _fc3.call(h);
        }
    }

    /// <summary>One Linear layer applied twice.</summary>
    private sealed class TwiceMlp : nn.Module<Tensor, Tensor>
    {
        private readonly nn.Module<Tensor, Tensor> _first = nn.Linear(4, 4);
        private readonly nn.Module<Tensor, Tensor> _shared = nn.Linear(4, 4);
        private readonly nn.Module<Tensor, Tensor> _head = nn.Linear(4, 2);

        public TwiceMlp()
            : base(nameof(TwiceMlp))
        {
            register_module("first", _first);
            register_module("shared", _shared);
            register_module("head", _head);
        }

        public override Tensor forward(Tensor input) =>
            _head.call(_shared.call(nn.functional.relu(_shared.call(nn.functional.relu(_first.call(input))))));
    }
}
