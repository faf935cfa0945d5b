using TrajectoryTransfer.Trajectories.Tests.Hostile.Support;
using TrajectoryTransfer.Trajectories.Tests.TestSupport;

namespace TrajectoryTransfer.Trajectories.Tests.Hostile;

/// <summary>Cancellation at any point leaves what was already there readable and adds nothing half-done.</summary>
public sealed class CancellationTests
{
    [Fact]
    public async Task GetPointAsync_Canceled_ThrowsAndStoreStillReads()
    {
        using var temp = new TempDirectory();
        var store = HostileFiles.NewStore(temp);
        var reader = TrajectoryStore.Open(store);
        using var canceled = new CancellationTokenSource();
        await canceled.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => reader.GetPointAsync(1, cancellationToken: canceled.Token));

        using var point = await reader.GetPointAsync(1);
        using var expected = TestSets.Random(1);
        TestSets.AssertBitEqual(expected, point);
    }

    [Fact]
    public void Verify_CanceledAfterFirstFile_ThrowsAfterReportingOne()
    {
        using var temp = new TempDirectory();
        var store = HostileFiles.NewStore(temp);
        using var cancel = new CancellationTokenSource();
        var reports = new List<int>();

        Assert.ThrowsAny<OperationCanceledException>(() => TrajectoryStore.Open(store).Verify(new ProgressTo(n =>
        {
            reports.Add(n);
            cancel.Cancel();
        }), cancel.Token));

        Assert.Equal([1], reports);
    }

    [Fact]
    public async Task AppendAsync_CanceledThenCompleted_StoreHoldsOnlyTheFinishedPoints()
    {
        using var temp = new TempDirectory();
        var store = HostileFiles.NewStore(temp);
        using (var writer = TrajectoryStore.OpenForAppend(store, flushToDisk: false))
        {
            using var point = TestSets.Random(7);
            using var canceled = new CancellationTokenSource();
            await canceled.CancelAsync();
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => writer.AppendAsync(point, cancellationToken: canceled.Token));
            writer.Complete();
        }

        var done = TrajectoryStore.Open(store);
        Assert.Equal(3, done.Count);
        done.Verify();
        Assert.Empty(Directory.GetFiles(store, "*.tmp"));
    }

    [Fact]
    public void Export_CanceledMidway_LeavesOnlyWholeFiles()
    {
        using var temp = new TempDirectory();
        using var start = TestSets.Random(1);
        using var end = TestSets.Random(2);
        using var linear = new LinearTrajectory(start, end, 5, TrajectorySchedule.Uniform);
        using var cancel = new CancellationTokenSource();

        Assert.ThrowsAny<OperationCanceledException>(() => PyTorchCheckpoints.Export(
            linear, temp.Path, PyTorchCheckpointFormat.Pt, progress: new ProgressTo(n =>
            {
                if (n == 2)
                {
                    cancel.Cancel();
                }
            }), cancellationToken: cancel.Token));

        var written = PyTorchCheckpoints.Open(temp.Path);
        Assert.Equal(2, written.Count);
        Assert.Empty(Directory.GetFiles(temp.Path, "*.tmp"));
        using var second = written.GetPoint(1);
        using var expected = linear.GetPoint(1);
        TestSets.AssertBitEqual(expected, second);
    }

    private sealed class ProgressTo(Action<int> report) : IProgress<int>
    {
        public void Report(int value) => report(value);
    }
}
