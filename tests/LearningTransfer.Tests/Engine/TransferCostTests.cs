using Microsoft.Extensions.Logging;
using TorchSharp;
using TrajectoryTransfer.Permutations;
using TrajectoryTransfer.Tests.RealData;
using TrajectoryTransfer.Tests.Support;
using TrajectoryTransfer.Trajectories;
using static TorchSharp.torch;

namespace TrajectoryTransfer.Tests.Engine;

/// <summary>What makes a transfer cheaper must not change what it computes: factored gradients, kept source gradients.</summary>
public sealed class TransferCostTests(SourceRunFixture source) : IClassFixture<SourceRunFixture>
{
    private LinearTrajectory Trajectory(int steps) => new(source.SourceInit, source.SourceFinal, steps, TrajectorySchedule.Cosine);

    /// <summary>The library's Mlp has the fixture's names and shapes and runs its layers with call(), so forward hooks fire.</summary>
    private static Mlp HookableTarget(int seed)
    {
        torch.manual_seed(seed);
        return new Mlp(784, [SourceRunFixture.Hidden], 10);
    }

    private TransferResult Run(TransferMethod method, Mlp target, bool factored, ILoggerFactory? logs = null, int steps = 4)
    {
        using var trajectory = Trajectory(steps);
        return LearningTransfer.Transfer(trajectory, target)
            .WithOptions(new TransferOptions { FactoredGradients = factored, LoggerFactory = logs ?? Microsoft.Extensions.Logging.Abstractions.NullLoggerFactory.Instance })
            .WithMethod(method).WithSpec(source.Spec)
            .WithData(TestData.Loader(source.Train, 128, seed: 8), Training.CrossEntropy)
            .Run();
    }

    [Theory]
    [InlineData(TransferMethod.Fgmt)]
    [InlineData(TransferMethod.Gmt)]
    public void Run_FactoredGradients_FindTheSamePermutationsAsFullGradients(TransferMethod method)
    {
        using var target = HookableTarget(31);
        var logs = new RecordingLoggerFactory();

        using var full = Run(method, target, factored: false);
        using var factored = Run(method, target, factored: true, logs);

        // fc1 [512, 784] with 128 rows per gradient: factors of 128 × (512 + 784) instead of 512 × 784 values.
        Assert.Contains(logs.Messages, m => m.Contains("'fc1.weight' is matched as low-rank factors (128 rows", StringComparison.Ordinal));
        Assert.DoesNotContain(logs.Messages, m => m.Contains("'fc2.weight' is matched as low-rank factors", StringComparison.Ordinal));
        Assert.True(factored.Permutation.AgreementWith(full.Permutation) > 0.99, $"agreement {factored.Permutation.AgreementWith(full.Permutation):P2}");
        for (var s = 0; s < full.History.Count; s++)
        {
            Assert.Equal(full.History[s].Objective, factored.History[s].Objective, 1e-3 * Math.Abs(full.History[s].Objective));
        }
    }

    [Theory]
    [InlineData(TransferMethod.Fgmt)]
    [InlineData(TransferMethod.Gmt)]
    public void Run_WithValidation_KeepsEveryGradientFactored(TransferMethod method)
    {
        // Scoring a step runs the same module under no_grad between two gradients; those forward passes must not count as
        // a gradient's, or the next gradient silently falls back to the full (6× costlier) similarity.
        using var target = HookableTarget(35);
        using var trajectory = Trajectory(3);
        var logs = new RecordingLoggerFactory();
        var validation = source.Validation;

        using var result = LearningTransfer.Transfer(trajectory, target)
            .WithOptions(new TransferOptions { LoggerFactory = logs })
            .WithMethod(method).WithSpec(source.Spec)
            .WithData(TestData.Loader(source.Train, 128, seed: 8), Training.CrossEntropy)
            .WithValidationAccuracy(validation.Images, validation.Labels, maxExamples: 200)
            .Run();

        Assert.Contains(logs.Messages, m => m.Contains("'fc1.weight' is matched as low-rank factors", StringComparison.Ordinal));
        Assert.DoesNotContain(logs.Messages, m => m.Contains("'fc1.weight' is taken in full", StringComparison.Ordinal));
        Assert.All(result.History, h => Assert.NotNull(h.ValidationScore));
    }

    [Fact]
    public void Run_Gmt_ComputesEachSourceGradientOnce()
    {
        using var target = HookableTarget(32);

        using var result = Run(TransferMethod.Gmt, target, factored: true, steps: 4);

        // Steps 1..4 match points 0..s−1: 10 target gradients, and one source gradient per point (4), not one per pair (10).
        Assert.Equal(4 + 10, result.GradientEvaluations);
        Assert.Equal([2, 3, 4, 5], result.History.Select(h => h.GradientEvaluations));
    }

    [Fact]
    public void Run_GmtWithoutRoomToKeepSourceGradients_ComputesThemAgainWithTheSameResult()
    {
        using var target = HookableTarget(33);
        using var kept = Run(TransferMethod.Gmt, target, factored: true);
        using var trajectory = Trajectory(4);

        using var recomputed = LearningTransfer.Transfer(trajectory, target)
            .WithOptions(new TransferOptions { SourceGradientCacheBytes = 0 })
            .UseGmt().WithSpec(source.Spec)
            .WithData(TestData.Loader(source.Train, 128, seed: 8), Training.CrossEntropy)
            .Run();

        Assert.Equal(2 * 10, recomputed.GradientEvaluations);
        Assert.Equal(kept.Permutation, recomputed.Permutation);
    }

    [Fact]
    public void WithValidationAccuracy_OnASubset_ScoresTheFirstExamplesOnly()
    {
        using var target = HookableTarget(34);
        using var trajectory = Trajectory(3);
        var validation = source.Validation;
        using var first300 = validation.Slice(0, 300);

        using var subset = LearningTransfer.Transfer(trajectory, target).UseNaive().WithSpec(source.Spec)
            .WithValidationAccuracy(validation.Images, validation.Labels, maxExamples: 300, batchSize: 128)
            .Run();
        using var byHand = LearningTransfer.Transfer(trajectory, target).UseNaive().WithSpec(source.Spec)
            .WithValidation(model => Training.Accuracy(model, first300))
            .Run();

        Assert.Equal(byHand.History.Select(h => h.ValidationScore), subset.History.Select(h => h.ValidationScore));
        Assert.All(subset.History, h => Assert.Equal(Math.Round(h.ValidationScore!.Value * 300), h.ValidationScore!.Value * 300, 6));
    }
}
