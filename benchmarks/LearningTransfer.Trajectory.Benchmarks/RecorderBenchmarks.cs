using BenchmarkDotNet.Attributes;
using TorchSharp;
using TrajectoryTransfer.Permutations;
using static TorchSharp.torch;

namespace TrajectoryTransfer.Trajectories.Benchmarks;

/// <summary>
/// What a <see cref="TrajectoryRecorder"/> adds to a training loop: ten SGD steps of a 784-4096-10 MLP on a batch of 128,
/// plain and with a snapshot after every step (to memory, or to a store written in the background and flushed at the
/// end, so every write is inside the time). Overhead per snapshot = (recording loop − plain loop) / 10.
/// </summary>
[MemoryDiagnoser]
[SimpleJob(launchCount: 1, warmupCount: 2, iterationCount: 12)]
[MedianColumn]
public class RecorderBenchmarks
{
    private const int Steps = 10;
    private Mlp _model = null!;
    private optim.Optimizer _optimizer = null!;
    private Tensor _x = null!;
    private Tensor _y = null!;
    private string _root = null!;

    /// <summary>Makes the model, a batch and the optimizer.</summary>
    [GlobalSetup]
    public void Setup()
    {
        torch.manual_seed(0);
        _model = new Mlp();
        _optimizer = optim.SGD(_model.parameters(), 0.01);
        _x = torch.rand(128, 784);
        _y = torch.randint(0, 10, [128], dtype: ScalarType.Int64);
        _root = Path.Combine(Path.GetTempPath(), "lt-recorder-bench", Guid.NewGuid().ToString("N"));
    }

    /// <summary>Disposes everything.</summary>
    [GlobalCleanup]
    public void Cleanup()
    {
        _model.Dispose();
        _optimizer.Dispose();
        _x.Dispose();
        _y.Dispose();
        if (Directory.Exists(_root))
        {
            Directory.Delete(_root, recursive: true);
        }
    }

    /// <summary>Ten SGD steps (forward, backward, update): the reference.</summary>
    [Benchmark(Baseline = true)]
    public void TenSteps()
    {
        for (var i = 0; i < Steps; i++)
        {
            Step();
        }
    }

    /// <summary>Ten SGD steps with a snapshot to memory after each.</summary>
    [Benchmark]
    public void TenStepsRecordingToMemory()
    {
        using var trajectory = InMemoryTrajectory.ForModule(_model);
        using var recorder = new TrajectoryRecorder(_model, trajectory, new TrajectoryRecorderOptions { SnapshotOnAttach = false, EveryNSteps = 1 });
        for (var i = 0; i < Steps; i++)
        {
            Step();
            recorder.OnOptimizerStep();
        }
    }

    /// <summary>Ten SGD steps with a snapshot to a store after each (full precision, no fsync), all writes finished.</summary>
    [Benchmark]
    public void TenStepsRecordingToStore()
    {
        var directory = Path.Combine(_root, Guid.NewGuid().ToString("N"));
        using (var store = TrajectoryStore.Create(directory, ParameterLayout.Of(_model), new TrajectoryStoreOptions { FlushToDisk = false }))
        using (var recorder = new TrajectoryRecorder(_model, store, new TrajectoryRecorderOptions { SnapshotOnAttach = false, EveryNSteps = 1 }))
        {
            for (var i = 0; i < Steps; i++)
            {
                Step();
                recorder.OnOptimizerStep();
            }

            recorder.Flush();
        }

        Directory.Delete(directory, recursive: true);
    }

    /// <summary>The snapshot copy alone: what the training thread waits for per snapshot when the store writer keeps up.</summary>
    [Benchmark]
    public long SnapshotCopyOnly()
    {
        using var snapshot = ParameterSet.FromModule(_model);
        return snapshot.Count;
    }

    private void Step()
    {
        using var scope = torch.NewDisposeScope();
        _optimizer.zero_grad();
        var loss = nn.functional.cross_entropy(_model.forward(_x), _y);
        loss.backward();
        _optimizer.step();
    }
}
