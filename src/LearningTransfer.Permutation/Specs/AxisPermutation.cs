namespace TrajectoryTransfer.Permutations;

/// <summary>
/// How one axis of one tensor is permuted: by the permutation of <paramref name="Group"/>, where each group index
/// stands for <paramref name="BlockSize"/> consecutive positions of the axis (1 for an ordinary axis; H·W for the input
/// columns of a Linear layer that follows a Flatten of C×H×W feature maps).
/// </summary>
/// <param name="Group">The hidden-unit group whose permutation reorders this axis.</param>
/// <param name="BlockSize">Consecutive positions per group index; the axis size is the group size times this.</param>
public readonly record struct AxisPermutation(string Group, int BlockSize = 1)
{
    /// <summary>Shorthand for an ordinary axis permuted by <paramref name="group"/>.</summary>
    /// <param name="group">The group name.</param>
    public static implicit operator AxisPermutation(string group) => new(group);

    /// <summary>Shorthand for an ordinary axis permuted by <paramref name="group"/>.</summary>
    /// <param name="group">The group name.</param>
    public static AxisPermutation FromString(string group) => new(group);

    /// <inheritdoc />
    public override string ToString() => BlockSize == 1 ? Group : $"{Group}×{BlockSize}";
}

/// <summary>One (tensor, axis) pair that a group permutes.</summary>
/// <param name="Parameter">The tensor's <c>state_dict()</c> name.</param>
/// <param name="Axis">The axis index.</param>
/// <param name="BlockSize">Consecutive positions per group index (see <see cref="AxisPermutation"/>).</param>
public readonly record struct AxisReference(string Parameter, int Axis, int BlockSize);

/// <summary>A set of hidden units whose joint reordering leaves the network's function unchanged.</summary>
/// <param name="Name">The group name.</param>
/// <param name="Size">The number of units (the length of its permutation).</param>
/// <param name="Members">Every (tensor, axis) the group reorders.</param>
public sealed record PermutationGroup(string Name, int Size, IReadOnlyList<AxisReference> Members);
