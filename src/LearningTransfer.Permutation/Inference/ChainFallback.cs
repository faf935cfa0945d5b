using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace TrajectoryTransfer.Permutations;

/// <summary>
/// The fallback when forward hooks cannot see the model's layers run (TorchSharp runs hooks only for modules invoked
/// with <c>call()</c>, not <c>forward()</c>): the layers are assumed to form a chain in the order they were registered,
/// and the chain's spec is returned only if the exactness check confirms it.
/// </summary>
internal static class ChainFallback
{
    /// <summary>Builds the chain spec in registration order; null with the reason when the layers cannot form one.</summary>
    public static (PermutationSpec? Spec, string? Problem) Build(nn.Module model, IReadOnlyList<(string Name, nn.Module Module)> leaves, IReadOnlyList<InferenceNode?> nodes)
    {
        var layers = new List<(string Name, List<string> Norms)>();
        var leading = new List<string>();
        for (var i = 0; i < leaves.Count; i++)
        {
            var (name, module) = leaves[i];
            switch (nodes[i]?.Kind)
            {
                case NodeKind.Linear:
                case NodeKind.Convolution when module is Convolution { groups: 1 }:
                    layers.Add((name, []));
                    break;
                case NodeKind.ChannelNorm when module is BatchNorm:
                case NodeKind.LayerNorm when ((LayerNorm)module).normalized_shape.Length == 1:
                    (layers.Count == 0 ? leading : layers[^1].Norms).Add(name);
                    break;
                case null:
                    break;
                default:
                    return (null, $"{InferenceNode.Describe(name, module)} cannot be part of a chain read in registration order");
            }
        }

        if (layers.Count == 0)
        {
            return (null, "it has no Linear or convolution layer to chain");
        }

        var layout = ParameterLayout.Of(model);
        try
        {
            var builder = PermutationSpec.CreateBuilder();
            PermutationSpecs.AddChain(builder, layout, layers.Select(l => new ChainLayer(l.Name, l.Norms)).ToArray(), leading, nameof(model));
            var covered = new HashSet<string>(layers.SelectMany(l => l.Norms.Prepend(l.Name)).Concat(leading), StringComparer.Ordinal);
            foreach (var entry in layout.Entries)
            {
                var owner = entry.Name.Contains('.', StringComparison.Ordinal) ? entry.Name[..entry.Name.LastIndexOf('.')] : string.Empty;
                if (!covered.Contains(owner))
                {
                    builder.LeaveAlone(entry.Name);
                }
            }

            return (builder.Build(layout), null);
        }
        catch (Exception e) when (e is ArgumentException or PermutationSpecException)
        {
            return (null, $"its layers {string.Join(" → ", layers.Select(l => $"'{l.Name}'"))} do not chain: {e.Message}");
        }
    }
}
