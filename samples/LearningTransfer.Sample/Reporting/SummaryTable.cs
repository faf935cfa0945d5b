using System.Globalization;
using Spectre.Console;
using TrajectoryTransfer.Samples.Cli;

namespace TrajectoryTransfer.Samples.Reporting;

/// <summary>The final summary printed to the console.</summary>
public static class SummaryTable
{
    /// <summary>Writes the summary tables and where the files are.</summary>
    /// <param name="console">Where to write.</param>
    /// <param name="report">The report.</param>
    /// <param name="files">The files written.</param>
    public static void Write(IAnsiConsole console, Report report, IEnumerable<string> files)
    {
        ArgumentNullException.ThrowIfNull(console);
        ArgumentNullException.ThrowIfNull(report);
        ArgumentNullException.ThrowIfNull(files);
        var finalEpoch = report.Settings.FineTuneEpochs;
        var table = new Table { Title = new TableTitle(Markup.Escape($"{report.Dataset.Name}, classes {report.Dataset.Classes}: {report.Model.Name}, {report.Scenario} scenario")) };
        table.AddColumn("");
        table.AddColumn(new TableColumn("test acc., no training").RightAligned());
        table.AddColumn(new TableColumn("best step").RightAligned());
        table.AddColumn(new TableColumn("best val. acc.").RightAligned());
        table.AddColumn(new TableColumn(Inv($"test acc. after {finalEpoch} epoch(s)")).RightAligned());
        table.AddColumn(new TableColumn("seconds").RightAligned());
        table.AddColumn(new TableColumn("s to baseline's final acc.").RightAligned());
        table.AddRow(
            "source (trained)",
            Pct(report.Source.TestAccuracy),
            "",
            Pct(report.Source.ValidationAccuracy),
            "",
            Inv($"{report.Source.TrainSeconds:F1} (training)"),
            "");
        foreach (var (key, m) in report.Methods)
        {
            table.AddRow(
                Choices.Display(Choices.Methods[key]),
                Pct(m.TransferredTestAccuracy),
                Inv($"{m.BestStep}/{report.Settings.Steps}"),
                Pct(m.BestValidationAccuracy),
                m.FineTuneTestAccuracyByEpoch.Count > 0 ? Pct(m.FineTuneTestAccuracyByEpoch[^1]) : "",
                Inv($"{m.TransferSeconds:F1} (transfer)"),
                m.SecondsToScratchFinal is { } reached ? Inv($"{reached:F1} ({reached / report.Scratch.Seconds:F2}×)") : "not reached");
        }

        table.AddRow(
            report.Scenario == "pretrained" ? "fine-tune target directly" : "from scratch",
            Pct(report.Scratch.InitialTestAccuracy),
            "",
            "",
            report.Scratch.TestAccuracyByEpoch.Count > 0 ? Pct(report.Scratch.TestAccuracyByEpoch[^1]) : "",
            Inv($"{report.Scratch.SecondsPerEpoch:F1} per epoch"),
            Inv($"{report.Scratch.Seconds:F1}"));
        console.Write(table);

        if (report.Ensemble is { } e)
        {
            var ensemble = new Table { Title = new TableTitle(Inv($"Ensembles of {e.Members} (test accuracy of the averaged softmax)")) };
            ensemble.AddColumn("");
            ensemble.AddColumn(new TableColumn("ensemble test acc.").RightAligned());
            ensemble.AddColumn(new TableColumn("members").RightAligned());
            ensemble.AddColumn(new TableColumn("seconds").RightAligned());
            ensemble.AddRow(Inv($"FGMT + {e.Transferred.Epochs} fine-tuning epoch(s)"), Pct(e.Transferred.TestAccuracy), string.Join(", ", e.Transferred.MemberTestAccuracies.Select(Pct)), Inv($"{e.Transferred.Seconds:F1}"));
            ensemble.AddRow(Inv($"independent, {e.Independent.Epochs} epoch(s) each"), Pct(e.Independent.TestAccuracy), string.Join(", ", e.Independent.MemberTestAccuracies.Select(Pct)), Inv($"{e.Independent.Seconds:F1}"));
            console.Write(ensemble);
        }

        var barriers = new Table { Title = new TableTitle("Loss barriers on the straight line from the transferred parameters") };
        barriers.AddColumn("");
        barriers.AddColumn(new TableColumn("to permuted source π(θ₁ᵀ)").RightAligned());
        barriers.AddColumn(new TableColumn("to trained target").RightAligned());
        foreach (var (key, c) in report.ModeConnectivity.Methods)
        {
            barriers.AddRow(Choices.Display(Choices.Methods[key]), Num(c.BarrierToPermutedSource), Num(c.BarrierToTrainedTarget));
        }

        console.Write(barriers);
        console.MarkupLine(Markup.Escape(Inv($"Total wall time {report.Run.WallSeconds:F1} s on {report.Machine.Cores} cores.")));
        console.MarkupLine("Files:");
        foreach (var file in files)
        {
            console.MarkupLine(Markup.Escape($"  {file}"));
        }
    }

    private static string Pct(double value) => double.IsFinite(value) ? value.ToString("P2", CultureInfo.InvariantCulture) : "-";

    private static string Num(double? value) => value is { } v ? v.ToString("F3", CultureInfo.InvariantCulture) : "-";

    private static string Inv(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);
}
