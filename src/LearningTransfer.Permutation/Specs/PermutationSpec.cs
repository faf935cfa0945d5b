using System.Text;
using TorchSharp;
using static TorchSharp.torch;

namespace TrajectoryTransfer.Permutations;

/// <summary>
/// Which (tensor, axis) pairs each hidden-unit group of a network reorders. A spec is immutable and reusable; it says,
/// for every parameter and buffer of a model, either how each axis is permuted or that the tensor is left alone.
/// </summary>
/// <remarks>
/// Build one with <see cref="CreateBuilder"/>, take a ready-made one from <see cref="PermutationSpecs"/>, or infer one with
/// <see cref="PermutationSpecInference"/>. Check a spec on your own architecture with <see cref="PermutationExactness"/>.
/// </remarks>
public sealed class PermutationSpec
{
    private readonly string[] _parameters;
    private readonly Dictionary<string, AxisPermutation?[]> _axes;
    private readonly Dictionary<string, PermutationGroup> _groups;
    private readonly string[] _groupOrder;
    private readonly Dictionary<string, string[]> _coupled;

    internal PermutationSpec(IReadOnlyList<(string Name, AxisPermutation?[] Axes)> parameters, IReadOnlyDictionary<string, int> groupSizes)
    {
        _parameters = parameters.Select(p => p.Name).ToArray();
        _axes = parameters.ToDictionary(p => p.Name, p => p.Axes, StringComparer.Ordinal);
        var members = new Dictionary<string, List<AxisReference>>(StringComparer.Ordinal);
        var order = new List<string>();
        foreach (var (name, axes) in parameters)
        {
            for (var axis = 0; axis < axes.Length; axis++)
            {
                if (axes[axis] is { } a)
                {
                    if (!members.TryGetValue(a.Group, out var list))
                    {
                        list = [];
                        members[a.Group] = list;
                        order.Add(a.Group);
                    }

                    list.Add(new AxisReference(name, axis, a.BlockSize));
                }
            }
        }

        foreach (var group in groupSizes.Keys)
        {
            if (!members.ContainsKey(group))
            {
                throw new PermutationSpecException($"The group '{group}' was declared but no parameter axis uses it.");
            }
        }

        _groupOrder = order.ToArray();
        _groups = order.ToDictionary(g => g, g => new PermutationGroup(g, groupSizes[g], members[g]), StringComparer.Ordinal);
        _coupled = order.ToDictionary(
            g => g,
            g => members[g].SelectMany(m => _axes[m.Parameter]).Where(a => a is not null).Select(a => a!.Value.Group)
                .Where(o => o != g).Distinct().ToArray(),
            StringComparer.Ordinal);
    }

    /// <summary>Starts a fluent builder.</summary>
    public static PermutationSpecBuilder CreateBuilder() => new();

    /// <summary>The names of all tensors the spec covers (permuted or explicitly left alone), in declaration order.</summary>
    public IReadOnlyList<string> Parameters => _parameters;

    /// <summary>The groups, in order of first use.</summary>
    public IReadOnlyList<PermutationGroup> Groups => _groupOrder.Select(g => _groups[g]).ToArray();

    /// <summary>The group names, in order of first use.</summary>
    public IReadOnlyList<string> GroupNames => _groupOrder;

    /// <summary>Whether the spec covers the tensor named <paramref name="parameter"/>.</summary>
    /// <param name="parameter">A <c>state_dict()</c> name.</param>
    public bool Covers(string parameter) => _axes.ContainsKey(parameter);

    /// <summary>How each axis of <paramref name="parameter"/> is permuted (null entries are not permuted; an empty list means the tensor is left alone).</summary>
    /// <param name="parameter">A <c>state_dict()</c> name the spec covers.</param>
    /// <exception cref="PermutationSpecException">The spec does not cover that name.</exception>
    public IReadOnlyList<AxisPermutation?> AxesOf(string parameter) =>
        _axes.TryGetValue(parameter, out var axes)
            ? axes
            : throw new PermutationSpecException($"The spec does not cover '{parameter}'. It covers: {ParameterSet.Describe(_parameters)}.", nameof(parameter));

    /// <summary>The group named <paramref name="name"/>.</summary>
    /// <param name="name">A group name.</param>
    /// <exception cref="PermutationSpecException">No such group.</exception>
    public PermutationGroup Group(string name) =>
        _groups.TryGetValue(name, out var g)
            ? g
            : throw new PermutationSpecException($"The spec has no group '{name}'. It has: {ParameterSet.Describe(_groupOrder)}.", nameof(name));

    /// <summary>The other groups that permute some axis of a tensor that <paramref name="group"/> also permutes.</summary>
    /// <param name="group">A group name.</param>
    public IReadOnlyList<string> CoupledGroups(string group) => _coupled[Group(group).Name];

    /// <summary>
    /// Checks the spec against a model: every parameter and buffer is covered, every covered name exists, ranks agree,
    /// and every permuted axis has the size its group requires.
    /// </summary>
    /// <param name="model">The model.</param>
    /// <exception cref="ArgumentNullException"><paramref name="model"/> is null.</exception>
    /// <exception cref="PermutationSpecException">The first mismatch found, naming the tensor, axis, size seen and size expected.</exception>
    public void Validate(nn.Module model)
    {
        ArgumentNullException.ThrowIfNull(model);
        Validate(ParameterLayout.Of(model), requireAllCovered: true, requireAllPresent: true, nameof(model));
    }

    /// <summary>Checks that named tensors (a snapshot, a gradient, a difference) fit the spec.</summary>
    /// <param name="tensors">The tensors.</param>
    /// <param name="requireAllPresent">Whether every tensor the spec covers must be present; <see langword="false"/> allows subsets such as gradients, which lack buffers.</param>
    /// <exception cref="ArgumentNullException"><paramref name="tensors"/> is null.</exception>
    /// <exception cref="PermutationSpecException">The first mismatch found.</exception>
    public void Validate(IEnumerable<KeyValuePair<string, Tensor>> tensors, bool requireAllPresent = false)
    {
        ArgumentNullException.ThrowIfNull(tensors);
        Validate(ParameterLayout.Of(tensors), requireAllCovered: true, requireAllPresent, nameof(tensors));
    }

    /// <summary>Checks that a layout fits the spec.</summary>
    /// <param name="layout">Names and shapes.</param>
    /// <param name="requireAllCovered">Whether every tensor of the layout must be covered by the spec.</param>
    /// <param name="requireAllPresent">Whether every tensor the spec covers must be in the layout.</param>
    /// <param name="paramName">The argument name to report.</param>
    /// <exception cref="ArgumentNullException"><paramref name="layout"/> is null.</exception>
    /// <exception cref="PermutationSpecException">The first mismatch found.</exception>
    public void Validate(ParameterLayout layout, bool requireAllCovered = true, bool requireAllPresent = true, string? paramName = null)
    {
        ArgumentNullException.ThrowIfNull(layout);
        paramName ??= nameof(layout);
        foreach (var entry in layout.Entries)
        {
            if (!_axes.TryGetValue(entry.Name, out var axes))
            {
                if (requireAllCovered)
                {
                    throw new PermutationSpecException(
                        $"'{entry.Name}' {ParameterLayout.FormatShape(entry.Shape)} is not covered by the permutation spec. Declare how its axes are permuted, or leave it alone explicitly with LeaveAlone(\"{entry.Name}\").",
                        paramName);
                }

                continue;
            }

            if (axes.Length == 0)
            {
                continue; // left alone, any rank
            }

            if (axes.Length != entry.Shape.Count)
            {
                throw new PermutationSpecException(
                    $"'{entry.Name}' has {entry.Shape.Count} axes {ParameterLayout.FormatShape(entry.Shape)} but the spec describes {axes.Length}.",
                    paramName);
            }

            for (var axis = 0; axis < axes.Length; axis++)
            {
                if (axes[axis] is not { } a)
                {
                    continue;
                }

                var expected = (long)_groups[a.Group].Size * a.BlockSize;
                if (entry.Shape[axis] != expected)
                {
                    var block = a.BlockSize == 1 ? string.Empty : $" × block {a.BlockSize}";
                    throw new PermutationSpecException(
                        $"'{entry.Name}' axis {axis} has size {entry.Shape[axis]} {ParameterLayout.FormatShape(entry.Shape)}, but group '{a.Group}' expects {expected} (group size {_groups[a.Group].Size}{block}).",
                        paramName);
                }
            }
        }

        if (requireAllPresent)
        {
            foreach (var name in _parameters)
            {
                if (!layout.TryGet(name, out _))
                {
                    throw new PermutationSpecException(
                        $"The spec names '{name}', which the model does not have. The model has: {ParameterSet.Describe(layout.Names)}.",
                        paramName);
                }
            }
        }
    }

    /// <summary>A readable table: one line per group with its size and members.</summary>
    public override string ToString()
    {
        var text = new StringBuilder();
        foreach (var g in Groups)
        {
            text.Append(g.Name).Append(" (").Append(g.Size).Append("): ")
                .AppendJoin(", ", g.Members.Select(m => m.BlockSize == 1 ? $"{m.Parameter}[{m.Axis}]" : $"{m.Parameter}[{m.Axis}]×{m.BlockSize}"))
                .Append('\n');
        }

        return text.ToString();
    }
}
