using System.Buffers.Binary;
using System.Text;

namespace TrajectoryTransfer.Permutations;

/// <summary>How an ELF shared library asks for a symbol version of one of its dependencies.</summary>
internal enum VersionRequirement
{
    /// <summary>It does not ask for that version.</summary>
    None,

    /// <summary>It requires the version: the loader refuses the library where no dependency defines it.</summary>
    Required,

    /// <summary>It asks for the version with VER_FLG_WEAK: the loader only notes a missing one.</summary>
    Weak,
}

/// <summary>Reads the symbol-version requirements (the <c>.gnu.version_r</c> section) of a 64-bit little-endian ELF file.</summary>
internal static class ElfVersionRequirements
{
    private const uint GnuVersionNeedSection = 0x6ffffffe; // SHT_GNU_verneed
    private const ushort WeakFlag = 0x2; // VER_FLG_WEAK
    private const int SectionHeaderSize = 64; // sizeof(Elf64_Shdr)

    /// <summary>How the ELF file <paramref name="elf"/> asks for the symbol version <paramref name="versionName"/>.</summary>
    /// <exception cref="InvalidDataException">The bytes are not a well-formed 64-bit little-endian ELF file.</exception>
    public static VersionRequirement Find(ReadOnlySpan<byte> elf, string versionName)
    {
        if (elf.Length < 64 || !elf[..4].SequenceEqual("\u007fELF"u8) || elf[4] != 2 || elf[5] != 1)
        {
            throw new InvalidDataException("Not a 64-bit little-endian ELF file.");
        }

        var sectionHeaders = U64(elf, 0x28);
        var sectionHeaderSize = U16(elf, 0x3A);
        var sectionCount = U16(elf, 0x3C);
        if (sectionHeaderSize < SectionHeaderSize)
        {
            throw new InvalidDataException($"ELF section headers of {sectionHeaderSize} bytes; {SectionHeaderSize} are expected.");
        }

        for (var s = 0; s < sectionCount; s++)
        {
            var section = Slice(elf, sectionHeaders + (ulong)s * sectionHeaderSize, SectionHeaderSize);
            if (U32(section, 4) != GnuVersionNeedSection)
            {
                continue;
            }

            var stringTable = Slice(elf, sectionHeaders + (ulong)U32(section, 0x28) * sectionHeaderSize, SectionHeaderSize);
            var strings = U64(stringTable, 0x18);
            var need = U64(section, 0x18);
            var needCount = U32(section, 0x2C);
            for (var i = 0u; i < needCount; i++)
            {
                var entry = Slice(elf, need, 16); // Elf64_Verneed
                var aux = need + U32(entry, 8);
                for (var j = 0; j < U16(entry, 2); j++)
                {
                    var version = Slice(elf, aux, 16); // Elf64_Vernaux
                    if (Name(elf, strings + U32(version, 8)) == versionName)
                    {
                        return (U16(version, 4) & WeakFlag) != 0 ? VersionRequirement.Weak : VersionRequirement.Required;
                    }

                    aux += U32(version, 12);
                }

                need += U32(entry, 12);
            }
        }

        return VersionRequirement.None;
    }

    private static ReadOnlySpan<byte> Slice(ReadOnlySpan<byte> elf, ulong offset, int length) =>
        offset <= (ulong)elf.Length && (ulong)elf.Length - offset >= (ulong)length
            ? elf.Slice((int)offset, length)
            : throw new InvalidDataException($"The ELF file ends before offset {offset} + {length}.");

    private static string Name(ReadOnlySpan<byte> elf, ulong offset)
    {
        var rest = offset < (ulong)elf.Length ? elf[(int)offset..] : throw new InvalidDataException($"An ELF string at {offset}, past the end.");
        var end = rest.IndexOf((byte)0);
        return end < 0 ? throw new InvalidDataException("An unterminated ELF string.") : Encoding.ASCII.GetString(rest[..end]);
    }

    private static ushort U16(ReadOnlySpan<byte> bytes, int at) => BinaryPrimitives.ReadUInt16LittleEndian(bytes[at..]);

    private static uint U32(ReadOnlySpan<byte> bytes, int at) => BinaryPrimitives.ReadUInt32LittleEndian(bytes[at..]);

    private static ulong U64(ReadOnlySpan<byte> bytes, int at) => BinaryPrimitives.ReadUInt64LittleEndian(bytes[at..]);
}
