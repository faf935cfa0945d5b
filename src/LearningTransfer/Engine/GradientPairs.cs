using TorchSharp;
using TrajectoryTransfer.Permutations;

namespace TrajectoryTransfer;

/// <summary>
/// Computes gradient pairs (target side, source side) at trajectory points and adds them to the targets' matching
/// problems. The source gradient at a point is computed once and shared by every target, which is what makes ensembles cheap.
/// </summary>
internal sealed class GradientPairs(TransferRun run)
{
    /// <summary>
    /// Adds, for every target j, the pair (∇L(θ₂,π^t), ∇L(θ₁^t)) on the same fresh minibatches to <paramref name="problems"/>[j],
    /// with θ₂,π^t built from the target's current permutation.
    /// </summary>
    public void Add(int point, int step, IReadOnlyList<WeightMatchingProblem> problems)
    {
        using var scope = torch.NewDisposeScope();
        var token = run.CancellationToken;
        token.ThrowIfCancellationRequested();
        var data = run.RequiredData;
        var workspace = run.Workspace;
        var clock = run.Clock;
        var started = clock.Elapsed;
        var batches = data.Draw(run.Options.GradientBatches);
        var refresh = run.Options.RefreshBatchNormBeforeGradients && workspace.HasBatchNorm
            ? data.Draw(run.Options.BatchNormRefreshBatches)
            : [];
        using var displacement = run.Source.Displacement(point);
        using var sourcePoint = run.Source.Point(displacement);
        workspace.Load(sourcePoint);
        workspace.RefreshBatchNorm(data, refresh);
        using var sourceGradient = workspace.Gradient(data, batches);
        CheckFinite(sourceGradient, step, point, "source");
        var sourceTime = clock.Elapsed - started;

        for (var j = 0; j < run.Targets.Count; j++)
        {
            token.ThrowIfCancellationRequested();
            var target = run.Targets[j];
            var targetStarted = clock.Elapsed;
            using var moved = run.Spec.Apply(target.Permutation, displacement);
            using var targetPoint = SourceView.Combine(target.Initialization, moved);
            workspace.Load(targetPoint);
            workspace.RefreshBatchNorm(data, refresh);
            using var targetGradient = workspace.Gradient(data, batches);
            CheckFinite(targetGradient, step, point, "target");
            target.GradientTime += sourceTime + (clock.Elapsed - targetStarted);
            target.GradientEvaluations += 2 * batches.Length;

            var matchStarted = clock.Elapsed;
            problems[j].AddPair(targetGradient, sourceGradient);
            target.SimilarityTime += clock.Elapsed - matchStarted;
            target.CacheBytes = Math.Max(target.CacheBytes, problems[j].CachedBytes);
            run.Report(step, TransferPhase.Gradients, j, run.Targets.Count);
        }
    }

    private static void CheckFinite(ParameterSet gradient, int step, int point, string side)
    {
        foreach (var (name, tensor) in gradient)
        {
            if (!torch.isfinite(tensor).all().ToBoolean())
            {
                throw new NonFiniteGradientException(step, point, side, name);
            }
        }
    }
}
