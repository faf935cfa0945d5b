using System.Globalization;
using Spectre.Console;

namespace TrajectoryTransfer.Samples.Cli;

/// <summary>Feeds a Spectre.Console progress task from the library's <see cref="IProgress{T}"/> of <see cref="TransferProgress"/>.</summary>
/// <param name="task">The task; its maximum should be T × the number of targets.</param>
/// <param name="label">The method's display name.</param>
public sealed class TransferProgressDisplay(ProgressTask task, string label) : IProgress<TransferProgress>
{
    private double? _best;

    /// <inheritdoc />
    public void Report(TransferProgress value)
    {
        var target = value.Targets > 1 ? string.Create(CultureInfo.InvariantCulture, $" (member {value.Target + 1}/{value.Targets})") : string.Empty;
        var step = string.Create(CultureInfo.InvariantCulture, $"{label}{target} step {value.Step}/{value.TotalSteps}");
        switch (value.Phase)
        {
            case TransferPhase.Gradients:
                task.Description = Markup.Escape($"{step}: gradients");
                break;
            case TransferPhase.Matching:
                task.Description = Markup.Escape($"{step}: matching");
                break;
            case TransferPhase.Evaluation:
                task.Description = Markup.Escape($"{step}: validating");
                break;
            case TransferPhase.StepCompleted:
                task.Increment(1);
                if (value.ValidationScore is { } score)
                {
                    _best = Math.Max(_best ?? score, score);
                }

                task.Description = Markup.Escape(_best is { } best
                    ? string.Create(CultureInfo.InvariantCulture, $"{step}: best validation {best:P1}")
                    : step);
                break;
        }
    }
}
