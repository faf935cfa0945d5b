using System.Buffers.Binary;
using System.Text;

namespace TrajectoryTransfer.Permutations.Tests.Native;

/// <summary>A minimal 64-bit little-endian ELF file whose .gnu.version_r asks libstdc++.so.6 for two symbol versions.</summary>
internal static class SyntheticElf
{
    /// <summary>The bytes of an ELF file requiring GLIBCXX_3.4.30 and <paramref name="version"/> with <paramref name="flags"/>.</summary>
    public static byte[] Requiring(string version, ushort flags)
    {
        var strings = Encoding.ASCII.GetBytes($"\0libstdc++.so.6\0GLIBCXX_3.4.30\0{version}\0");
        const int need = 64, strtab = need + 48, file = 1, first = 16, second = 31;
        var headers = strtab + strings.Length;
        var elf = new byte[headers + 3 * 64];
        "\u007fELF"u8.CopyTo(elf);
        elf[4] = 2; // 64-bit
        elf[5] = 1; // little-endian
        BinaryPrimitives.WriteUInt64LittleEndian(elf.AsSpan(0x28), (ulong)headers);
        BinaryPrimitives.WriteUInt16LittleEndian(elf.AsSpan(0x3A), 64);
        BinaryPrimitives.WriteUInt16LittleEndian(elf.AsSpan(0x3C), 3);

        // Elf64_Verneed for libstdc++.so.6 with two Elf64_Vernaux entries.
        BinaryPrimitives.WriteUInt16LittleEndian(elf.AsSpan(need), 1);
        BinaryPrimitives.WriteUInt16LittleEndian(elf.AsSpan(need + 2), 2);
        BinaryPrimitives.WriteUInt32LittleEndian(elf.AsSpan(need + 4), file);
        BinaryPrimitives.WriteUInt32LittleEndian(elf.AsSpan(need + 8), 16);
        BinaryPrimitives.WriteUInt32LittleEndian(elf.AsSpan(need + 16 + 8), first);
        BinaryPrimitives.WriteUInt32LittleEndian(elf.AsSpan(need + 16 + 12), 16);
        BinaryPrimitives.WriteUInt16LittleEndian(elf.AsSpan(need + 32 + 4), flags);
        BinaryPrimitives.WriteUInt32LittleEndian(elf.AsSpan(need + 32 + 8), second);
        strings.CopyTo(elf, strtab);

        // Section headers: null, .gnu.version_r (linked to the string table, one entry), .dynstr.
        var verneed = elf.AsSpan(headers + 64);
        BinaryPrimitives.WriteUInt32LittleEndian(verneed[4..], 0x6ffffffe);
        BinaryPrimitives.WriteUInt64LittleEndian(verneed[0x18..], need);
        BinaryPrimitives.WriteUInt32LittleEndian(verneed[0x28..], 2);
        BinaryPrimitives.WriteUInt32LittleEndian(verneed[0x2C..], 1);
        var dynstr = elf.AsSpan(headers + 128);
        BinaryPrimitives.WriteUInt32LittleEndian(dynstr[4..], 3);
        BinaryPrimitives.WriteUInt64LittleEndian(dynstr[0x18..], strtab);
        return elf;
    }
}
