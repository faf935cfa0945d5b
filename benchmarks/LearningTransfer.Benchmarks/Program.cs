using BenchmarkDotNet.Running;
using TrajectoryTransfer.Benchmarks.Solvers;

namespace TrajectoryTransfer.Benchmarks;

/// <summary>Runs the benchmarks: BenchmarkDotNet's switcher, or <c>--quick</c> for single-solve timings.</summary>
public static class Program
{
    /// <summary>Entry point.</summary>
    public static void Main(string[] args)
    {
        if (args.Contains("--matrices"))
        {
            RealMatrixTiming.Run(args);
            return;
        }

        if (args.Contains("--quick"))
        {
            QuickSolverTiming.Run(args);
            return;
        }

        BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
    }
}
