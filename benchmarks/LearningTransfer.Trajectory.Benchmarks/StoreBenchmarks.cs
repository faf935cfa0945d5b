using BenchmarkDotNet.Attributes;
using TorchSharp;
using TrajectoryTransfer.Permutations;
using static TorchSharp.torch;

namespace TrajectoryTransfer.Trajectories.Benchmarks;

/// <summary>
/// Write and read one point of a 784-4096-10 MLP through a <see cref="TrajectoryStore"/>, per storage precision.
/// Throughput in MB/s is the point's float32 size (13.03 MB) divided by the mean time; bytes per point is the file size.
/// </summary>
[MemoryDiagnoser]
[SimpleJob(launchCount: 1, warmupCount: 3, iterationCount: 10)]
public class StoreBenchmarks
{
    private ParameterSet _point = null!;
    private TrajectoryStore _readStore = null!;
    private string _root = null!;
    private int _writes;

    /// <summary>The storage precision.</summary>
    [Params(TrajectoryStorePrecision.Full, TrajectoryStorePrecision.Float16, TrajectoryStorePrecision.BFloat16)]
    public TrajectoryStorePrecision Precision { get; set; }

    /// <summary>Whether files are fsynced before the rename (the default) or not.</summary>
    [Params(true, false)]
    public bool FlushToDisk { get; set; }

    /// <summary>Makes the point and a store holding it.</summary>
    [GlobalSetup]
    public void Setup()
    {
        torch.manual_seed(0);
        using var model = new Mlp();
        _point = ParameterSet.FromModule(model).DetachFromDisposeScope();
        _root = Path.Combine(Path.GetTempPath(), "lt-trajectory-bench", Guid.NewGuid().ToString("N"));
        var store = TrajectoryStore.Create(Path.Combine(_root, "read"), _point.Layout, Options());
        store.Append(_point);
        store.Complete();
        _readStore = TrajectoryStore.Open(Path.Combine(_root, "read"));
        var bytes = new FileInfo(Path.Combine(_root, "read", "point-000000.safetensors")).Length;
        Console.WriteLine($"// bytes per point ({Precision}): {bytes} ({bytes / 1e6:0.00} MB); float32 payload {_point.ElementCount * 4 / 1e6:0.00} MB");
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
        var store = TrajectoryStore.Create(Path.Combine(_root, $"write-{_writes++}"), _point.Layout, Options());
        store.Append(_point);
        Directory.Delete(store.Directory, recursive: true);
    }

    /// <summary>Reads the point back, verifying its SHA-256 and converting to float32.</summary>
    [Benchmark]
    public long Read()
    {
        using var point = _readStore.GetPoint(0);
        return point.Count;
    }

    private TrajectoryStoreOptions Options() => new() { Precision = Precision, FlushToDisk = FlushToDisk };
}
