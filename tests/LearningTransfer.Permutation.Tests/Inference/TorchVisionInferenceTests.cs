using System.Text.RegularExpressions;
using TorchSharp;
using TrajectoryTransfer.Permutations.Tests.TestModels;
using static TorchSharp.torch;

namespace TrajectoryTransfer.Permutations.Tests.Inference;

/// <summary>TorchVision's models, inferred from their forward pass alone, on small 32×32 batches.</summary>
public sealed partial class TorchVisionInferenceTests
{
    [Fact]
    public void Infer_ResNet18_EqualsTheReadyMadeResNetSpecAndIsExact()
    {
        torch.manual_seed(100);
        using var model = torchvision.models.resnet18(num_classes: 10);
        using var x = torch.randn(4, 3, 32, 32);

        var spec = PermutationSpecInference.Infer(model, x);

        // TorchVision names its layers as the ready-made ResNet spec expects.
        SpecComparison.AssertEquivalent(PermutationSpecs.ResNet(model), spec);
        Assert.Equal(4 + 8, spec.Groups.Count); // streams: stem+layer1, layer2, layer3, layer4; one inner group per block
        ModelTesting.AssertExactInFloat64(model, spec, x, trainMode: true);
    }

    [Fact]
    public void Infer_ResNet50_TiesBottleneckStreamsAndDownsampleShortcutsAndIsExact()
    {
        torch.manual_seed(101);
        using var model = torchvision.models.resnet50(num_classes: 10);
        using var x = torch.randn(2, 3, 32, 32);

        var spec = PermutationSpecInference.Infer(model, x);

        SpecComparison.AssertEquivalent(BottleneckResNetSpec(ParameterLayout.Of(model)), spec);
        Assert.Equal(5 + (16 * 2), spec.Groups.Count); // streams: stem, layer1..layer4; two inner groups per block
        Assert.Equal(2048, spec.AxesOf("fc.weight")[1] is { } head ? spec.Group(head.Group).Size : 0);
        ModelTesting.AssertExactInFloat64(model, spec, x, trainMode: false);
    }

    [Fact]
    public void Infer_MobileNetV2_TiesDepthwiseConvolutionsAndInvertedResidualsAndIsExact()
    {
        torch.manual_seed(102);
        using var model = torchvision.models.mobilenet_v2(num_classes: 10);
        using var x = torch.randn(2, 3, 32, 32);

        var spec = PermutationSpecInference.Infer(model, x);

        // Stem and the first depthwise convolution; one expansion group per later block (its 1×1 expansion, the
        // depthwise convolution that follows, their norms); one stream per width (16, 24, 32, 64, 96, 160, 320); the last 1×1.
        Assert.Equal(1 + 16 + 7 + 1, spec.Groups.Count);
        var stem = spec.AxesOf("features.0.0.weight")[0];
        Assert.Equal(stem, spec.AxesOf("features.1.conv.0.0.weight")[0]); // depthwise: groups = channels, so outputs follow inputs
        Assert.Equal(stem, spec.AxesOf("features.1.conv.1.weight")[1]);
        var expansion = spec.AxesOf("features.2.conv.0.0.weight")[0];
        Assert.Equal(expansion, spec.AxesOf("features.2.conv.1.0.weight")[0]);
        Assert.Equal(expansion, spec.AxesOf("features.2.conv.1.1.running_mean")[0]);
        Assert.Null(spec.AxesOf("features.2.conv.1.0.weight")[1]); // one input per depthwise filter
        var stream24 = spec.AxesOf("features.2.conv.2.weight")[0];
        Assert.Equal(stream24, spec.AxesOf("features.3.conv.2.weight")[0]); // features.3 adds into features.2's output
        Assert.Equal(stream24, spec.AxesOf("features.4.conv.0.0.weight")[1]);
        Assert.NotEqual(stream24, spec.AxesOf("features.4.conv.2.weight")[0]); // a new width starts a new stream
        Assert.Equal(1280, spec.Group(spec.AxesOf("classifier.1.weight")[1]!.Value.Group).Size);
        model.eval(); // dropout: train mode is random
        ModelTesting.AssertExactInFloat64(model, spec, x, trainMode: false);
    }

    [Fact]
    public void Infer_Vgg11BatchNorm_EqualsTheReadyMadeVggSpec()
    {
        torch.manual_seed(103);
        using var model = torchvision.models.vgg11_bn(num_classes: 10);
        using var x = torch.randn(2, 3, 32, 32);

        var spec = PermutationSpecInference.Infer(model, x);

        // 32×32 inputs leave a 1×1 map that the adaptive pool copies to 7×7: each channel is a block of 49 classifier inputs.
        int[] convs = [0, 4, 8, 11, 15, 18, 22, 25];
        var expected = PermutationSpecs.Vgg(
            model,
            convs.Select(i => $"features.{i}").ToArray(),
            convs.Select(i => (string?)$"features.{i + 1}").ToArray(),
            ["classifier.0", "classifier.3", "classifier.6"],
            flattenBlockSize: 49);
        SpecComparison.AssertEquivalent(expected, spec);
        Assert.Equal(49, spec.AxesOf("classifier.0.weight")[1]!.Value.BlockSize);
    }

    /// <summary>
    /// The spec of a TorchVision ResNet with Bottleneck blocks, written out from the architecture: streams run through
    /// each block's conv3/bn3 and its downsample shortcut; conv1 and conv2 outputs are groups of their own.
    /// </summary>
    private static PermutationSpec BottleneckResNetSpec(ParameterLayout layout)
    {
        var builder = PermutationSpec.CreateBuilder();
        void Conv(string name, string? output, string? input) => builder.Permute($"{name}.weight", output is null ? (AxisPermutation?)null : new AxisPermutation(output), input is null ? (AxisPermutation?)null : new AxisPermutation(input), null, null);
        void Norm(string name, string group)
        {
            foreach (var tensor in new[] { "weight", "bias", "running_mean", "running_var" })
            {
                builder.Permute($"{name}.{tensor}", group);
            }

            builder.LeaveAlone($"{name}.num_batches_tracked");
        }

        var stream = "stem";
        Conv("conv1", stream, null);
        Norm("bn1", stream);
        var blocks = layout.Names.Select(n => BlockName().Match(n)).Where(m => m.Success).Select(m => m.Groups[1].Value).Distinct().ToList();
        foreach (var block in blocks)
        {
            var downsample = layout.TryGet($"{block}.downsample.0.weight", out _);
            var output = downsample ? block : stream;
            Conv($"{block}.conv1", $"{block}.conv1", stream);
            Norm($"{block}.bn1", $"{block}.conv1");
            Conv($"{block}.conv2", $"{block}.conv2", $"{block}.conv1");
            Norm($"{block}.bn2", $"{block}.conv2");
            Conv($"{block}.conv3", output, $"{block}.conv2");
            Norm($"{block}.bn3", output);
            if (downsample)
            {
                Conv($"{block}.downsample.0", output, stream);
                Norm($"{block}.downsample.1", output);
            }

            stream = output;
        }

        builder.Permute("fc.weight", null, stream).LeaveAlone("fc.bias");
        return builder.Build(layout);
    }

    [GeneratedRegex(@"^(layer\d+\.\d+)\.conv1\.weight$", RegexOptions.CultureInvariant)]
    private static partial Regex BlockName();
}
