using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace TrajectoryTransfer.Permutations;

/// <summary>What a supported layer does to hidden units.</summary>
internal enum NodeKind
{
    /// <summary>Linear: inputs on the last axis, outputs on the last axis.</summary>
    Linear,

    /// <summary>Conv1d/2d/3d: channels on the axis before the spatial ones; groups tie input blocks to output blocks.</summary>
    Convolution,

    /// <summary>Embedding: integer inputs, outputs on the last axis.</summary>
    Embedding,

    /// <summary>BatchNorm or InstanceNorm: per-channel statistics and affine parameters.</summary>
    ChannelNorm,

    /// <summary>GroupNorm: statistics over groups of consecutive channels.</summary>
    GroupNorm,

    /// <summary>LayerNorm: statistics over the normalized dimensions; affine parameters per position.</summary>
    LayerNorm,

    /// <summary>PReLU with one slope per channel.</summary>
    PReLU,
}

/// <summary>
/// A layer whose parameters spec inference knows how to permute, observed as a node of the data flow: the model's
/// tensors are followed from node outputs to node inputs. Normalizations are nodes too, because they mix the units they
/// normalize and have per-unit parameters; activations, pooling, dropout, reshapes and additions are not (they are the
/// glue whose effect on units the probes measure).
/// </summary>
internal sealed class InferenceNode
{
    private InferenceNode(string name, nn.Module<Tensor, Tensor> module, NodeKind kind)
    {
        Name = name;
        Module = module;
        Kind = kind;
    }

    /// <summary>The module name (a prefix of its tensors' names; empty for the model itself).</summary>
    public string Name { get; }

    /// <summary>The module.</summary>
    public nn.Module<Tensor, Tensor> Module { get; }

    /// <summary>What the layer does to units.</summary>
    public NodeKind Kind { get; }

    /// <summary>The atom of the layer's input units (the same as <see cref="OutAtom"/> for normalizations and PReLU); −1 for Embedding or before the first call.</summary>
    public int InAtom { get; private set; } = -1;

    /// <summary>The atom of the layer's output units; −1 before the first call.</summary>
    public int OutAtom { get; private set; } = -1;

    /// <summary>Whether the layer reads hidden units (all but Embedding).</summary>
    public bool HasInputUnits => Kind != NodeKind.Embedding;

    /// <summary>Whether the layer's input and output units are the same units.</summary>
    public bool IsUnitwise => Kind is NodeKind.ChannelNorm or NodeKind.GroupNorm or NodeKind.LayerNorm or NodeKind.PReLU;

    /// <summary>"'name' (Type)", for messages.</summary>
    public string Display => Describe(Name, Module);

    /// <summary>"'name' (Type)", for messages.</summary>
    public static string Describe(string name, nn.Module module) => $"'{(name.Length == 0 ? "(the model itself)" : name)}' ({module.GetType().Name})";

    /// <summary>
    /// Classifies a module that has no submodules: a node, or null for glue (no parameters, or a single-slope PReLU whose
    /// slope is left alone).
    /// </summary>
    /// <exception cref="PermutationSpecException">The module has parameters of a kind spec inference does not support.</exception>
    public static InferenceNode? Classify(string name, nn.Module module)
    {
        switch (module)
        {
            case Linear linear:
                return new InferenceNode(name, linear, NodeKind.Linear);
            case Convolution conv when conv.transposed:
                throw Unsupported(name, module, "a transposed convolution stores its weight as [in, out/groups, …] and spreads each input over several outputs");
            case Convolution conv:
                return new InferenceNode(name, conv, NodeKind.Convolution);
            case Embedding embedding:
                return new InferenceNode(name, embedding, NodeKind.Embedding);
            case NormBase norm:
                return new InferenceNode(name, norm, NodeKind.ChannelNorm);
            case GroupNorm norm:
                return new InferenceNode(name, norm, NodeKind.GroupNorm);
            case LayerNorm norm:
                return new InferenceNode(name, norm, NodeKind.LayerNorm);
            case PReLU prelu when prelu.num_parameters > 1:
                return new InferenceNode(name, prelu, NodeKind.PReLU);
            case PReLU:
                return null;
        }

        if (module.named_parameters(recurse: false).Any())
        {
            throw Unsupported(name, module, "its parameters are not those of a Linear, convolution, normalization, PReLU or Embedding layer, so how they follow a permutation of hidden units is unknown");
        }

        return null;
    }

    /// <summary>The error for a module spec inference cannot handle.</summary>
    public static PermutationSpecException Unsupported(string name, nn.Module module, string why) =>
        new(
            $"Spec inference does not support the module {Describe(name, module)}: {why}. Supported: Linear, Conv1d/2d/3d (grouped and depthwise too), Embedding (as an input layer), BatchNorm, InstanceNorm, GroupNorm, LayerNorm, PReLU, and between them any operations without parameters (activations, pooling, dropout, padding, flatten and reshapes, additions, concatenations). {PermutationSpecInference.Advice}",
            "model");

    /// <summary>The axis of <paramref name="input"/> (a shape) that holds the units this layer reads.</summary>
    public int InputAxis(IReadOnlyList<long> input) => Kind switch
    {
        NodeKind.Linear => input.Count - 1,
        NodeKind.Convolution => input.Count - SpatialDims - 1,
        NodeKind.ChannelNorm when Module is InstanceNorm => input.Count - SpatialDims - 1,
        NodeKind.ChannelNorm or NodeKind.GroupNorm or NodeKind.PReLU => input.Count >= 2 ? 1 : 0,
        NodeKind.LayerNorm => input.Count - ((LayerNorm)Module).normalized_shape.Length,
        _ => throw new InvalidOperationException($"{Display} reads no hidden units."),
    };

    /// <summary>The axis of <paramref name="output"/> (a shape) that holds the units this layer writes.</summary>
    public int OutputAxis(IReadOnlyList<long> output) => Kind switch
    {
        NodeKind.Linear or NodeKind.Embedding => output.Count - 1,
        _ => InputAxis(output),
    };

    /// <summary>
    /// Creates the node's atoms from its first call (the input and output shapes) and ties what the layer itself ties:
    /// a grouped convolution's input and output groups, a GroupNorm's groups.
    /// </summary>
    /// <exception cref="PermutationSpecException">The shapes do not fit the layer.</exception>
    public void CreateAtoms(UnitSpaces spaces, IReadOnlyList<long> input, IReadOnlyList<long> output)
    {
        if (OutAtom >= 0)
        {
            return;
        }

        var outUnits = output[OutputAxis(output)];
        if (IsUnitwise)
        {
            var units = input[InputAxis(input)];
            InAtom = OutAtom = spaces.Add(units);
            if (Module is GroupNorm norm && norm.num_groups > 1 && norm.num_groups < units)
            {
                // Statistics are shared within each group of consecutive channels: only whole groups may move.
                spaces.Coarsen(OutAtom, units / norm.num_groups);
            }

            return;
        }

        OutAtom = spaces.Add(outUnits);
        if (!HasInputUnits)
        {
            return;
        }

        var inUnits = input[InputAxis(input)];
        InAtom = spaces.Add(inUnits);
        if (Module is Convolution conv && conv.groups > 1)
        {
            // Output block g reads only input block g: the groups move together, in blocks of in/groups and out/groups.
            spaces.Tie(InAtom, inUnits / conv.groups, OutAtom, outUnits / conv.groups);
        }
    }

    /// <summary>
    /// How each axis of each of the node's tensors follows its atoms: (local tensor name, atom per axis or −1). Tensors
    /// with no permuted axis are listed with an empty array.
    /// </summary>
    /// <exception cref="PermutationSpecException">The module holds a tensor this kind of layer does not have.</exception>
    public IEnumerable<(string Tensor, int[] Atoms)> Bindings(ParameterLayout layout)
    {
        var prefix = Name.Length == 0 ? string.Empty : Name + ".";
        foreach (var entry in layout.Entries)
        {
            if (!entry.Name.StartsWith(prefix, StringComparison.Ordinal) || entry.Name.AsSpan(prefix.Length).Contains('.'))
            {
                continue;
            }

            var local = entry.Name[prefix.Length..];
            var atoms = Enumerable.Repeat(-1, entry.Shape.Count).ToArray();
            switch (Kind, local)
            {
                case (NodeKind.Linear or NodeKind.Convolution, "weight"):
                    atoms[0] = OutAtom;
                    atoms[1] = Module is Convolution { groups: > 1 } ? -1 : InAtom;
                    break;
                case (NodeKind.Linear or NodeKind.Convolution, "bias"):
                    atoms[0] = OutAtom;
                    break;
                case (NodeKind.Embedding, "weight"):
                    atoms[1] = OutAtom;
                    break;
                case (NodeKind.ChannelNorm, "num_batches_tracked"):
                    atoms = [];
                    break;
                case (NodeKind.ChannelNorm, "weight" or "bias" or "running_mean" or "running_var"):
                case (NodeKind.GroupNorm or NodeKind.LayerNorm, "weight" or "bias"):
                case (NodeKind.PReLU, "weight"):
                    atoms[0] = OutAtom;
                    break;
                default:
                    throw Unsupported(Name, Module, $"it holds '{entry.Name}' {ParameterLayout.FormatShape(entry.Shape)}, which a {Kind} layer does not have");
            }

            yield return (entry.Name, atoms);
        }
    }

    private int SpatialDims => Module switch
    {
        Convolution conv => (int)conv.weight!.dim() - 2,
        InstanceNorm1d => 1,
        InstanceNorm2d => 2,
        InstanceNorm3d => 3,
        _ => 0,
    };
}
