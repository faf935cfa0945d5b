using System.Diagnostics;
using Spectre.Console;
using TorchSharp;
using TrajectoryTransfer.Permutations;
using TrajectoryTransfer.Samples.Cli;
using TrajectoryTransfer.Samples.Data;
using TrajectoryTransfer.Trajectories;
using static TorchSharp.torch;

namespace TrajectoryTransfer.Samples.Experiments;

/// <summary>Runs the library's transfer (<c>LearningTransfer.Transfer(...)</c>) for one method onto one or more new initializations.</summary>
/// <param name="context">The run.</param>
/// <param name="problem">The source and the data.</param>
public sealed class TransferRunner(ExperimentContext context, TransferProblem problem)
{
    /// <summary>Transfers the source trajectory onto every initialization in <paramref name="inits"/> with <paramref name="method"/>.</summary>
    /// <param name="method">The method.</param>
    /// <param name="inits">The new initializations (several: one run, source gradients shared).</param>
    /// <param name="trained">Oracle only: the targets actually trained from <paramref name="inits"/>, in the same order.</param>
    /// <param name="label">Shown on the progress bar.</param>
    /// <param name="seconds">Wall seconds of the whole transfer, building included.</param>
    /// <param name="peakBytes">The process's peak resident memory during the transfer (Linux), else null.</param>
    /// <returns>One result per initialization; the caller disposes them.</returns>
    public IReadOnlyList<TransferResult> Run(
        TransferMethod method, IReadOnlyList<ParameterSet> inits, IReadOnlyList<ParameterSet>? trained, string label, out double seconds, out long? peakBytes)
    {
        ArgumentNullException.ThrowIfNull(inits);
        var settings = context.Settings;
        var targets = inits.Select(context.Factory.Create).ToList();
        var trainedModules = trained?.Select(context.Factory.Create).ToList() ?? [];
        using var linear = settings.Trajectory == Cli.TrajectoryKind.Linear
            ? new LinearTrajectory(problem.SourceInit, problem.SourceFinal, settings.Steps, context.Schedule)
            : null;
        try
        {
            var validation = problem.Data.Validation;
            using var subset = settings.ValidationLimit is { } limit && limit < validation.Count ? validation.Slice(0, limit) : null;
            var scored = subset ?? validation;
            var builder = LearningTransfer.Transfer((ITrajectory?)linear ?? problem.Recorded, targets)
                .WithMethod(method)
                .WithSpec(context.Factory.Spec)
                .WithSteps(settings.Steps, context.Schedule)
                .WithGradientBatches(settings.GradientBatches)
                .WithBatchNormRefresh(settings.BatchNormRefreshBatches)
                .WithData(Batches.Loader(problem.Data.Train, settings.BatchSize, settings.Seed * 1000 + 30 + (int)method), (output, label) => nn.functional.cross_entropy(output, label))
                .WithValidation(model => Evaluator.Accuracy(model, scored))
                .WithSeed(settings.Seed)
                .WithMatchingOptions(WeightMatchingOptions.Default with { Normalize = settings.NormalizePairs })
                .OnDevice(context.Device);
            if (method == TransferMethod.Oracle)
            {
                builder = builder.WithTrainedTargets([.. trainedModules]);
            }

            using var transferer = builder.Build();
            var measured = Reporting.ProcessMemory.ResetPeak();
            var clock = Stopwatch.StartNew();
            var results = context.Ui.Progress(ctx =>
            {
                var task = ctx.AddTask(Markup.Escape(label), maxValue: transferer.Steps * targets.Count);
                return transferer.RunAll(new TransferProgressDisplay(task, label));
            });
            seconds = clock.Elapsed.TotalSeconds;
            peakBytes = measured ? Reporting.ProcessMemory.PeakBytes() : null;
            return results;
        }
        finally
        {
            foreach (var module in targets.Concat(trainedModules))
            {
                module.Dispose();
            }
        }
    }
}
