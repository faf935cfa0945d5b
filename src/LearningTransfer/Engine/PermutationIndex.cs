using TorchSharp;
using static TorchSharp.torch;

namespace TrajectoryTransfer;

/// <summary>
/// The index vector of one group's permutation along an axis whose units are blocks of consecutive positions: for
/// <c>index_select</c> (position i takes position π(i)) or, inverted, for <c>index_copy_</c> (position π(i) goes to i).
/// </summary>
internal static class PermutationIndex
{
    public static Tensor Build(IReadOnlyList<int> permutation, int blockSize, bool inverse, Device device)
    {
        var order = new long[(long)permutation.Count * blockSize];
        for (var i = 0; i < permutation.Count; i++)
        {
            var (from, to) = inverse ? (permutation[i], i) : (i, permutation[i]);
            for (var b = 0; b < blockSize; b++)
            {
                order[((long)from * blockSize) + b] = ((long)to * blockSize) + b;
            }
        }

        return torch.tensor(order, device: device);
    }
}
