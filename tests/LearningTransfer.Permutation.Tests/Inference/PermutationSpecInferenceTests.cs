using TorchSharp;
using TrajectoryTransfer.Permutations.Tests.TestModels;
using static TorchSharp.torch;

namespace TrajectoryTransfer.Permutations.Tests.Inference;

/// <summary>Chains, the fallback without hooks, what the model looks like afterwards, and bad input.</summary>
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
        ModelTesting.AssertLeftAlone(spec, "body.bn1.num_batches_tracked");
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
    public void Infer_ResidualModelCallingForwardDirectly_RefusesNamingTheUnseenLayersAndCall()
    {
        torch.manual_seed(66);
        using var model = new LambdaModel(
            [("fc1", nn.Linear(6, 8)), ("fc2", nn.Linear(8, 8)), ("fc3", nn.Linear(8, 3))],
            (m, x) =>
            {
                var h = nn.functional.relu(m.Forward("fc1", x));
                h = h + nn.functional.relu(m.Forward("fc2", h));
                return m.Forward("fc3", h);
            });

        var ex = Assert.Throws<PermutationSpecException>(() => PermutationSpecInference.Infer(model));

        Assert.Contains("Forward hooks never saw 'fc1' (Linear), 'fc2' (Linear), 'fc3' (Linear) run", ex.Message, StringComparison.Ordinal);
        Assert.Contains("invoked with call(), not forward()", ex.Message, StringComparison.Ordinal);
        Assert.Contains("is not a symmetry of the model", ex.Message, StringComparison.Ordinal);
        Assert.Contains("'fc1' (layers 'fc1', 'fc2')", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Infer_LayerThatNeverRuns_IsLeftAlone()
    {
        torch.manual_seed(67);
        using var model = new LambdaModel(
            [("fc1", nn.Linear(6, 5)), ("spare", nn.Linear(5, 5)), ("fc2", nn.Linear(5, 3))],
            (m, x) => m.Call("fc2", nn.functional.relu(m.Call("fc1", x))));

        var spec = PermutationSpecInference.Infer(model);

        Assert.Equal(["fc1"], spec.GroupNames);
        ModelTesting.AssertLeftAlone(spec, "spare.weight");
        ModelTesting.AssertLeftAlone(spec, "spare.bias");
    }

    [Fact]
    public void Infer_LeavesModelAsItWas()
    {
        torch.manual_seed(68);
        using var model = nn.Sequential(("fc1", nn.Linear(6, 5)), ("bn1", nn.BatchNorm1d(5)), ("relu", nn.ReLU()), ("fc2", nn.Linear(5, 3)));
        ModelTesting.RandomizeNorms(model);
        using (var x = torch.randn(16, 6))
        {
            model.forward(x).sum().backward(); // gradients to keep
        }

        model.train();
        model.named_modules().Single(m => m.name == "bn1").module.eval();
        using var before = ParameterSet.FromModule(model);
        using var gradientsBefore = ParameterSet.GradientsOf(model);
        var rngBefore = torch.random.get_rng_state();

        _ = PermutationSpecInference.Infer(model);

        Assert.True(model.training);
        Assert.True(model.named_modules().Single(m => m.name == "fc1").module.training);
        Assert.False(model.named_modules().Single(m => m.name == "bn1").module.training);
        using var after = ParameterSet.FromModule(model);
        using var gradientsAfter = ParameterSet.GradientsOf(model);
        foreach (var (name, tensor) in before)
        {
            Assert.True(tensor.eq(after[name]).all().ToBoolean(), name);
        }

        foreach (var (name, gradient) in gradientsBefore)
        {
            Assert.True(gradient.abs().max().ToDouble() > 0, name);
            Assert.True(gradient.eq(gradientsAfter[name]).all().ToBoolean(), name);
        }

        Assert.True(rngBefore.eq(torch.random.get_rng_state()).all().ToBoolean());
    }

    [Fact]
    public void Infer_ResidualConvNet_LeavesNoNativeTensorsBehind()
    {
        torch.manual_seed(72);
        using var model = new LambdaModel(
            [("stem", nn.Conv2d(3, 6, 3, padding: 1)), ("bn", nn.BatchNorm2d(6)), ("conv", nn.Conv2d(6, 6, 3, padding: 1)), ("fc", nn.Linear(6 * 4 * 4, 2))],
            (m, x) =>
            {
                var h = nn.functional.relu(m.Call("bn", m.Call("stem", x)));
                h = h + nn.functional.relu(m.Call("conv", h));
                return m.Call("fc", nn.functional.max_pool2d(h, 2).flatten(1));
            });
        using var x = torch.randn(4, 3, 8, 8);
        _ = PermutationSpecInference.Infer(model, x); // first call: lazily created native state
        var before = DisposeScopeManager.Statistics.TensorStatistics.ThreadTotalLiveCount;

        for (var i = 0; i < 3; i++)
        {
            _ = PermutationSpecInference.Infer(model, x);
        }

        Assert.Equal(before, DisposeScopeManager.Statistics.TensorStatistics.ThreadTotalLiveCount);
    }

    [Fact]
    public void Infer_ModelWithoutGradients_LeavesThemNull()
    {
        torch.manual_seed(69);
        using var model = nn.Sequential(("fc1", nn.Linear(6, 5)), ("relu", nn.ReLU()), ("fc2", nn.Linear(5, 3)));

        _ = PermutationSpecInference.Infer(model);

        Assert.All(model.parameters(), p => Assert.Null(p.grad));
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
    public void Infer_SingleLinear_HasNoGroupsAndCoversEverything()
    {
        using var model = nn.Linear(4, 3);

        var spec = PermutationSpecInference.Infer(model);

        Assert.Empty(spec.Groups);
        Assert.True(spec.Covers("weight"));
        Assert.True(spec.Covers("bias"));
    }

    [Fact]
    public void Infer_NoWeightLayer_Throws()
    {
        using var model = nn.Sequential(("relu", nn.ReLU()), ("norm", nn.LayerNorm(4)));

        var ex = Assert.Throws<PermutationSpecException>(() => PermutationSpecInference.Infer(model, torch.randn(2, 4)));
        Assert.Contains("no Linear, convolution or Embedding layer", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Infer_NaNInSampleInput_NamesTheInput()
    {
        using var model = nn.Sequential(("fc1", nn.Linear(4, 3)), ("relu", nn.ReLU()), ("fc2", nn.Linear(3, 2)));
        using var x = torch.randn(5, 4);
        x[2, 1] = torch.tensor(float.NaN);

        var ex = Assert.Throws<ArgumentException>(() => PermutationSpecInference.Infer(model, x));

        Assert.Equal("sampleInput", ex.ParamName);
        Assert.Contains("The sample input [5, 4] contains 1 non-finite value (NaN or ±Inf) of 20, the first NaN at [2, 1]", ex.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("chain", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Infer_InfiniteParameter_NamesTheParameter()
    {
        using var model = nn.Sequential(("fc1", nn.Linear(4, 3)), ("relu", nn.ReLU()), ("fc2", nn.Linear(3, 2)));
        using (torch.no_grad())
        {
            model.named_parameters().Single(p => p.name == "fc2.weight").parameter[1, 0] = torch.tensor(float.PositiveInfinity);
        }

        var ex = Assert.Throws<ArgumentException>(() => PermutationSpecInference.Infer(model, torch.randn(5, 4)));

        Assert.Equal("model", ex.ParamName);
        Assert.Contains("The model's tensor 'fc2.weight' [2, 3] contains 1 non-finite value (NaN or ±Inf) of 6, the first Infinity at [1, 0]", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Infer_ForwardProducingNaN_NamesTheFirstLayerWhoseInputIsNotFinite()
    {
        torch.manual_seed(70);
        using var model = new LambdaModel(
            [("fc1", nn.Linear(4, 6)), ("fc2", nn.Linear(6, 5)), ("fc3", nn.Linear(5, 2))],
            (m, x) => m.Call("fc3", m.Call("fc2", m.Call("fc1", x).log())));

        var ex = Assert.Throws<ArgumentException>(() => PermutationSpecInference.Infer(model, torch.randn(8, 4)));

        Assert.Equal("model", ex.ParamName);
        Assert.Contains("the input of 'fc2' (Linear), the first layer whose input is not finite, contains", ex.Message, StringComparison.Ordinal);
        Assert.Contains("NaN", ex.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("chain", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Infer_OutputOverflowingAfterTheLastLayer_NamesTheOutput()
    {
        torch.manual_seed(71);
        using var model = new LambdaModel(
            [("fc1", nn.Linear(4, 6)), ("fc2", nn.Linear(6, 2))],
            (m, x) => m.Call("fc2", nn.functional.relu(m.Call("fc1", x))) * 1e38f * 1e38f);

        var ex = Assert.Throws<ArgumentException>(() => PermutationSpecInference.Infer(model, torch.randn(8, 4)));

        Assert.Contains("the model's output contains", ex.Message, StringComparison.Ordinal);
        Assert.Contains("after its last layer", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Infer_NegativeTolerance_Throws()
    {
        using var model = nn.Linear(4, 3);

        Assert.Throws<ArgumentOutOfRangeException>(() => PermutationSpecInference.Infer(model, tolerance: -1));
        Assert.Throws<ArgumentOutOfRangeException>(() => PermutationSpecInference.Infer(model, tolerance: double.NaN));
    }
}
