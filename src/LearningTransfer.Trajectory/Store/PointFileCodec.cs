using System.Buffers;
using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text.Json;
using TorchSharp;
using TrajectoryTransfer.Permutations;
using static TorchSharp.torch;

namespace TrajectoryTransfer.Trajectories;

/// <summary>
/// Reads and writes one point of a trajectory store as a safetensors file (an 8-byte little-endian header length, a JSON
/// header, then the raw tensors in header order), so that Python's <c>safetensors</c> can read a store's points too.
/// The SHA-256 of the whole file is computed while it streams, in both directions.
/// </summary>
internal static class PointFileCodec
{
    /// <summary>A point made ready for writing: the header and CPU-contiguous tensors in storage types (owned).</summary>
    internal sealed class PreparedPoint(byte[] header, Tensor[] tensors) : IDisposable
    {
        public byte[] Header { get; } = header;

        public Tensor[] Tensors { get; } = tensors;

        public long Length => Header.Length + Tensors.Sum(t => t.NumberOfElements * t.ElementSize);

        public void Dispose()
        {
            foreach (var tensor in Tensors)
            {
                tensor.Dispose();
            }
        }
    }

    /// <summary>The element type a tensor of <paramref name="dtype"/> is stored as.</summary>
    public static ScalarType StorageType(ScalarType dtype, TrajectoryStorePrecision precision) => precision switch
    {
        TrajectoryStorePrecision.Float16 when dtype is ScalarType.Float32 or ScalarType.Float64 => ScalarType.Float16,
        TrajectoryStorePrecision.BFloat16 when dtype is ScalarType.Float32 or ScalarType.Float64 => ScalarType.BFloat16,
        _ => dtype,
    };

    /// <summary>
    /// Converts <paramref name="point"/> (already checked against <paramref name="layout"/>) to CPU-contiguous tensors in the
    /// storage types and builds the header. The returned tensors belong to no dispose scope.
    /// </summary>
    public static PreparedPoint Prepare(ParameterSet point, ParameterLayout layout, TrajectoryStorePrecision precision)
    {
        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        var tensors = new Tensor[layout.Entries.Count];
        for (var i = 0; i < tensors.Length; i++)
        {
            var info = layout.Entries[i];
            var source = point[info.Name].detach();
            var storage = StorageType(info.DType, precision);
            var converted = storage == info.DType ? source : source.to(storage);
            if (storage == ScalarType.Float16 && source.NumberOfElements > 0)
            {
                // Two reductions on the source are cheap; isinf on the float16 result is not (measured ~3x the conversion).
                // Only when they fire is the exact test run, which lets ±inf through (float16 stores them) but not finite overflow.
                using var max = source.max();
                using var min = source.min();
                if (max.ToDouble() > 65504.0 || min.ToDouble() < -65504.0)
                {
                    using var tooLarge = source.abs().gt(65504.0).logical_and_(source.isfinite()).any();
                    if (tooLarge.item<bool>())
                    {
                        throw new ArgumentException(
                            $"'{info.Name}' holds values beyond ±65504, which float16 cannot store; use BFloat16 or Full precision.", nameof(point));
                    }
                }
            }

            var onCpu = converted.device_type == DeviceType.CPU ? converted : converted.cpu();
            tensors[i] = onCpu.contiguous();
            if ((long)tensors[i].NumberOfElements * tensors[i].ElementSize > int.MaxValue)
            {
                throw new NotSupportedException($"'{info.Name}' is larger than 2 GiB, the largest tensor a store point can hold.");
            }
        }

        foreach (var tensor in tensors)
        {
            tensor.DetachFromDisposeScope();
        }

        return new PreparedPoint(Header(layout, precision), tensors);
    }

    /// <summary>Writes a prepared point to <paramref name="stream"/> and returns its SHA-256 (lowercase hex).</summary>
    public static string Write(PreparedPoint point, Stream stream)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        Span<byte> length = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(length, (ulong)point.Header.Length);
        Append(stream, hash, length);
        Append(stream, hash, point.Header);
        foreach (var tensor in point.Tensors)
        {
            if (tensor.NumberOfElements > 0)
            {
                // Tensor.bytes of a contiguous CPU tensor is a view of its native memory: no managed copy.
                Append(stream, hash, tensor.bytes);
            }
        }

        return Convert.ToHexStringLower(hash.GetHashAndReset());
    }

    /// <summary>Serializes a prepared point into one managed buffer (for asynchronous writes).</summary>
    public static byte[] ToBytes(PreparedPoint point)
    {
        using var memory = new MemoryStream(checked((int)(point.Length + 8)));
        Write(point, memory);
        return memory.GetBuffer().Length == memory.Length ? memory.GetBuffer() : memory.ToArray();
    }

    /// <summary>
    /// Reads a point file of <paramref name="fileLength"/> bytes into CPU tensors of the architecture's types, checking the
    /// header against the layout and the SHA-256 against <paramref name="expectedSha256"/>. Call inside a dispose scope.
    /// </summary>
    /// <exception cref="TrajectoryStoreCorruptedException">The file is truncated, its header differs from the layout, or its checksum from the manifest's.</exception>
    public static ParameterSet Read(Stream stream, long fileLength, string filePath, ParameterLayout layout, TrajectoryStorePrecision precision, string expectedSha256)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var entries = SafetensorsFormat.ReadHeader(stream, fileLength, filePath, hash);
        CheckAgainstLayout(entries, filePath, layout, precision);
        var tensors = new List<KeyValuePair<string, Tensor>>(entries.Count);
        for (var i = 0; i < entries.Count; i++)
        {
            var info = layout.Entries[i];
            var tensor = torch.empty(info.Shape.ToArray(), entries[i].DType);
            if (tensor.NumberOfElements > 0)
            {
                var bytes = tensor.bytes;
                SafetensorsFormat.ReadExactly(stream, bytes, filePath);
                hash.AppendData(bytes);
            }

            tensors.Add(new(info.Name, entries[i].DType == info.DType ? tensor : tensor.to(info.DType)));
        }

        var actual = Convert.ToHexStringLower(hash.GetHashAndReset());
        if (!string.Equals(actual, expectedSha256, StringComparison.OrdinalIgnoreCase))
        {
            throw new TrajectoryStoreCorruptedException(filePath, $"The point file's SHA-256 is {actual}, the manifest says {expectedSha256}");
        }

        return new ParameterSet(tensors);
    }

    /// <summary>Streams a file through SHA-256.</summary>
    public static string HashFile(string path)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, FileOptions.SequentialScan);
        return Convert.ToHexStringLower(SHA256.HashData(stream));
    }

    private static byte[] Header(ParameterLayout layout, TrajectoryStorePrecision precision)
    {
        var buffer = new ArrayBufferWriter<byte>();
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            json.WriteStartObject("__metadata__");
            json.WriteString("format", "pt");
            json.WriteString("producer", "LearningTransfer.Trajectory");
            json.WriteEndObject();
            long offset = 0;
            foreach (var info in layout.Entries)
            {
                var storage = StorageType(info.DType, precision);
                var end = offset + (info.ElementCount * SafetensorsFormat.ElementSize(storage));
                json.WriteStartObject(info.Name);
                json.WriteString("dtype", SafetensorsFormat.DTypeCode(storage));
                json.WriteStartArray("shape");
                foreach (var size in info.Shape)
                {
                    json.WriteNumberValue(size);
                }

                json.WriteEndArray();
                json.WriteStartArray("data_offsets");
                json.WriteNumberValue(offset);
                json.WriteNumberValue(end);
                json.WriteEndArray();
                json.WriteEndObject();
                offset = end;
            }

            json.WriteEndObject();
        }

        // The safetensors format pads the header with spaces so that the tensor data starts 8-byte aligned.
        var padded = (buffer.WrittenCount + 7) / 8 * 8;
        var header = new byte[padded];
        buffer.WrittenSpan.CopyTo(header);
        header.AsSpan(buffer.WrittenCount).Fill((byte)' ');
        return header;
    }

    /// <summary>The header must list the layout's tensors, in its order, in their storage types, with data in that order.</summary>
    private static void CheckAgainstLayout(IReadOnlyList<SafetensorsFormat.Entry> entries, string filePath, ParameterLayout layout, TrajectoryStorePrecision precision)
    {
        if (entries.Count != layout.Entries.Count)
        {
            throw new TrajectoryStoreCorruptedException(filePath, $"The point file holds {entries.Count} tensors; the architecture has {layout.Entries.Count}");
        }

        long expectedOffset = 0;
        for (var i = 0; i < entries.Count; i++)
        {
            var entry = entries[i];
            var info = layout.Entries[i];
            if (entry.Name != info.Name || !entry.Shape.SequenceEqual(info.Shape) || entry.DType != StorageType(info.DType, precision))
            {
                throw new TrajectoryStoreCorruptedException(
                    filePath, $"The point file's entry {i} ('{entry.Name}' {ParameterLayout.FormatShape(entry.Shape)} {entry.DType}) does not match the manifest's architecture ({info})");
            }

            if (entry.Begin != expectedOffset)
            {
                throw new TrajectoryStoreCorruptedException(filePath, $"The point file's data offsets for '{info.Name}' are not the ones expected");
            }

            expectedOffset = entry.End;
        }
    }

    private static void Append(Stream stream, IncrementalHash hash, ReadOnlySpan<byte> data)
    {
        stream.Write(data);
        hash.AppendData(data);
    }
}
