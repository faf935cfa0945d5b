using TrajectoryTransfer.Trajectories.Tests.Hostile.Support;
using TrajectoryTransfer.Trajectories.Tests.TestSupport;

namespace TrajectoryTransfer.Trajectories.Tests.Hostile;

/// <summary>
/// One writer at a time, in one process or across processes, while readers keep reading; a writer killed with SIGKILL at
/// any stage of an append leaves a store that opens as incomplete with every earlier point intact, and its lock dies with it.
/// </summary>
public sealed class StoreWriterTests
{
    [Fact]
    public void OpenForAppend_SecondWriterInSameProcess_ThrowsLockedWhileReadersRead()
    {
        using var temp = new TempDirectory();
        HostileFiles.WriteStore(temp.Path);
        using var first = TrajectoryStore.OpenForAppend(temp.Path, flushToDisk: false);

        var error = Assert.Throws<TrajectoryStoreLockedException>(() => TrajectoryStore.OpenForAppend(temp.Path, flushToDisk: false));
        var reader = TrajectoryStore.Open(temp.Path, allowIncomplete: true);

        Assert.Equal(Path.Combine(temp.Path, "writer.lock"), error.LockFilePath);
        Assert.Equal(3, reader.Count);
        using var point = reader.GetPoint(2);
        using var expected = TestSets.Random(2);
        TestSets.AssertBitEqual(expected, point);
    }

    [Fact]
    public void Create_SecondWriterOnNewFolderWhileFirstWrites_IsRefused()
    {
        using var temp = new TempDirectory();
        using var layoutSource = TestSets.Random(0);
        using var first = TrajectoryStore.Create(temp.Path, layoutSource.Layout, new TrajectoryStoreOptions { FlushToDisk = false });

        // The first writer's manifest already exists, so a second Create is refused as for any existing store; a second
        // writer that opens for appending meets the lock.
        Assert.Throws<IOException>(() => TrajectoryStore.Create(temp.Path, layoutSource.Layout));
        Assert.Throws<TrajectoryStoreLockedException>(() => TrajectoryStore.OpenForAppend(temp.Path));
    }

    [Fact]
    public void OpenForAppend_SameFolderThroughSymlink_ThrowsLocked()
    {
        using var temp = new TempDirectory();
        var store = HostileFiles.NewStore(temp);
        var alias = temp.Sub("alias");
        Directory.CreateSymbolicLink(alias, store);
        using var first = TrajectoryStore.OpenForAppend(store, flushToDisk: false);

        Assert.Throws<TrajectoryStoreLockedException>(() => TrajectoryStore.OpenForAppend(alias, flushToDisk: false));
    }

    [Fact]
    public void TwoWriters_InterleavedAppends_SecondNeverGetsInAndNoPointIsLost()
    {
        // The reported loss: two OpenForAppend both succeeded, interleaved, and the final store missed one writer's points.
        using var temp = new TempDirectory();
        HostileFiles.WriteStore(temp.Path, points: 1);
        using var first = TrajectoryStore.OpenForAppend(temp.Path, flushToDisk: false);
        for (var i = 1; i <= 3; i++)
        {
            Assert.Throws<TrajectoryStoreLockedException>(() => TrajectoryStore.OpenForAppend(temp.Path, flushToDisk: false));
            using var point = TestSets.Random(i);
            first.Append(point);
        }

        first.Complete();

        var done = TrajectoryStore.Open(temp.Path);
        Assert.Equal(4, done.Count);
        done.Verify();
    }

    [Fact]
    public void OpenForAppend_AfterCompleteOrDispose_Succeeds()
    {
        using var temp = new TempDirectory();
        HostileFiles.WriteStore(temp.Path);
        var completed = TrajectoryStore.OpenForAppend(temp.Path, flushToDisk: false);
        completed.Complete();
        var disposed = TrajectoryStore.OpenForAppend(temp.Path, flushToDisk: false);
        disposed.Dispose();

        using var third = TrajectoryStore.OpenForAppend(temp.Path, flushToDisk: false);

        Assert.True(third.IsWritable);
        Assert.False(disposed.IsWritable);
        Assert.Throws<InvalidOperationException>(() => disposed.Append(TestSets.Random(0)));
    }

    [Fact]
    public void OpenForAppend_FolderWithoutStore_ThrowsCorruptedAndLeavesNoLockFile()
    {
        using var temp = new TempDirectory();

        var error = Assert.Throws<TrajectoryStoreCorruptedException>(() => TrajectoryStore.OpenForAppend(temp.Path));

        Assert.Equal(HostileFiles.Manifest(temp.Path), error.FilePath);
        Assert.Empty(Directory.GetFiles(temp.Path));
    }

    [Fact]
    public void CreateFrom_Canceled_LeavesIncompleteStoreAndReleasesLock()
    {
        using var temp = new TempDirectory();
        using var start = TestSets.Random(1);
        using var end = TestSets.Random(2);
        using var linear = new LinearTrajectory(start, end, 6, TrajectorySchedule.Uniform);
        using var cancel = new CancellationTokenSource();
        var progress = new CancelAt(3, cancel);

        Assert.ThrowsAny<OperationCanceledException>(() => TrajectoryStore.CreateFrom(linear, temp.Path, new TrajectoryStoreOptions { FlushToDisk = false }, progress, cancel.Token));

        var error = Assert.Throws<TrajectoryStoreIncompleteException>(() => TrajectoryStore.Open(temp.Path));
        Assert.Equal(3, error.PointCount);
        using var resumed = TrajectoryStore.OpenForAppend(temp.Path, flushToDisk: false);
        Assert.Equal(3, resumed.Count);
    }

    [Fact]
    public void OpenForAppend_RemovesOnlyItsOwnTemporaries()
    {
        using var temp = new TempDirectory();
        HostileFiles.WriteStore(temp.Path);
        File.WriteAllText(Path.Combine(temp.Path, "point-000003.safetensors.tmp"), "partial");
        File.WriteAllText(Path.Combine(temp.Path, "manifest.json.tmp"), "{");
        File.WriteAllText(Path.Combine(temp.Path, "notes.tmp"), "the user's own file");
        File.WriteAllText(Path.Combine(temp.Path, "point-1.safetensors.tmp"), "not a name the store writes");

        using var writer = TrajectoryStore.OpenForAppend(temp.Path, flushToDisk: false);

        Assert.False(File.Exists(Path.Combine(temp.Path, "point-000003.safetensors.tmp")));
        Assert.False(File.Exists(Path.Combine(temp.Path, "manifest.json.tmp")));
        Assert.True(File.Exists(Path.Combine(temp.Path, "notes.tmp")));
        Assert.True(File.Exists(Path.Combine(temp.Path, "point-1.safetensors.tmp")));
    }

    [Fact]
    public void OpenForAppend_LockedByAnotherWriter_LeavesItsTemporariesAlone()
    {
        using var temp = new TempDirectory();
        HostileFiles.WriteStore(temp.Path);
        using var first = TrajectoryStore.OpenForAppend(temp.Path, flushToDisk: false);
        var inFlight = Path.Combine(temp.Path, "point-000003.safetensors.tmp");
        File.WriteAllText(inFlight, "the first writer's point, being written");

        Assert.Throws<TrajectoryStoreLockedException>(() => TrajectoryStore.OpenForAppend(temp.Path, flushToDisk: false));

        Assert.True(File.Exists(inFlight));
    }

    [LinuxFact]
    public void OpenForAppend_WriterInAnotherProcess_ThrowsLockedNamingItAndReadersRead()
    {
        using var temp = new TempDirectory();
        var store = HostileFiles.NewStore(temp);
        using var child = ChildWriter.Start("hold-writer", store, temp.Sub("ready"));
        var childId = child.WaitFor(temp.Sub("ready"));

        var error = Assert.Throws<TrajectoryStoreLockedException>(() => TrajectoryStore.OpenForAppend(store, flushToDisk: false));
        var reader = TrajectoryStore.Open(store, allowIncomplete: true);
        using (var point = reader.GetPoint(1))
        {
            using var expected = TestSets.Random(1);
            TestSets.AssertBitEqual(expected, point);
        }

        Assert.Contains($"process {childId}", error.Message, StringComparison.Ordinal);
        Assert.Equal(0, child.Finish());
        using var after = TrajectoryStore.OpenForAppend(store, flushToDisk: false);
        Assert.True(after.IsWritable);
    }

    [LinuxTheory]
    [InlineData("point-temp-written")]
    [InlineData("point-renamed")]
    [InlineData("manifest-temp-written")]
    public void Append_WriterKilledWithSigkillAtStage_StoreOpensIncompleteWithEveryEarlierPointAndLockIsFree(string stage)
    {
        using var temp = new TempDirectory();
        var store = HostileFiles.NewStore(temp);
        using (var child = ChildWriter.Start("append-and-stop", store, stage, temp.Sub("ready")))
        {
            Assert.Equal(stage, child.WaitFor(temp.Sub("ready")));
            child.KillHard();
        }

        var error = Assert.Throws<TrajectoryStoreIncompleteException>(() => TrajectoryStore.Open(store));
        var survivor = TrajectoryStore.Open(store, allowIncomplete: true);
        Assert.Equal(3, error.PointCount);
        survivor.Verify();
        for (var i = 0; i < 3; i++)
        {
            using var point = survivor.GetPoint(i);
            using var expected = TestSets.Random(i);
            TestSets.AssertBitEqual(expected, point);
        }

        // The dead writer's lock died with it: a new writer gets in, cleans up, and finishes the store.
        using (var resumed = TrajectoryStore.OpenForAppend(store, flushToDisk: false))
        {
            using var extra = TestSets.Random(3);
            resumed.Append(extra);
            resumed.Complete();
        }

        Assert.Empty(Directory.GetFiles(store, "*.tmp"));
        Assert.Equal(4, TrajectoryStore.Open(store).Count);
    }

    private sealed class CancelAt(int count, CancellationTokenSource cancel) : IProgress<int>
    {
        public void Report(int value)
        {
            if (value == count)
            {
                cancel.Cancel();
            }
        }
    }
}
