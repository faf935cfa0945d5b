using TorchSharp;
using TrajectoryTransfer.Permutations.Tests.TestModels;
using static TorchSharp.torch;

namespace TrajectoryTransfer.Permutations.Tests.Inference;

/// <summary>Each supported layer and each kind of glue between layers, on small models with their own forward.</summary>
public sealed class LayerInferenceTests
{
    [Fact]
    public void Infer_UserResidualMlpWithLayerNorm_TiesTheStreamAndIsExact()
    {
        torch.manual_seed(80);
        using var model = new ResidualMlp(inputs: 6, width: 8, hidden: 12, blocks: 3, outputs: 3);
        using var x = torch.randn(16, 6);

        var spec = PermutationSpecInference.Infer(model, x);

        // One stream (embed, every down projection, every norm, every up projection's input, the head's input) and one group per block.
        Assert.Equal(4, spec.Groups.Count);
        var stream = spec.AxesOf("embed.weight")[0]!.Value;
        foreach (var block in new[] { "0", "1", "2" })
        {
            Assert.Equal(stream, spec.AxesOf($"downs.{block}.weight")[0]);
            Assert.Equal(stream, spec.AxesOf($"norms.{block}.weight")[0]);
            Assert.Equal(stream, spec.AxesOf($"ups.{block}.weight")[1]);
            Assert.Equal(spec.AxesOf($"ups.{block}.weight")[0], spec.AxesOf($"downs.{block}.weight")[1]);
        }

        Assert.Equal([null, stream], spec.AxesOf("head.weight"));
        ModelTesting.AssertLeftAlone(spec, "head.bias");
        ModelTesting.AssertExactInTrainAndEval(model, spec, x);
    }

    [Fact]
    public void Infer_LayerUsedTwice_SharesItsUnitsWithItsOwnInput()
    {
        torch.manual_seed(81);
        using var model = new LambdaModel(
            [("first", nn.Linear(4, 5)), ("shared", nn.Linear(5, 5)), ("head", nn.Linear(5, 2))],
            (m, x) => m.Call("head", m.Call("shared", nn.functional.relu(m.Call("shared", nn.functional.relu(m.Call("first", x)))))));
        using var x = torch.randn(8, 4);

        var spec = PermutationSpecInference.Infer(model, x);

        Assert.Equal(["first"], spec.GroupNames);
        Assert.Equal([new AxisPermutation("first"), new AxisPermutation("first")], spec.AxesOf("shared.weight"));
        ModelTesting.AssertExactInTrainAndEval(model, spec, x);
    }

    [Fact]
    public void Infer_GroupedConvolutions_MoveWholeGroupsTogether()
    {
        torch.manual_seed(82);
        using var model = nn.Sequential(
            ("conv1", nn.Conv2d(3, 16, 3, padding: 1)), ("relu1", nn.ReLU()),
            ("conv2", nn.Conv2d(16, 16, 3, padding: 1, groups: 4)), ("bn2", nn.BatchNorm2d(16)), ("relu2", nn.ReLU()),
            ("conv3", nn.Conv2d(16, 12, 1, groups: 2)), ("relu3", nn.ReLU()),
            ("gap", nn.AdaptiveAvgPool2d(1)), ("flatten", nn.Flatten()), ("fc1", nn.Linear(12, 7)), ("relu4", nn.ReLU()), ("fc2", nn.Linear(7, 3)));
        using var x = torch.randn(4, 3, 6, 6);

        var spec = PermutationSpecInference.Infer(model, x);

        // conv2's 4 groups read 4 channels each, conv3's 2 groups read 8 each: conv1's 16 channels move in 2 blocks of 8,
        // and each block of 8 feeds 8 of conv2's outputs and 6 of conv3's.
        Assert.Equal([new AxisPermutation("conv1", 8), null, null, null], spec.AxesOf("conv1.weight"));
        Assert.Equal([new AxisPermutation("conv1", 8), null, null, null], spec.AxesOf("conv2.weight"));
        Assert.Equal([new AxisPermutation("conv1", 8)], spec.AxesOf("bn2.running_var"));
        Assert.Equal([new AxisPermutation("conv1", 6), null, null, null], spec.AxesOf("conv3.weight"));
        Assert.Equal([new AxisPermutation("fc1"), new AxisPermutation("conv1", 6)], spec.AxesOf("fc1.weight"));
        Assert.Equal((2, 7), (spec.Group("conv1").Size, spec.Group("fc1").Size));
        ModelTesting.AssertExactInTrainAndEval(model, spec, x);
    }

    [Fact]
    public void Infer_DepthwiseConvolutionWithMultiplier_PermutesOutputsInBlocksOfItsInputChannels()
    {
        torch.manual_seed(83);
        using var model = nn.Sequential(
            ("conv1", nn.Conv1d(2, 6, 3, padding: 1)), ("relu1", nn.ReLU()),
            ("dw", nn.Conv1d(6, 12, 3, padding: 1, groups: 6)), ("bn", nn.BatchNorm1d(12)), ("relu2", nn.ReLU()),
            ("pw", nn.Conv1d(12, 5, 1)), ("relu3", nn.ReLU()),
            ("flatten", nn.Flatten()), ("fc", nn.Linear(5 * 7, 2)));
        using var x = torch.randn(4, 2, 7);

        var spec = PermutationSpecInference.Infer(model, x);

        Assert.Equal(["conv1", "pw"], spec.GroupNames);
        Assert.Equal([new AxisPermutation("conv1", 2), null, null], spec.AxesOf("dw.weight"));
        Assert.Equal([new AxisPermutation("pw"), new AxisPermutation("conv1", 2), null], spec.AxesOf("pw.weight"));
        Assert.Equal([null, new AxisPermutation("pw", 7)], spec.AxesOf("fc.weight"));
        ModelTesting.AssertExactInTrainAndEval(model, spec, x);
    }

    [Fact]
    public void Infer_GroupNorm_PermutesWholeGroupsOnly()
    {
        torch.manual_seed(84);
        using var model = nn.Sequential(
            ("conv1", nn.Conv2d(3, 8, 3, padding: 1)), ("gn1", nn.GroupNorm(2, 8)), ("relu1", nn.ReLU()),
            ("conv2", nn.Conv2d(8, 6, 3, padding: 1)), ("gn2", nn.GroupNorm(1, 6)), ("relu2", nn.ReLU()),
            ("conv3", nn.Conv2d(6, 4, 3, padding: 1)), ("gn3", nn.GroupNorm(4, 4)), ("relu3", nn.ReLU()),
            ("gap", nn.AdaptiveAvgPool2d(1)), ("flatten", nn.Flatten()), ("fc", nn.Linear(4, 2)));
        ModelTesting.RandomizeNorms(model); // TorchSharp's GroupNorm may leave its affine parameters uninitialized (a NaN bias was seen in CI)
        using var x = torch.randn(4, 3, 5, 5);

        var spec = PermutationSpecInference.Infer(model, x);

        Assert.Equal((2, 4), (spec.Group("conv1").Size, spec.AxesOf("gn1.weight")[0]!.Value.BlockSize)); // 2 groups of 4 channels move as wholes
        Assert.Equal((6, 1), (spec.Group("conv2").Size, spec.AxesOf("gn2.weight")[0]!.Value.BlockSize)); // one group: any order
        Assert.Equal((4, 1), (spec.Group("conv3").Size, spec.AxesOf("gn3.bias")[0]!.Value.BlockSize)); // a group per channel: any order
        ModelTesting.AssertExactInTrainAndEval(model, spec, x);
    }

    [Fact]
    public void Infer_InstanceNormAndPerChannelPReLU_FollowTheirChannels()
    {
        torch.manual_seed(85);
        using var model = nn.Sequential(
            ("conv1", nn.Conv2d(3, 5, 3, padding: 1)), ("in1", nn.InstanceNorm2d(5, affine: true, track_running_stats: true)), ("act1", nn.PReLU(5)),
            ("conv2", nn.Conv2d(5, 4, 3, padding: 1)), ("act2", nn.PReLU(1)),
            ("flatten", nn.Flatten()), ("fc", nn.Linear(4 * 4 * 4, 2)));
        using var x = torch.randn(4, 3, 4, 4);

        var spec = PermutationSpecInference.Infer(model, x);

        Assert.Equal([new AxisPermutation("conv1")], spec.AxesOf("in1.running_mean"));
        Assert.Equal([new AxisPermutation("conv1")], spec.AxesOf("act1.weight"));
        ModelTesting.AssertLeftAlone(spec, "act2.weight"); // one slope for every channel
        Assert.Equal([null, new AxisPermutation("conv2", 16)], spec.AxesOf("fc.weight"));
        ModelTesting.AssertExactInTrainAndEval(model, spec, x);
    }

    [Fact]
    public void Infer_EmbeddingAsInputLayer_PermutesItsFeatures()
    {
        torch.manual_seed(86);
        using var model = new LambdaModel(
            [("embed", nn.Embedding(20, 8)), ("fc1", nn.Linear(8, 6)), ("fc2", nn.Linear(6, 3))],
            (m, tokens) => m.Call("fc2", nn.functional.relu(m.Call("fc1", m.Call("embed", tokens).mean([1])))));
        using var tokens = torch.randint(0, 20, [8, 5]);

        var spec = PermutationSpecInference.Infer(model, tokens);

        Assert.Equal(["embed", "fc1"], spec.GroupNames);
        Assert.Equal([null, new AxisPermutation("embed")], spec.AxesOf("embed.weight"));
        Assert.Equal([new AxisPermutation("fc1"), new AxisPermutation("embed")], spec.AxesOf("fc1.weight"));
        model.eval();
        ModelTesting.AssertExact(model, spec, tokens);
    }

    [Fact]
    public void Infer_ConcatenationAlongChannels_LeavesTheConcatenatedPartsAlone()
    {
        torch.manual_seed(87);
        using var model = new LambdaModel(
            [("left", nn.Conv2d(3, 4, 3, padding: 1)), ("right", nn.Conv2d(3, 2, 1)), ("mix", nn.Conv2d(6, 5, 3, padding: 1)), ("fc", nn.Linear(5, 2))],
            (m, x) =>
            {
                var joined = torch.cat([nn.functional.relu(m.Call("left", x)), nn.functional.relu(m.Call("right", x))], 1);
                var h = nn.functional.relu(m.Call("mix", joined));
                return m.Call("fc", nn.functional.adaptive_avg_pool2d(h, 1).flatten(1));
            });
        using var x = torch.randn(4, 3, 5, 5);

        var spec = PermutationSpecInference.Infer(model, x);

        Assert.Equal(["mix"], spec.GroupNames);
        ModelTesting.AssertLeftAlone(spec, "left.weight");
        ModelTesting.AssertLeftAlone(spec, "right.bias");
        Assert.Equal([new AxisPermutation("mix"), null, null, null], spec.AxesOf("mix.weight"));
        ModelTesting.AssertExactInTrainAndEval(model, spec, x);
    }

    [Fact]
    public void Infer_ConcatenationAlongExamples_TiesTheParts()
    {
        torch.manual_seed(88);
        using var model = new LambdaModel(
            [("a", nn.Linear(4, 6)), ("b", nn.Linear(4, 6)), ("head", nn.Linear(6, 2))],
            (m, x) => m.Call("head", nn.functional.relu(torch.cat([m.Call("a", x), m.Call("b", x)], 0))));
        using var x = torch.randn(8, 4);

        var spec = PermutationSpecInference.Infer(model, x);

        Assert.Equal(["a"], spec.GroupNames);
        Assert.Equal([new AxisPermutation("a"), null], spec.AxesOf("b.weight"));
        ModelTesting.AssertExactInTrainAndEval(model, spec, x);
    }

    [Fact]
    public void Infer_SoftmaxOverUnits_KeepsTheTieBecauseItCommutesWithPermutations()
    {
        torch.manual_seed(89);
        using var model = new LambdaModel(
            [("fc1", nn.Linear(4, 6)), ("fc2", nn.Linear(6, 3))],
            (m, x) => m.Call("fc2", nn.functional.softmax(m.Call("fc1", x), 1)));
        using var x = torch.randn(8, 4);

        var spec = PermutationSpecInference.Infer(model, x);

        Assert.Equal([new AxisPermutation("fc1"), null], spec.AxesOf("fc1.weight"));
        Assert.Equal([null, new AxisPermutation("fc1")], spec.AxesOf("fc2.weight"));
        ModelTesting.AssertExactInTrainAndEval(model, spec, x);
    }

    [Fact]
    public void Infer_UnitsMixedByAMatrix_RefusesNamingBothLayersAndTheAxis()
    {
        torch.manual_seed(90);
        using var mixing = torch.randn(6, 4);
        using var model = new LambdaModel(
            [("fc1", nn.Linear(3, 6)), ("fc2", nn.Linear(4, 2))],
            (m, x) => m.Call("fc2", nn.functional.relu(m.Call("fc1", x)).matmul(mixing)));

        var ex = Assert.Throws<PermutationSpecException>(() => PermutationSpecInference.Infer(model, torch.randn(8, 3)));

        Assert.Contains(
            "the input of 'fc2' (Linear) (axis 1 of [8, 4], 4 units) is computed from the output of 'fc1' (Linear) (axis 1 of [8, 6], 6 units) in a way that is neither a copy of its units in order",
            ex.Message,
            StringComparison.Ordinal);
        Assert.Contains("mixes units", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Infer_SquareMixingMatrix_RefusesNamingTheLayerWhoseInputDoesNotFollow()
    {
        torch.manual_seed(91);
        using var mixing = torch.randn(5, 5);
        using var model = new LambdaModel(
            [("fc1", nn.Linear(3, 5)), ("fc2", nn.Linear(5, 2))],
            (m, x) => m.Call("fc2", nn.functional.relu(m.Call("fc1", x)).matmul(mixing)));

        var ex = Assert.Throws<PermutationSpecException>(() => PermutationSpecInference.Infer(model, torch.randn(8, 3)));

        Assert.Contains(
            "the input of 'fc2' (Linear) (axis 1 of [8, 5], 5 units, computed from 'fc1' (Linear)) does not follow when the units of 'fc1' (Linear) are permuted",
            ex.Message,
            StringComparison.Ordinal);
    }

    [Fact]
    public void Infer_ConstantAddedPerUnit_RefusesNamingTheLayerWhoseInputDoesNotFollow()
    {
        torch.manual_seed(92);
        using var offsets = torch.arange(5, dtype: ScalarType.Float32);
        using var model = new LambdaModel(
            [("fc1", nn.Linear(3, 5)), ("fc2", nn.Linear(5, 2))],
            (m, x) => m.Call("fc2", nn.functional.relu(m.Call("fc1", x) + offsets)));

        var ex = Assert.Throws<PermutationSpecException>(() => PermutationSpecInference.Infer(model, torch.randn(8, 3)));

        Assert.Contains("the input of 'fc2' (Linear) (axis 1 of [8, 5], 5 units, computed from 'fc1' (Linear)) does not follow", ex.Message, StringComparison.Ordinal);
        Assert.Contains("a constant or a tensor added per unit", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Infer_LayerWithUnsupportedParameters_RefusesNamingItAndItsType()
    {
        using var model = new LambdaModel(
            [("fc", nn.Linear(4, 4)), ("scale", new ChannelScale(4)), ("head", nn.Linear(4, 2))],
            (m, x) => m.Call("head", m.Call("scale", m.Call("fc", x))));

        var ex = Assert.Throws<PermutationSpecException>(() => PermutationSpecInference.Infer(model));

        Assert.Contains("does not support the module 'scale' (ChannelScale): its parameters are not those of a Linear, convolution, normalization, PReLU or Embedding layer", ex.Message, StringComparison.Ordinal);
        Assert.Contains("PermutationSpecs", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Infer_RecurrentLayer_RefusesNamingIt()
    {
        using var model = new LambdaModel(
            [("fc", nn.Linear(4, 4)), ("rnn", nn.GRUCell(4, 4)), ("head", nn.Linear(4, 2))],
            (m, x) => m.Call("head", m.Call("fc", x)));

        var ex = Assert.Throws<PermutationSpecException>(() => PermutationSpecInference.Infer(model));

        Assert.Contains("does not support the module 'rnn' (GRUCell)", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Infer_TransposedConvolution_RefusesWithTheReason()
    {
        using var model = nn.Sequential(("up", nn.ConvTranspose2d(3, 4, 2, stride: 2)), ("flatten", nn.Flatten()), ("fc", nn.Linear(4 * 4 * 4, 2)));

        var ex = Assert.Throws<PermutationSpecException>(() => PermutationSpecInference.Infer(model, torch.randn(2, 3, 2, 2)));

        Assert.Contains("'up' (ConvTranspose2d): a transposed convolution stores its weight as [in, out/groups, …]", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Infer_ContainerWithItsOwnParameter_RefusesNamingTheParameter()
    {
        using var model = new ScaledBlock();

        var ex = Assert.Throws<PermutationSpecException>(() => PermutationSpecInference.Infer(model));

        Assert.Contains("'(the model itself)' (ScaledBlock): it holds the parameter 'scale' itself", ex.Message, StringComparison.Ordinal);
    }

    /// <summary>x ⊙ w with a learnable weight per unit: a layer spec inference does not know.</summary>
    private sealed class ChannelScale : nn.Module<Tensor, Tensor>
    {
        private readonly TorchSharp.Modules.Parameter weight;

        public ChannelScale(int units)
            : base(nameof(ChannelScale))
        {
            weight = new TorchSharp.Modules.Parameter(torch.ones(units));
            RegisterComponents();
        }

        public override Tensor forward(Tensor input) => input * weight;
    }

    /// <summary>fc2(scale ⊙ relu(fc1(x))) with a learnable per-unit scale held by the model itself.</summary>
    private sealed class ScaledBlock : nn.Module<Tensor, Tensor>
    {
        private readonly nn.Module<Tensor, Tensor> fc1 = nn.Linear(4, 5);
        private readonly nn.Module<Tensor, Tensor> fc2 = nn.Linear(5, 2);
        private readonly TorchSharp.Modules.Parameter scale = new(torch.ones(5));

        public ScaledBlock()
            : base(nameof(ScaledBlock))
        {
            RegisterComponents();
        }

        public override Tensor forward(Tensor input) => fc2.call(nn.functional.relu(fc1.call(input)) * scale);
    }
}
