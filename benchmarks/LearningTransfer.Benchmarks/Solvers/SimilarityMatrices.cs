using TorchSharp;
using static TorchSharp.torch;

namespace TrajectoryTransfer.Benchmarks.Solvers;

/// <summary>How a benchmark similarity matrix S = A·Bᵀ is made (B is n×784 standard normal, like a 784-input layer).</summary>
public enum MatrixKind
{
    /// <summary>A = P·B + noise with noise std 1 (equal to the signal's): the planted permutation stands out clearly.</summary>
    Planted1,

    /// <summary>A = P·B + noise with noise std 8: the planted entries sit inside the tail of the others, so many rows compete.</summary>
    Planted8,

    /// <summary>A independent of B: no structure at all, the hardest case.</summary>
    Random,
}

/// <summary>Realistic weight-matching similarity matrices, made with TorchSharp (a 8192² product in about a second).</summary>
public static class SimilarityMatrices
{
    /// <summary>Columns of A and B, as for a layer with 784 inputs.</summary>
    public const int Features = 784;

    /// <summary>Std of the change between S and the nearby matrix whose solution serves as the hint.</summary>
    public const double NearbyNoise = 0.1;

    /// <summary>
    /// Makes S, a nearby matrix S' = (A + 0.1·noise)·Bᵀ (the next sweep's matrix in weight matching changes this little),
    /// and the planted permutation (empty for <see cref="MatrixKind.Random"/>).
    /// </summary>
    public static (float[] Similarity, float[] Nearby, int[] Planted) Create(MatrixKind kind, int n, int seed)
    {
        using var scope = NewDisposeScope();
        random.manual_seed(seed);
        var b = randn(n, Features);
        Tensor a;
        var planted = Array.Empty<int>();
        if (kind == MatrixKind.Random)
        {
            a = randn(n, Features);
        }
        else
        {
            var perm = randperm(n);
            planted = perm.data<long>().Select(v => (int)v).ToArray();
            a = b.index_select(0, perm) + (kind == MatrixKind.Planted1 ? 1.0 : 8.0) * randn(n, Features);
        }

        var s = a.matmul(b.t());
        var nearby = (a + (NearbyNoise * randn(n, Features))).matmul(b.t());
        return (s.data<float>().ToArray(), nearby.data<float>().ToArray(), planted);
    }
}
