using TorchSharp;
using static TorchSharp.torch;

namespace TrajectoryTransfer.Samples.Data;

/// <summary>Seeded minibatches of a split. Batch tensors are made lazily, inside whatever dispose scope reads them.</summary>
public static class Batches
{
    /// <summary>The number of full minibatches in one pass (a last partial batch is dropped).</summary>
    /// <param name="split">The data.</param>
    /// <param name="batchSize">Examples per batch.</param>
    public static int PerEpoch(MnistSplit split, int batchSize)
    {
        ArgumentNullException.ThrowIfNull(split);
        return Math.Max(1, split.Count / batchSize);
    }

    /// <summary>A seeded random order of the examples of <paramref name="split"/>, as an int64 tensor on the split's device.</summary>
    /// <param name="split">The data.</param>
    /// <param name="seed">The seed.</param>
    public static Tensor Order(MnistSplit split, int seed)
    {
        ArgumentNullException.ThrowIfNull(split);
        var order = Enumerable.Range(0, split.Count).Select(i => (long)i).ToArray();
        new Random(seed).Shuffle(order);
        return torch.tensor(order, device: split.Images.device);
    }

    /// <summary>Batch <paramref name="index"/> of the order <paramref name="order"/>, in the current dispose scope.</summary>
    /// <param name="split">The data.</param>
    /// <param name="order">From <see cref="Order"/>.</param>
    /// <param name="index">The batch number.</param>
    /// <param name="batchSize">Examples per batch.</param>
    public static (Tensor Input, Tensor Label) Get(MnistSplit split, Tensor order, int index, int batchSize)
    {
        ArgumentNullException.ThrowIfNull(split);
        ArgumentNullException.ThrowIfNull(order);
        var size = Math.Min(batchSize, split.Count);
        using var rows = order.narrow(0, (long)index * size, size);
        return (split.Images.index_select(0, rows), split.Labels.index_select(0, rows));
    }

    /// <summary>
    /// An endless-pass loader for the transfer's gradients: every enumeration is a new seeded shuffle, so the library's
    /// cyclic reading reshuffles on each pass.
    /// </summary>
    /// <param name="split">The data.</param>
    /// <param name="batchSize">Examples per batch.</param>
    /// <param name="seed">The first pass's seed.</param>
    public static IEnumerable<(Tensor Input, Tensor Label)> Loader(MnistSplit split, int batchSize, int seed) =>
        new ReshufflingLoader(split, batchSize, seed);

    private static IEnumerable<(Tensor Input, Tensor Label)> Pass(MnistSplit split, int batchSize, int seed)
    {
        // The order is created on first MoveNext, which the library calls inside its own dispose scope; keep it alive
        // for the whole pass and dispose it when the pass ends.
        var order = Order(split, seed).DetachFromDisposeScope();
        try
        {
            var count = PerEpoch(split, batchSize);
            for (var i = 0; i < count; i++)
            {
                yield return Get(split, order, i, batchSize);
            }
        }
        finally
        {
            order.Dispose();
        }
    }

    private sealed class ReshufflingLoader(MnistSplit split, int batchSize, int seed) : IEnumerable<(Tensor Input, Tensor Label)>
    {
        private int _pass;

        public IEnumerator<(Tensor Input, Tensor Label)> GetEnumerator() => Pass(split, batchSize, seed + _pass++).GetEnumerator();

        System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => GetEnumerator();
    }
}
