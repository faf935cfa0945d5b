using TrajectoryTransfer.Trajectories.Tests.Hostile.Support;
using TrajectoryTransfer.Trajectories.Tests.TestSupport;

namespace TrajectoryTransfer.Trajectories.Tests.Hostile;

/// <summary>A store reads only regular files inside its folder: links out, FIFOs, devices and folders are refused, never opened.</summary>
public sealed class StorePathTests
{
    [Fact]
    public void Open_PointSymlinkedOutsideWithLinkLengthInManifest_ThrowsCorruptedAndReadsNothing()
    {
        // The reported attack: a point file replaced by a link to a file elsewhere, the manifest's byte count set to the
        // link's own length, so that a size check on the link passes.
        using var temp = new TempDirectory();
        var store = HostileFiles.NewStore(temp);
        var outside = temp.Sub("outside.safetensors");
        File.Copy(HostileFiles.Point(store, 2), outside);
        var victim = HostileFiles.Point(store, 1);
        File.Delete(victim);
        File.CreateSymbolicLink(victim, outside);
        var linkLength = new FileInfo(victim).Length;
        HostileFiles.Forge(store, m => m["points"]![1]!["bytes"] = linkLength);

        var error = Assert.Throws<TrajectoryStoreCorruptedException>(() => TrajectoryStore.Open(store));

        // A link's length is no point's size: the byte count is refused first, and the link is never followed.
        Assert.Equal(HostileFiles.Manifest(store), error.FilePath);
        Assert.Contains("'points[1].bytes'", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Open_PointSymlinkedOutsideWithTargetOfRightSize_ThrowsCorruptedAndReadsNothing()
    {
        using var temp = new TempDirectory();
        var store = HostileFiles.NewStore(temp);
        var outside = temp.Sub("outside.safetensors");
        File.Copy(HostileFiles.Point(store, 2), outside);
        var victim = HostileFiles.Point(store, 1);
        File.Delete(victim);
        File.CreateSymbolicLink(victim, outside);

        var error = Assert.Throws<TrajectoryStoreCorruptedException>(() => TrajectoryStore.Open(store));

        Assert.Equal(victim, error.FilePath);
        Assert.Contains("outside the store's folder", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void GetPoint_PointSymlinkedOutsideAfterOpen_ThrowsCorruptedAndReadsNothing()
    {
        using var temp = new TempDirectory();
        var store = HostileFiles.NewStore(temp);
        var reader = TrajectoryStore.Open(store);
        var outside = temp.Sub("outside.safetensors");
        File.Copy(HostileFiles.Point(store, 1), outside);
        File.Delete(HostileFiles.Point(store, 1));
        File.CreateSymbolicLink(HostileFiles.Point(store, 1), outside);

        var error = Assert.Throws<TrajectoryStoreCorruptedException>(() => reader.GetPoint(1));
        var verify = Assert.Throws<TrajectoryStoreCorruptedException>(() => reader.Verify());

        Assert.Contains("outside the store's folder", error.Message, StringComparison.Ordinal);
        Assert.Equal(HostileFiles.Point(store, 1), verify.FilePath);
    }

    [Fact]
    public void Open_PointSymlinkedInsideFolder_ReadsTargetWithItsSize()
    {
        using var temp = new TempDirectory();
        var store = HostileFiles.NewStore(temp);
        Directory.CreateDirectory(Path.Combine(store, "blobs"));
        File.Move(HostileFiles.Point(store, 1), Path.Combine(store, "blobs", "one.safetensors"));
        File.CreateSymbolicLink(HostileFiles.Point(store, 1), Path.Combine("blobs", "one.safetensors"));

        var reader = TrajectoryStore.Open(store);
        using var point = reader.GetPoint(1);
        reader.Verify();

        using var expected = TestSets.Random(1);
        TestSets.AssertBitEqual(expected, point);
    }

    [Fact]
    public void Open_StoreFolderReachedThroughSymlinkWithInsideLinks_ReadsNormally()
    {
        using var temp = new TempDirectory();
        var store = HostileFiles.NewStore(temp);
        File.Move(HostileFiles.Point(store, 0), Path.Combine(store, "zero.bin"));
        File.CreateSymbolicLink(HostileFiles.Point(store, 0), Path.Combine(store, "zero.bin"));
        var alias = temp.Sub("alias");
        Directory.CreateSymbolicLink(alias, store);

        var reader = TrajectoryStore.Open(alias);
        using var point = reader.GetPoint(0);

        using var expected = TestSets.Random(0);
        TestSets.AssertBitEqual(expected, point);
    }

    [Fact]
    public void Open_PointSymlinkLeavingThroughDotDotOfLinkedFolder_ThrowsCorrupted()
    {
        // "sub/../x" looks inside when read as text, but sub is a link elsewhere, so the OS resolves it outside.
        using var temp = new TempDirectory();
        var store = HostileFiles.NewStore(temp);
        Directory.CreateDirectory(temp.Sub("elsewhere/deep"));
        File.Copy(HostileFiles.Point(store, 1), temp.Sub("elsewhere/p.safetensors"));
        Directory.CreateSymbolicLink(Path.Combine(store, "sub"), temp.Sub("elsewhere/deep"));
        File.Delete(HostileFiles.Point(store, 1));
        File.CreateSymbolicLink(HostileFiles.Point(store, 1), "sub/../p.safetensors");

        var error = Assert.Throws<TrajectoryStoreCorruptedException>(() => TrajectoryStore.Open(store));

        Assert.Contains("outside the store's folder", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Open_PointSymlinkLoop_ThrowsCorrupted()
    {
        using var temp = new TempDirectory();
        var store = HostileFiles.NewStore(temp);
        File.Delete(HostileFiles.Point(store, 0));
        File.CreateSymbolicLink(HostileFiles.Point(store, 0), "loop-a");
        File.CreateSymbolicLink(Path.Combine(store, "loop-a"), "loop-b");
        File.CreateSymbolicLink(Path.Combine(store, "loop-b"), "loop-a");

        var error = HostileFiles.ThrowsWithinHangGuard<TrajectoryStoreCorruptedException>(() => TrajectoryStore.Open(store));

        Assert.Equal(HostileFiles.Point(store, 0), error.FilePath);
    }

    [LinuxFact]
    public void Open_PointSymlinkToFifoInsideFolder_ThrowsWithoutBlocking()
    {
        using var temp = new TempDirectory();
        var store = HostileFiles.NewStore(temp);
        HostileFiles.MakeFifo(Path.Combine(store, "pipe"));
        File.Delete(HostileFiles.Point(store, 2));
        File.CreateSymbolicLink(HostileFiles.Point(store, 2), "pipe");

        var error = HostileFiles.ThrowsWithinHangGuard<TrajectoryStoreCorruptedException>(() => TrajectoryStore.Open(store));

        Assert.Contains("FIFO", error.Message, StringComparison.Ordinal);
    }

    [LinuxFact]
    public void Open_PointSymlinkToFifoOutsideWithZeroBytes_ThrowsWithoutBlocking()
    {
        using var temp = new TempDirectory();
        var store = HostileFiles.NewStore(temp);
        HostileFiles.MakeFifo(temp.Sub("pipe"));
        File.Delete(HostileFiles.Point(store, 2));
        File.CreateSymbolicLink(HostileFiles.Point(store, 2), temp.Sub("pipe"));

        var error = HostileFiles.ThrowsWithinHangGuard<TrajectoryStoreCorruptedException>(() => TrajectoryStore.Open(store));

        Assert.Contains("outside the store's folder", error.Message, StringComparison.Ordinal);
    }

    [LinuxFact]
    public void GetPoint_PointReplacedByFifoAfterOpen_ThrowsWithoutBlocking()
    {
        using var temp = new TempDirectory();
        var store = HostileFiles.NewStore(temp);
        var reader = TrajectoryStore.Open(store);
        File.Delete(HostileFiles.Point(store, 0));
        HostileFiles.MakeFifo(HostileFiles.Point(store, 0));

        var error = HostileFiles.ThrowsWithinHangGuard<TrajectoryStoreCorruptedException>(() => reader.GetPoint(0));
        var asynchronous = HostileFiles.ThrowsWithinHangGuard<TrajectoryStoreCorruptedException>(() => reader.GetPointAsync(0).GetAwaiter().GetResult());

        Assert.Contains("FIFO", error.Message, StringComparison.Ordinal);
        Assert.Contains("FIFO", asynchronous.Message, StringComparison.Ordinal);
    }

    [LinuxFact]
    public void Open_PointSymlinkToDevZero_ThrowsWithoutReading()
    {
        // /dev/zero would give zeros for ever; the link leaves the folder (and a character device is refused by type too).
        using var temp = new TempDirectory();
        var store = HostileFiles.NewStore(temp);
        File.Delete(HostileFiles.Point(store, 1));
        File.CreateSymbolicLink(HostileFiles.Point(store, 1), "/dev/zero");

        var error = HostileFiles.ThrowsWithinHangGuard<TrajectoryStoreCorruptedException>(() => TrajectoryStore.Open(store));

        Assert.Equal(HostileFiles.Point(store, 1), error.FilePath);
    }

    [Fact]
    public void Open_PointFileIsADirectory_ThrowsCorrupted()
    {
        using var temp = new TempDirectory();
        var store = HostileFiles.NewStore(temp);
        File.Delete(HostileFiles.Point(store, 1));
        Directory.CreateDirectory(HostileFiles.Point(store, 1));

        var error = Assert.Throws<TrajectoryStoreCorruptedException>(() => TrajectoryStore.Open(store));

        Assert.Contains("directory", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("../point-000000.safetensors")]
    [InlineData("/etc/passwd")]
    [InlineData("sub/../../x.safetensors")]
    [InlineData("..")]
    [InlineData(".")]
    [InlineData("")]
    [InlineData("NUL")]
    [InlineData("con.safetensors")]
    [InlineData("manifest.json")]
    [InlineData("writer.lock")]
    [InlineData("point-000001.safetensors.tmp")]
    [InlineData("a\\..\\b")]
    public void Open_ManifestNamesAPathNotAPlainFileOfTheFolder_ThrowsCorruptedNamingField(string file)
    {
        using var temp = new TempDirectory();
        var store = HostileFiles.NewStore(temp);
        HostileFiles.Forge(store, m => m["points"]![1]!["file"] = file);

        var error = Assert.Throws<TrajectoryStoreCorruptedException>(() => TrajectoryStore.Open(store));

        Assert.Equal(HostileFiles.Manifest(store), error.FilePath);
        Assert.Contains("'points[1].file'", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Open_ManifestSymlinkedOutsideFolder_ThrowsCorrupted()
    {
        using var temp = new TempDirectory();
        var store = HostileFiles.NewStore(temp);
        File.Move(HostileFiles.Manifest(store), temp.Sub("elsewhere.json"));
        File.CreateSymbolicLink(HostileFiles.Manifest(store), temp.Sub("elsewhere.json"));

        var error = Assert.Throws<TrajectoryStoreCorruptedException>(() => TrajectoryStore.Open(store));

        Assert.Equal(HostileFiles.Manifest(store), error.FilePath);
        Assert.Contains("outside the store's folder", error.Message, StringComparison.Ordinal);
    }

    [LinuxFact]
    public void Open_ManifestIsAFifo_ThrowsWithoutBlocking()
    {
        using var temp = new TempDirectory();
        var store = HostileFiles.NewStore(temp);
        File.Delete(HostileFiles.Manifest(store));
        HostileFiles.MakeFifo(HostileFiles.Manifest(store));

        var error = HostileFiles.ThrowsWithinHangGuard<TrajectoryStoreCorruptedException>(() => TrajectoryStore.Open(store));

        Assert.Contains("FIFO", error.Message, StringComparison.Ordinal);
    }
}
