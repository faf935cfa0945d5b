using System.Globalization;
using System.Runtime.InteropServices;
using TorchSharp;
using TrajectoryTransfer.Samples.Cli;
using TrajectoryTransfer.Samples.Experiments;

namespace TrajectoryTransfer.Samples.Reporting;

/// <summary>Turns what a run measured into the <see cref="Report"/> written as report.json.</summary>
public static class ReportFactory
{
    /// <summary>Builds the report.</summary>
    /// <param name="context">The run.</param>
    /// <param name="problem">The scenario's problem.</param>
    /// <param name="results">What the pipeline measured.</param>
    /// <param name="run">How the run was started and how long it took.</param>
    /// <param name="loadAverage">The load average at the start.</param>
    public static Report Create(ExperimentContext context, TransferProblem problem, ExperimentResults results, RunReport run, IReadOnlyList<double>? loadAverage)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(problem);
        ArgumentNullException.ThrowIfNull(results);
        var s = context.Settings;
        var data = problem.Data;
        return new Report(
            s.Scenario == Scenario.Pretrained ? "pretrained" : "random",
            new DatasetReport(data.Source.Name, data.Train.Count, data.Validation.Count, data.Test.Count, data.Source.Path, data.Source.Embedded, data.Classes),
            new ModelReport(context.Factory.Name, context.Factory.ParameterCount, Choices.Key(s.Model), s.Width, context.Factory.Spec.Groups.Count),
            new SettingsReport(
                s.Steps, s.Schedule, s.GradientBatches, s.BatchSize, s.Epochs, s.FineTuneEpochs, s.Seed, s.Preset,
                s.Trajectory == TrajectoryKind.Linear ? "linear" : "recorded", s.LearningRate, s.FineTuneLearningRate,
                s.Methods.Select(Choices.Key).ToArray(), s.EnsembleMembers, s.TrainLimit, s.ValidationFraction, context.Device.ToString(), s.Normalize,
                s.TrainRecipe.Describe(), s.FineTuneRecipe.Describe(), s.PretrainEpochs,
                s.Model is ModelKind.Conv8 or ModelKind.Conv8BatchNorm ? s.WidthFactor : null, s.ValidationLimit, s.EvaluationsPerEpoch, s.BatchNormRefreshBatches,
                s.NormalizePairs),
            new SourceReport(problem.SourceTestAccuracy, problem.SourceTrainSeconds, problem.SourceValidationAccuracy, problem.Recorded.Count, problem.PretrainSeconds, problem.PretrainedTestAccuracy),
            new ScratchReport(
                results.Scratch.TestAccuracyByEpoch, results.Scratch.SecondsPerEpoch, results.ScratchInitialAccuracy, results.ScratchShared,
                results.Scratch.Seconds, Checkpoints(results.Scratch)),
            results.Methods.ToDictionary(m => Choices.Key(m.Method), Method),
            results.Ensemble,
            new ModeConnectivityReport(
                results.Alphas,
                "test",
                results.CurveExamples,
                results.Methods.ToDictionary(m => Choices.Key(m.Method), m => Curves(m.Curves.ToPermutedSource, m.Curves.ToTrainedTarget))),
            new MachineReport(
                Environment.ProcessorCount,
                RuntimeInformation.OSDescription,
                RuntimeInformation.FrameworkDescription,
                RuntimeInformation.ProcessArchitecture.ToString(),
                torch.get_num_threads(),
                loadAverage),
            run);
    }

    /// <summary>The 1, 5 and 15-minute load averages (Linux; null elsewhere).</summary>
    public static IReadOnlyList<double>? LoadAverage()
    {
        try
        {
            var fields = File.ReadAllText("/proc/loadavg").Split(' ', StringSplitOptions.RemoveEmptyEntries);
            return fields.Take(3).Select(f => double.Parse(f, CultureInfo.InvariantCulture)).ToArray();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException)
        {
            return null;
        }
    }

    private static MethodReport Method(MethodOutcome outcome)
    {
        var r = outcome.Result;
        var history = r.History;
        return new MethodReport(
            outcome.TestAccuracy,
            r.BestStep ?? history.Count,
            r.BestValidationScore.GetValueOrDefault(),
            r.FinalValidationScore.GetValueOrDefault(),
            history.Select(h => h.ValidationScore.GetValueOrDefault()).ToArray(),
            outcome.Seconds,
            r.Timings.Gradients.TotalSeconds,
            r.Timings.Assignment.TotalSeconds,
            r.Timings.Evaluation.TotalSeconds,
            r.GradientEvaluations,
            outcome.FineTune.TestAccuracyByEpoch,
            r.Timings.Similarity.TotalSeconds,
            outcome.FinalTestAccuracy,
            outcome.FineTune.SecondsPerEpoch,
            history.Select(h => h.Objective).ToArray(),
            outcome.SecondsToBaselineFinal,
            Checkpoints(outcome.FineTune),
            outcome.PeakBytes,
            r.CacheBytes);
    }

    private static CheckpointReport[] Checkpoints(TrainingRun run) =>
        run.Checkpoints.Select(c => new CheckpointReport(c.Epoch, c.Seconds, c.Score)).ToArray();

    private static CurvesReport Curves(LossCurve toSource, LossCurve toTarget) => new(
        toSource.Losses.Select(Finite).ToArray(),
        toTarget.Losses.Select(Finite).ToArray(),
        Finite(toSource.Barrier),
        Finite(toTarget.Barrier));

    private static double? Finite(double value) => double.IsFinite(value) ? value : null;
}
