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
    private const int MaxHeaderBytes = 100 << 20;

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
    /// Reads a point file into CPU tensors of the architecture's types, checking the header against the layout and the
    /// SHA-256 against <paramref name="expectedSha256"/>. Call inside a dispose scope.
    /// </summary>
    public static ParameterSet Read(Stream stream, string filePath, ParameterLayout layout, TrajectoryStorePrecision precision, string expectedSha256)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var entries = ReadHeader(stream, hash, filePath, layout, precision);
        var tensors = new List<KeyValuePair<string, Tensor>>(entries.Count);
        foreach (var (info, storage) in entries)
        {
            var tensor = torch.empty(info.Shape.ToArray(), storage);
            if (tensor.NumberOfElements > 0)
            {
                var bytes = tensor.bytes;
                ReadExactly(stream, bytes, filePath);
                hash.AppendData(bytes);
            }

            tensors.Add(new(info.Name, storage == info.DType ? tensor : tensor.to(info.DType)));
        }

        if (stream.ReadByte() >= 0)
        {
            throw new TrajectoryStoreCorruptedException(filePath, "The point file is longer than its header says");
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
                var end = offset + (info.ElementCount * ElementSize(storage));
                json.WriteStartObject(info.Name);
                json.WriteString("dtype", DTypeCode(storage));
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

    private static List<(ParameterInfo Info, ScalarType Storage)> ReadHeader(
        Stream stream, IncrementalHash hash, string filePath, ParameterLayout layout, TrajectoryStorePrecision precision)
    {
        Span<byte> lengthBytes = stackalloc byte[8];
        ReadExactly(stream, lengthBytes, filePath);
        hash.AppendData(lengthBytes);
        var length = BinaryPrimitives.ReadUInt64LittleEndian(lengthBytes);
        if (length > MaxHeaderBytes)
        {
            throw new TrajectoryStoreCorruptedException(filePath, $"The point file's header length ({length} bytes) is not plausible");
        }

        var header = new byte[(int)length];
        ReadExactly(stream, header, filePath);
        hash.AppendData(header);

        var entries = new List<(ParameterInfo, ScalarType)>(layout.Entries.Count);
        try
        {
            using var document = JsonDocument.Parse(header);
            long expectedOffset = 0;
            var index = 0;
            foreach (var property in document.RootElement.EnumerateObject())
            {
                if (property.Name == "__metadata__")
                {
                    continue;
                }

                var info = index < layout.Entries.Count ? layout.Entries[index] : null;
                var storage = info is null ? default : StorageType(info.DType, precision);
                var shape = property.Value.GetProperty("shape").EnumerateArray().Select(e => e.GetInt64()).ToArray();
                var offsets = property.Value.GetProperty("data_offsets").EnumerateArray().Select(e => e.GetInt64()).ToArray();
                if (info is null || property.Name != info.Name || !shape.SequenceEqual(info.Shape)
                    || property.Value.GetProperty("dtype").GetString() != DTypeCode(storage))
                {
                    throw new TrajectoryStoreCorruptedException(
                        filePath, $"The point file's entry {index} ('{property.Name}') does not match the manifest's architecture");
                }

                if (offsets.Length != 2 || offsets[0] != expectedOffset || offsets[1] - offsets[0] != info.ElementCount * ElementSize(storage))
                {
                    throw new TrajectoryStoreCorruptedException(filePath, $"The point file's data offsets for '{info.Name}' are not the ones expected");
                }

                expectedOffset = offsets[1];
                entries.Add((info, storage));
                index++;
            }

            if (index != layout.Entries.Count)
            {
                throw new TrajectoryStoreCorruptedException(filePath, $"The point file holds {index} tensors; the architecture has {layout.Entries.Count}");
            }
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException or KeyNotFoundException or FormatException)
        {
            throw new TrajectoryStoreCorruptedException(filePath, "The point file's header cannot be read", e);
        }

        return entries;
    }

    private static void Append(Stream stream, IncrementalHash hash, ReadOnlySpan<byte> data)
    {
        stream.Write(data);
        hash.AppendData(data);
    }

    private static void ReadExactly(Stream stream, Span<byte> buffer, string filePath)
    {
        try
        {
            stream.ReadExactly(buffer);
        }
        catch (EndOfStreamException e)
        {
            throw new TrajectoryStoreCorruptedException(filePath, "The point file is truncated", e);
        }
    }

    private static long ElementSize(ScalarType dtype) => dtype switch
    {
        ScalarType.Float64 or ScalarType.Int64 or ScalarType.ComplexFloat32 => 8,
        ScalarType.Float32 or ScalarType.Int32 => 4,
        ScalarType.Float16 or ScalarType.BFloat16 or ScalarType.Int16 => 2,
        ScalarType.Int8 or ScalarType.Byte or ScalarType.Bool => 1,
        ScalarType.ComplexFloat64 => 16,
        _ => throw new NotSupportedException($"Tensors of element type {dtype} cannot be stored."),
    };

    /// <summary>The safetensors code of an element type.</summary>
    public static string DTypeCode(ScalarType dtype) => dtype switch
    {
        ScalarType.Float64 => "F64",
        ScalarType.Float32 => "F32",
        ScalarType.Float16 => "F16",
        ScalarType.BFloat16 => "BF16",
        ScalarType.Int64 => "I64",
        ScalarType.Int32 => "I32",
        ScalarType.Int16 => "I16",
        ScalarType.Int8 => "I8",
        ScalarType.Byte => "U8",
        ScalarType.Bool => "BOOL",
        ScalarType.ComplexFloat32 => "C64",
        ScalarType.ComplexFloat64 => "C128",
        _ => throw new NotSupportedException($"Tensors of element type {dtype} cannot be stored."),
    };
}
