using System.Globalization;

namespace TrajectoryTransfer.Samples.Reporting;

/// <summary>
/// The process's peak resident memory (RSS) over a stretch of work, on Linux: the kernel's high-water mark (VmHWM in
/// /proc/self/status), reset before the work by writing 5 to /proc/self/clear_refs. Elsewhere nothing is measured.
/// </summary>
public static class ProcessMemory
{
    /// <summary>Resets the high-water mark to the current RSS; returns whether it could.</summary>
    public static bool ResetPeak()
    {
        try
        {
            File.WriteAllText("/proc/self/clear_refs", "5");
            return true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or PlatformNotSupportedException)
        {
            return false;
        }
    }

    /// <summary>The peak RSS in bytes since the last reset (or since the process started), or null where it cannot be read.</summary>
    public static long? PeakBytes()
    {
        try
        {
            foreach (var line in File.ReadLines("/proc/self/status"))
            {
                if (line.StartsWith("VmHWM:", StringComparison.Ordinal))
                {
                    var kilobytes = long.Parse(line["VmHWM:".Length..].Trim().Split(' ')[0], CultureInfo.InvariantCulture);
                    return kilobytes * 1024;
                }
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException)
        {
        }

        return null;
    }
}
