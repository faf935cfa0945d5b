using TorchSharp;
using BatchNorm1d = TorchSharp.Modules.BatchNorm1d;
using LinearLayer = TorchSharp.Modules.Linear;
using TrajectoryTransfer.Permutations;
using static TorchSharp.torch;

namespace TrajectoryTransfer.Trajectories.Tests.TestSupport;

/// <summary>fc1: Linear(in, hidden), ReLU, fc2: Linear(hidden, out): the fixture's architecture (784-32-10).</summary>
internal sealed class FixtureMlp : nn.Module<Tensor, Tensor>
{
    private readonly LinearLayer fc1;
    private readonly LinearLayer fc2;

    public FixtureMlp(int inputs = 784, int hidden = 32, int outputs = 10)
        : base(nameof(FixtureMlp))
    {
        fc1 = nn.Linear(inputs, hidden);
        fc2 = nn.Linear(hidden, outputs);
        RegisterComponents();
    }

    public override Tensor forward(Tensor input)
    {
        using var hidden = fc1.forward(input);
        using var activated = nn.functional.relu(hidden);
        return fc2.forward(activated);
    }
}

/// <summary>A small network with BatchNorm, so that points carry running statistics and an integer buffer.</summary>
internal sealed class BatchNormNet : nn.Module<Tensor, Tensor>
{
    private readonly LinearLayer fc1;
    private readonly BatchNorm1d bn;
    private readonly LinearLayer fc2;

    public BatchNormNet()
        : base(nameof(BatchNormNet))
    {
        fc1 = nn.Linear(6, 5);
        bn = nn.BatchNorm1d(5);
        fc2 = nn.Linear(5, 3);
        RegisterComponents();
    }

    public override Tensor forward(Tensor input)
    {
        using var hidden = fc1.forward(input);
        using var normalized = bn.forward(hidden);
        using var activated = nn.functional.relu(normalized);
        return fc2.forward(activated);
    }
}

internal static class TestSets
{
    /// <summary>A seeded random parameter set with the layout of a small two-layer network (and a BN-like buffer).</summary>
    public static ParameterSet Random(long seed, Device? device = null, float scale = 1f)
    {
        using var generator = new Generator((ulong)seed);
        return new ParameterSet(
        [
            new("fc1.weight", torch.randn([5, 4], generator: generator, device: device).mul_(scale)),
            new("fc1.bias", torch.randn([5], generator: generator, device: device).mul_(scale)),
            new("bn.running_var", torch.rand([5], generator: generator, device: device).add_(0.5)),
            new("bn.num_batches_tracked", torch.tensor(seed * 10, dtype: ScalarType.Int64, device: device)),
            new("fc2.weight", torch.randn([3, 5], generator: generator, device: device).mul_(scale)),
        ]);
    }

    /// <summary>Whether two sets have the same names, in order, and bit-identical tensors.</summary>
    public static void AssertBitEqual(ParameterSet expected, ParameterSet actual)
    {
        using var scope = torch.NewDisposeScope();
        Assert.Equal(expected.Names, actual.Names);
        foreach (var (name, tensor) in expected)
        {
            Assert.Equal(tensor.dtype, actual[name].dtype);
            Assert.True(BitEqual(tensor, actual[name]), $"'{name}' differs.");
        }
    }

    /// <summary>Same shape, element type and bytes.</summary>
    public static bool BitEqual(Tensor a, Tensor b)
    {
        using var scope = torch.NewDisposeScope();
        return a.dtype == b.dtype && a.shape.SequenceEqual(b.shape)
            && a.cpu().contiguous().bytes.SequenceEqual(b.cpu().contiguous().bytes);
    }

    /// <summary>The largest absolute difference over all entries (compared in float64).</summary>
    public static double MaxAbsDifference(ParameterSet a, ParameterSet b)
    {
        using var scope = torch.NewDisposeScope();
        var max = 0.0;
        foreach (var (name, tensor) in a)
        {
            using var difference = tensor.cpu().to(ScalarType.Float64) - b[name].cpu().to(ScalarType.Float64);
            max = Math.Max(max, difference.abs().max().item<double>());
        }

        return max;
    }

    /// <summary>Native tensors alive on this thread.</summary>
    public static long LiveTensors => DisposeScopeManager.Statistics.TensorStatistics.ThreadTotalLiveCount;
}

/// <summary>A fresh temporary folder, deleted on dispose.</summary>
internal sealed class TempDirectory : IDisposable
{
    public TempDirectory()
    {
        Path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "lt-trajectory-tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(Path);
    }

    public string Path { get; }

    public string Sub(string name) => System.IO.Path.Combine(Path, name);

    public void Dispose()
    {
        try
        {
            Directory.Delete(Path, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
