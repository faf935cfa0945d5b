using BenchmarkDotNet.Attributes;
using TorchSharp;
using TrajectoryTransfer.Permutations;
using static TorchSharp.torch;

namespace TrajectoryTransfer.Trajectories.Benchmarks;

/// <summary>
/// Writes one point of a 784-4096-10 MLP to a new <see cref="TrajectoryStore"/>, per storage precision, with and without
/// fsync. Throughput in MB/s is the point's float32 size (13.03 MB) divided by the time.
/// </summary>
[MemoryDiagnoser]
[SimpleJob(launchCount: 1, warmupCount: 3, iterationCount: 15)]
[MedianColumn]
public class StoreWriteBenchmarks
{
    private ParameterSet _point = null!;
    private string _root = null!;
    private int _writes;

    /// <summary>The storage precision.</summary>
    [Params(TrajectoryStorePrecision.Full, TrajectoryStorePrecision.Float16, TrajectoryStorePrecision.BFloat16)]
    public TrajectoryStorePrecision Precision { get; set; }

    /// <summary>Whether files are fsynced before the rename (the default) or not.</summary>
    [Params(true, false)]
    public bool FlushToDisk { get; set; }

    /// <summary>Makes the point.</summary>
    [GlobalSetup]
    public void Setup()
    {
        torch.manual_seed(0);
        using var model = new Mlp();
        _point = ParameterSet.FromModule(model).DetachFromDisposeScope();
        _root = Path.Combine(Path.GetTempPath(), "lt-trajectory-bench", Guid.NewGuid().ToString("N"));
    }

    /// <summary>Deletes the stores.</summary>
    [GlobalCleanup]
    public void Cleanup()
    {
        _point.Dispose();
        Directory.Delete(_root, recursive: true);
    }

    /// <summary>Appends the point to a fresh store (file + manifest, atomic renames).</summary>
    [Benchmark]
    public void Write()
    {
        using (var store = TrajectoryStore.Create(Path.Combine(_root, $"write-{_writes}"), _point.Layout, Options()))
        {
            store.Append(_point);
        }

        Directory.Delete(Path.Combine(_root, $"write-{_writes++}"), recursive: true);
    }

    private TrajectoryStoreOptions Options() => new() { Precision = Precision, FlushToDisk = FlushToDisk };
}

/// <summary>
/// Reads one point of a 784-4096-10 MLP from a <see cref="TrajectoryStore"/> (SHA-256 checked, converted back to float32),
/// per storage precision, and prints the bytes per point.
/// </summary>
[MemoryDiagnoser]
[SimpleJob(launchCount: 1, warmupCount: 3, iterationCount: 15)]
[MedianColumn]
public class StoreReadBenchmarks
{
    private TrajectoryStore _store = null!;
    private string _root = null!;

    /// <summary>The storage precision.</summary>
    [Params(TrajectoryStorePrecision.Full, TrajectoryStorePrecision.Float16, TrajectoryStorePrecision.BFloat16)]
    public TrajectoryStorePrecision Precision { get; set; }

    /// <summary>Writes a store holding one point.</summary>
    [GlobalSetup]
    public void Setup()
    {
        torch.manual_seed(0);
        using var model = new Mlp();
        using var point = ParameterSet.FromModule(model);
        _root = Path.Combine(Path.GetTempPath(), "lt-trajectory-bench", Guid.NewGuid().ToString("N"));
        using var store = TrajectoryStore.Create(_root, point.Layout, new TrajectoryStoreOptions { Precision = Precision });
        store.Append(point);
        store.Complete();
        _store = TrajectoryStore.Open(_root);
        var bytes = new FileInfo(Path.Combine(_root, "point-000000.safetensors")).Length;
        Console.WriteLine($"// bytes per point ({Precision}): {bytes} ({bytes / 1e6:0.00} MB); float32 payload {point.ElementCount * 4 / 1e6:0.00} MB");
    }

    /// <summary>Deletes the store.</summary>
    [GlobalCleanup]
    public void Cleanup() => Directory.Delete(_root, recursive: true);

    /// <summary>Reads the point back.</summary>
    [Benchmark]
    public long Read()
    {
        using var point = _store.GetPoint(0);
        return point.Count;
    }
}
