using System.Buffers.Binary;
using TrajectoryTransfer.Trajectories.Tests.Hostile.Support;
using TrajectoryTransfer.Trajectories.Tests.TestSupport;

namespace TrajectoryTransfer.Trajectories.Tests.Hostile;

/// <summary>
/// Forged safetensors headers: offsets must tile the data section exactly (from 0, no gap, no overlap, to its end) with
/// byte counts equal to dtype × shape, and no stated length is allocated before it is checked against the file, so nothing
/// is read from the header bytes or from outside the data and every malformed file gives the corruption exception.
/// </summary>
public sealed class SafetensorsImportTests
{
    private static readonly byte[] SixFloats = CraftedCheckpoints.Floats(1, 2, 3, 4, 5, 6);

    public static TheoryData<string, string, int, string> ForgedHeaders => new()
    {
        { "negative begin (reads the header bytes)", """{"a":{"dtype":"F32","shape":[2],"data_offsets":[-8,0]},"b":{"dtype":"F32","shape":[6],"data_offsets":[0,24]}}""", 24, "data_offsets" },
        { "overlapping tensors", """{"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]},"b":{"dtype":"F32","shape":[4],"data_offsets":[8,24]}}""", 24, "overlaps" },
        { "gap between tensors", """{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[16,24]}}""", 24, "gap" },
        { "data beyond the file", """{"a":{"dtype":"F32","shape":[8],"data_offsets":[0,32]}}""", 24, "cover 32 bytes" },
        { "bytes left over after the data", """{"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}""", 24, "cover 16 bytes" },
        { "span differs from dtype times shape", """{"a":{"dtype":"F32","shape":[2,3],"data_offsets":[0,20]}}""", 24, "needs 24" },
        { "end before begin", """{"a":{"dtype":"F32","shape":[0],"data_offsets":[8,0]},"b":{"dtype":"F32","shape":[6],"data_offsets":[0,24]}}""", 24, "data_offsets" },
        { "negative dimension", """{"a":{"dtype":"F32","shape":[-6],"data_offsets":[0,24]}}""", 24, "negative dimension" },
        { "shape product overflows", """{"a":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,24]}}""", 24, "negative dimension, or more elements" },
        { "unknown dtype", """{"a":{"dtype":"F8_E4M3","shape":[24],"data_offsets":[0,24]}}""", 24, "F8_E4M3" },
        { "unsigned dtype torch lacks", """{"a":{"dtype":"U16","shape":[12],"data_offsets":[0,24]}}""", 24, "U16" },
        { "duplicate name", """{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,12]},"a":{"dtype":"F32","shape":[3],"data_offsets":[12,24]}}""", 24, "twice" },
        { "fractional offset", """{"a":{"dtype":"F32","shape":[6],"data_offsets":[0,24.0]}}""", 24, "64-bit integer" },
        { "offset as a string", """{"a":{"dtype":"F32","shape":[6],"data_offsets":["0",24]}}""", 24, "64-bit integer" },
        { "three offsets", """{"a":{"dtype":"F32","shape":[6],"data_offsets":[0,24,48]}}""", 24, "data_offsets" },
        { "entry not an object", """{"a":[1,2,3]}""", 24, "lacks" },
        { "header not an object", """[1,2,3]""", 24, "not a JSON object" },
        { "header not JSON", """{"a":""", 24, "not valid UTF-8 JSON" },
        { "65 dimensions", """{"a":{"dtype":"U8","shape":[""" + string.Join(',', Enumerable.Repeat(1, 65)) + """],"data_offsets":[0,1]}}""", 1, "dimensions" },
    };

    [Theory]
    [MemberData(nameof(ForgedHeaders))]
    public void Load_ForgedHeader_ThrowsCorruptedNamingFileAndFault(string why, string header, int dataBytes, string message)
    {
        using var temp = new TempDirectory();
        var path = temp.Sub("forged.safetensors");
        File.WriteAllBytes(path, CraftedCheckpoints.Safetensors(header, SixFloats[..dataBytes]));

        var error = Assert.Throws<TrajectoryStoreCorruptedException>(() => PyTorchCheckpoints.Load(path));

        Assert.Equal(path, error.FilePath);
        Assert.True(error.Message.Contains(message, StringComparison.Ordinal), $"{why}: {error.Message}");
    }

    [Theory]
    [InlineData(ulong.MaxValue)]
    [InlineData(1UL << 62)]
    [InlineData(100UL << 20)]
    [InlineData(70)]
    public void Load_HeaderLengthBeyondFile_ThrowsCorruptedWithoutAllocatingIt(ulong length)
    {
        using var temp = new TempDirectory();
        var path = temp.Sub("length.safetensors");
        var bytes = CraftedCheckpoints.Safetensors("""{"a":{"dtype":"F32","shape":[6],"data_offsets":[0,24]}}""", SixFloats);
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, length);
        File.WriteAllBytes(path, bytes);

        var error = Assert.Throws<TrajectoryStoreCorruptedException>(() => PyTorchCheckpoints.Load(path));

        Assert.Equal(path, error.FilePath);
    }

    [Fact]
    public void Load_TruncatedAtEveryLength_ThrowsCorruptedNeverEndOfStream()
    {
        using var temp = new TempDirectory();
        var path = temp.Sub("truncated.safetensors");
        var whole = CraftedCheckpoints.Safetensors("""{"a":{"dtype":"F32","shape":[2,3],"data_offsets":[0,24]}}""", SixFloats);
        for (var length = 0; length < whole.Length; length++)
        {
            File.WriteAllBytes(path, whole[..length]);

            var error = Record.Exception(() => PyTorchCheckpoints.Load(path));

            Assert.True(error is TrajectoryStoreCorruptedException, $"length {length}: {error?.GetType().Name ?? "no exception"}");
        }
    }

    [Fact]
    public void Load_BoolWithByteTwo_ThrowsCorrupted()
    {
        using var temp = new TempDirectory();
        var path = temp.Sub("bool.safetensors");
        File.WriteAllBytes(path, CraftedCheckpoints.Safetensors("""{"m":{"dtype":"BOOL","shape":[3],"data_offsets":[0,3]}}""", [0, 1, 2]));

        var error = Assert.Throws<TrajectoryStoreCorruptedException>(() => PyTorchCheckpoints.Load(path));

        Assert.Contains("bools are 0 or 1", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Load_ValidHeaderInUnusualOrder_ReadsEachTensorFromItsOwnOffsets()
    {
        // Header order b, a; data order a, b; plus metadata and a zero-size tensor.
        using var temp = new TempDirectory();
        var path = temp.Sub("order.safetensors");
        File.WriteAllBytes(path, CraftedCheckpoints.Safetensors(
            """{"__metadata__":{"format":"pt"},"b":{"dtype":"F32","shape":[2,2],"data_offsets":[8,24]},"empty":{"dtype":"F64","shape":[0,3],"data_offsets":[8,8]},"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}""",
            SixFloats));

        using var loaded = PyTorchCheckpoints.Load(path);

        Assert.Equal(["b", "empty", "a"], loaded.Names);
        Assert.Equal([1f, 2f], loaded["a"].data<float>().ToArray());
        Assert.Equal([3f, 4f, 5f, 6f], loaded["b"].data<float>().ToArray());
        Assert.Equal([0L, 3L], loaded["empty"].shape);
    }
}
