using System.Globalization;
using System.Text.RegularExpressions;
using TorchSharp;
using static TorchSharp.torch;

namespace TrajectoryTransfer.Permutations;

/// <summary>
/// Ready-made permutation specs for common architectures, built from their parameter-name conventions and validated
/// against the model (or layout) they are built for. Use them for your own modules when the names fit; otherwise build
/// a spec with <see cref="PermutationSpec.CreateBuilder"/> or infer one with <see cref="PermutationSpecInference"/>.
/// </summary>
/// <remarks>
/// Group names are the names of the layers whose outputs they are (<c>"fc1"</c>, <c>"conv3"</c>, <c>"layer2.0.conv1"</c>);
/// a residual stream's group is named after where it starts (<c>"stem"</c>, <c>"layer2"</c>). Biases are permuted when
/// the model has them and left alone otherwise; BatchNorm running statistics are permuted with their channels and
/// <c>num_batches_tracked</c> is left alone.
/// </remarks>
public static partial class PermutationSpecs
{
    private const string BatchCounter = "num_batches_tracked";
    private static readonly string[] NormTensors = ["weight", "bias", "running_mean", "running_var"];

    /// <summary>
    /// The spec of a chain network: each layer's output units are one group, consumed by the next layer's input axis
    /// (in blocks after a Flatten); its normalization layers join that group; the last layer's outputs are not permuted.
    /// </summary>
    /// <param name="model">The model; its parameters and buffers must all belong to the listed layers.</param>
    /// <param name="layers">The weight layers, in the order data flows through them.</param>
    /// <exception cref="ArgumentNullException">An argument is null.</exception>
    /// <exception cref="ArgumentException"><paramref name="layers"/> is empty, names a layer twice, or gives a block size for the first layer.</exception>
    /// <exception cref="PermutationSpecException">A named tensor is missing, a tensor of the model is not covered, or sizes do not chain; the message names the tensor and the sizes.</exception>
    public static PermutationSpec Chain(nn.Module model, IReadOnlyList<ChainLayer> layers)
    {
        ArgumentNullException.ThrowIfNull(model);
        return Chain(ParameterLayout.Of(model), layers);
    }

    /// <summary>The spec of a chain network, built against a layout (see <see cref="Chain(nn.Module, IReadOnlyList{ChainLayer})"/>).</summary>
    /// <param name="layout">The names and shapes of the model's parameters and buffers.</param>
    /// <param name="layers">The weight layers, in the order data flows through them.</param>
    /// <exception cref="ArgumentNullException">An argument is null.</exception>
    /// <exception cref="ArgumentException"><paramref name="layers"/> is empty, names a layer twice, or gives a block size for the first layer.</exception>
    /// <exception cref="PermutationSpecException">A named tensor is missing, a tensor of the layout is not covered, or sizes do not chain.</exception>
    public static PermutationSpec Chain(ParameterLayout layout, IReadOnlyList<ChainLayer> layers)
    {
        ArgumentNullException.ThrowIfNull(layout);
        ArgumentNullException.ThrowIfNull(layers);
        if (layers.Count == 0)
        {
            throw new ArgumentException("A chain needs at least one layer.", nameof(layers));
        }

        var builder = PermutationSpec.CreateBuilder();
        AddChain(builder, layout, layers, leadingNorms: [], nameof(layout));
        return builder.Build(layout);
    }

    /// <summary>
    /// The spec of a multilayer perceptron: Linear layers in order, each hidden layer optionally followed by a
    /// normalization layer (BatchNorm1d or LayerNorm). Biases are detected from the model.
    /// </summary>
    /// <param name="model">The model.</param>
    /// <param name="linearLayers">The Linear layers' module names in order, the output layer last (<c>["fc1", "fc2", "fc3"]</c>).</param>
    /// <param name="normLayers">One entry per hidden layer (<c>linearLayers.Count − 1</c>): the normalization layer after it, or null for none. Null when there are none.</param>
    /// <exception cref="ArgumentNullException">An argument is null.</exception>
    /// <exception cref="ArgumentException">No Linear layer is named, or <paramref name="normLayers"/> has the wrong length.</exception>
    /// <exception cref="PermutationSpecException">The names or shapes do not fit the model.</exception>
    public static PermutationSpec Mlp(nn.Module model, IReadOnlyList<string> linearLayers, IReadOnlyList<string?>? normLayers = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        return Mlp(ParameterLayout.Of(model), linearLayers, normLayers);
    }

    /// <summary>The spec of a multilayer perceptron, built against a layout (see <see cref="Mlp(nn.Module, IReadOnlyList{string}, IReadOnlyList{string?}?)"/>).</summary>
    /// <param name="layout">The names and shapes of the model's parameters and buffers.</param>
    /// <param name="linearLayers">The Linear layers' module names in order, the output layer last.</param>
    /// <param name="normLayers">One entry per hidden layer: the normalization layer after it, or null for none. Null when there are none.</param>
    /// <exception cref="ArgumentNullException">An argument is null.</exception>
    /// <exception cref="ArgumentException">No Linear layer is named, or <paramref name="normLayers"/> has the wrong length.</exception>
    /// <exception cref="PermutationSpecException">The names or shapes do not fit the layout.</exception>
    public static PermutationSpec Mlp(ParameterLayout layout, IReadOnlyList<string> linearLayers, IReadOnlyList<string?>? normLayers = null)
    {
        ArgumentNullException.ThrowIfNull(layout);
        ArgumentNullException.ThrowIfNull(linearLayers);
        if (linearLayers.Count == 0)
        {
            throw new ArgumentException("Name at least one Linear layer.", nameof(linearLayers));
        }

        CheckNormCount(normLayers, linearLayers.Count - 1, "hidden layer", nameof(normLayers));
        var layers = linearLayers.Select((name, i) => new ChainLayer(name, NormsOf(normLayers, i))).ToArray();
        return Chain(layout, layers);
    }

    /// <summary>
    /// The spec of a VGG-style network: convolutions (each optionally followed by a BatchNorm2d), then a Flatten, then
    /// Linear layers, the classifier last. The first Linear's input axis is permuted in blocks of H·W by the last
    /// convolution's channels.
    /// </summary>
    /// <param name="model">The model.</param>
    /// <param name="convLayers">The convolutions' module names, in order.</param>
    /// <param name="normLayers">One entry per convolution: the BatchNorm after it, or null for none. Null when there are none.</param>
    /// <param name="linearLayers">The Linear layers' module names in order, the classifier last.</param>
    /// <param name="flattenBlockSize">H·W of the last feature map; when null it is derived from the shapes, when given the shapes must agree.</param>
    /// <exception cref="ArgumentNullException">An argument is null.</exception>
    /// <exception cref="ArgumentException">A list is empty or <paramref name="normLayers"/> has the wrong length.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="flattenBlockSize"/> is not positive.</exception>
    /// <exception cref="PermutationSpecException">The names or shapes do not fit the model.</exception>
    public static PermutationSpec Vgg(
        nn.Module model,
        IReadOnlyList<string> convLayers,
        IReadOnlyList<string?>? normLayers,
        IReadOnlyList<string> linearLayers,
        int? flattenBlockSize = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        return Vgg(ParameterLayout.Of(model), convLayers, normLayers, linearLayers, flattenBlockSize);
    }

    /// <summary>The spec of a VGG-style network, built against a layout (see <see cref="Vgg(nn.Module, IReadOnlyList{string}, IReadOnlyList{string?}?, IReadOnlyList{string}, int?)"/>).</summary>
    /// <param name="layout">The names and shapes of the model's parameters and buffers.</param>
    /// <param name="convLayers">The convolutions' module names, in order.</param>
    /// <param name="normLayers">One entry per convolution: the BatchNorm after it, or null for none. Null when there are none.</param>
    /// <param name="linearLayers">The Linear layers' module names in order, the classifier last.</param>
    /// <param name="flattenBlockSize">H·W of the last feature map; when null it is derived from the shapes.</param>
    /// <exception cref="ArgumentNullException">An argument is null.</exception>
    /// <exception cref="ArgumentException">A list is empty or <paramref name="normLayers"/> has the wrong length.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="flattenBlockSize"/> is not positive.</exception>
    /// <exception cref="PermutationSpecException">The names or shapes do not fit the layout.</exception>
    public static PermutationSpec Vgg(
        ParameterLayout layout,
        IReadOnlyList<string> convLayers,
        IReadOnlyList<string?>? normLayers,
        IReadOnlyList<string> linearLayers,
        int? flattenBlockSize = null)
    {
        ArgumentNullException.ThrowIfNull(layout);
        ArgumentNullException.ThrowIfNull(convLayers);
        ArgumentNullException.ThrowIfNull(linearLayers);
        if (convLayers.Count == 0)
        {
            throw new ArgumentException("Name at least one convolution.", nameof(convLayers));
        }

        if (linearLayers.Count == 0)
        {
            throw new ArgumentException("Name at least one Linear layer (the classifier).", nameof(linearLayers));
        }

        if (flattenBlockSize is { } block)
        {
            ArgumentOutOfRangeException.ThrowIfNegativeOrZero(block, nameof(flattenBlockSize));
        }

        CheckNormCount(normLayers, convLayers.Count, "convolution", nameof(normLayers));
        var layers = convLayers.Select((name, i) => new ChainLayer(name, NormsOf(normLayers, i)))
            .Concat(linearLayers.Select((name, i) => new ChainLayer(name, null, i == 0 ? flattenBlockSize : null)))
            .ToArray();
        return Chain(layout, layers);
    }

    /// <summary>
    /// The spec of a ResNet with basic blocks named as in <see cref="Permutations.ResNet"/> and torchvision: stem
    /// <c>conv1</c>/<c>bn1</c>; blocks <c>layer{s}.{b}.conv1</c>/<c>bn1</c>/<c>conv2</c>/<c>bn2</c> with an optional
    /// shortcut <c>layer{s}.{b}.downsample.0</c> (1×1 conv) / <c>downsample.1</c> (BatchNorm); head <c>fc</c> after global
    /// average pooling.
    /// </summary>
    /// <remarks>
    /// Every layer that adds into one residual stream (the stem, each block's <c>conv2</c>/<c>bn2</c>, and the shortcut
    /// that starts a stage's stream) shares one group; a stream continues until a block with a downsampling shortcut
    /// starts a new one. Each block's inner channels (<c>conv1</c>'s outputs) are a group of their own. The head's input
    /// axis follows the last stream; its bias is left alone.
    /// </remarks>
    /// <param name="model">The model.</param>
    /// <exception cref="ArgumentNullException"><paramref name="model"/> is null.</exception>
    /// <exception cref="PermutationSpecException">The model is not named that way, or its shapes do not fit; the message names the tensor.</exception>
    public static PermutationSpec ResNet(nn.Module model)
    {
        ArgumentNullException.ThrowIfNull(model);
        return ResNet(ParameterLayout.Of(model));
    }

    /// <summary>The spec of a ResNet with basic blocks, built against a layout (see <see cref="ResNet(nn.Module)"/>).</summary>
    /// <param name="layout">The names and shapes of the model's parameters and buffers.</param>
    /// <exception cref="ArgumentNullException"><paramref name="layout"/> is null.</exception>
    /// <exception cref="PermutationSpecException">The layout is not named that way, or its shapes do not fit.</exception>
    public static PermutationSpec ResNet(ParameterLayout layout)
    {
        ArgumentNullException.ThrowIfNull(layout);
        const string paramName = nameof(layout);
        var blocks = new SortedDictionary<int, SortedSet<int>>();
        foreach (var name in layout.Names)
        {
            var match = BlockName().Match(name);
            if (match.Success)
            {
                var stage = int.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture);
                var block = int.Parse(match.Groups[2].Value, CultureInfo.InvariantCulture);
                if (!blocks.TryGetValue(stage, out var set))
                {
                    blocks[stage] = set = [];
                }

                set.Add(block);
            }
        }

        if (blocks.Count == 0)
        {
            throw new PermutationSpecException(
                $"No tensor is named like a ResNet block ('layer{{s}}.{{b}}.conv1.weight'). The model has: {ParameterSet.Describe(layout.Names)}.", paramName);
        }

        var builder = PermutationSpec.CreateBuilder();
        var stream = "stem";
        AddLayer(builder, layout, "conv1", stream, null, paramName);
        AddNorm(builder, layout, "bn1", stream, "conv1", required: false, paramName);
        var expectedStage = 1;
        foreach (var (stage, blockIndices) in blocks)
        {
            if (stage != expectedStage)
            {
                throw new PermutationSpecException($"ResNet stages must be numbered layer1, layer2, …; found layer{stage} where layer{expectedStage} was expected.", paramName);
            }

            var expectedBlock = 0;
            foreach (var block in blockIndices)
            {
                if (block != expectedBlock)
                {
                    throw new PermutationSpecException($"The blocks of layer{stage} must be numbered 0, 1, …; found layer{stage}.{block} where layer{stage}.{expectedBlock} was expected.", paramName);
                }

                var prefix = $"layer{stage}.{block}";
                var inner = $"{prefix}.conv1";
                var downsample = layout.TryGet($"{prefix}.downsample.0.weight", out _);
                var output = downsample ? (block == 0 ? $"layer{stage}" : prefix) : stream;

                AddLayer(builder, layout, $"{prefix}.conv1", inner, stream, paramName);
                AddNorm(builder, layout, $"{prefix}.bn1", inner, $"{prefix}.conv1", required: false, paramName);
                AddLayer(builder, layout, $"{prefix}.conv2", output, inner, paramName);
                AddNorm(builder, layout, $"{prefix}.bn2", output, $"{prefix}.conv2", required: false, paramName);
                if (downsample)
                {
                    AddLayer(builder, layout, $"{prefix}.downsample.0", output, stream, paramName);
                    AddNorm(builder, layout, $"{prefix}.downsample.1", output, $"{prefix}.downsample.0", required: false, paramName);
                }

                stream = output;
                expectedBlock++;
            }

            expectedStage++;
        }

        AddLayer(builder, layout, "fc", null, stream, paramName);
        return builder.Build(layout);
    }

    /// <summary>
    /// Declares a chain of layers on <paramref name="builder"/>; <paramref name="leadingNorms"/> are normalization layers
    /// before the first weight layer, whose tensors are left alone.
    /// </summary>
    internal static void AddChain(PermutationSpecBuilder builder, ParameterLayout layout, IReadOnlyList<ChainLayer> layers, IReadOnlyList<string> leadingNorms, string paramName)
    {
        foreach (var norm in leadingNorms)
        {
            AddNorm(builder, layout, norm, group: null, owner: null, required: true, paramName);
        }

        var names = new HashSet<string>(StringComparer.Ordinal);
        string? previousGroup = null;
        string? previousLayer = null;
        long previousSize = 0;
        for (var i = 0; i < layers.Count; i++)
        {
            var layer = layers[i] ?? throw new ArgumentNullException(nameof(layers), $"layers[{i}] is null.");
            ArgumentNullException.ThrowIfNull(layer.Name, nameof(layers));
            if (!names.Add(layer.Name))
            {
                throw new ArgumentException($"The layer '{layer.Name}' is listed twice.", nameof(layers));
            }

            var weightName = Join(layer.Name, "weight");
            var weight = Require(layout, weightName, $"the weight of layer '{layer.Name}'", paramName);
            if (weight.Shape.Count < 2)
            {
                throw new PermutationSpecException(
                    $"'{weightName}' has shape {ParameterLayout.FormatShape(weight.Shape)}; a Linear or convolution weight has at least 2 axes [out, in, …].", paramName);
            }

            AxisPermutation? input = null;
            if (previousGroup is null)
            {
                if (layer.InputBlockSize is not null)
                {
                    throw new ArgumentException($"The first layer '{layer.Name}' has no previous layer, so its InputBlockSize must be null.", nameof(layers));
                }
            }
            else
            {
                var inSize = weight.Shape[1];
                if (inSize % previousSize != 0)
                {
                    throw new PermutationSpecException(
                        $"'{weightName}' axis 1 has size {inSize} {ParameterLayout.FormatShape(weight.Shape)}, which is not a multiple of {previousSize}, the output size of the previous layer '{previousLayer}': '{layer.Name}' cannot consume its outputs.",
                        paramName);
                }

                var block = inSize / previousSize;
                if (layer.InputBlockSize is { } expected && expected != block)
                {
                    throw new PermutationSpecException(
                        $"'{weightName}' axis 1 has size {inSize} {ParameterLayout.FormatShape(weight.Shape)}, but {previousSize} units of '{previousLayer}' in blocks of {expected} expect {previousSize * expected}.",
                        paramName);
                }

                input = new AxisPermutation(previousGroup, checked((int)block));
            }

            var group = i == layers.Count - 1 ? null : layer.Name;
            AddLayer(builder, layout, layer.Name, group is null ? (AxisPermutation?)null : new AxisPermutation(group), input, paramName);
            foreach (var norm in layer.Norms ?? [])
            {
                ArgumentNullException.ThrowIfNull(norm, nameof(layers));
                AddNorm(builder, layout, norm, group, layer.Name, required: true, paramName);
            }

            previousGroup = group;
            previousLayer = layer.Name;
            previousSize = weight.Shape[0];
        }
    }

    /// <summary>Declares a weight layer: the weight's axis 0 by <paramref name="output"/>, axis 1 by <paramref name="input"/>, the bias by <paramref name="output"/>.</summary>
    private static void AddLayer(PermutationSpecBuilder builder, ParameterLayout layout, string layer, AxisPermutation? output, AxisPermutation? input, string paramName)
    {
        var weightName = Join(layer, "weight");
        var weight = Require(layout, weightName, $"the weight of layer '{layer}'", paramName);
        if (weight.Shape.Count < 2)
        {
            throw new PermutationSpecException(
                $"'{weightName}' has shape {ParameterLayout.FormatShape(weight.Shape)}; a Linear or convolution weight has at least 2 axes [out, in, …].", paramName);
        }

        var axes = new AxisPermutation?[weight.Shape.Count];
        axes[0] = output;
        axes[1] = input;
        builder.Permute(weightName, axes);
        foreach (var (tensor, suffix) in DirectTensors(layout, layer))
        {
            if (suffix == "weight")
            {
                continue;
            }

            if (suffix != "bias" || tensor.Shape.Count != 1)
            {
                throw new PermutationSpecException(
                    $"'{tensor.Name}' {ParameterLayout.FormatShape(tensor.Shape)} is not a weight or bias of layer '{layer}'; describe this layer with PermutationSpec.CreateBuilder().",
                    paramName);
            }

            if (output is { } o)
            {
                builder.Permute(tensor.Name, o);
            }
            else
            {
                builder.LeaveAlone(tensor.Name);
            }
        }
    }

    /// <summary>Declares a normalization layer's tensors: axis 0 of weight, bias and running statistics by <paramref name="group"/>; the batch counter left alone.</summary>
    private static void AddNorm(PermutationSpecBuilder builder, ParameterLayout layout, string norm, string? group, string? owner, bool required, string paramName)
    {
        var tensors = DirectTensors(layout, norm).ToArray();
        if (tensors.Length == 0)
        {
            if (required)
            {
                throw new PermutationSpecException(
                    $"The normalization layer '{norm}'{(owner is null ? string.Empty : $" (after '{owner}')")} has no tensors in the model. Check the name; a LayerNorm without affine parameters need not be listed. The model has: {ParameterSet.Describe(layout.Names)}.",
                    paramName);
            }

            return;
        }

        long groupSize = 0;
        if (group is not null && owner is not null && layout.TryGet(Join(owner, "weight"), out var ownerWeight))
        {
            groupSize = ownerWeight.Shape[0];
        }

        foreach (var (tensor, suffix) in tensors)
        {
            if (suffix == BatchCounter)
            {
                builder.LeaveAlone(tensor.Name);
                continue;
            }

            if (!NormTensors.Contains(suffix) || tensor.Shape.Count == 0)
            {
                throw new PermutationSpecException(
                    $"'{tensor.Name}' {ParameterLayout.FormatShape(tensor.Shape)} is not a tensor of a BatchNorm or LayerNorm (weight, bias, running_mean, running_var, num_batches_tracked).",
                    paramName);
            }

            if (group is null)
            {
                builder.LeaveAlone(tensor.Name);
                continue;
            }

            var size = tensor.Shape[0];
            if (groupSize == 0 || size % groupSize != 0)
            {
                throw new PermutationSpecException(
                    $"'{tensor.Name}' axis 0 has size {size} {ParameterLayout.FormatShape(tensor.Shape)}, but it normalizes the {groupSize} outputs of '{owner}' (group '{group}'), so its size must be a multiple of {groupSize}.",
                    paramName);
            }

            var axes = new AxisPermutation?[tensor.Shape.Count];
            axes[0] = new AxisPermutation(group, checked((int)(size / groupSize)));
            builder.Permute(tensor.Name, axes);
        }
    }

    private static ParameterInfo Require(ParameterLayout layout, string name, string what, string paramName) =>
        layout.TryGet(name, out var info)
            ? info
            : throw new PermutationSpecException($"The model has no tensor '{name}' ({what}). The model has: {ParameterSet.Describe(layout.Names)}.", paramName);

    /// <summary>The tensors owned directly by the module <paramref name="module"/> (not by its submodules), with their local names.</summary>
    private static IEnumerable<(ParameterInfo Tensor, string Suffix)> DirectTensors(ParameterLayout layout, string module)
    {
        var prefix = module.Length == 0 ? string.Empty : module + ".";
        foreach (var entry in layout.Entries)
        {
            if (entry.Name.StartsWith(prefix, StringComparison.Ordinal))
            {
                var suffix = entry.Name[prefix.Length..];
                if (suffix.Length > 0 && !suffix.Contains('.', StringComparison.Ordinal))
                {
                    yield return (entry, suffix);
                }
            }
        }
    }

    private static string Join(string module, string tensor) => module.Length == 0 ? tensor : $"{module}.{tensor}";

    private static string[]? NormsOf(IReadOnlyList<string?>? norms, int index) =>
        norms is not null && index < norms.Count && norms[index] is { } norm ? [norm] : null;

    private static void CheckNormCount(IReadOnlyList<string?>? norms, int expected, string what, string paramName)
    {
        if (norms is not null && norms.Count != expected)
        {
            throw new ArgumentException($"{paramName} has {norms.Count} entries; give one per {what} ({expected}), null where there is none.", paramName);
        }
    }

    [GeneratedRegex(@"^layer(\d+)\.(\d+)\.", RegexOptions.CultureInvariant)]
    private static partial Regex BlockName();
}
