using BenchmarkDotNet.Attributes;
using TorchSharp;
using TrajectoryTransfer.Permutations;
using TrajectoryTransfer.Trajectories;
using static TorchSharp.torch;

namespace TrajectoryTransfer.Benchmarks.Transfer;

/// <summary>
/// The evaluation path of a transfer: a Naive transfer (no gradients, no matching) of the paper's 784-4096-10 model over
/// T = 10 steps, each scored with <c>WithValidationAccuracy</c> on all 6,000 validation images or on a subset, in forward
/// passes of a given size, with or without the scoring cache (<see cref="TransferOptions.ScoringCacheBytes"/>: the first
/// layer's output replayed from two products kept at the first step). Its time is the evaluation's: BatchNorm-free, so
/// only loading the step's parameters and scoring.
/// </summary>
[MemoryDiagnoser]
[SimpleJob(launchCount: 1, warmupCount: 1, iterationCount: 3)]
public class EvaluationBenchmarks
{
    private Mlp _target = null!;
    private LinearTrajectory _trajectory = null!;
    private Tensor _inputs = null!;
    private Tensor _labels = null!;

    [Params(6000, 2000)]
    public int Examples { get; set; } = 6000;

    [Params(1000, 6000)]
    public int BatchSize { get; set; } = 1000;

    [Params(false, true)]
    public bool ScoringCache { get; set; } = true;

    [GlobalSetup]
    public void Setup()
    {
        torch.manual_seed(1);
        var options = new MlpOptions { Bias = false, Activation = MlpActivation.None };
        using var start = new Mlp(784, [4096], 10, options);
        using var end = new Mlp(784, [4096], 10, options);
        _target = new Mlp(784, [4096], 10, options);
        _trajectory = LinearTrajectory.FromModules(start, end, 10, TrajectorySchedule.Cosine);
        _inputs = torch.randn(6000, 784);
        _labels = torch.randint(0, 10, [6000]);
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _trajectory.Dispose();
        _target.Dispose();
        _inputs.Dispose();
        _labels.Dispose();
    }

    [Benchmark]
    public double NaiveTransferWithValidation()
    {
        using var result = LearningTransfer.Transfer(_trajectory, _target)
            .WithOptions(new TransferOptions { ScoringCacheBytes = ScoringCache ? new TransferOptions().ScoringCacheBytes : 0 })
            .UseNaive()
            .WithSpec(_target.CreatePermutationSpec(), verify: false)
            .WithValidationAccuracy(_inputs, _labels, Examples, BatchSize)
            .Run();
        return result.BestValidationScore ?? 0;
    }
}
