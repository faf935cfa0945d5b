using System.Buffers.Binary;
using System.Globalization;
using System.Security.Cryptography;
using System.Text.Json;
using TorchSharp;
using TrajectoryTransfer.Permutations;

namespace TrajectoryTransfer.Trajectories;

/// <summary>
/// The safetensors format (an 8-byte little-endian header length, a JSON header naming each tensor's dtype, shape and
/// data offsets, then the data section), read with every check the reference implementation makes: the header length
/// inside the file, known dtypes, non-negative shapes whose byte counts do not overflow and equal the offsets' span, and
/// offsets that tile the data section exactly (from 0, no gap, no overlap, to its end). Nothing is allocated from a size
/// the file states before that size is checked against the file's length.
/// </summary>
internal static class SafetensorsFormat
{
    /// <summary>The largest header accepted (the reference implementation's limit is 100 MB too).</summary>
    public const int MaxHeaderBytes = 100 << 20;

    /// <summary>The most dimensions a tensor may have.</summary>
    public const int MaxDimensions = 64;

    /// <summary>The largest tensor in bytes (one span).</summary>
    public const long MaxTensorBytes = int.MaxValue;

    /// <summary>One tensor of a header.</summary>
    /// <param name="Name">Its name.</param>
    /// <param name="DType">Its element type.</param>
    /// <param name="Shape">Its shape.</param>
    /// <param name="Begin">Its first byte in the data section.</param>
    /// <param name="End">One past its last byte in the data section.</param>
    public sealed record Entry(string Name, torch.ScalarType DType, long[] Shape, long Begin, long End)
    {
        /// <summary>The tensor's size in bytes.</summary>
        public long ByteCount => End - Begin;
    }

    /// <summary>The safetensors code of an element type.</summary>
    /// <exception cref="NotSupportedException">The type has no safetensors code here.</exception>
    public static string DTypeCode(torch.ScalarType dtype) => dtype switch
    {
        torch.ScalarType.Float64 => "F64",
        torch.ScalarType.Float32 => "F32",
        torch.ScalarType.Float16 => "F16",
        torch.ScalarType.BFloat16 => "BF16",
        torch.ScalarType.Int64 => "I64",
        torch.ScalarType.Int32 => "I32",
        torch.ScalarType.Int16 => "I16",
        torch.ScalarType.Int8 => "I8",
        torch.ScalarType.Byte => "U8",
        torch.ScalarType.Bool => "BOOL",
        torch.ScalarType.ComplexFloat32 => "C64",
        torch.ScalarType.ComplexFloat64 => "C128",
        _ => throw new NotSupportedException($"Tensors of element type {dtype} cannot be stored."),
    };

    /// <summary>Whether <paramref name="dtype"/> has a safetensors code here.</summary>
    public static bool IsSupported(torch.ScalarType dtype) => TryElementSize(dtype, out _);

    /// <summary>The size of one element of <paramref name="dtype"/> in bytes.</summary>
    /// <exception cref="NotSupportedException">The type has no safetensors code here.</exception>
    public static long ElementSize(torch.ScalarType dtype) => TryElementSize(dtype, out var size)
        ? size
        : throw new NotSupportedException($"Tensors of element type {dtype} cannot be stored.");

    /// <summary>The element count of a shape and its size in bytes, or false when a dimension is negative or the product overflows <see cref="long"/>.</summary>
    public static bool TryByteCount(IReadOnlyList<long> shape, torch.ScalarType dtype, out long elements, out long bytes)
    {
        elements = 1;
        bytes = 0;
        if (!TryElementSize(dtype, out var size) || shape.Count > MaxDimensions)
        {
            return false;
        }

        foreach (var dimension in shape)
        {
            if (dimension < 0)
            {
                return false;
            }

            // Multiply as Int128: any product of in-range factors that fits long fits here without overflow.
            var product = (Int128)elements * dimension;
            if (product > long.MaxValue)
            {
                return false;
            }

            elements = (long)product;
        }

        var total = (Int128)elements * size;
        if (total > long.MaxValue)
        {
            return false;
        }

        bytes = (long)total;
        return true;
    }

    /// <summary>
    /// Reads and checks the header of the safetensors file in <paramref name="stream"/> (positioned at its start, holding
    /// <paramref name="fileLength"/> bytes), appending what it reads to <paramref name="hash"/> when given. Returns the
    /// tensors in header order and leaves the stream at the start of the data section.
    /// </summary>
    /// <exception cref="TrajectoryStoreCorruptedException">The header is truncated, implausible or inconsistent; the message names the file and what is wrong.</exception>
    public static IReadOnlyList<Entry> ReadHeader(Stream stream, long fileLength, string filePath, IncrementalHash? hash = null)
    {
        if (fileLength < 8)
        {
            throw new TrajectoryStoreCorruptedException(filePath, $"The safetensors file has {fileLength} bytes, fewer than its 8-byte header length");
        }

        Span<byte> lengthBytes = stackalloc byte[8];
        ReadExactly(stream, lengthBytes, filePath);
        hash?.AppendData(lengthBytes);
        var length = BinaryPrimitives.ReadUInt64LittleEndian(lengthBytes);
        if (length > MaxHeaderBytes || length > (ulong)(fileLength - 8))
        {
            throw new TrajectoryStoreCorruptedException(
                filePath, $"The safetensors header length is {length} bytes; the file has {fileLength - 8} after it (and at most {MaxHeaderBytes} are accepted)");
        }

        var header = new byte[(int)length];
        ReadExactly(stream, header, filePath);
        hash?.AppendData(header);
        var dataLength = fileLength - 8 - (long)length;
        var entries = Parse(header, filePath);
        CheckTiling(entries, dataLength, filePath);
        return entries;
    }

    /// <summary>
    /// Reads a whole safetensors file into new CPU tensors, in header order (inside the caller's dispose scope).
    /// </summary>
    /// <exception cref="TrajectoryStoreCorruptedException">The file is malformed, truncated, or a bool tensor holds a byte other than 0 or 1.</exception>
    public static List<KeyValuePair<string, torch.Tensor>> ReadTensors(Stream stream, long fileLength, string filePath)
    {
        var entries = ReadHeader(stream, fileLength, filePath);
        var byName = new Dictionary<string, torch.Tensor>(entries.Count, StringComparer.Ordinal);
        foreach (var entry in entries.OrderBy(e => e.Begin).ThenBy(e => e.End))
        {
            var tensor = torch.empty(entry.Shape, entry.DType);
            if (entry.ByteCount > 0)
            {
                var bytes = tensor.bytes;
                ReadExactly(stream, bytes, filePath);
                CheckBools(entry.DType, bytes, entry.Name, filePath);
            }

            byName.Add(entry.Name, tensor);
        }

        return [.. entries.Select(e => KeyValuePair.Create(e.Name, byName[e.Name]))];
    }

    /// <summary>A bool tensor's bytes must be 0 or 1 (libtorch's kernels assume it).</summary>
    /// <exception cref="TrajectoryStoreCorruptedException">A byte is neither.</exception>
    public static void CheckBools(torch.ScalarType dtype, ReadOnlySpan<byte> bytes, string name, string filePath)
    {
        if (dtype == torch.ScalarType.Bool && bytes.IndexOfAnyExcept((byte)0, (byte)1) is var at and >= 0)
        {
            throw Corrupted(filePath, $"The bool tensor '{name}' holds the byte {bytes[at]} at {at}; bools are 0 or 1");
        }
    }

    /// <summary>Fills <paramref name="buffer"/> from the stream, or throws the corruption exception for a truncated file.</summary>
    /// <exception cref="TrajectoryStoreCorruptedException">The stream ended early.</exception>
    public static void ReadExactly(Stream stream, Span<byte> buffer, string filePath)
    {
        try
        {
            stream.ReadExactly(buffer);
        }
        catch (EndOfStreamException e)
        {
            throw new TrajectoryStoreCorruptedException(filePath, "The file is truncated", e);
        }
    }

    private static List<Entry> Parse(byte[] header, string filePath)
    {
        var entries = new List<Entry>();
        try
        {
            using var document = JsonDocument.Parse(header, new JsonDocumentOptions { MaxDepth = 16 });
            if (document.RootElement.ValueKind != JsonValueKind.Object)
            {
                throw Corrupted(filePath, "The safetensors header is not a JSON object");
            }

            var names = new HashSet<string>(StringComparer.Ordinal);
            foreach (var property in document.RootElement.EnumerateObject())
            {
                if (!names.Add(property.Name))
                {
                    throw Corrupted(filePath, $"The safetensors header names '{property.Name}' twice");
                }

                if (property.Name == "__metadata__")
                {
                    continue;
                }

                entries.Add(ParseEntry(property, filePath));
            }
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException)
        {
            // JsonDocument validates UTF-8 inside strings only when one is read (InvalidOperationException then).
            throw new TrajectoryStoreCorruptedException(filePath, "The safetensors header is not valid UTF-8 JSON", e);
        }

        return entries;
    }

    private static Entry ParseEntry(JsonProperty property, string filePath)
    {
        var name = property.Name;
        var value = property.Value;
        if (value.ValueKind != JsonValueKind.Object
            || !value.TryGetProperty("dtype", out var dtypeElement) || dtypeElement.ValueKind != JsonValueKind.String
            || !value.TryGetProperty("shape", out var shapeElement) || shapeElement.ValueKind != JsonValueKind.Array
            || !value.TryGetProperty("data_offsets", out var offsetsElement) || offsetsElement.ValueKind != JsonValueKind.Array)
        {
            throw Corrupted(filePath, $"The safetensors entry '{name}' lacks a dtype string, a shape array or a data_offsets array");
        }

        var code = dtypeElement.GetString()!;
        if (!TryParseDTypeCode(code, out var dtype))
        {
            throw Corrupted(filePath, $"The safetensors entry '{name}' has dtype '{code}', which is not one of F64, F32, F16, BF16, I64, I32, I16, I8, U8, BOOL, C64, C128");
        }

        if (shapeElement.GetArrayLength() > MaxDimensions)
        {
            throw Corrupted(filePath, $"The safetensors entry '{name}' has {shapeElement.GetArrayLength()} dimensions; at most {MaxDimensions} are accepted");
        }

        var shape = shapeElement.EnumerateArray().Select(e => Integer(e, name, "shape", filePath)).ToArray();
        var offsets = offsetsElement.EnumerateArray().Select(e => Integer(e, name, "data_offsets", filePath)).ToArray();
        if (!TryByteCount(shape, dtype, out _, out var bytes))
        {
            throw Corrupted(filePath, $"The safetensors entry '{name}' has shape {ParameterLayout.FormatShape(shape)}: a negative dimension, or more elements than can be addressed");
        }

        if (offsets.Length != 2 || offsets[0] < 0 || offsets[1] < offsets[0])
        {
            throw Corrupted(filePath, $"The safetensors entry '{name}' has data_offsets {ParameterLayout.FormatShape(offsets)}; expected [begin, end] with 0 ≤ begin ≤ end");
        }

        if (offsets[1] - offsets[0] != bytes)
        {
            throw Corrupted(
                filePath,
                string.Create(CultureInfo.InvariantCulture, $"The safetensors entry '{name}' spans {offsets[1] - offsets[0]} bytes; {code} × {ParameterLayout.FormatShape(shape)} needs {bytes}"));
        }

        if (bytes > MaxTensorBytes)
        {
            throw Corrupted(filePath, $"The safetensors entry '{name}' has {bytes} bytes; tensors up to 2 GiB are read");
        }

        return new Entry(name, dtype, shape, offsets[0], offsets[1]);
    }

    private static void CheckTiling(List<Entry> entries, long dataLength, string filePath)
    {
        long next = 0;
        foreach (var entry in entries.OrderBy(e => e.Begin).ThenBy(e => e.End))
        {
            if (entry.Begin != next)
            {
                throw Corrupted(
                    filePath,
                    entry.Begin < next
                        ? $"The safetensors entry '{entry.Name}' overlaps the data of another (it begins at byte {entry.Begin}, before {next})"
                        : $"The safetensors data section has a gap before '{entry.Name}' (bytes {next} to {entry.Begin})");
            }

            next = entry.End;
        }

        if (next != dataLength)
        {
            throw Corrupted(filePath, $"The safetensors tensors cover {next} bytes of data; the file holds {dataLength} after the header");
        }
    }

    private static long Integer(JsonElement element, string name, string field, string filePath) =>
        element.ValueKind == JsonValueKind.Number && element.TryGetInt64(out var value)
            ? value
            : throw Corrupted(filePath, $"The safetensors entry '{name}' has {field} value {element.GetRawText()}, not a 64-bit integer");

    private static bool TryParseDTypeCode(string code, out torch.ScalarType dtype)
    {
        torch.ScalarType? parsed = code switch
        {
            "F64" => torch.ScalarType.Float64,
            "F32" => torch.ScalarType.Float32,
            "F16" => torch.ScalarType.Float16,
            "BF16" => torch.ScalarType.BFloat16,
            "I64" => torch.ScalarType.Int64,
            "I32" => torch.ScalarType.Int32,
            "I16" => torch.ScalarType.Int16,
            "I8" => torch.ScalarType.Int8,
            "U8" => torch.ScalarType.Byte,
            "BOOL" => torch.ScalarType.Bool,
            "C64" => torch.ScalarType.ComplexFloat32,
            "C128" => torch.ScalarType.ComplexFloat64,
            _ => null,
        };
        dtype = parsed.GetValueOrDefault();
        return parsed.HasValue;
    }

    private static bool TryElementSize(torch.ScalarType dtype, out long size)
    {
        size = dtype switch
        {
            torch.ScalarType.Float64 or torch.ScalarType.Int64 or torch.ScalarType.ComplexFloat32 => 8,
            torch.ScalarType.Float32 or torch.ScalarType.Int32 => 4,
            torch.ScalarType.Float16 or torch.ScalarType.BFloat16 or torch.ScalarType.Int16 => 2,
            torch.ScalarType.Int8 or torch.ScalarType.Byte or torch.ScalarType.Bool => 1,
            torch.ScalarType.ComplexFloat64 => 16,
            _ => 0,
        };
        return size > 0;
    }

    private static TrajectoryStoreCorruptedException Corrupted(string filePath, string message) => new(filePath, message);
}
