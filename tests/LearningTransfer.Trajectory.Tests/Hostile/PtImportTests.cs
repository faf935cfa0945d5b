using System.Buffers.Binary;
using System.Text;
using TorchSharp;
using TrajectoryTransfer.Permutations;
using TrajectoryTransfer.Trajectories.Tests.Hostile.Support;
using TrajectoryTransfer.Trajectories.Tests.TestSupport;
using static TorchSharp.torch;

namespace TrajectoryTransfer.Trajectories.Tests.Hostile;

/// <summary>
/// A <c>.pt</c> file is read without running its pickle; every tensor view is checked against its storage; nothing a file
/// states is allocated before it is checked; every malformed file gives the corruption exception naming the file; and
/// valid but unusual tensors (non-contiguous, offset, shared storages) load as PyTorch loads them.
/// </summary>
public sealed class PtImportTests
{
    private static readonly string Fixture = Path.Combine(AppContext.BaseDirectory, "Fixtures", "pytorch-trajectory", "step_0.pt");

    // In the fixture's pickle: fc1.weight's size (32, 784) and stride (784, 1), then fc1.bias's offset, size and stride.
    private static readonly byte[] Fc1WeightView = [(byte)'K', 32, (byte)'M', 0x10, 0x03, 0x86, (byte)'q', 9, (byte)'M', 0x10, 0x03, (byte)'K', 1, 0x86];
    private static readonly byte[] Fc1BiasView = [(byte)'K', 0, (byte)'K', 32, 0x85, (byte)'q', 17];

    [Fact]
    public void Load_NonContiguousTransposedTensor_LoadsAsPyTorchDoes()
    {
        // Size (784, 32) with strides (1, 784) over fc1.weight's storage: torch.load gives fc1.weight.T, a non-contiguous view.
        using var temp = new TempDirectory();
        var path = temp.Sub("transposed.pt");
        byte[] transposed = [(byte)'M', 0x10, 0x03, (byte)'K', 32, 0x86, (byte)'q', 9, (byte)'K', 1, (byte)'M', 0x10, 0x03, 0x86];
        File.WriteAllBytes(path, RewritePickle(File.ReadAllBytes(Fixture), p => CraftedCheckpoints.Patch(p, Fc1WeightView, transposed)));

        using var original = PyTorchCheckpoints.Load(Fixture);
        using var loaded = PyTorchCheckpoints.Load(path);

        Assert.Equal([784L, 32L], loaded["fc1.weight"].shape);
        Assert.True(loaded["fc1.weight"].is_contiguous());
        using var expected = original["fc1.weight"].t().contiguous();
        Assert.True(TestSets.BitEqual(expected, loaded["fc1.weight"]));
    }

    [Fact]
    public void Load_ViewWithStorageOffset_LoadsTheSlice()
    {
        using var temp = new TempDirectory();
        var path = temp.Sub("slice.pt");
        byte[] slice = [(byte)'K', 2, (byte)'K', 30, 0x85, (byte)'q', 17];
        File.WriteAllBytes(path, RewritePickle(File.ReadAllBytes(Fixture), p => CraftedCheckpoints.Patch(p, Fc1BiasView, slice)));

        using var original = PyTorchCheckpoints.Load(Fixture);
        using var loaded = PyTorchCheckpoints.Load(path);

        using var expected = original["fc1.bias"].narrow(0, 2, 30).contiguous();
        Assert.True(TestSets.BitEqual(expected, loaded["fc1.bias"]));
    }

    [Fact]
    public void Load_TwoTensorsSharingOneStorage_LoadsIndependentCopies()
    {
        using var temp = new TempDirectory();
        var path = temp.Sub("tied.pt");
        var pickle = CraftedCheckpoints.StateDictPickle(
        [
            new("embed.weight", "0", "FloatStorage", 6, 0, [2, 3], [3, 1]),
            new("head.weight", "0", "FloatStorage", 6, 0, [3, 2], [1, 3]),
        ]);
        File.WriteAllBytes(path, CraftedCheckpoints.Archive(pickle, new Dictionary<string, byte[]> { ["0"] = CraftedCheckpoints.Floats(1, 2, 3, 4, 5, 6) }));

        using var loaded = PyTorchCheckpoints.Load(path);
        loaded["embed.weight"].add_(100);

        Assert.Equal([101f, 102f, 103f, 104f, 105f, 106f], loaded["embed.weight"].data<float>().ToArray());
        Assert.Equal([1f, 4f, 2f, 5f, 3f, 6f], loaded["head.weight"].data<float>().ToArray());
    }

    public static TheoryData<string, long, long[], long[], string> BadViews => new()
    {
        { "beyond the storage", 0, [4, 2], [2, 1], "reaches element" },
        { "offset beyond the storage", 5, [2], [1], "reaches element" },
        { "negative offset", -1, [2], [1], "not a valid view" },
        { "negative stride", 0, [2, 2], [-2, 1], "not a valid view" },
        { "negative size", 0, [-2], [1], "not a valid view" },
        { "stride count differs", 0, [2, 3], [3], "not a valid view" },
        { "expanded: repeats elements", 0, [1000], [0], "repeats elements" },
        { "size overflows long", 0, [4294967296, 4294967296], [0, 0], "not a valid view" },
    };

    [Theory]
    [MemberData(nameof(BadViews))]
    public void Load_ViewInconsistentWithStorage_ThrowsCorruptedBeforeTouchingMemory(string why, long offset, long[] shape, long[] stride, string message)
    {
        using var temp = new TempDirectory();
        var path = temp.Sub("view.pt");
        var pickle = CraftedCheckpoints.StateDictPickle([new("w", "0", "FloatStorage", 6, offset, shape, stride)]);
        File.WriteAllBytes(path, CraftedCheckpoints.Archive(pickle, new Dictionary<string, byte[]> { ["0"] = CraftedCheckpoints.Floats(1, 2, 3, 4, 5, 6) }));

        var error = Assert.Throws<TrajectoryStoreCorruptedException>(() => PyTorchCheckpoints.Load(path));

        Assert.Equal(path, error.FilePath);
        Assert.True(error.Message.Contains(message, StringComparison.Ordinal), $"{why}: {error.Message}");
    }

    [Theory]
    [InlineData(1L << 40, "storages up to 2 GiB")]
    [InlineData(-5, "unexpected key")]
    [InlineData(7, "need 28")]
    public void Load_StorageSizeForged_ThrowsCorruptedWithoutAllocating(long elements, string message)
    {
        using var temp = new TempDirectory();
        var path = temp.Sub("storage.pt");
        var pickle = CraftedCheckpoints.StateDictPickle([new("w", "0", "FloatStorage", elements, 0, [2], [1])]);
        File.WriteAllBytes(path, CraftedCheckpoints.Archive(pickle, new Dictionary<string, byte[]> { ["0"] = CraftedCheckpoints.Floats(1, 2, 3, 4, 5, 6) }));

        var error = Assert.Throws<TrajectoryStoreCorruptedException>(() => PyTorchCheckpoints.Load(path));

        Assert.Contains(message, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Load_StorageEntryMissing_ThrowsCorruptedNamingEntry()
    {
        using var temp = new TempDirectory();
        var path = temp.Sub("missing.pt");
        File.WriteAllBytes(path, CraftedCheckpoints.Rewrite(File.ReadAllBytes(Fixture), (name, data) => name.EndsWith("/data/2", StringComparison.Ordinal) ? null : data));

        var error = Assert.Throws<TrajectoryStoreCorruptedException>(() => PyTorchCheckpoints.Load(path));

        Assert.Contains("step_0/data/2", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Load_StorageByteFlipped_ThrowsCorruptedCrc()
    {
        // The zip's CRC-32 is the only checksum a .pt file has; .NET does not check it for stored entries, the reader does.
        using var temp = new TempDirectory();
        var path = temp.Sub("flipped.pt");
        var bytes = File.ReadAllBytes(Fixture);
        bytes[bytes.Length / 2] ^= 0x10;
        File.WriteAllBytes(path, bytes);

        var error = Assert.Throws<TrajectoryStoreCorruptedException>(() => PyTorchCheckpoints.Load(path));

        Assert.Contains("CRC-32", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Load_CentralDirectoryClaimsHugeEntry_ThrowsCorruptedWithoutAllocating()
    {
        // Set data/0's uncompressed size in the central directory to 2 GiB − 1 (a crafted length field).
        using var temp = new TempDirectory();
        var path = temp.Sub("claims.pt");
        var bytes = File.ReadAllBytes(Fixture);
        var name = Encoding.ASCII.GetBytes("step_0/data/0");
        var header = LastCentralHeaderFor(bytes, name);
        BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(header + 24), int.MaxValue);
        File.WriteAllBytes(path, bytes);

        var error = Assert.Throws<TrajectoryStoreCorruptedException>(() => PyTorchCheckpoints.Load(path));

        Assert.Equal(path, error.FilePath);
    }

    [Theory]
    [InlineData(10)]
    [InlineData(100)]
    [InlineData(1000)]
    [InlineData(50_000)]
    [InlineData(103_000)]
    public void Load_TruncatedArchive_ThrowsCorruptedNotEndOfStream(int length)
    {
        using var temp = new TempDirectory();
        var path = temp.Sub("truncated.pt");
        File.WriteAllBytes(path, File.ReadAllBytes(Fixture)[..length]);

        var error = Assert.Throws<TrajectoryStoreCorruptedException>(() => PyTorchCheckpoints.Load(path));

        Assert.Equal(path, error.FilePath);
    }

    [Fact]
    public void Load_LegacyTorchSaveFormat_ThrowsCorruptedSayingSo()
    {
        using var temp = new TempDirectory();
        var path = temp.Sub("legacy.pt");
        File.WriteAllBytes(path, [0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19, 0x2e]);

        var error = Assert.Throws<TrajectoryStoreCorruptedException>(() => PyTorchCheckpoints.Load(path));

        Assert.Contains("legacy", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Load_BigEndianByteOrder_ThrowsCorrupted()
    {
        using var temp = new TempDirectory();
        var path = temp.Sub("big.pt");
        var pickle = CraftedCheckpoints.StateDictPickle([new("w", "0", "FloatStorage", 2, 0, [2], [1])]);
        File.WriteAllBytes(path, CraftedCheckpoints.Archive(pickle, new Dictionary<string, byte[]> { ["0"] = CraftedCheckpoints.Floats(1, 2) }, byteOrder: "big"));

        var error = Assert.Throws<TrajectoryStoreCorruptedException>(() => PyTorchCheckpoints.Load(path));

        Assert.Contains("big-endian", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Load_BoolStorageWithByteTwo_ThrowsCorrupted()
    {
        using var temp = new TempDirectory();
        var path = temp.Sub("bool.pt");
        var pickle = CraftedCheckpoints.StateDictPickle([new("mask", "0", "BoolStorage", 3, 0, [3], [1])]);
        File.WriteAllBytes(path, CraftedCheckpoints.Archive(pickle, new Dictionary<string, byte[]> { ["0"] = [1, 2, 0] }));

        var error = Assert.Throws<TrajectoryStoreCorruptedException>(() => PyTorchCheckpoints.Load(path));

        Assert.Contains("bools are 0 or 1", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Load_IntegerTensorWhereLayoutHasFloat_ThrowsArchitectureMismatch()
    {
        using var temp = new TempDirectory();
        var path = temp.Sub("int.pt");
        var pickle = CraftedCheckpoints.StateDictPickle([new("w", "0", "IntStorage", 2, 0, [2], [1])]);
        File.WriteAllBytes(path, CraftedCheckpoints.Archive(pickle, new Dictionary<string, byte[]> { ["0"] = new byte[8] }));
        var layout = new ParameterLayout([new ParameterInfo("w", [2], ScalarType.Float32)]);

        var error = Assert.Throws<TrajectoryArchitectureMismatchException>(() => PyTorchCheckpoints.Load(path, layout));

        Assert.Equal(path, error.FilePath);
        Assert.Contains("Int32", error.Message, StringComparison.Ordinal);
    }

    [LinuxFact]
    public void Open_CheckpointFolderHoldingAFifo_ThrowsWithoutBlocking()
    {
        using var temp = new TempDirectory();
        HostileFiles.MakeFifo(temp.Sub("step_0.pt"));

        var error = HostileFiles.ThrowsWithinHangGuard<TrajectoryStoreCorruptedException>(() => PyTorchCheckpoints.Open(temp.Path));

        Assert.Contains("FIFO", error.Message, StringComparison.Ordinal);
    }

    /// <summary>The fixture with its data.pkl edited (other entries kept).</summary>
    private static byte[] RewritePickle(byte[] archive, Func<byte[], byte[]> edit) =>
        CraftedCheckpoints.Rewrite(archive, (name, data) => name.EndsWith("data.pkl", StringComparison.Ordinal) ? edit(data) : data);

    /// <summary>The offset of the central directory header (signature PK\1\2) of the entry named <paramref name="name"/>.</summary>
    private static int LastCentralHeaderFor(byte[] zip, byte[] name)
    {
        for (var at = zip.Length - 46; at >= 0; at--)
        {
            if (BinaryPrimitives.ReadUInt32LittleEndian(zip.AsSpan(at)) == 0x02014b50
                && BinaryPrimitives.ReadUInt16LittleEndian(zip.AsSpan(at + 28)) == name.Length
                && zip.AsSpan(at + 46, name.Length).SequenceEqual(name))
            {
                return at;
            }
        }

        throw new InvalidOperationException("No central directory header for that entry.");
    }
}
