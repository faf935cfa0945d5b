using Microsoft.Extensions.Logging;

namespace TrajectoryTransfer;

/// <summary>Source-generated log messages of the transfer.</summary>
internal static partial class Log
{
    [LoggerMessage(EventId = 1, Level = LogLevel.Information, Message = "Transfer started: {Method}, {Steps} steps, {Targets} target(s), {Groups} permutation group(s), device {Device}")]
    public static partial void TransferStarted(ILogger logger, TransferMethod method, int steps, int targets, int groups, string device);

    [LoggerMessage(EventId = 2, Level = LogLevel.Debug, Message = "Step {Step}/{Steps}, target {Target}: objective {Objective:G6}, {Solves} solve(s), {Changed:P1} of units moved, validation {Score}")]
    public static partial void StepCompleted(ILogger logger, int step, int steps, int target, double objective, int solves, double changed, double? score);

    [LoggerMessage(EventId = 3, Level = LogLevel.Information, Message = "Transfer finished in {Seconds:F2} s (gradients {Gradients:F2} s, similarity {Similarity:F2} s, assignment {Assignment:F2} s, evaluation {Evaluation:F2} s); best step {BestStep}")]
    public static partial void TransferFinished(ILogger logger, double seconds, double gradients, double similarity, double assignment, double evaluation, int? bestStep);

    [LoggerMessage(EventId = 4, Level = LogLevel.Information, Message = "Transfer cancelled at step {Step}; the caller's module was restored")]
    public static partial void TransferCancelled(ILogger logger, int step);

    [LoggerMessage(EventId = 5, Level = LogLevel.Information, Message = "The gradient of '{Weight}' is matched as low-rank factors ({Rank} rows per gradient)")]
    public static partial void FactorsCaptured(ILogger logger, string weight, long rank);

    [LoggerMessage(EventId = 6, Level = LogLevel.Warning, Message = "The factors captured for '{Weight}' disagreed with its gradient (is the weight used elsewhere too, or the layer's output changed in place?); it is matched from the full gradient")]
    public static partial void FactorsRefused(ILogger logger, string weight);

    [LoggerMessage(EventId = 7, Level = LogLevel.Debug, Message = "The gradient of '{Weight}' is taken in full this time: its layer did not run exactly once with a gradient in the minibatch's forward pass")]
    public static partial void FactorsSkipped(ILogger logger, string weight);

    [LoggerMessage(EventId = 8, Level = LogLevel.Debug, Message = "The input of '{Weight}' changed between scored steps; its outputs are computed in full from now on")]
    public static partial void ScoringCacheDropped(ILogger logger, string weight);

    [LoggerMessage(EventId = 9, Level = LogLevel.Debug, Message = "Scoring replayed {Replays} layer outputs from {Bytes} kept bytes")]
    public static partial void ScoringCacheUsed(ILogger logger, int replays, long bytes);
}
