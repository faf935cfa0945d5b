using TorchSharp;
using TrajectoryTransfer.Permutations;

namespace TrajectoryTransfer;

/// <summary>
/// Owns the loop of a transfer, for one or more targets in lockstep: before step 1 the method's one-time work; at each step
/// s the method sets πₛ, then every target's θ₂,πₛˢ = θ₂⁰ + πₛ(θ₁ˢ − θ₁⁰) is built, BatchNorm-refreshed, scored and kept when
/// it is the best or the last. What differs between GMT, FGMT, Naive and Oracle lives in their <see cref="TransferStrategy"/>.
/// </summary>
internal sealed class TransferEngine(TransferStrategy strategy)
{
    public IReadOnlyList<TransferResult> Run(TransferRun run)
    {
        run.Clock.Restart();
        var steps = run.Steps;
        var targets = run.Targets;
        Log.TransferStarted(run.Logger, strategy.Method, steps, targets.Count, run.Spec.Groups.Count, run.Targets[0].Initialization.Values.First().device.ToString());
        var step = 0;
        using var scoring = ScoringCache.Create(run);
        try
        {
            strategy.Prepare(run);
            for (step = 1; step <= steps; step++)
            {
                run.CancellationToken.ThrowIfCancellationRequested();
                using var stepScope = torch.NewDisposeScope();
                foreach (var target in targets)
                {
                    target.BeginStep();
                }

                strategy.Match(run, step);
                using var displacement = run.Source.Displacement(step);
                foreach (var target in targets)
                {
                    Evaluate(run, scoring, target, displacement, step);
                }
            }

            if (scoring is not null)
            {
                Log.ScoringCacheUsed(run.Logger, scoring.Replays, scoring.Bytes);
            }

            var results = targets.Select(t => t.ToResult(strategy.Method, run.Clock.Elapsed)).ToArray();
            foreach (var result in results)
            {
                var timings = result.Timings;
                Log.TransferFinished(run.Logger, timings.Total.TotalSeconds, timings.Gradients.TotalSeconds, timings.Similarity.TotalSeconds, timings.Assignment.TotalSeconds, timings.Evaluation.TotalSeconds, result.BestStep);
            }

            return results;
        }
        catch (OperationCanceledException)
        {
            Log.TransferCancelled(run.Logger, step);
            throw;
        }
        finally
        {
            foreach (var target in targets)
            {
                target.Dispose();
            }
        }
    }

    /// <summary>Builds θ₂,πₛˢ, refreshes BatchNorm, scores it, and keeps it when it is the best or the last step.</summary>
    private static void Evaluate(TransferRun run, ScoringCache? scoring, TargetState target, ParameterSet displacement, int step)
    {
        var last = step == run.Steps;
        var workspace = run.Workspace;
        var clock = run.Clock;
        double? score = null;
        if (run.Validation is not null || last)
        {
            var started = clock.Elapsed;
            run.Report(step, TransferPhase.Evaluation, target.Index, run.Targets.Count, target.Objective);
            workspace.LoadPermutedSum(target.Initialization, run.Spec, target.Permutation, displacement);
            if (workspace.HasBatchNorm && run.Data is { } data)
            {
                workspace.RefreshBatchNorm(data, data.Draw(run.Options.BatchNormRefreshBatches));
            }

            if (run.Validation is { } validation)
            {
                score = scoring is null
                    ? workspace.Score(validation)
                    : scoring.Score(target, step, displacement, () => workspace.Score(validation));
                if (target.BestScore is null || score > target.BestScore)
                {
                    target.BestParameters?.Dispose();
                    target.BestParameters = ParameterSet.FromModule(workspace.Module).DetachFromDisposeScope();
                    target.BestPermutation = target.Permutation;
                    target.BestStep = step;
                    target.BestScore = score;
                }
            }

            if (last)
            {
                target.Final = ParameterSet.FromModule(workspace.Module).DetachFromDisposeScope();
            }

            target.EvaluationTime += clock.Elapsed - started;
        }

        target.EndStep(step, run.Source.Positions[step], score);
        Log.StepCompleted(run.Logger, step, run.Steps, target.Index, target.Objective, target.StepSolves, target.PermutationChange, score);
        run.Report(step, TransferPhase.StepCompleted, target.Index, run.Targets.Count, target.Objective, score);
    }
}
