using TrajectoryTransfer.Samples.Reporting;

namespace TrajectoryTransfer.Samples.Experiments;

/// <summary>One method's transfer and fine-tuning, as measured.</summary>
/// <param name="Method">The method.</param>
/// <param name="Result">The library's result (history, timings, gradient count).</param>
/// <param name="Seconds">Wall seconds of the transfer.</param>
/// <param name="TestAccuracy">Test accuracy of the returned (best-step) parameters.</param>
/// <param name="FinalTestAccuracy">Test accuracy of step T's parameters.</param>
/// <param name="FineTune">Fine-tuning from the returned parameters.</param>
/// <param name="Curves">Losses along the two straight lines.</param>
/// <param name="SecondsToBaselineFinal">Transfer plus fine-tuning seconds until the test accuracy first reached the baseline's final one; null if it never did.</param>
/// <param name="PeakBytes">The process's peak resident memory during the transfer (Linux), else null.</param>
public sealed record MethodOutcome(
    TransferMethod Method,
    TransferResult Result,
    double Seconds,
    double TestAccuracy,
    double FinalTestAccuracy,
    TrainingRun FineTune,
    (LossCurve ToPermutedSource, LossCurve ToTrainedTarget) Curves,
    double? SecondsToBaselineFinal,
    long? PeakBytes);

/// <summary>Everything the pipeline measured, before it becomes a <see cref="Report"/>.</summary>
/// <param name="Scratch">The baseline: training from θ₂⁰ (or fine-tuning it directly) for the fine-tuning epochs.</param>
/// <param name="ScratchInitialAccuracy">Test accuracy of θ₂⁰.</param>
/// <param name="ScratchShared">Whether the scratch epochs are the Oracle target's first epochs.</param>
/// <param name="Methods">Per method, in the order run.</param>
/// <param name="Ensemble">The ensembles, when run.</param>
/// <param name="Alphas">The mode-connectivity points.</param>
/// <param name="CurveExamples">Test examples the curve losses use.</param>
public sealed record ExperimentResults(
    TrainingRun Scratch,
    double ScratchInitialAccuracy,
    bool ScratchShared,
    IReadOnlyList<MethodOutcome> Methods,
    EnsembleReport? Ensemble,
    IReadOnlyList<double> Alphas,
    int CurveExamples);
