using TorchSharp;
using static TorchSharp.torch;

namespace TrajectoryTransfer.Permutations;

/// <summary>
/// Turns the observed calls and the data flow between them into groups (ties, coarsening, fixed units) and then into a
/// spec. A group is named after the first layer, in the order the layers ran, whose outputs it permutes.
/// </summary>
internal sealed class SpecAssembly
{
    private readonly UnitSpaces _spaces;
    private readonly Dictionary<int, string> _names;

    private SpecAssembly(UnitSpaces spaces, Dictionary<int, string> names, PermutationSpec spec)
    {
        _spaces = spaces;
        _names = names;
        Spec = spec;
    }

    /// <summary>The spec.</summary>
    public PermutationSpec Spec { get; }

    /// <summary>How an axis bound to <paramref name="atom"/> (block 1) is permuted; null when it is not.</summary>
    public AxisPermutation? AxisOf(int atom) => Axis(_spaces, _names, atom);

    /// <summary>Builds the groups and the spec.</summary>
    /// <exception cref="PermutationSpecException">Two tied axes cannot be permuted together (their blocks do not fit), naming the layers.</exception>
    public static SpecAssembly Build(nn.Module model, ModelObservation observation, IReadOnlyList<ConsumerFlow> flows)
    {
        var spaces = new UnitSpaces();
        foreach (var call in observation.Calls)
        {
            Guard(model, call.Node.Display, null, () => call.Node.CreateAtoms(spaces, call.InputShape, call.OutputShape));
        }

        foreach (var flow in flows)
        {
            if (flow.Kind == Dataflow.Fixed)
            {
                if (flow.Consumer is { } consumer)
                {
                    spaces.Fix(consumer.Node.InAtom);
                }

                foreach (var producer in flow.Producers.OfType<ObservedCall>())
                {
                    spaces.Fix(producer.Node.OutAtom);
                }

                continue;
            }

            var into = flow.Consumer!;
            for (var p = 0; p < flow.Producers.Count; p++)
            {
                var producer = flow.Producers[p]!;
                var block = flow.Blocks[p];
                Guard(model, into.Node.Display, producer.Node.Display, () => spaces.Tie(into.Node.InAtom, block, producer.Node.OutAtom, 1));
            }
        }

        var names = new Dictionary<int, string>();
        var used = new HashSet<string>(StringComparer.Ordinal);
        foreach (var call in observation.Calls)
        {
            Name(spaces, names, used, call.Node.OutAtom, call.Node.Name.Length == 0 ? "output" : call.Node.Name);
            Name(spaces, names, used, call.Node.InAtom, call.Node.Name.Length == 0 ? "input" : $"{call.Node.Name}.input");
        }

        var layout = ParameterLayout.Of(model);
        var bindings = new Dictionary<string, int[]>(StringComparer.Ordinal);
        foreach (var node in observation.CallCounts.Where(kv => kv.Value > 0).Select(kv => kv.Key))
        {
            foreach (var (tensor, atoms) in node.Bindings(layout))
            {
                bindings[tensor] = atoms;
            }
        }

        var builder = PermutationSpec.CreateBuilder();
        foreach (var entry in layout.Entries)
        {
            var axes = bindings.TryGetValue(entry.Name, out var atoms) ? atoms.Select(a => Axis(spaces, names, a)).ToArray() : [];
            if (axes.Any(a => a is not null))
            {
                builder.Permute(entry.Name, axes);
            }
            else
            {
                builder.LeaveAlone(entry.Name);
            }
        }

        return new SpecAssembly(spaces, names, builder.Build(layout));
    }

    private static AxisPermutation? Axis(UnitSpaces spaces, Dictionary<int, string> names, int atom)
    {
        if (atom < 0)
        {
            return null;
        }

        var (root, factor, isFixed, size) = spaces.Resolve(atom);
        return isFixed || size < 2 ? (AxisPermutation?)null : new AxisPermutation(names[root], checked((int)factor));
    }

    private static void Name(UnitSpaces spaces, Dictionary<int, string> names, HashSet<string> used, int atom, string name)
    {
        if (atom < 0)
        {
            return;
        }

        var (root, _, isFixed, size) = spaces.Resolve(atom);
        if (isFixed || size < 2 || names.ContainsKey(root))
        {
            return;
        }

        var unique = name;
        for (var i = 2; !used.Add(unique); i++)
        {
            unique = $"{name}#{i}";
        }

        names[root] = unique;
    }

    private static void Guard(nn.Module model, string consumer, string? producer, Action action)
    {
        try
        {
            action();
        }
        catch (InvalidOperationException e)
        {
            var where = producer is null ? $"in {consumer}" : $"between the output of {producer} and the input of {consumer}";
            throw new PermutationSpecException(
                $"No permutation spec describes the model ({model.GetType().Name}): the units {where} are tied to units that move in blocks of a different size ({e.Message}). {PermutationSpecInference.Advice}",
                "model");
        }
    }
}
