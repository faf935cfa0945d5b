namespace TrajectoryTransfer.Trajectories;

/// <summary>
/// CRC-32 (IEEE 802.3, the zip format's checksum). .NET's <c>ZipArchive</c> does not check it when reading a stored entry,
/// so a damaged byte of a <c>.pt</c> archive would otherwise be read as data.
/// </summary>
internal static class Crc32
{
    private static readonly uint[] Table = CreateTable();

    /// <summary>Continues a CRC over <paramref name="data"/> (start with 0).</summary>
    public static uint Append(uint crc, ReadOnlySpan<byte> data)
    {
        crc = ~crc;
        foreach (var b in data)
        {
            crc = Table[(crc ^ b) & 0xFF] ^ (crc >> 8);
        }

        return ~crc;
    }

    private static uint[] CreateTable()
    {
        var table = new uint[256];
        for (uint i = 0; i < 256; i++)
        {
            var c = i;
            for (var k = 0; k < 8; k++)
            {
                c = (c & 1) != 0 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
            }

            table[i] = c;
        }

        return table;
    }
}
