using BenchmarkDotNet.Running;

namespace TrajectoryTransfer.Trajectories.Benchmarks;

/// <summary>
/// Runs the trajectory benchmarks: <c>dotnet run -c Release -- --filter '*'</c> for BenchmarkDotNet, or
/// <c>dotnet run -c Release -- overhead [rounds]</c> for the interleaved recording-overhead measurement.
/// </summary>
public static class Program
{
    /// <summary>Entry point.</summary>
    public static void Main(string[] args)
    {
        if (args.Length > 0 && args[0] == "overhead")
        {
            RecorderOverhead.Run(args.Length > 1 ? int.Parse(args[1], System.Globalization.CultureInfo.InvariantCulture) : 30);
            return;
        }

        BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
    }
}
