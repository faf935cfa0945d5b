using BenchmarkDotNet.Attributes;

namespace TrajectoryTransfer.Benchmarks.Transfer;

/// <summary>GMT vs FGMT as T grows (784-512-10 MLP). GMT computes T(T+1)/2 gradient pairs, FGMT T.</summary>
[MemoryDiagnoser]
[SimpleJob(launchCount: 1, warmupCount: 1, iterationCount: 3)]
public class TransferStepsBenchmarks
{
    private SyntheticTransfer _workload = null!;

    [Params(5, 10, 20, 40)]
    public int Steps { get; set; }

    [GlobalSetup]
    public void Setup() => _workload = new SyntheticTransfer(512);

    [GlobalCleanup]
    public void Cleanup() => _workload.Dispose();

    [Benchmark(Baseline = true)]
    public double Fgmt()
    {
        using var result = _workload.Run(TransferMethod.Fgmt, Steps);
        return result.History[^1].Objective;
    }

    [Benchmark]
    public double Gmt()
    {
        using var result = _workload.Run(TransferMethod.Gmt, Steps);
        return result.History[^1].Objective;
    }
}

/// <summary>GMT vs FGMT as the hidden width grows (T = 10).</summary>
[MemoryDiagnoser]
[SimpleJob(launchCount: 1, warmupCount: 0, iterationCount: 2)]
public class TransferWidthBenchmarks
{
    private SyntheticTransfer _workload = null!;

    [Params(512, 1024, 2048, 4096)]
    public int Width { get; set; }

    [GlobalSetup]
    public void Setup() => _workload = new SyntheticTransfer(Width);

    [GlobalCleanup]
    public void Cleanup() => _workload.Dispose();

    [Benchmark(Baseline = true)]
    public double Fgmt()
    {
        using var result = _workload.Run(TransferMethod.Fgmt, 10);
        return result.History[^1].Objective;
    }

    [Benchmark]
    public double Gmt()
    {
        using var result = _workload.Run(TransferMethod.Gmt, 10);
        return result.History[^1].Objective;
    }
}
