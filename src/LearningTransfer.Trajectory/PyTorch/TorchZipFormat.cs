using System.IO.Compression;
using System.Numerics;
using TorchSharp;
using TrajectoryTransfer.Permutations;
using static TorchSharp.torch;

namespace TrajectoryTransfer.Trajectories;

/// <summary>
/// Reads a state_dict written by <c>torch.save</c> (the zip format: <c>archive/data.pkl</c> and one entry per storage under
/// <c>archive/data/</c>). The pickle is read by <see cref="TorchPickle"/>, which runs nothing; each tensor is rebuilt from its
/// storage with its offset, shape and strides (so slices, transposes and other non-contiguous tensors load as PyTorch
/// loads them) after those are checked against the storage's size. Sizes the file states are checked against the file
/// before anything of that size is allocated.
/// </summary>
internal static class TorchZipFormat
{
    /// <summary>The largest data.pkl read (a state_dict of a large model has a pickle of a few MB).</summary>
    public const int MaxPickleBytes = 64 << 20;

    /// <summary>Deflate cannot expand data more than about 1032 times; an entry claiming more is refused before allocating.</summary>
    private const long MaxDeflateRatio = 1032;

    /// <summary>Reads the state_dict in <paramref name="stream"/> into new contiguous CPU tensors, in the pickle's order (inside the caller's dispose scope).</summary>
    /// <exception cref="TrajectoryStoreCorruptedException">The archive, its pickle or a storage is malformed, or the pickle asks for something a state_dict does not need.</exception>
    public static List<KeyValuePair<string, Tensor>> ReadTensors(Stream stream, long fileLength, string filePath)
    {
        ZipArchive archive;
        try
        {
            archive = new ZipArchive(stream, ZipArchiveMode.Read, leaveOpen: true);
        }
        catch (InvalidDataException e)
        {
            throw new TrajectoryStoreCorruptedException(filePath, "The file starts like a zip archive but is not a readable one", e);
        }

        using (archive)
        {
            var pickles = archive.Entries.Where(e => e.FullName.EndsWith("/data.pkl", StringComparison.Ordinal) && e.FullName.Count(c => c == '/') == 1).ToList();
            if (pickles.Count != 1)
            {
                throw new TrajectoryStoreCorruptedException(filePath, $"The zip archive has {pickles.Count} top-level '<name>/data.pkl' entries; a torch.save archive has one");
            }

            var prefix = pickles[0].FullName[..^"data.pkl".Length];
            var byteOrder = archive.GetEntry(prefix + "byteorder");
            if (byteOrder is not null && System.Text.Encoding.ASCII.GetString(ReadEntry(byteOrder, 16, fileLength, filePath)) != "little")
            {
                throw new TrajectoryStoreCorruptedException(filePath, "The checkpoint was saved on a big-endian machine; only little-endian checkpoints are read");
            }

            var root = TorchPickle.Load(ReadEntry(pickles[0], MaxPickleBytes, fileLength, filePath), filePath);
            if (root is not TorchPickle.Dict dict)
            {
                throw new TrajectoryStoreCorruptedException(filePath, $"The checkpoint holds a {root?.GetType().Name ?? "None"}, not a state_dict (save model.state_dict())");
            }

            return Materialize(archive, prefix, dict, fileLength, filePath);
        }
    }

    private static List<KeyValuePair<string, Tensor>> Materialize(ZipArchive archive, string prefix, TorchPickle.Dict dict, long fileLength, string filePath)
    {
        var views = dict.Entries.Where(e => e.Key is string && e.Value is TorchPickle.TensorView).Select(e => ((string)e.Key!, (TorchPickle.TensorView)e.Value!)).ToList();
        if (views.Count == 0)
        {
            throw new TrajectoryStoreCorruptedException(filePath, "The checkpoint's dict holds no tensors under string keys; save model.state_dict()");
        }

        var storages = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        try
        {
            long storageBytes = 0;
            foreach (var storage in views.Select(v => v.Item2.Storage).DistinctBy(s => s.Key))
            {
                storageBytes += Storage(archive, prefix, storage, storages, fileLength, filePath);
            }

            // Tied weights view one storage twice; eight views' worth of every storage is far beyond any real state_dict.
            var budget = (8 * (BigInteger)storageBytes) + (64 << 20);
            BigInteger materialized = 0;
            var result = new List<KeyValuePair<string, Tensor>>(views.Count);
            foreach (var (name, view) in views)
            {
                var storage = storages[view.Storage.Key];
                if (view.Storage.DType != storage.dtype)
                {
                    throw new TrajectoryStoreCorruptedException(filePath, $"The storage '{view.Storage.Key}' is read as {storage.dtype} by one tensor and {view.Storage.DType} by '{name}'");
                }

                var bytes = CheckView(name, view, storage.NumberOfElements, filePath);
                materialized += bytes;
                if (materialized > budget)
                {
                    throw new TrajectoryStoreCorruptedException(filePath, $"The checkpoint's tensors up to '{name}' need {materialized} bytes, more than 8 times its {storageBytes} bytes of storage");
                }

                result.Add(new(name, Rebuild(storage, view)));
            }

            return result;
        }
        finally
        {
            foreach (var storage in storages.Values)
            {
                storage.Dispose();
            }
        }
    }

    /// <summary>Loads one storage entry into a 1-D tensor (owned by <paramref name="storages"/>); returns its size in bytes.</summary>
    private static long Storage(ZipArchive archive, string prefix, TorchPickle.Storage storage, Dictionary<string, Tensor> storages, long fileLength, string filePath)
    {
        var entry = archive.GetEntry($"{prefix}data/{storage.Key}")
            ?? throw new TrajectoryStoreCorruptedException(filePath, $"The archive lacks the storage entry '{prefix}data/{storage.Key}'");
        if (!SafetensorsFormat.TryByteCount([storage.ElementCount], storage.DType, out _, out var bytes) || bytes > SafetensorsFormat.MaxTensorBytes)
        {
            throw new TrajectoryStoreCorruptedException(filePath, $"The storage '{storage.Key}' has {storage.ElementCount} elements of {storage.DType}; storages up to 2 GiB are read");
        }

        if (entry.Length != bytes)
        {
            throw new TrajectoryStoreCorruptedException(
                filePath, $"The storage entry '{entry.FullName}' has {entry.Length} bytes; {storage.ElementCount} elements of {storage.DType} need {bytes}");
        }

        CheckPlausible(entry, fileLength, filePath);
        var tensor = torch.empty(storage.ElementCount, storage.DType);
        tensor.DetachFromDisposeScope();
        storages.Add(storage.Key, tensor);
        if (bytes > 0)
        {
            var span = tensor.bytes;
            using var data = OpenEntry(entry, filePath);
            SafetensorsFormat.ReadExactly(data, span, filePath);
            CheckCrc(entry, span, filePath);
            SafetensorsFormat.CheckBools(storage.DType, span, entry.FullName, filePath);
        }

        return bytes;
    }

    /// <summary>Checks a view against its storage (PyTorch's own rule: every element it addresses lies in the storage); returns its size in bytes.</summary>
    private static long CheckView(string name, TorchPickle.TensorView view, long storageElements, string filePath)
    {
        var shape = ParameterLayout.FormatShape(view.Shape);
        var stride = ParameterLayout.FormatShape(view.Stride);
        if (view.Shape.Length != view.Stride.Length || view.Offset < 0 || view.Stride.Any(s => s < 0)
            || !SafetensorsFormat.TryByteCount(view.Shape, view.Storage.DType, out var elements, out var bytes))
        {
            throw new TrajectoryStoreCorruptedException(filePath, $"The tensor '{name}' has shape {shape}, strides {stride} and offset {view.Offset}: not a valid view");
        }

        if (elements > 0)
        {
            var last = (Int128)view.Offset;
            for (var i = 0; i < view.Shape.Length; i++)
            {
                last += (Int128)(view.Shape[i] - 1) * view.Stride[i];
            }

            if (last >= storageElements)
            {
                throw new TrajectoryStoreCorruptedException(
                    filePath, $"The tensor '{name}' (shape {shape}, strides {stride}, offset {view.Offset}) reaches element {last} of a storage of {storageElements}");
            }
        }

        if (elements > storageElements)
        {
            throw new TrajectoryStoreCorruptedException(
                filePath, $"The tensor '{name}' has {elements} elements but its storage only {storageElements} (it repeats elements, as an expanded view does); save a contiguous copy");
        }

        return bytes;
    }

    /// <summary>A new contiguous tensor with the view's values (never sharing the storage's memory).</summary>
    private static Tensor Rebuild(Tensor storage, TorchPickle.TensorView view)
    {
        var result = torch.empty(view.Shape, view.Storage.DType);
        if (result.NumberOfElements > 0)
        {
            using var strided = storage.as_strided(view.Shape, view.Stride, view.Offset);
            result.copy_(strided);
        }

        return result;
    }

    private static byte[] ReadEntry(ZipArchiveEntry entry, int maxBytes, long fileLength, string filePath)
    {
        if (entry.Length > maxBytes)
        {
            throw new TrajectoryStoreCorruptedException(filePath, $"The archive entry '{entry.FullName}' has {entry.Length} bytes; at most {maxBytes} are read");
        }

        CheckPlausible(entry, fileLength, filePath);
        var bytes = new byte[entry.Length];
        using var data = OpenEntry(entry, filePath);
        SafetensorsFormat.ReadExactly(data, bytes, filePath);
        CheckCrc(entry, bytes, filePath);
        return bytes;
    }

    private static void CheckCrc(ZipArchiveEntry entry, ReadOnlySpan<byte> data, string filePath)
    {
        var crc = Crc32.Append(0, data);
        if (crc != entry.Crc32)
        {
            throw new TrajectoryStoreCorruptedException(filePath, $"The archive entry '{entry.FullName}' has CRC-32 {crc:x8}; the archive says {entry.Crc32:x8}");
        }
    }

    /// <summary>An entry's stated sizes must fit the file, and its expansion deflate's limit, before its size is allocated.</summary>
    private static void CheckPlausible(ZipArchiveEntry entry, long fileLength, string filePath)
    {
        if (entry.CompressedLength > fileLength || entry.Length < 0 || entry.Length > (entry.CompressedLength * MaxDeflateRatio) + 1024)
        {
            throw new TrajectoryStoreCorruptedException(
                filePath, $"The archive entry '{entry.FullName}' states {entry.Length} bytes from {entry.CompressedLength} compressed in a {fileLength}-byte file");
        }
    }

    private static Stream OpenEntry(ZipArchiveEntry entry, string filePath)
    {
        try
        {
            return entry.Open();
        }
        catch (InvalidDataException e)
        {
            throw new TrajectoryStoreCorruptedException(filePath, $"The archive entry '{entry.FullName}' cannot be read", e);
        }
    }
}
