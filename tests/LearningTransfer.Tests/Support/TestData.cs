using TorchSharp;
using TrajectoryTransfer.Samples.Data;
using static TorchSharp.torch;

namespace TrajectoryTransfer.Tests.Support;

/// <summary>The committed real Fashion-MNIST subset (6k train, 2k test), loaded once per test run.</summary>
public static class TestData
{
    private static readonly Lazy<(MnistSplit Train, MnistSplit Test)> Data = new(() =>
    {
        var dir = Path.Combine(AppContext.BaseDirectory, "fashion-mnist-subset");
        var train = MnistFormat.Load(dir, train: true);
        var test = MnistFormat.Load(dir, train: false);
        train.Images.DetachFromDisposeScope();
        train.Labels.DetachFromDisposeScope();
        test.Images.DetachFromDisposeScope();
        test.Labels.DetachFromDisposeScope();
        return (train, test);
    });

    /// <summary>6,000 training images.</summary>
    public static MnistSplit Train => Data.Value.Train;

    /// <summary>2,000 test images.</summary>
    public static MnistSplit Test => Data.Value.Test;

    /// <summary>Minibatches of <paramref name="split"/> in a seeded random order, as (input, label) pairs.</summary>
    public static IEnumerable<(Tensor Input, Tensor Label)> Batches(MnistSplit split, int batchSize, int seed, long limit = long.MaxValue)
    {
        var count = Math.Min(split.Count, limit);
        var order = Enumerable.Range(0, (int)count).ToArray();
        new Random(seed).Shuffle(order);
        for (var start = 0; start + batchSize <= count; start += batchSize)
        {
            using var index = torch.tensor(order.AsSpan(start, batchSize).ToArray().Select(i => (long)i).ToArray());
            yield return (split.Images.index_select(0, index), split.Labels.index_select(0, index));
        }
    }

    /// <summary>A seeded loader that reshuffles on every pass (each enumeration uses the next seed).</summary>
    public static IEnumerable<(Tensor Input, Tensor Label)> Loader(MnistSplit split, int batchSize, int seed, long limit = long.MaxValue) =>
        new ReshufflingLoader(split, batchSize, seed, limit);

    private sealed class ReshufflingLoader(MnistSplit split, int batchSize, int seed, long limit) : IEnumerable<(Tensor Input, Tensor Label)>
    {
        private int _pass;

        public IEnumerator<(Tensor Input, Tensor Label)> GetEnumerator() => Batches(split, batchSize, seed + _pass++, limit).GetEnumerator();

        System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => GetEnumerator();
    }
}
