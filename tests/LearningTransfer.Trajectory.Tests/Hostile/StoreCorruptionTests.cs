using TrajectoryTransfer.Trajectories.Tests.Hostile.Support;
using TrajectoryTransfer.Trajectories.Tests.TestSupport;

namespace TrajectoryTransfer.Trajectories.Tests.Hostile;

/// <summary>
/// Each way a point file can be damaged (the cases that held before, kept so that they keep holding) gives the corruption
/// exception naming the file, from <c>Open</c> when the size gives it away and otherwise from every read of that point,
/// while the other points still read.
/// </summary>
public sealed class StoreCorruptionTests
{
    public static TheoryData<string> Damages => new()
    {
        "missing", "truncated by one byte", "truncated to its header", "emptied", "one byte appended", "a data byte flipped",
        "a header byte flipped", "another point's file copied over it", "the header length made huge", "replaced by a directory",
    };

    [Theory]
    [MemberData(nameof(Damages))]
    public void Read_DamagedPointFile_ThrowsCorruptedNamingItAndOtherPointsStillRead(string damage)
    {
        using var temp = new TempDirectory();
        var store = HostileFiles.NewStore(temp);
        var victim = HostileFiles.Point(store, 1);
        Damage(victim, HostileFiles.Point(store, 2), damage);

        var error = Record.Exception(() =>
        {
            var reader = TrajectoryStore.Open(store);
            using (reader.GetPoint(1))
            {
            }
        });
        var verify = Record.Exception(() => TrajectoryStore.Open(store, allowIncomplete: true).Verify());
        var asynchronous = Record.Exception(() => TrajectoryStore.Open(store).GetPointAsync(1).GetAwaiter().GetResult().Dispose());

        foreach (var e in new[] { error, verify, asynchronous })
        {
            var corrupted = Assert.IsType<TrajectoryStoreCorruptedException>(e);
            Assert.Equal(victim, corrupted.FilePath);
        }

        if (File.Exists(victim) && new FileInfo(victim).Length == new FileInfo(HostileFiles.Point(store, 0)).Length)
        {
            using var other = TrajectoryStore.Open(store).GetPoint(0);
            using var expected = TestSets.Random(0);
            TestSets.AssertBitEqual(expected, other);
        }
    }

    [Fact]
    public void Open_ManifestMissingButItsTemporaryPresent_ThrowsIncomplete()
    {
        using var temp = new TempDirectory();
        var store = HostileFiles.NewStore(temp);
        File.Move(HostileFiles.Manifest(store), HostileFiles.Manifest(store) + ".tmp");

        var error = Assert.Throws<TrajectoryStoreIncompleteException>(() => TrajectoryStore.Open(store));

        Assert.Equal(0, error.PointCount);
    }

    [Fact]
    public void Open_FolderWithoutManifest_ThrowsCorruptedNamingManifest()
    {
        using var temp = new TempDirectory();

        var error = Assert.Throws<TrajectoryStoreCorruptedException>(() => TrajectoryStore.Open(temp.Path));

        Assert.Equal(HostileFiles.Manifest(temp.Path), error.FilePath);
    }

    private static void Damage(string victim, string other, string damage)
    {
        var bytes = File.ReadAllBytes(victim);
        switch (damage)
        {
            case "missing":
                File.Delete(victim);
                break;
            case "truncated by one byte":
                File.WriteAllBytes(victim, bytes[..^1]);
                break;
            case "truncated to its header":
                File.WriteAllBytes(victim, bytes[..(8 + (int)BitConverter.ToUInt64(bytes, 0))]);
                break;
            case "emptied":
                File.WriteAllBytes(victim, []);
                break;
            case "one byte appended":
                File.WriteAllBytes(victim, [.. bytes, 0]);
                break;
            case "a data byte flipped":
                bytes[^3] ^= 0x40;
                File.WriteAllBytes(victim, bytes);
                break;
            case "a header byte flipped":
                bytes[20] ^= 0x01;
                File.WriteAllBytes(victim, bytes);
                break;
            case "another point's file copied over it":
                File.Copy(other, victim, overwrite: true);
                break;
            case "the header length made huge":
                BitConverter.TryWriteBytes(bytes.AsSpan(0, 8), ulong.MaxValue / 3);
                File.WriteAllBytes(victim, bytes);
                break;
            case "replaced by a directory":
                File.Delete(victim);
                Directory.CreateDirectory(victim);
                break;
            default:
                throw new ArgumentOutOfRangeException(nameof(damage), damage, null);
        }
    }
}
