using TorchSharp;
using TrajectoryTransfer.Permutations;
using static TorchSharp.torch;

namespace TrajectoryTransfer;

/// <summary>Naive: the identity permutation at every step, θ₂⁰ + (θ₁ᵗ − θ₁⁰).</summary>
internal sealed class NaiveStrategy : TransferStrategy
{
    /// <inheritdoc />
    public override TransferMethod Method => TransferMethod.Naive;
}

/// <summary>
/// Oracle: one weight matching before step 1, of the actually trained target's update θ₂ᵀ − θ₂⁰ against the source's
/// θ₁ᵀ − θ₁⁰; that permutation is used at every step. Not learning-free.
/// </summary>
internal sealed class OracleStrategy : TransferStrategy
{
    /// <inheritdoc />
    public override TransferMethod Method => TransferMethod.Oracle;

    /// <inheritdoc />
    public override bool NeedsTrainedTargets => true;

    /// <inheritdoc />
    public override void Prepare(TransferRun run)
    {
        var trainedTargets = run.TrainedTargets ?? throw new InvalidOperationException("Oracle needs the trained targets.");
        for (var j = 0; j < run.Targets.Count; j++)
        {
            run.CancellationToken.ThrowIfCancellationRequested();
            var target = run.Targets[j];
            using var scope = torch.NewDisposeScope();
            using var sourceUpdate = run.Source.Displacement(run.Steps);
            var trained = trainedTargets[j];
            var names = sourceUpdate.Names
                .Where(n => trained.ContainsKey(n) && target.Initialization.ContainsKey(n) && !n.Contains("running_", StringComparison.Ordinal))
                .ToHashSet();
            using var b = sourceUpdate.Where(names.Contains);
            using var a = new ParameterSet(names.Select(n => new KeyValuePair<string, Tensor>(n, trained[n] - target.Initialization[n])));
            target.Adopt(WeightMatching.Match(run.Spec, [new MatchingPair(a, b)], run.MatchingOptions, cancellationToken: run.CancellationToken));
        }
    }
}
