using System.Globalization;

namespace TrajectoryTransfer.Samples.Models;

/// <summary>
/// How many cores other processes keep busy right now, measured from /proc/stat over a short window (Linux; null
/// elsewhere). Unlike the load average, which decays over a minute, this does not count a build that has just finished.
/// </summary>
public static class CpuUsage
{
    /// <summary>The cores busy (user, system, interrupts, stolen) during <paramref name="window"/>, from 0 to the core count.</summary>
    /// <param name="window">How long to measure.</param>
    public static double? BusyCores(TimeSpan window)
    {
        var first = Read();
        if (first is null)
        {
            return null;
        }

        Thread.Sleep(window);
        var second = Read();
        if (second is null)
        {
            return null;
        }

        var total = second.Value.Total - first.Value.Total;
        var idle = second.Value.Idle - first.Value.Idle;
        return total <= 0 ? null : Environment.ProcessorCount * (double)(total - idle) / total;
    }

    /// <summary>
    /// The libtorch threads to use: all cores when they are free; when other processes keep k cores busy, the cores left
    /// (at least 1). libtorch's threads wait for each other at every operation, so a thread that shares its core with
    /// another process stalls them all (measured on 2 cores: docs/performance.md, "Threads").
    /// </summary>
    /// <param name="busyCores">Cores busy with other work.</param>
    /// <param name="cores">Cores of the machine.</param>
    public static int ThreadsFor(double busyCores, int cores) => Math.Clamp(cores - (int)Math.Round(busyCores, MidpointRounding.AwayFromZero), 1, cores);

    private static (long Total, long Idle)? Read()
    {
        try
        {
            var line = File.ReadLines("/proc/stat").FirstOrDefault(l => l.StartsWith("cpu ", StringComparison.Ordinal));
            if (line is null)
            {
                return null;
            }

            var fields = line.Split(' ', StringSplitOptions.RemoveEmptyEntries).Skip(1).Select(f => long.Parse(f, CultureInfo.InvariantCulture)).ToArray();
            // user nice system idle iowait irq softirq steal (guest time is already inside user).
            var total = fields.Take(8).Sum();
            var idle = fields[3] + (fields.Length > 4 ? fields[4] : 0);
            return (total, idle);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException or IndexOutOfRangeException)
        {
            return null;
        }
    }
}
