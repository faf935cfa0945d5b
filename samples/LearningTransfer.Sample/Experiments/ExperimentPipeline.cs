using TorchSharp;
using TrajectoryTransfer.Permutations;
using TrajectoryTransfer.Samples.Cli;
using TrajectoryTransfer.Samples.Reporting;

namespace TrajectoryTransfer.Samples.Experiments;

/// <summary>
/// The stages after a scenario has prepared its problem: train the target for real (Oracle's target, the scratch baseline
/// and the mode-connectivity reference), transfer with every method, fine-tune, trace loss lines, build ensembles.
/// </summary>
/// <param name="context">The run.</param>
public sealed class ExperimentPipeline(ExperimentContext context)
{
    /// <summary>Runs every stage. The method results inside are disposed by the caller.</summary>
    /// <param name="problem">The prepared problem.</param>
    public ExperimentResults Run(TransferProblem problem)
    {
        ArgumentNullException.ThrowIfNull(problem);
        var settings = context.Settings;
        var data = problem.Data;
        var ui = context.Ui;

        ui.Stage(settings.Scenario == Scenario.Pretrained
            ? $"Target: fine-tune the second pre-trained model (fresh output layer) directly on classes {data.Classes} for {settings.Epochs} epochs (the direct fine-tuning baseline; Oracle's target)"
            : $"Target: train the new initialization for {settings.Epochs} epochs (the scratch baseline; Oracle's trained target)");
        using var targetModel = context.Factory.Create(problem.TargetInit);
        var initialAccuracy = Evaluator.Accuracy(targetModel, data.Test);
        // The baseline's first epochs are the target's own when the recipe is the same: all of them, or a prefix of a
        // constant-rate run (a cosine schedule over fewer epochs would be another run).
        var scratchShared = settings.FineTuneEpochs == settings.Epochs
            || (settings.FineTuneEpochs < settings.Epochs && settings.TrainRecipe.Schedule == LearningRateSchedule.Constant);
        var targetRun = ui.Train("train target", targetModel, data.Train, context.FullTraining(11), m => Evaluator.Accuracy(m, data.Test), evaluationsPerEpoch: settings.EvaluationsPerEpoch);
        using var trainedTarget = ParameterSet.FromModule(targetModel).DetachFromDisposeScope();
        ui.Note($"Trained target: test accuracy {targetRun.TestAccuracyByEpoch[^1]:P2} after {settings.Epochs} epochs ({targetRun.Seconds:F1} s).");
        var scratch = scratchShared ? targetRun.Take(settings.FineTuneEpochs) : TrainScratch(problem);

        var runner = new TransferRunner(context, problem);
        var outcomes = new List<MethodOutcome>();
        var alphas = ModeConnectivity.Alphas(settings.CurvePoints);
        using var curveData = data.TestSubset(settings.CurveExamples);
        try
        {
            foreach (var method in settings.Methods)
            {
                outcomes.Add(RunMethod(method, problem, runner, trainedTarget, alphas, curveData, scratch.TestAccuracyByEpoch[^1]));
            }

            var ensemble = settings.EnsembleMembers > 0 ? new EnsembleExperiment(context, problem, runner).Run() : null;
            return new ExperimentResults(scratch, initialAccuracy, scratchShared, outcomes, ensemble, alphas, curveData.Count);
        }
        catch
        {
            foreach (var outcome in outcomes)
            {
                outcome.Result.Dispose();
            }

            throw;
        }
    }

    private TrainingRun TrainScratch(TransferProblem problem)
    {
        using var model = context.Factory.Create(problem.TargetInit);
        var label = context.Settings.Scenario == Scenario.Pretrained ? "fine-tune target directly" : "train from scratch";
        return context.Ui.Train(label, model, problem.Data.Train, context.Baseline(11), m => Evaluator.Accuracy(m, problem.Data.Test), evaluationsPerEpoch: context.Settings.EvaluationsPerEpoch);
    }

    private MethodOutcome RunMethod(
        TransferMethod method, TransferProblem problem, TransferRunner runner, ParameterSet trainedTarget, IReadOnlyList<double> alphas, Data.MnistSplit curveData, double baselineFinal)
    {
        var settings = context.Settings;
        var data = problem.Data;
        var name = Choices.Display(method);
        context.Ui.Stage($"{name}: transfer (T = {settings.Steps}, {settings.Schedule}), then fine-tune {settings.FineTuneEpochs} epochs");
        var result = runner.Run(method, [problem.TargetInit], method == TransferMethod.Oracle ? [trainedTarget] : null, name, out var seconds, out var peakBytes)[0];
        try
        {
            using var model = context.Factory.Create(result.Preferred);
            var accuracy = Evaluator.Accuracy(model, data.Test);
            double finalAccuracy;
            if (result.BestParameters is null || result.BestStep == result.History.Count)
            {
                finalAccuracy = accuracy; // the best step is the last: the same parameters, not scored twice
            }
            else
            {
                using var final = context.Factory.Create(result.Parameters);
                finalAccuracy = Evaluator.Accuracy(final, data.Test);
            }

            context.Ui.Note($"{name}: best step {result.BestStep} (validation {result.BestValidationScore:P2}), test accuracy {accuracy:P2} without training; {seconds:F1} s.");
            var fineTune = context.Ui.Train($"fine-tune {name}", model, data.Train, context.FineTuning(20 + (int)method), m => Evaluator.Accuracy(m, data.Test), evaluationsPerEpoch: settings.EvaluationsPerEpoch);
            context.Ui.Note($"{name} fine-tuned: test accuracy {string.Join(" → ", fineTune.TestAccuracyByEpoch.Select(a => a.ToString("P2", System.Globalization.CultureInfo.InvariantCulture)))}.");
            var toBaseline = SecondsToReach(baselineFinal, seconds, accuracy, fineTune);
            context.Ui.Note(toBaseline is { } reached
                ? $"{name}: transfer + fine-tuning reached the baseline's final test accuracy {baselineFinal:P2} after {reached:F1} s."
                : $"{name}: transfer + fine-tuning did not reach the baseline's final test accuracy {baselineFinal:P2}.");
            var curves = Curves(result, problem, trainedTarget, alphas, curveData);
            return new MethodOutcome(method, result, seconds, accuracy, finalAccuracy, fineTune, curves, toBaseline, peakBytes);
        }
        catch
        {
            result.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Transfer plus fine-tuning seconds until the test accuracy first reaches <paramref name="target"/>: the transfer's
    /// own parameters count at the transfer's end, then every fine-tuning evaluation at its training time; null if never.
    /// </summary>
    private static double? SecondsToReach(double target, double transferSeconds, double transferredAccuracy, TrainingRun fineTune)
    {
        if (transferredAccuracy >= target)
        {
            return transferSeconds;
        }

        foreach (var checkpoint in fineTune.Checkpoints)
        {
            if (checkpoint.Score >= target)
            {
                return transferSeconds + checkpoint.Seconds;
            }
        }

        return null;
    }

    private (LossCurve, LossCurve) Curves(TransferResult result, TransferProblem problem, ParameterSet trainedTarget, IReadOnlyList<double> alphas, Data.MnistSplit curveData)
    {
        var spec = context.Factory.Spec;
        using var workspace = context.Factory.Create(0);
        using var permutedSource = ModeConnectivity.Permuted(spec, result.BestPermutation ?? result.Permutation, problem.SourceFinal);
        var seed = context.Settings.Seed;
        var batch = context.Settings.BatchSize;
        var toSource = ModeConnectivity.Along(workspace, result.Preferred, permutedSource, alphas, curveData, problem.Data.Train, batch, seed);
        var toTarget = ModeConnectivity.Along(workspace, result.Preferred, trainedTarget, alphas, curveData, problem.Data.Train, batch, seed);
        context.Ui.Note($"Loss barrier to the permuted source {toSource.Barrier:F3}, to the trained target {toTarget.Barrier:F3}.");
        return (toSource, toTarget);
    }
}
