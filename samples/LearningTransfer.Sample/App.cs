using System.Diagnostics;
using System.Globalization;
using Spectre.Console;
using TorchSharp;
using TrajectoryTransfer.Samples.Cli;
using TrajectoryTransfer.Samples.Data;
using TrajectoryTransfer.Samples.Experiments;
using TrajectoryTransfer.Samples.Models;
using TrajectoryTransfer.Samples.Reporting;

namespace TrajectoryTransfer.Samples;

/// <summary>The sample as a callable: parse the command line, run the experiment, write the report and plots.</summary>
public static class App
{
    /// <summary>Runs the sample with <paramref name="args"/>; returns the process exit code (0 on success).</summary>
    /// <param name="args">The command-line arguments.</param>
    /// <param name="console">Where to write (the terminal when null).</param>
    public static int Run(string[] args, IAnsiConsole? console = null)
    {
        ArgumentNullException.ThrowIfNull(args);
        var ui = new ConsoleUi(console ?? AnsiConsole.Console);
        var command = new SampleCommand().Create(settings => Run(settings with { Arguments = args }, ui));
        return command.Parse(args).Invoke();
    }

    /// <summary>Runs the sample with resolved settings.</summary>
    /// <param name="settings">The settings.</param>
    /// <param name="ui">Where to write.</param>
    public static int Run(SampleSettings settings, ConsoleUi ui)
    {
        ArgumentNullException.ThrowIfNull(settings);
        ArgumentNullException.ThrowIfNull(ui);
        try
        {
            Execute(settings, ui);
            return 0;
        }
        catch (SettingsException e)
        {
            ui.Console.MarkupLine($"[red]{Markup.Escape(e.Message)}[/]");
            return 2;
        }
        catch (Exception e) when (e is IOException or InvalidDataException or UnauthorizedAccessException)
        {
            ui.Console.MarkupLine($"[red]{Markup.Escape(e.Message)}[/]");
            return 1;
        }
    }

    private static void Execute(SampleSettings settings, ConsoleUi ui)
    {
        var wall = Stopwatch.StartNew();
        var started = DateTimeOffset.UtcNow;
        var loadAverage = ReportFactory.LoadAverage();
        settings.Validate();
        var device = Devices.Resolve(settings.Device);
        if ((settings.Threads ?? BusyMachineThreads(ui)) is { } threads)
        {
            torch.set_num_threads(threads);
        }

        var source = DatasetLocator.Locate(settings.DataDirectory);
        if (source.Embedded)
        {
            ui.Warn($"Using the embedded Fashion-MNIST subset (6,000 training, 2,000 test images) from {source.Path}. "
                + "For the full dataset: apt-get install dataset-fashion-mnist (installs /usr/share/datasets/fashion-mnist), or pass --data DIR with any MNIST-format folder.");
        }

        using var data = ExperimentData.Load(source, settings.TrainLimit, settings.TestLimit, settings.ValidationFraction, settings.Seed, device, settings.Normalize);
        var factory = new ModelFactory(settings.Model, settings.Width, device, settings.WidthFactor, data.ImageSize);
        var context = new ExperimentContext(settings, ui, factory, device, data);
        var load = loadAverage is { Count: > 0 } ? Inv($", load average {loadAverage[0]:F2}") : string.Empty;
        ui.Note(Inv($"{source.Name} from {source.Path}: {data.Train.Count} training, {data.Validation.Count} validation, {data.Test.Count} test images{(settings.Normalize == "mnist" ? ", inputs normalised with MNIST's constants (0.1307, 0.3081)" : string.Empty)}."));
        ui.Note(Inv($"Model {factory.Name}, {factory.ParameterCount:N0} parameters, on {device}; {torch.get_num_threads()} libtorch threads, {Environment.ProcessorCount} cores{load}."));

        using var problem = settings.Scenario == Scenario.Pretrained ? Scenarios.Pretrained(context) : Scenarios.RandomInit(context);
        var results = new ExperimentPipeline(context).Run(problem);
        try
        {
            var run = new RunReport(CommandLine(settings.Arguments), settings.Arguments, started.ToString("O", CultureInfo.InvariantCulture), wall.Elapsed.TotalSeconds);
            var report = ReportFactory.Create(context, problem, results, run, loadAverage);
            var plots = Plots.WriteAll(report, settings.OutputDirectory);
            report = report with { Run = run with { WallSeconds = wall.Elapsed.TotalSeconds } };
            var path = ReportJson.Write(report, settings.OutputDirectory);
            ui.Stage("Summary");
            SummaryTable.Write(ui.Console, report, [Path.GetFullPath(path), .. plots.Select(Path.GetFullPath)]);
        }
        finally
        {
            foreach (var method in results.Methods)
            {
                method.Result.Dispose();
            }
        }
    }

    // libtorch's worker threads wait for each other at every operation, so one that shares its core with another
    // process stalls the others: measured on 2 cores (docs/performance.md, "Threads"). The choice is made from the cores
    // busy right now, not from the load average, which still counts a build that finished a minute ago.
    private static int? BusyMachineThreads(ConsoleUi ui)
    {
        if (CpuUsage.BusyCores(TimeSpan.FromSeconds(1)) is not { } busy)
        {
            return null;
        }

        var threads = CpuUsage.ThreadsFor(busy, Environment.ProcessorCount);
        if (threads >= Environment.ProcessorCount)
        {
            return null;
        }

        ui.Warn(Inv($"Other processes keep {busy:F1} of {Environment.ProcessorCount} cores busy: using {threads} libtorch thread(s), which is much faster then. Pass --threads N to choose."));
        return threads;
    }

    private static string CommandLine(IReadOnlyList<string> arguments) =>
        string.Join(' ', new[] { "dotnet run -c Release --project samples/LearningTransfer.Sample --" }
            .Concat(arguments.Select(a => a.Contains(' ', StringComparison.Ordinal) ? $"\"{a}\"" : a)));

    private static string Inv(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);
}
