using BenchmarkDotNet.Running;
using TrajectoryTransfer.Benchmarks.Solvers;

namespace TrajectoryTransfer.Benchmarks;

/// <summary>Runs the benchmarks: BenchmarkDotNet's switcher, or a quick mode: <c>--quick</c> (single solves), <c>--matrices DIR</c> (solves of saved real matrices; with <c>--warm</c> as a sequence, cold against warm-started), <c>--transfer-quick</c> (GMT/FGMT time split), <c>--paper-transfer</c> (the authors' setting), <c>--inference-quick</c> (spec inference per model).</summary>
public static class Program
{
    /// <summary>Entry point.</summary>
    public static void Main(string[] args)
    {
        if (args.Contains("--paper-transfer"))
        {
            Paper.PaperSettingTransfer.Run(args);
            return;
        }

        if (args.Contains("--inference-quick"))
        {
            Inference.QuickInferenceTiming.Run(args);
            return;
        }

        if (args.Contains("--transfer-quick"))
        {
            Transfer.QuickTransferTiming.Run(args);
            return;
        }

        if (args.Contains("--matrices") && args.Contains("--warm"))
        {
            WarmStartTiming.Run(args);
            return;
        }

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
