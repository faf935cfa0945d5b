using System.Globalization;
using System.Runtime.InteropServices;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace TrajectoryTransfer.Permutations;

/// <summary>
/// Infers the permutation spec of a chain network (a <see cref="Sequential"/>, or any module whose leaf layers run one
/// after the other), and verifies it on a sample input before returning it.
/// </summary>
/// <remarks>
/// <para>
/// Each Linear or convolution's outputs start a group that the next Linear or convolution consumes (in blocks of H·W
/// after a Flatten, derived from the shapes); BatchNorm and LayerNorm layers in between join the group; the last layer's
/// outputs are not permuted. Activations, pooling, dropout, padding and Flatten layers are passed through.
/// </para>
/// <para>
/// The order of the layers is the order in which forward hooks see them run on the sample input. TorchSharp runs hooks
/// only for submodules invoked with <c>call()</c> (as <see cref="Sequential"/> does), not <c>forward()</c>; when some
/// layer is not seen, the order in which the layers were registered is used instead.
/// </para>
/// <para>
/// Every inferred spec is confirmed with <see cref="PermutationExactness"/> (a random permutation must leave outputs and
/// gradients unchanged, in eval mode and, where no layer is random, in train mode). A model that is not a chain
/// (residual connections, concatenation, a layer used twice) fails that check and is reported; describe such a model with
/// <see cref="PermutationSpec.CreateBuilder"/> or <see cref="PermutationSpecs"/>.
/// </para>
/// </remarks>
public static class PermutationSpecInference
{
    private const int SyntheticBatch = 16;
    private const string Advice =
        "Build a spec with PermutationSpec.CreateBuilder(), or take one from PermutationSpecs (Mlp, Vgg, ResNet, Chain), and check it with PermutationExactness.Check.";

    private static readonly Type[] PassThrough =
    [
        typeof(ReLU), typeof(ReLU6), typeof(LeakyReLU), typeof(GELU), typeof(Tanh), typeof(Sigmoid), typeof(SiLU),
        typeof(ELU), typeof(CELU), typeof(SELU), typeof(Softplus), typeof(Mish), typeof(Hardtanh), typeof(Hardswish),
        typeof(Hardsigmoid), typeof(Hardshrink), typeof(Softshrink), typeof(Softsign), typeof(Tanhshrink), typeof(Threshold),
        typeof(LogSigmoid), typeof(Softmax), typeof(LogSoftmax), typeof(Softmin), typeof(Identity), typeof(Flatten),
        typeof(MaxPool1d), typeof(MaxPool2d), typeof(MaxPool3d), typeof(AvgPool1d), typeof(AvgPool2d), typeof(AvgPool3d),
        typeof(AdaptiveAvgPool1d), typeof(AdaptiveAvgPool2d), typeof(AdaptiveAvgPool3d), typeof(AdaptiveMaxPool1d),
        typeof(AdaptiveMaxPool2d), typeof(AdaptiveMaxPool3d), typeof(LPPool1d), typeof(LPPool2d), typeof(PadBase), typeof(Upsample),
    ];

    private static readonly Type[] RandomLayers =
    [
        typeof(Dropout), typeof(Dropout1d), typeof(Dropout2d), typeof(Dropout3d), typeof(AlphaDropout), typeof(FeatureAlphaDropout), typeof(RReLU),
    ];

    private enum LeafKind
    {
        Layer,
        Norm,
        PassThrough,
        Random,
    }

    /// <summary>Infers the spec of a chain network and verifies it; the model is left as it was (parameters, buffers, gradients and training mode).</summary>
    /// <param name="model">The model, on its device.</param>
    /// <param name="sampleInput">
    /// A batch the model accepts, on the model's device (two or more examples, so that BatchNorm can be checked in train
    /// mode). It may be omitted when the first layer is a Linear: a random batch [16, in_features] is used.
    /// </param>
    /// <param name="tolerance">
    /// The verification's tolerance, relative to the largest output and gradient (at least 1); the default is 1e-4, far
    /// above float32 rounding and far below what a wrong spec changes.
    /// </param>
    /// <param name="seed">Seeds the synthetic input and the random permutations of the verification.</param>
    /// <returns>The verified spec, covering every parameter and buffer of the model.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="model"/> is null.</exception>
    /// <exception cref="ArgumentException">A sample input is needed and was not given, or the model rejects it.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="tolerance"/> is negative or not finite.</exception>
    /// <exception cref="PermutationSpecException">
    /// A module is not supported (the message names it and its type), or the model is not a chain of layers: the layer
    /// sizes do not chain, a layer runs twice, or the verification fails (the message names the groups that break it).
    /// </exception>
    public static PermutationSpec Infer(nn.Module<Tensor, Tensor> model, Tensor? sampleInput = null, double tolerance = 1e-4, int seed = 0)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentOutOfRangeException.ThrowIfNegative(tolerance);
        if (!double.IsFinite(tolerance))
        {
            throw new ArgumentOutOfRangeException(nameof(tolerance), tolerance, "The tolerance must be finite.");
        }

        var leaves = Leaves(model);
        var kinds = leaves.Select(l => Classify(l.Name, l.Module)).ToArray();
        if (!kinds.Contains(LeafKind.Layer))
        {
            throw new PermutationSpecException($"{Describe(model)} has no Linear or convolution layer, so there is nothing to permute. {Advice}", nameof(model));
        }

        var modes = SaveTrainingModes(model);
        using var scope = torch.NewDisposeScope();
        try
        {
            var input = sampleInput ?? SyntheticInput(model, leaves, kinds, seed);
            var (calls, inputShapes) = Trace(model, leaves, input);
            var (order, traced) = Order(model, leaves, kinds, calls);
            var spec = BuildChain(model, leaves, kinds, order, inputShapes, traced);
            Verify(model, spec, input, kinds, tolerance, seed, traced);
            return spec;
        }
        finally
        {
            RestoreTrainingModes(modes);
        }
    }

    private static List<(string Name, nn.Module Module)> Leaves(nn.Module model)
    {
        var leaves = new List<(string, nn.Module)>();
        void Walk(nn.Module module, string prefix)
        {
            foreach (var (name, child) in module.named_children())
            {
                var full = prefix.Length == 0 ? name : $"{prefix}.{name}";
                if (child.named_children().Any())
                {
                    Walk(child, full);
                }
                else
                {
                    leaves.Add((full, child));
                }
            }
        }

        Walk(model, string.Empty);
        if (leaves.Count == 0)
        {
            leaves.Add((string.Empty, model));
        }

        return leaves;
    }

    private static LeafKind Classify(string name, nn.Module module)
    {
        switch (module)
        {
            case Linear:
                return LeafKind.Layer;
            case Convolution conv when !conv.transposed && conv.groups == 1:
                return LeafKind.Layer;
            case Convolution conv:
                throw Unsupported(name, module, conv.transposed
                    ? "a transposed convolution stores its weight as [in, out, …]"
                    : $"a grouped convolution (groups = {conv.groups}) cannot mix channels across its groups");
            case BatchNorm:
            case LayerNorm:
                return LeafKind.Norm;
        }

        var type = module.GetType();
        if (RandomLayers.Any(t => t.IsAssignableFrom(type)))
        {
            return LeafKind.Random;
        }

        if (PassThrough.Any(t => t.IsAssignableFrom(type)))
        {
            return LeafKind.PassThrough;
        }

        throw Unsupported(name, module, module.named_parameters().Any()
            ? "its parameters are not a Linear, convolution, BatchNorm or LayerNorm"
            : "it is not known to keep hidden units interchangeable");
    }

    private static PermutationSpecException Unsupported(string name, nn.Module module, string why) =>
        new(
            $"Spec inference does not support the module '{DisplayName(name)}' ({module.GetType().Name}): {why}. Supported: Linear, Conv1d/2d/3d, BatchNorm1d/2d/3d, LayerNorm, activations, pooling, padding, dropout, Flatten and containers of them. {Advice}",
            "model");

    private static Tensor SyntheticInput(nn.Module model, List<(string Name, nn.Module Module)> leaves, LeafKind[] kinds, int seed)
    {
        var first = leaves.Select((l, i) => (l.Name, l.Module, Kind: kinds[i])).First(l => l.Kind == LeafKind.Layer);
        if (first.Module is not Linear linear)
        {
            throw new ArgumentException(
                $"Pass a sample input to infer the spec of {Describe(model)}: its first layer '{DisplayName(first.Name)}' is a {first.Module.GetType().Name}, whose input size cannot be read from its weights (for images, for example torch.randn(4, C, H, W)).",
                "sampleInput");
        }

        var weight = linear.weight!;
        using var generator = new Generator((ulong)seed, weight.device);
        return torch.randn([SyntheticBatch, linear.in_features], generator: generator, dtype: weight.dtype, device: weight.device);
    }

    /// <summary>Runs the model once in eval mode with forward hooks on every leaf: which leaves ran, in order, and their input shapes.</summary>
    private static (List<int> Calls, long[]?[] InputShapes) Trace(nn.Module<Tensor, Tensor> model, List<(string Name, nn.Module Module)> leaves, Tensor input)
    {
        var calls = new List<int>();
        var shapes = new long[]?[leaves.Count];
        var removers = new List<Action>();
        try
        {
            for (var i = 0; i < leaves.Count; i++)
            {
                if (leaves[i].Module is nn.Module<Tensor, Tensor> hookable)
                {
                    var index = i;
                    var remover = hookable.register_forward_hook((_, x, y) =>
                    {
                        calls.Add(index);
                        shapes[index] ??= x.shape;
                        return y;
                    });
                    removers.Add(remover.remove);
                }
            }

            model.eval();
            using var noGrad = torch.no_grad();
            try
            {
                model.call(input);
            }
            catch (Exception e) when (e is ArgumentException or ExternalException or InvalidOperationException)
            {
                throw new ArgumentException(
                    $"{Describe(model)} rejected the sample input {ParameterLayout.FormatShape(input.shape)}: {e.Message}", "sampleInput", e);
            }
        }
        finally
        {
            foreach (var remove in removers)
            {
                remove();
            }
        }

        return (calls, shapes);
    }

    /// <summary>The execution order of the leaves if hooks saw every layer run once; otherwise the registration order.</summary>
    private static (List<int> Order, bool Traced) Order(nn.Module model, List<(string Name, nn.Module Module)> leaves, LeafKind[] kinds, List<int> calls)
    {
        var counts = new int[leaves.Count];
        foreach (var call in calls)
        {
            counts[call]++;
        }

        for (var i = 0; i < leaves.Count; i++)
        {
            if (kinds[i] is LeafKind.Layer or LeafKind.Norm && counts[i] > 1)
            {
                throw NotAChain(model, $"'{DisplayName(leaves[i].Name)}' ({leaves[i].Module.GetType().Name}) ran {counts[i]} times in one forward pass: a layer used more than once shares its units between places in the network.");
            }
        }

        var seenAll = Enumerable.Range(0, leaves.Count).All(i => kinds[i] is not (LeafKind.Layer or LeafKind.Norm) || counts[i] == 1);
        return seenAll ? (calls.Distinct().ToList(), true) : (Enumerable.Range(0, leaves.Count).ToList(), false);
    }

    private static PermutationSpec BuildChain(
        nn.Module model,
        List<(string Name, nn.Module Module)> leaves,
        LeafKind[] kinds,
        List<int> order,
        long[]?[] inputShapes,
        bool traced)
    {
        var layers = new List<(string Name, List<string> Norms)>();
        var leading = new List<string>();
        foreach (var i in order)
        {
            var (name, module) = leaves[i];
            if (kinds[i] == LeafKind.Layer)
            {
                layers.Add((name, []));
            }
            else if (kinds[i] == LeafKind.Norm)
            {
                if (module is LayerNorm norm && inputShapes[i] is { } shape && norm.normalized_shape.Length != shape.Length - 1)
                {
                    throw Unsupported(name, module,
                        $"it normalizes over {ParameterLayout.FormatShape(norm.normalized_shape)} of inputs {ParameterLayout.FormatShape(shape)}; only a LayerNorm over all features of each example keeps channels interchangeable");
                }

                (layers.Count == 0 ? leading : layers[^1].Norms).Add(name);
            }
        }

        var layout = ParameterLayout.Of(model);
        try
        {
            var builder = PermutationSpec.CreateBuilder();
            PermutationSpecs.AddChain(builder, layout, layers.Select(l => new ChainLayer(l.Name, l.Norms)).ToArray(), leading, nameof(model));
            return builder.Build(layout);
        }
        catch (Exception e) when (e is ArgumentException or PermutationSpecException)
        {
            var source = traced ? "in the order they ran" : "in the order they were registered (forward hooks did not see every layer run)";
            throw NotAChain(model, $"taken {source}, its layers {string.Join(" → ", layers.Select(l => $"'{DisplayName(l.Name)}'"))} do not chain: {e.Message}", e);
        }
    }

    private static void Verify(
        nn.Module<Tensor, Tensor> model,
        PermutationSpec spec,
        Tensor input,
        LeafKind[] kinds,
        double tolerance,
        int seed,
        bool traced)
    {
        var trainMode = !kinds.Contains(LeafKind.Random) && input.dim() > 0 && input.shape[0] > 1;
        foreach (var training in trainMode ? new[] { false, true } : [false])
        {
            model.train(training);
            var report = PermutationExactness.Check(model, spec, input, seed);
            if (Passes(report, tolerance))
            {
                continue;
            }

            var breaking = spec.GroupNames.Where(group => !Passes(PermutationExactness.Check(model, spec, input, SingleGroup(spec, group, seed), seed), tolerance)).ToList();
            var groups = breaking.Count == 0
                ? "No single group breaks it alone."
                : $"Groups that break it alone: {ParameterSet.Describe(breaking)}.";
            var order = traced
                ? string.Empty
                : " The layer order was taken from registration order, because forward hooks did not see every layer run (TorchSharp runs hooks only for submodules invoked with call(), not forward()).";
            throw NotAChain(
                model,
                string.Create(
                    CultureInfo.InvariantCulture,
                    $"the spec inferred for the chain {string.Join(" → ", spec.GroupNames.Select(g => $"'{g}'"))} is not a symmetry of the model: in {(training ? "train" : "eval")} mode a random permutation changed the outputs by up to {report.MaxOutputDifference:G3} (largest output {report.MaxOutputMagnitude:G3}) and the gradients by up to {report.MaxGradientDifference:G3} (largest {report.MaxGradientMagnitude:G3}). {groups}{order}"));
        }
    }

    private static bool Passes(ExactnessReport report, double tolerance) =>
        report.MaxOutputDifference <= tolerance * Math.Max(1, report.MaxOutputMagnitude)
        && report.MaxGradientDifference <= tolerance * Math.Max(1, report.MaxGradientMagnitude);

    /// <summary>The identity, except a random non-identity reordering of <paramref name="group"/> (where its size allows).</summary>
    private static Permutation SingleGroup(PermutationSpec spec, string group, int seed)
    {
        var indices = Permutation.Random(spec, seed).ToArray(group);
        if (indices.Length > 1 && Permutation.IsIdentityVector(indices))
        {
            (indices[0], indices[1]) = (indices[1], indices[0]);
        }

        return Permutation.Identity(spec).With(group, indices);
    }

    private static PermutationSpecException NotAChain(nn.Module model, string detail, Exception? inner = null)
    {
        var message = $"{Describe(model)} is not a supported chain of layers: {detail} Spec inference handles chains only; a model with residual connections, concatenations, layers used more than once or operations that mix channels between its layers needs its own spec. {Advice}";
        return inner is null ? new PermutationSpecException(message, nameof(model)) : new PermutationSpecException(message, inner);
    }

    private static List<(nn.Module Module, int Depth, bool Training)> SaveTrainingModes(nn.Module model) =>
        [(model, 0, model.training), .. model.named_modules().Select(m => (m.module, m.name.Count(c => c == '.') + 1, m.module.training))];

    private static void RestoreTrainingModes(List<(nn.Module Module, int Depth, bool Training)> modes)
    {
        // train() recurses into submodules, so set parents before children.
        foreach (var (module, _, training) in modes.OrderBy(m => m.Depth))
        {
            module.train(training);
        }
    }

    private static string Describe(nn.Module model) => $"The model ({model.GetType().Name})";

    private static string DisplayName(string name) => name.Length == 0 ? "(the model itself)" : name;
}
