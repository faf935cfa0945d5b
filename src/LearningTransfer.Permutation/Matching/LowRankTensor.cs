using TorchSharp;
using static TorchSharp.torch;

namespace TrajectoryTransfer.Permutations;

/// <summary>
/// A tensor of shape [d₀, d₁, …] held as the product of two factors, T = reshape(Leftᵀ · Right): Left is [R, d₀] and Right
/// is [R, d₁·d₂·…]. A minibatch's gradient of a Linear layer's weight is one, with one row per example (Left the gradients
/// of the layer's outputs, Right its inputs); a convolution's is one with Right its unfolded inputs. When R is smaller than
/// the tensor's sides, weight matching is cheaper on the factors than on the tensor (see
/// <see cref="WeightMatchingProblem.AddPair(IReadOnlyDictionary{string, Tensor}, IReadOnlyDictionary{string, Tensor}, IReadOnlyDictionary{string, LowRankTensor}, IReadOnlyDictionary{string, LowRankTensor}, double)"/>).
/// Owns its two factors: dispose it.
/// </summary>
public sealed class LowRankTensor : IDisposable
{
    private readonly long[] _shape;
    private bool _disposed;

    /// <summary>Creates the product of <paramref name="left"/>ᵀ and <paramref name="right"/>, taking ownership of both.</summary>
    /// <param name="left">[R, d₀].</param>
    /// <param name="right">[R, d₁·d₂·…], on the same device and with the same R.</param>
    /// <param name="shape">The shape of the tensor it stands for, at least two axes.</param>
    /// <exception cref="ArgumentNullException">An argument is null.</exception>
    /// <exception cref="ArgumentException">The factors are not matrices, their rows or devices differ, or they do not fit <paramref name="shape"/>.</exception>
    public LowRankTensor(Tensor left, Tensor right, IReadOnlyList<long> shape)
    {
        ArgumentNullException.ThrowIfNull(left);
        ArgumentNullException.ThrowIfNull(right);
        ArgumentNullException.ThrowIfNull(shape);
        if (shape.Count < 2 || shape.Any(s => s < 1))
        {
            throw new ArgumentException($"A low-rank tensor has at least two positive axes; the shape is {ParameterLayout.FormatShape(shape)}.", nameof(shape));
        }

        if (left.dim() != 2 || right.dim() != 2)
        {
            throw new ArgumentException($"The factors must be matrices; they are {ParameterLayout.FormatShape(left.shape)} and {ParameterLayout.FormatShape(right.shape)}.", nameof(right));
        }

        var rest = shape.Skip(1).Aggregate(1L, (a, b) => checked(a * b));
        if (left.shape[0] != right.shape[0] || left.shape[1] != shape[0] || right.shape[1] != rest)
        {
            throw new ArgumentException(
                $"Factors {ParameterLayout.FormatShape(left.shape)} and {ParameterLayout.FormatShape(right.shape)} do not make a tensor {ParameterLayout.FormatShape(shape)}: expected [R, {shape[0]}] and [R, {rest}] with the same R.",
                nameof(right));
        }

        if (left.device_type != right.device_type || left.device_index != right.device_index)
        {
            throw new ArgumentException($"The factors are on {left.device} and {right.device}; they must be on one device.", nameof(right));
        }

        Left = left;
        Right = right;
        _shape = [.. shape];
    }

    /// <summary>[R, d₀].</summary>
    public Tensor Left { get; }

    /// <summary>[R, d₁·d₂·…].</summary>
    public Tensor Right { get; }

    /// <summary>The shape of the tensor this stands for.</summary>
    public IReadOnlyList<long> Shape => _shape;

    /// <summary>R, the number of rows of the factors (the rank is at most this).</summary>
    public long Rank => Left.shape[0];

    /// <summary>The number of elements of the tensor this stands for.</summary>
    public long ElementCount => _shape.Aggregate(1L, (a, b) => a * b);

    /// <summary>The number of elements the two factors hold.</summary>
    public long FactorElementCount => Left.numel() + Right.numel();

    /// <summary>Computes the tensor itself (a new tensor the caller owns).</summary>
    /// <exception cref="ObjectDisposedException">This was disposed.</exception>
    public Tensor ToDense()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        using var scope = torch.NewDisposeScope();
        return Left.t().matmul(Right).reshape(_shape).MoveToOuterDisposeScope();
    }

    /// <summary>Disposes the two factors.</summary>
    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        Left.Dispose();
        Right.Dispose();
    }
}
