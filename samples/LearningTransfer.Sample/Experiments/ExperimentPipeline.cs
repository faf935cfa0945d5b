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
            ? $"Target: fine-tune the second pre-trained model on classes {data.Classes} for {settings.Epochs} epochs (Oracle's target; the direct fine-tuning baseline)"
            : $"Target: train the new initialization for {settings.Epochs} epochs (Oracle's trained target; the scratch baseline)");
        using var targetModel = context.Factory.Create(problem.TargetInit);
        var initialAccuracy = Evaluator.Accuracy(targetModel, data.Test);
        var scratchShared = settings.FineTuneEpochs <= settings.Epochs && settings.FineTuneLearningRate.Equals(settings.LearningRate);
        var targetRun = ui.Train("train target", targetModel, data.Train, context.FullTraining(11), m => Evaluator.Accuracy(m, data.Test));
        using var trainedTarget = ParameterSet.FromModule(targetModel).DetachFromDisposeScope();
        ui.Note($"Trained target: test accuracy {targetRun.TestAccuracyByEpoch[^1]:P2} after {settings.Epochs} epochs ({targetRun.Seconds:F1} s).");
        var scratch = scratchShared
            ? new TrainingRun(targetRun.EpochSeconds.Take(settings.FineTuneEpochs).ToArray(), targetRun.TestAccuracyByEpoch.Take(settings.FineTuneEpochs).ToArray())
            : TrainScratch(problem);

        var runner = new TransferRunner(context, problem);
        var outcomes = new List<MethodOutcome>();
        var alphas = ModeConnectivity.Alphas(settings.CurvePoints);
        using var curveData = data.TestSubset(settings.CurveExamples);
        try
        {
            foreach (var method in settings.Methods)
            {
                outcomes.Add(RunMethod(method, problem, runner, trainedTarget, alphas, curveData));
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
        return context.Ui.Train("train from scratch", model, problem.Data.Train, context.FineTuning(11), m => Evaluator.Accuracy(m, problem.Data.Test));
    }

    private MethodOutcome RunMethod(
        TransferMethod method, TransferProblem problem, TransferRunner runner, ParameterSet trainedTarget, IReadOnlyList<double> alphas, Data.MnistSplit curveData)
    {
        var settings = context.Settings;
        var data = problem.Data;
        var name = Choices.Display(method);
        context.Ui.Stage($"{name}: transfer (T = {settings.Steps}, {settings.Schedule}), then fine-tune {settings.FineTuneEpochs} epochs");
        var result = runner.Run(method, [problem.TargetInit], method == TransferMethod.Oracle ? [trainedTarget] : null, name, out var seconds)[0];
        try
        {
            using var model = context.Factory.Create(result.Preferred);
            var accuracy = Evaluator.Accuracy(model, data.Test);
            double finalAccuracy;
            using (var final = context.Factory.Create(result.Parameters))
            {
                finalAccuracy = Evaluator.Accuracy(final, data.Test);
            }

            context.Ui.Note($"{name}: best step {result.BestStep} (validation {result.BestValidationScore:P2}), test accuracy {accuracy:P2} without training; {seconds:F1} s.");
            var fineTune = context.Ui.Train($"fine-tune {name}", model, data.Train, context.FineTuning(20 + (int)method), m => Evaluator.Accuracy(m, data.Test));
            context.Ui.Note($"{name} fine-tuned: test accuracy {string.Join(" → ", fineTune.TestAccuracyByEpoch.Select(a => a.ToString("P2", System.Globalization.CultureInfo.InvariantCulture)))}.");
            var curves = Curves(result, problem, trainedTarget, alphas, curveData);
            return new MethodOutcome(method, result, seconds, accuracy, finalAccuracy, fineTune, curves);
        }
        catch
        {
            result.Dispose();
            throw;
        }
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
