using System.Buffers.Binary;
using System.IO.Compression;
using System.Text;

namespace TrajectoryTransfer.Trajectories.Tests.Hostile.Support;

/// <summary>Writes pickles opcode by opcode, as an attacker (or torch.save) would.</summary>
internal sealed class PickleBuilder
{
    private readonly MemoryStream _bytes = new();

    public PickleBuilder Op(params byte[] bytes)
    {
        _bytes.Write(bytes);
        return this;
    }

    public PickleBuilder Op(char opcode) => Op((byte)opcode);

    /// <summary>GLOBAL 'module name'.</summary>
    public PickleBuilder Global(string module, string name) => Op('c').Op(Encoding.ASCII.GetBytes($"{module}\n{name}\n"));

    /// <summary>BINUNICODE.</summary>
    public PickleBuilder Str(string value)
    {
        var utf8 = Encoding.UTF8.GetBytes(value);
        var length = new byte[4];
        BinaryPrimitives.WriteInt32LittleEndian(length, utf8.Length);
        return Op('X').Op(length).Op(utf8);
    }

    /// <summary>BININT (32-bit) or LONG1 (64-bit) as torch.save's pickler chooses.</summary>
    public PickleBuilder Int(long value)
    {
        if (value is >= int.MinValue and <= int.MaxValue)
        {
            var bytes = new byte[4];
            BinaryPrimitives.WriteInt32LittleEndian(bytes, (int)value);
            return Op('J').Op(bytes);
        }

        var wide = new byte[8];
        BinaryPrimitives.WriteInt64LittleEndian(wide, value);
        return Op(0x8a, 8).Op(wide);
    }

    public PickleBuilder Tuple(params long[] values)
    {
        Op('(');
        foreach (var value in values)
        {
            Int(value);
        }

        return Op('t');
    }

    public byte[] ToArray() => _bytes.ToArray();
}

/// <summary>One tensor of a crafted state_dict: which storage it views and how.</summary>
internal sealed record CraftedTensor(string Name, string StorageKey, string StorageType, long StorageElements, long Offset, long[] Shape, long[] Stride);

/// <summary>Builds torch.save-style archives and edits existing ones.</summary>
internal static class CraftedCheckpoints
{
    /// <summary>The pickle torch.save writes for an OrderedDict state_dict of these tensors (protocol 2).</summary>
    public static byte[] StateDictPickle(IEnumerable<CraftedTensor> tensors)
    {
        var pickle = new PickleBuilder().Op(0x80, 2).Global("collections", "OrderedDict").Op(')').Op('R').Op('(');
        foreach (var t in tensors)
        {
            pickle.Str(t.Name).Global("torch._utils", "_rebuild_tensor_v2").Op('(')
                .Op('(').Str("storage").Global("torch", t.StorageType).Str(t.StorageKey).Str("cpu").Int(t.StorageElements).Op('t').Op('Q')
                .Int(t.Offset).Tuple(t.Shape).Tuple(t.Stride).Op(0x89).Global("collections", "OrderedDict").Op(')').Op('R').Op('t').Op('R');
        }

        return pickle.Op('u').Op('.').ToArray();
    }

    /// <summary>A zip archive "archive/…" holding data.pkl and the given storage entries (stored, as torch.save writes).</summary>
    public static byte[] Archive(byte[] pickle, IReadOnlyDictionary<string, byte[]> storages, string? byteOrder = "little")
    {
        var entries = new List<(string, byte[])> { ("archive/data.pkl", pickle) };
        if (byteOrder is not null)
        {
            entries.Add(("archive/byteorder", Encoding.ASCII.GetBytes(byteOrder)));
        }

        entries.AddRange(storages.Select(s => ($"archive/data/{s.Key}", s.Value)));
        entries.Add(("archive/version", "3\n"u8.ToArray()));
        return Zip(entries);
    }

    /// <summary>Rebuilds an archive with each entry's content passed through <paramref name="transform"/> (null drops it).</summary>
    public static byte[] Rewrite(byte[] archive, Func<string, byte[], byte[]?> transform)
    {
        using var source = new ZipArchive(new MemoryStream(archive), ZipArchiveMode.Read);
        var entries = new List<(string, byte[])>();
        foreach (var entry in source.Entries)
        {
            using var data = entry.Open();
            using var copy = new MemoryStream();
            data.CopyTo(copy);
            if (transform(entry.FullName, copy.ToArray()) is { } content)
            {
                entries.Add((entry.FullName, content));
            }
        }

        return Zip(entries);
    }

    /// <summary>Replaces the only occurrence of <paramref name="from"/> in <paramref name="data"/> by <paramref name="to"/>.</summary>
    public static byte[] Patch(byte[] data, byte[] from, byte[] to)
    {
        var at = data.AsSpan().IndexOf(from);
        Assert.True(at >= 0 && data.AsSpan(at + 1).IndexOf(from) < 0, "The pattern to patch must occur exactly once.");
        return [.. data.AsSpan(0, at), .. to, .. data.AsSpan(at + from.Length)];
    }

    /// <summary>A safetensors file from a header's JSON text and a data section.</summary>
    public static byte[] Safetensors(string header, byte[] data)
    {
        var json = Encoding.UTF8.GetBytes(header);
        var length = new byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(length, (ulong)json.Length);
        return [.. length, .. json, .. data];
    }

    public static byte[] Floats(params float[] values)
    {
        var bytes = new byte[values.Length * 4];
        for (var i = 0; i < values.Length; i++)
        {
            BinaryPrimitives.WriteSingleLittleEndian(bytes.AsSpan(i * 4), values[i]);
        }

        return bytes;
    }

    private static byte[] Zip(IEnumerable<(string Name, byte[] Content)> entries)
    {
        using var output = new MemoryStream();
        using (var zip = new ZipArchive(output, ZipArchiveMode.Create, leaveOpen: true))
        {
            foreach (var (name, content) in entries)
            {
                var entry = zip.CreateEntry(name, CompressionLevel.NoCompression);
                using var stream = entry.Open();
                stream.Write(content);
            }
        }

        return output.ToArray();
    }
}
