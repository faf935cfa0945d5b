namespace TrajectoryTransfer.Permutations;

/// <summary>
/// One weight layer of a chain network for <see cref="PermutationSpecs.Chain(ParameterLayout, IReadOnlyList{ChainLayer})"/>:
/// a Linear or convolution whose output units form a group (except the last layer's), followed by the normalization layers
/// (BatchNorm, LayerNorm) that act on those units.
/// </summary>
/// <param name="Name">The layer's module name, the prefix of its tensors (<c>"fc1"</c> for <c>"fc1.weight"</c>).</param>
/// <param name="Norms">The normalization layers that follow it, by module name; none when null.</param>
/// <param name="InputBlockSize">
/// How many input positions each unit of the previous layer feeds (H·W for a Linear after a Flatten of C×H×W maps). When
/// null it is derived from the shapes (input size ÷ previous output size); when given, the shapes must agree with it.
/// </param>
public sealed record ChainLayer(string Name, IReadOnlyList<string>? Norms = null, int? InputBlockSize = null);
