using BenchmarkDotNet.Attributes;
using TorchSharp;
using TrajectoryTransfer.Permutations;
using static TorchSharp.torch;

namespace TrajectoryTransfer.Trajectories.Benchmarks;

/// <summary>
/// The cost a <see cref="TrajectoryRecorder"/> adds to a training loop, next to one SGD step of a 784-4096-10 MLP on a
/// batch of 128: the snapshot copy alone, and a training step followed by a snapshot to memory or to a store.
/// </summary>
[MemoryDiagnoser]
[SimpleJob(launchCount: 1, warmupCount: 3, iterationCount: 10)]
public class RecorderBenchmarks
{
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

    /// <summary>One SGD step (forward, backward, update): the reference.</summary>
    [Benchmark(Baseline = true)]
    public void TrainingStep() => Step();

    /// <summary>One SGD step, then a snapshot kept in memory.</summary>
    [Benchmark]
    public void TrainingStepWithSnapshotToMemory()
    {
        using var trajectory = InMemoryTrajectory.ForModule(_model);
        using var recorder = new TrajectoryRecorder(_model, trajectory, new TrajectoryRecorderOptions { SnapshotOnAttach = false, EveryNSteps = 1 });
        Step();
        recorder.OnOptimizerStep();
    }

    /// <summary>
    /// One SGD step, then a snapshot to a store, waiting until it is written (the whole cost; in a real loop the write
    /// overlaps the next steps and the loop waits only for the copy).
    /// </summary>
    [Benchmark]
    public void TrainingStepWithSnapshotToStoreWritten()
    {
        var store = TrajectoryStore.Create(Path.Combine(_root, Guid.NewGuid().ToString("N")), ParameterLayout.Of(_model), new TrajectoryStoreOptions { FlushToDisk = false });
        using (var recorder = new TrajectoryRecorder(_model, store, new TrajectoryRecorderOptions { SnapshotOnAttach = false, EveryNSteps = 1 }))
        {
            Step();
            recorder.OnOptimizerStep();
            recorder.Flush();
        }

        Directory.Delete(store.Directory, recursive: true);
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
