using TorchSharp;
using TrajectoryTransfer.Permutations;
using TrajectoryTransfer.Trajectories.Tests.TestSupport;
using static TorchSharp.torch;

namespace TrajectoryTransfer.Trajectories.Tests.Recording;

public sealed class TrajectoryRecorderTests
{
    /// <summary>Runs a few SGD steps on a seeded regression problem, calling the recorder and keeping what the model held when it snapshotted.</summary>
    private static List<ParameterSet> Train(nn.Module<Tensor, Tensor> model, TrajectoryRecorder recorder, int steps, int stepsPerEpoch)
    {
        var seen = new List<ParameterSet> { ParameterSet.FromModule(model) };
        using var generator = new Generator(7);
        using var optimizer = optim.SGD(model.parameters(), 0.1);
        for (var step = 1; step <= steps; step++)
        {
            using var scope = torch.NewDisposeScope();
            var x = torch.randn([16, 6], generator: generator);
            var y = torch.randn([16, 3], generator: generator);
            optimizer.zero_grad();
            var loss = nn.functional.mse_loss(model.forward(x), y);
            loss.backward();
            optimizer.step();
            if (recorder.OnOptimizerStep())
            {
                seen.Add(ParameterSet.FromModule(model).DetachFromDisposeScope());
            }

            if (step % stepsPerEpoch == 0 && recorder.OnEpochEnd(step / stepsPerEpoch))
            {
                seen.Add(ParameterSet.FromModule(model).DetachFromDisposeScope());
            }
        }

        return seen;
    }

    [Fact]
    public void Record_SgdLoopInMemory_SnapshotsEqualModelAtThoseMomentsAndDiffer()
    {
        torch.manual_seed(1);
        using var model = new BatchNormNet();
        using var trajectory = InMemoryTrajectory.ForModule(model);
        using var recorder = new TrajectoryRecorder(model, trajectory, new TrajectoryRecorderOptions { EveryNSteps = 2, EveryNEpochs = 1 });

        var seen = Train(model, recorder, steps: 6, stepsPerEpoch: 3);

        // initial + steps 2, 4, 6 + epochs 1, 2.
        Assert.Equal(6, trajectory.Count);
        Assert.Equal(seen.Count, trajectory.Count);
        Assert.Equal([0L, 2L, 3L, 4L, 6L, 6L], trajectory.Labels.Select(l => l.Step!.Value));
        Assert.Equal(2.0, trajectory.Labels[5].Epoch);
        for (var i = 0; i < trajectory.Count; i++)
        {
            using var point = trajectory.GetPoint(i);
            TestSets.AssertBitEqual(seen[i], point);
        }

        using var first = trajectory.GetPoint(0);
        using var second = trajectory.GetPoint(1);
        Assert.True(TestSets.MaxAbsDifference(first, second) > 1e-4);
        Assert.NotEqual(first["bn.running_mean"].sum().item<float>(), second["bn.running_mean"].sum().item<float>());
        seen.ForEach(s => s.Dispose());
    }

    [Fact]
    public void Record_SgdLoopToStore_WritesSnapshotsInBackground()
    {
        using var temp = new TempDirectory();
        torch.manual_seed(2);
        using var model = new BatchNormNet();
        var store = TrajectoryStore.Create(temp.Path, ParameterLayout.Of(model), new TrajectoryStoreOptions { FlushToDisk = false });
        List<ParameterSet> seen;
        using (var recorder = new TrajectoryRecorder(model, store, new TrajectoryRecorderOptions { EveryNSteps = 1, EveryNEpochs = 0, MaxPendingWrites = 1 }))
        {
            seen = Train(model, recorder, steps: 5, stepsPerEpoch: 100);
            recorder.Flush();
            Assert.Equal(6, recorder.SnapshotCount);
        }

        store.Complete();
        var reopened = TrajectoryStore.Open(temp.Path);

        Assert.Equal(6, reopened.Count);
        for (var i = 0; i < reopened.Count; i++)
        {
            using var point = reopened.GetPoint(i);
            TestSets.AssertBitEqual(seen[i], point);
            Assert.Equal(i, reopened.Labels[i].Step);
        }

        seen.ForEach(s => s.Dispose());
    }

    [Fact]
    public void Snapshot_ExplicitCalls_UseGivenLabelsAndSkipInitialWhenAsked()
    {
        torch.manual_seed(3);
        using var model = new FixtureMlp(6, 4, 3);
        using var trajectory = InMemoryTrajectory.ForModule(model, includeBuffers: false);
        using var recorder = new TrajectoryRecorder(model, trajectory, new TrajectoryRecorderOptions { SnapshotOnAttach = false, IncludeBuffers = false, EveryNEpochs = 0 });

        Assert.False(recorder.OnEpochEnd(1));
        recorder.Snapshot("before fine-tuning", epoch: 1.5);

        Assert.Equal(1, trajectory.Count);
        Assert.Equal("before fine-tuning", trajectory.Labels[0].Text);
        Assert.Equal(1.5, trajectory.Labels[0].Epoch);
    }

    [Fact]
    public void Constructor_TargetForOtherArchitecture_ThrowsArchitectureMismatch()
    {
        using var model = new FixtureMlp(6, 4, 3);
        using var other = InMemoryTrajectory.ForModule(new FixtureMlp(6, 5, 3));

        Assert.Throws<TrajectoryArchitectureMismatchException>(() => new TrajectoryRecorder(model, other));
    }

    [Fact]
    public void Snapshot_BackgroundWriteFails_NextCallThrows()
    {
        using var temp = new TempDirectory();
        using var model = new FixtureMlp(6, 4, 3);
        var store = TrajectoryStore.Create(temp.Sub("store"), ParameterLayout.Of(model), new TrajectoryStoreOptions { FlushToDisk = false });
        using var recorder = new TrajectoryRecorder(model, store, new TrajectoryRecorderOptions { SnapshotOnAttach = false });
        Directory.Delete(temp.Sub("store"), recursive: true);

        recorder.Snapshot();
        var error = Assert.Throws<TrajectoryException>(recorder.Flush);

        Assert.IsAssignableFrom<IOException>(error.InnerException);
        Assert.Throws<TrajectoryException>(() => recorder.Snapshot());
    }
}
