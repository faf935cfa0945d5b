using TorchSharp;
using static TorchSharp.torch;

namespace TrajectoryTransfer.Permutations;

/// <summary>
/// Fluent builder for a <see cref="PermutationSpec"/> of any architecture: declare, for every tensor of the model,
/// which group permutes each of its axes, or that it is left alone.
/// </summary>
/// <example>
/// <code>
/// var spec = PermutationSpec.CreateBuilder()
///     .Permute("fc1.weight", "h1", null).Permute("fc1.bias", "h1")
///     .Permute("fc2.weight", null, "h1").LeaveAlone("fc2.bias")
///     .Build(model);
/// </code>
/// </example>
public sealed class PermutationSpecBuilder
{
    private readonly List<(string Name, AxisPermutation?[] Axes)> _parameters = [];
    private readonly Dictionary<string, int> _sizes = new(StringComparer.Ordinal);

    /// <summary>Declares how each axis of <paramref name="parameter"/> is permuted: one entry per axis, null for "not permuted".</summary>
    /// <param name="parameter">The tensor's <c>state_dict()</c> name.</param>
    /// <param name="axes">One entry per axis. A string converts to an ordinary axis of that group.</param>
    /// <exception cref="ArgumentException">The name is empty or already declared, or a group name is empty, or a block size is not positive.</exception>
    public PermutationSpecBuilder Permute(string parameter, params AxisPermutation?[] axes)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(parameter);
        ArgumentNullException.ThrowIfNull(axes);
        if (_parameters.Any(p => p.Name == parameter))
        {
            throw new ArgumentException($"'{parameter}' is declared twice.", nameof(parameter));
        }

        foreach (var a in axes)
        {
            if (a is { } axis)
            {
                if (string.IsNullOrWhiteSpace(axis.Group))
                {
                    throw new ArgumentException($"'{parameter}' names an empty group.", nameof(axes));
                }

                if (axis.BlockSize < 1)
                {
                    throw new ArgumentException($"'{parameter}' uses block size {axis.BlockSize} for group '{axis.Group}'; it must be at least 1.", nameof(axes));
                }
            }
        }

        _parameters.Add((parameter, axes.ToArray()));
        return this;
    }

    /// <summary>Declares tensors that no permutation touches (of any rank), such as the output layer's bias.</summary>
    /// <param name="parameters">The tensors' names.</param>
    /// <remarks>Their rank is taken from the model when the spec is built against it; built without a model, they are checked by name only.</remarks>
    public PermutationSpecBuilder LeaveAlone(params string[] parameters)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        foreach (var p in parameters)
        {
            ArgumentException.ThrowIfNullOrWhiteSpace(p);
            if (_parameters.Any(q => q.Name == p))
            {
                throw new ArgumentException($"'{p}' is declared twice.", nameof(parameters));
            }

            _parameters.Add((p, null!));
        }

        return this;
    }

    /// <summary>Declares the size of a group; needed only when building without a model.</summary>
    /// <param name="group">The group name.</param>
    /// <param name="size">The number of units.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="size"/> is not positive.</exception>
    public PermutationSpecBuilder Group(string group, int size)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(group);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(size);
        _sizes[group] = size;
        return this;
    }

    /// <summary>Builds the spec with the group sizes declared by <see cref="Group"/>; left-alone tensors are recorded as rank 0 placeholders and matched by name.</summary>
    /// <exception cref="PermutationSpecException">A group's size was not declared.</exception>
    public PermutationSpec Build()
    {
        var sizes = new Dictionary<string, int>(_sizes, StringComparer.Ordinal);
        foreach (var (name, axes) in _parameters)
        {
            foreach (var a in axes ?? [])
            {
                if (a is { } axis && !sizes.ContainsKey(axis.Group))
                {
                    throw new PermutationSpecException($"The size of group '{axis.Group}' (used by '{name}') is unknown: declare it with Group(\"{axis.Group}\", size) or build against a model.");
                }
            }
        }

        return new PermutationSpec(_parameters.Select(p => (p.Name, p.Axes ?? [])).ToList(), sizes);
    }

    /// <summary>Builds the spec against a model: group sizes come from the shapes, and the spec is validated against every parameter and buffer.</summary>
    /// <param name="model">The model the spec describes.</param>
    /// <exception cref="ArgumentNullException"><paramref name="model"/> is null.</exception>
    /// <exception cref="PermutationSpecException">The spec does not fit the model.</exception>
    public PermutationSpec Build(nn.Module model)
    {
        ArgumentNullException.ThrowIfNull(model);
        return Build(ParameterLayout.Of(model));
    }

    /// <summary>Builds the spec against a layout: group sizes come from the shapes, and the spec is validated against every entry.</summary>
    /// <param name="layout">The names and shapes the spec describes.</param>
    /// <exception cref="ArgumentNullException"><paramref name="layout"/> is null.</exception>
    /// <exception cref="PermutationSpecException">The spec does not fit the layout.</exception>
    public PermutationSpec Build(ParameterLayout layout)
    {
        ArgumentNullException.ThrowIfNull(layout);
        var sizes = new Dictionary<string, int>(_sizes, StringComparer.Ordinal);
        var resolved = new List<(string Name, AxisPermutation?[] Axes)>();
        foreach (var (name, axes) in _parameters)
        {
            if (!layout.TryGet(name, out var info))
            {
                throw new PermutationSpecException(
                    $"The spec names '{name}', which the model does not have. The model has: {ParameterSet.Describe(layout.Names)}.", nameof(layout));
            }

            var full = axes ?? new AxisPermutation?[info.Shape.Count];
            if (full.Length != info.Shape.Count)
            {
                throw new PermutationSpecException(
                    $"'{name}' has {info.Shape.Count} axes {ParameterLayout.FormatShape(info.Shape)} but the spec describes {full.Length}.", nameof(layout));
            }

            for (var axis = 0; axis < full.Length; axis++)
            {
                if (full[axis] is not { } a)
                {
                    continue;
                }

                if (info.Shape[axis] % a.BlockSize != 0)
                {
                    throw new PermutationSpecException(
                        $"'{name}' axis {axis} has size {info.Shape[axis]}, which is not a multiple of the block size {a.BlockSize} for group '{a.Group}'.", nameof(layout));
                }

                var size = checked((int)(info.Shape[axis] / a.BlockSize));
                if (sizes.TryGetValue(a.Group, out var known) && known != size)
                {
                    throw new PermutationSpecException(
                        $"'{name}' axis {axis} has size {info.Shape[axis]} {ParameterLayout.FormatShape(info.Shape)}, but group '{a.Group}' expects {(long)known * a.BlockSize} (group size {known}{(a.BlockSize == 1 ? string.Empty : $" × block {a.BlockSize}")}).",
                        nameof(layout));
                }

                sizes[a.Group] = size;
            }

            resolved.Add((name, full));
        }

        var spec = new PermutationSpec(resolved, sizes);
        spec.Validate(layout, requireAllCovered: true, requireAllPresent: true, nameof(layout));
        return spec;
    }
}
