using Spectre.Console;
using TorchSharp;
using TrajectoryTransfer.Samples.Data;
using TrajectoryTransfer.Samples.Experiments;
using TrajectoryTransfer.Trajectories;
using static TorchSharp.torch;

namespace TrajectoryTransfer.Samples.Cli;

/// <summary>What the sample shows while it runs: stage headings, notes and Spectre.Console progress bars.</summary>
/// <param name="console">Where to write.</param>
public sealed class ConsoleUi(IAnsiConsole console)
{
    /// <summary>The console.</summary>
    public IAnsiConsole Console { get; } = console ?? throw new ArgumentNullException(nameof(console));

    /// <summary>Writes a stage heading.</summary>
    /// <param name="title">Plain text.</param>
    public void Stage(string title) => Console.Write(new Rule($"[bold]{Markup.Escape(title)}[/]") { Justification = Justify.Left });

    /// <summary>Writes a line of plain text.</summary>
    /// <param name="text">Plain text.</param>
    public void Note(string text) => Console.MarkupLine(Markup.Escape(text));

    /// <summary>Writes a highlighted line of plain text.</summary>
    /// <param name="text">Plain text.</param>
    public void Warn(string text) => Console.MarkupLine($"[yellow]{Markup.Escape(text)}[/]");

    /// <summary>Runs <paramref name="work"/> under a progress display (on this thread, so TorchSharp dispose scopes stay valid).</summary>
    /// <typeparam name="T">The result type.</typeparam>
    /// <param name="work">Adds tasks to the context and does the work.</param>
    public T Progress<T>(Func<ProgressContext, T> work) =>
        Console.Progress()
            .AutoClear(false)
            .HideCompleted(false)
            .Columns(new TaskDescriptionColumn { Alignment = Justify.Left }, new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn())
            .Start(work);

    /// <summary>Trains a model with a progress bar.</summary>
    /// <param name="label">What is being trained.</param>
    /// <param name="model">The model.</param>
    /// <param name="data">The training examples.</param>
    /// <param name="schedule">How.</param>
    /// <param name="afterEpoch">Scores the model after each epoch.</param>
    /// <param name="recorder">Records the trajectory.</param>
    /// <param name="evaluationsPerEpoch">How often <paramref name="afterEpoch"/> runs per epoch.</param>
    public TrainingRun Train(
        string label,
        nn.Module<Tensor, Tensor> model,
        MnistSplit data,
        TrainingSchedule schedule,
        Func<nn.Module<Tensor, Tensor>, double>? afterEpoch = null,
        TrajectoryRecorder? recorder = null,
        int evaluationsPerEpoch = 1)
    {
        ArgumentNullException.ThrowIfNull(schedule);
        ArgumentNullException.ThrowIfNull(data);
        return Progress(ctx =>
        {
            var task = ctx.AddTask(Markup.Escape(label), maxValue: schedule.Epochs * Batches.PerEpoch(data, schedule.BatchSize));
            var run = Trainer.Train(model, data, schedule, afterEpoch, recorder, () => task.Increment(1), evaluationsPerEpoch);
            task.Value = task.MaxValue;
            return run;
        });
    }
}
