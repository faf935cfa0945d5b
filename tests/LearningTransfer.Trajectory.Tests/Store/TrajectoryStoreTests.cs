using TorchSharp;
using TorchSharp.PyBridge;
using TrajectoryTransfer.Permutations;
using TrajectoryTransfer.Trajectories.Tests.TestSupport;
using static TorchSharp.torch;

namespace TrajectoryTransfer.Trajectories.Tests.Store;

public sealed class TrajectoryStoreTests
{
    private static TrajectoryStore Write(string directory, int points, TrajectoryStorePrecision precision = TrajectoryStorePrecision.Full, bool complete = true)
    {
        using var first = TestSets.Random(0);
        var store = TrajectoryStore.Create(directory, first.Layout, new TrajectoryStoreOptions { Precision = precision, FlushToDisk = false });
        for (var i = 0; i < points; i++)
        {
            using var point = TestSets.Random(i);
            store.Append(point, new TrajectoryPointLabel(0, Step: i * 10L, Epoch: i / 2.0, Text: $"p{i}"));
        }

        if (complete)
        {
            store.Complete();
        }

        return store;
    }

    [Fact]
    public void RoundTrip_Float32_IsBitExactAndKeepsLabels()
    {
        using var temp = new TempDirectory();
        Write(temp.Path, 3);

        var store = TrajectoryStore.Open(temp.Path);

        Assert.True(store.IsComplete);
        Assert.Equal(3, store.Count);
        for (var i = 0; i < 3; i++)
        {
            using var expected = TestSets.Random(i);
            using var read = store.GetPoint(i);
            TestSets.AssertBitEqual(expected, read);
            Assert.Equal(new TrajectoryPointLabel(i, i * 10L, i / 2.0, null, $"p{i}"), store.Labels[i]);
        }
    }

    [Theory]
    [InlineData(TrajectoryStorePrecision.Float16)]
    [InlineData(TrajectoryStorePrecision.BFloat16)]
    public void RoundTrip_HalfPrecision_WithinDocumentedBoundAndHalfTheBytes(TrajectoryStorePrecision precision)
    {
        using var temp = new TempDirectory();
        using var full = TestSets.Random(0);
        // Values over many magnitudes, including float16 subnormals, so that both parts of the bound are exercised.
        using var generator = new Generator(42);
        using var wide = torch.randn([4000], generator: generator) * torch.pow(10.0, torch.rand([4000], generator: generator) * 10 - 8);
        var layout = new ParameterLayout([new ParameterInfo("w", [4000], ScalarType.Float32), new ParameterInfo("steps", [], ScalarType.Int64)]);
        using var point = new ParameterSet([new("w", wide.clone()), new("steps", torch.tensor(123456789L))]);
        var half = TrajectoryStore.Create(temp.Sub("half"), layout, new TrajectoryStoreOptions { Precision = precision, FlushToDisk = false });
        var exact = TrajectoryStore.Create(temp.Sub("full"), layout, new TrajectoryStoreOptions { FlushToDisk = false });
        half.Append(point);
        exact.Append(point);
        half.Complete();

        using var read = TrajectoryStore.Open(temp.Sub("half")).GetPoint(0);

        Assert.Equal(ScalarType.Float32, read["w"].dtype);
        Assert.Equal(123456789L, read["steps"].item<long>());
        var original = wide.to(ScalarType.Float64).data<double>().ToArray();
        var restored = read["w"].to(ScalarType.Float64).data<double>().ToArray();
        var worstShare = 0.0;
        for (var i = 0; i < original.Length; i++)
        {
            var bound = TrajectoryStore.MaxRoundingError(precision, original[i]);
            var error = Math.Abs(restored[i] - original[i]);
            Assert.True(error <= bound, $"value {original[i]:R} came back as {restored[i]:R}: error {error:R} > bound {bound:R}");
            worstShare = Math.Max(worstShare, error / bound);
        }

        // The bound is close to tight: some value loses at least a quarter of it (so the store really narrowed).
        Assert.True(worstShare > 0.25, $"worst error was only {worstShare:P} of the bound");
        var halfBytes = new FileInfo(Path.Combine(temp.Sub("half"), "point-000000.safetensors")).Length;
        var fullBytes = new FileInfo(Path.Combine(temp.Sub("full"), "point-000000.safetensors")).Length;
        Assert.InRange(halfBytes, 4000 * 2, (fullBytes / 2) + 200);
    }

    [Fact]
    public void Append_Float16BeyondRange_ThrowsAndAddsNothing()
    {
        using var temp = new TempDirectory();
        var layout = new ParameterLayout([new ParameterInfo("w", [2], ScalarType.Float32)]);
        var store = TrajectoryStore.Create(temp.Path, layout, new TrajectoryStoreOptions { Precision = TrajectoryStorePrecision.Float16 });
        using var point = new ParameterSet([new("w", torch.tensor(new[] { 1f, 70000f }))]);

        var error = Assert.Throws<ArgumentException>(() => store.Append(point));

        Assert.Contains("65504", error.Message, StringComparison.Ordinal);
        Assert.Equal(0, store.Count);
    }

    [Fact]
    public void Append_Float16InfinityAndLargestFinite_StoredExactly()
    {
        using var temp = new TempDirectory();
        var layout = new ParameterLayout([new ParameterInfo("w", [3], ScalarType.Float32)]);
        var store = TrajectoryStore.Create(temp.Path, layout, new TrajectoryStoreOptions { Precision = TrajectoryStorePrecision.Float16, FlushToDisk = false });
        using var point = new ParameterSet([new("w", torch.tensor(new[] { float.PositiveInfinity, -65504f, 0.5f }))]);

        store.Append(point);

        using var read = store.GetPoint(0);
        Assert.Equal(new[] { float.PositiveInfinity, -65504f, 0.5f }, read["w"].data<float>().ToArray());
    }

    [Fact]
    public void Open_MissingPointFile_ThrowsCorruptedNamingFile()
    {
        using var temp = new TempDirectory();
        Write(temp.Path, 3);
        var victim = Path.Combine(temp.Path, "point-000001.safetensors");
        File.Delete(victim);

        var error = Assert.Throws<TrajectoryStoreCorruptedException>(() => TrajectoryStore.Open(temp.Path));

        Assert.Equal(victim, error.FilePath);
        Assert.Contains("point-000001.safetensors", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void GetPoint_FlippedByte_ThrowsChecksumMismatchNamingFile()
    {
        using var temp = new TempDirectory();
        Write(temp.Path, 3);
        var victim = Path.Combine(temp.Path, "point-000002.safetensors");
        var bytes = File.ReadAllBytes(victim);
        bytes[^3] ^= 0x40;
        File.WriteAllBytes(victim, bytes);
        var store = TrajectoryStore.Open(temp.Path);

        var error = Assert.Throws<TrajectoryStoreCorruptedException>(() => store.GetPoint(2));
        var verifyError = Assert.Throws<TrajectoryStoreCorruptedException>(() => store.Verify());

        Assert.Equal(victim, error.FilePath);
        Assert.Contains("SHA-256", error.Message, StringComparison.Ordinal);
        Assert.Equal(victim, verifyError.FilePath);
        using var intact = store.GetPoint(1);
        Assert.Equal(5, intact.Count);
    }

    [Fact]
    public void Open_TruncatedPointFile_ThrowsCorrupted()
    {
        using var temp = new TempDirectory();
        Write(temp.Path, 2);
        var victim = Path.Combine(temp.Path, "point-000000.safetensors");
        using (var stream = new FileStream(victim, FileMode.Open))
        {
            stream.SetLength(stream.Length - 10);
        }

        var error = Assert.Throws<TrajectoryStoreCorruptedException>(() => TrajectoryStore.Open(temp.Path));

        Assert.Equal(victim, error.FilePath);
    }

    [Fact]
    public void Open_DamagedManifest_ThrowsCorruptedNamingManifest()
    {
        using var temp = new TempDirectory();
        Write(temp.Path, 1);
        var manifest = Path.Combine(temp.Path, TrajectoryStore.ManifestFileName);
        File.WriteAllText(manifest, File.ReadAllText(manifest).Replace("\"Float32\"", "\"Float64\"", StringComparison.Ordinal));

        var error = Assert.Throws<TrajectoryStoreCorruptedException>(() => TrajectoryStore.Open(temp.Path));

        Assert.Equal(manifest, error.FilePath);
        Assert.Contains("manifestSha256", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Open_ExpectedLayoutDiffers_ThrowsArchitectureMismatch()
    {
        using var temp = new TempDirectory();
        Write(temp.Path, 1);
        var other = new ParameterLayout([new ParameterInfo("fc1.weight", [5, 4], ScalarType.Float32)]);

        var error = Assert.Throws<TrajectoryArchitectureMismatchException>(() => TrajectoryStore.Open(temp.Path, expectedLayout: other));

        Assert.Contains("fc1.bias", error.Message, StringComparison.Ordinal);
        Assert.EndsWith(TrajectoryStore.ManifestFileName, error.FilePath, StringComparison.Ordinal);
    }

    [Fact]
    public void Append_OtherArchitecture_ThrowsArchitectureMismatch()
    {
        using var temp = new TempDirectory();
        var store = Write(temp.Path, 1, complete: false);
        using var wrong = new ParameterSet([new("fc1.weight", torch.zeros(4, 5))]);

        var error = Assert.Throws<TrajectoryArchitectureMismatchException>(() => store.Append(wrong));

        Assert.Contains("[5, 4]", error.Message, StringComparison.Ordinal);
        Assert.Equal(1, store.Count);
    }

    [Fact]
    public void Open_NotCompleted_ThrowsIncompleteUnlessAllowed()
    {
        using var temp = new TempDirectory();
        Write(temp.Path, 2, complete: false);

        var error = Assert.Throws<TrajectoryStoreIncompleteException>(() => TrajectoryStore.Open(temp.Path));
        var partial = TrajectoryStore.Open(temp.Path, allowIncomplete: true);

        Assert.Equal(2, error.PointCount);
        Assert.False(partial.IsComplete);
        Assert.Equal(2, partial.Count);
    }

    [Theory]
    [InlineData("point-temp-written")]
    [InlineData("point-renamed")]
    [InlineData("manifest-temp-written")]
    public void Append_InterruptedMidWrite_StoreKeepsOldPointsAndReportsIncomplete(string stage)
    {
        using var temp = new TempDirectory();
        Write(temp.Path, 3);
        var writer = TrajectoryStore.OpenForAppend(temp.Path, flushToDisk: false);
        writer.FaultInjection = s =>
        {
            if (s == stage)
            {
                throw new SimulatedCrashException();
            }
        };
        using var extra = TestSets.Random(3);

        // The "process dies" here: no cleanup runs after the fault; its death releases the writer lock (a real crash,
        // with a killed process, is in Hostile/StoreCrashTests).
        Assert.Throws<SimulatedCrashException>(() => writer.Append(extra));
        writer.Dispose();

        Assert.Throws<TrajectoryStoreIncompleteException>(() => TrajectoryStore.Open(temp.Path));
        var survivor = TrajectoryStore.Open(temp.Path, allowIncomplete: true);
        Assert.Equal(3, survivor.Count);
        survivor.Verify();
        var resumed = TrajectoryStore.OpenForAppend(temp.Path, flushToDisk: false);
        resumed.Append(extra);
        resumed.Complete();
        var done = TrajectoryStore.Open(temp.Path);
        Assert.Equal(4, done.Count);
        using var last = done.GetPoint(3);
        TestSets.AssertBitEqual(extra, last);
        Assert.Empty(Directory.GetFiles(temp.Path, "*.tmp"));
    }

    [Fact]
    public void Complete_InterruptedBeforeManifestRename_StaysIncomplete()
    {
        using var temp = new TempDirectory();
        var store = Write(temp.Path, 2, complete: false);
        store.FaultInjection = s => throw new SimulatedCrashException();

        Assert.Throws<SimulatedCrashException>(store.Complete);

        Assert.Throws<TrajectoryStoreIncompleteException>(() => TrajectoryStore.Open(temp.Path));
    }

    [Fact]
    public void Create_InterruptedBeforeFirstManifest_ReportsIncomplete()
    {
        using var temp = new TempDirectory();
        File.WriteAllText(Path.Combine(temp.Path, TrajectoryStore.ManifestFileName + ".tmp"), "{");

        var error = Assert.Throws<TrajectoryStoreIncompleteException>(() => TrajectoryStore.Open(temp.Path));

        Assert.Equal(0, error.PointCount);
    }

    [Fact]
    public void OpenForAppend_Later_ExtendsStoreAndKeepsOldPoints()
    {
        using var temp = new TempDirectory();
        Write(temp.Path, 2);

        var store = TrajectoryStore.OpenForAppend(temp.Path);
        Assert.False(TrajectoryStore.Open(temp.Path, allowIncomplete: true).IsComplete);
        using (var point = TestSets.Random(2))
        {
            store.Append(point, new TrajectoryPointLabel(0, Step: 20));
        }

        store.Complete();
        var reopened = TrajectoryStore.Open(temp.Path);

        Assert.Equal(3, reopened.Count);
        Assert.Equal(20, reopened.Labels[2].Step);
        for (var i = 0; i < 3; i++)
        {
            using var expected = TestSets.Random(i);
            using var read = reopened.GetPoint(i);
            TestSets.AssertBitEqual(expected, read);
        }

        Assert.Throws<InvalidOperationException>(() => store.Append(TestSets.Random(9)));
    }

    [Fact]
    public void Create_WhereStoreExists_ThrowsIOException()
    {
        using var temp = new TempDirectory();
        Write(temp.Path, 1);
        using var point = TestSets.Random(0);

        Assert.Throws<IOException>(() => TrajectoryStore.Create(temp.Path, point.Layout));
    }

    [Fact]
    public async Task AppendAsyncAndGetPointAsync_RoundTrip_MatchSyncReads()
    {
        using var temp = new TempDirectory();
        using var first = TestSets.Random(0);
        var store = TrajectoryStore.Create(temp.Path, first.Layout, new TrajectoryStoreOptions { FlushToDisk = false });
        using (var point = TestSets.Random(0))
        {
            await store.AppendAsync(point, new TrajectoryPointLabel(0, Step: 1));
        }

        store.Complete();
        using var viaAsync = await store.GetPointAsync(0);
        using var viaSync = store.GetPoint(0);

        TestSets.AssertBitEqual(first, viaAsync);
        TestSets.AssertBitEqual(viaSync, viaAsync);
    }

    [Fact]
    public async Task AppendAsync_Canceled_AddsNoPoint()
    {
        using var temp = new TempDirectory();
        var store = Write(temp.Path, 1, complete: false);
        using var point = TestSets.Random(1);
        using var canceled = new CancellationTokenSource();
        await canceled.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => store.AppendAsync(point, cancellationToken: canceled.Token));

        Assert.Equal(1, store.Count);
        Assert.Empty(Directory.GetFiles(temp.Path, "*.tmp"));
        Assert.Equal(1, TrajectoryStore.Open(temp.Path, allowIncomplete: true).Count);
    }

    [Fact]
    public void PointFiles_AreSafetensors_ReadableByPyBridge()
    {
        using var temp = new TempDirectory();
        Write(temp.Path, 1);

        var tensors = Safetensors.LoadStateDict(Path.Combine(temp.Path, "point-000000.safetensors"));

        using var expected = TestSets.Random(0);
        Assert.Equal(expected.Names, tensors.Keys);
        foreach (var (name, tensor) in expected)
        {
            Assert.True(TestSets.BitEqual(tensor, tensors[name]), name);
            tensors[name].Dispose();
        }
    }

    [Fact]
    public void GetPoint_AllPointsRepeatedly_NativeTensorCountStaysFlat()
    {
        using var temp = new TempDirectory();
        var store = Write(temp.Path, 5, TrajectoryStorePrecision.BFloat16);
        using (store.GetPoint(0))
        {
        }

        var before = TestSets.LiveTensors;
        for (var round = 0; round < 20; round++)
        {
            for (var i = 0; i < store.Count; i++)
            {
                using var point = store.GetPoint(i);
            }
        }

        Assert.Equal(before, TestSets.LiveTensors);
    }

    [Fact]
    public void CreateFrom_LinearTrajectory_StoresEveryPoint()
    {
        using var temp = new TempDirectory();
        using var start = TestSets.Random(1);
        using var end = TestSets.Random(2);
        using var linear = new LinearTrajectory(start, end, 4, TrajectorySchedule.Cosine);
        var reports = new List<int>();

        var store = TrajectoryStore.CreateFrom(linear, temp.Path, progress: new SyncProgress(reports.Add));

        Assert.True(TrajectoryStore.Open(temp.Path).IsComplete);
        Assert.Equal([1, 2, 3, 4, 5], reports);
        using var a = linear.GetPoint(3);
        using var b = store.GetPoint(3);
        TestSets.AssertBitEqual(a, b);
        Assert.Equal(linear.Labels[3].Lambda, store.Labels[3].Lambda);
    }

    private sealed class SimulatedCrashException : Exception;

    private sealed class SyncProgress(Action<int> report) : IProgress<int>
    {
        public void Report(int value) => report(value);
    }
}
