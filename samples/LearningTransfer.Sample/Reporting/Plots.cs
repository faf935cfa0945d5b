using ScottPlot;
using TrajectoryTransfer.Samples.Cli;

namespace TrajectoryTransfer.Samples.Reporting;

/// <summary>The PNG figures of a run, drawn from its report with ScottPlot 5.</summary>
public static class Plots
{
    private const int Width = 900;
    private const int Height = 560;

    private static readonly Dictionary<string, Color> MethodColors = new()
    {
        ["gmt"] = Colors.C0,
        ["fgmt"] = Colors.C1,
        ["naive"] = Colors.C2,
        ["oracle"] = Colors.C3,
    };

    /// <summary>Draws every figure into <paramref name="directory"/>.</summary>
    /// <param name="report">The report.</param>
    /// <param name="directory">The output folder.</param>
    /// <returns>The paths written.</returns>
    public static IReadOnlyList<string> WriteAll(Report report, string directory)
    {
        ArgumentNullException.ThrowIfNull(report);
        Directory.CreateDirectory(directory);
        return
        [
            TransferValidation(report, Path.Combine(directory, "transfer-validation.png")),
            FineTuning(report, Path.Combine(directory, "fine-tuning.png")),
            AccuracyOverTime(report, Path.Combine(directory, "accuracy-over-time.png")),
            Connectivity(report, toSource: true, Path.Combine(directory, "mode-connectivity-source.png")),
            Connectivity(report, toSource: false, Path.Combine(directory, "mode-connectivity-target.png")),
        ];
    }

    /// <summary>Validation accuracy of the transferred parameters at every step, one line per method.</summary>
    /// <param name="report">The report.</param>
    /// <param name="path">The PNG to write.</param>
    public static string TransferValidation(Report report, string path)
    {
        ArgumentNullException.ThrowIfNull(report);
        var plot = new Plot();
        foreach (var (key, method) in report.Methods)
        {
            var xs = Enumerable.Range(1, method.ValidationAccuracyByStep.Count).Select(i => (double)i).ToArray();
            var line = plot.Add.Scatter(xs, Percent(method.ValidationAccuracyByStep));
            Style(line, key);
        }

        var source = plot.Add.HorizontalLine(report.Source.ValidationAccuracy * 100);
        source.LinePattern = LinePattern.Dotted;
        source.Color = Colors.Black;
        source.LegendText = "source (final)";
        plot.Title($"Validation accuracy of the transferred parameters, no training ({report.Model.Kind})");
        plot.XLabel($"transfer step s (T = {report.Settings.Steps}, {report.Settings.Schedule} schedule)");
        plot.Axes.Bottom.TickGenerator = new ScottPlot.TickGenerators.NumericFixedInterval(1);
        plot.YLabel("validation accuracy (%)");
        plot.ShowLegend(Alignment.LowerRight);
        plot.SavePng(path, Width, Height);
        return path;
    }

    /// <summary>Test accuracy while fine-tuning each method's parameters, against training from the initialization.</summary>
    /// <param name="report">The report.</param>
    /// <param name="path">The PNG to write.</param>
    public static string FineTuning(Report report, string path)
    {
        ArgumentNullException.ThrowIfNull(report);
        var plot = new Plot();
        foreach (var (key, method) in report.Methods)
        {
            var ys = new[] { method.TransferredTestAccuracy }.Concat(method.FineTuneTestAccuracyByEpoch).ToArray();
            var line = plot.Add.Scatter(Epochs(ys.Length), Percent(ys));
            Style(line, key);
        }

        var scratchValues = new[] { report.Scratch.InitialTestAccuracy }.Concat(report.Scratch.TestAccuracyByEpoch).ToArray();
        var scratch = plot.Add.Scatter(Epochs(scratchValues.Length), Percent(scratchValues));
        scratch.LegendText = BaselineName(report);
        scratch.Color = Colors.Black;
        scratch.LinePattern = LinePattern.Dashed;
        plot.Title("Fine-tuning the transferred parameters vs training the init");
        plot.XLabel("epoch (0 = before any training)");
        plot.Axes.Bottom.TickGenerator = new ScottPlot.TickGenerators.NumericFixedInterval(1);
        plot.YLabel("test accuracy (%)");
        plot.ShowLegend(Alignment.LowerRight);
        plot.SavePng(path, Width, Height);
        return path;
    }

    /// <summary>
    /// Test accuracy against wall-clock seconds: for each method the transfer's seconds, then its fine-tuning; for the
    /// baseline its own training. The horizontal line is the baseline's final accuracy, which time-to-accuracy is measured to.
    /// </summary>
    /// <param name="report">The report.</param>
    /// <param name="path">The PNG to write.</param>
    public static string AccuracyOverTime(Report report, string path)
    {
        ArgumentNullException.ThrowIfNull(report);
        var plot = new Plot();
        foreach (var (key, method) in report.Methods)
        {
            var xs = new[] { 0, method.TransferSeconds }.Concat(method.FineTuneCheckpoints.Select(c => method.TransferSeconds + c.Seconds)).ToArray();
            var ys = new[] { report.Scratch.InitialTestAccuracy, method.TransferredTestAccuracy }.Concat(method.FineTuneCheckpoints.Select(c => c.TestAccuracy)).ToArray();
            var line = plot.Add.Scatter(xs, Percent(ys));
            Style(line, key);
        }

        var baselineXs = new[] { 0.0 }.Concat(report.Scratch.Checkpoints.Select(c => c.Seconds)).ToArray();
        var baselineYs = new[] { report.Scratch.InitialTestAccuracy }.Concat(report.Scratch.Checkpoints.Select(c => c.TestAccuracy)).ToArray();
        var baseline = plot.Add.Scatter(baselineXs, Percent(baselineYs));
        baseline.LegendText = BaselineName(report);
        baseline.Color = Colors.Black;
        baseline.LinePattern = LinePattern.Dashed;
        if (report.Scratch.TestAccuracyByEpoch.Count > 0)
        {
            var target = plot.Add.HorizontalLine(report.Scratch.TestAccuracyByEpoch[^1] * 100);
            target.LinePattern = LinePattern.Dotted;
            target.Color = Colors.Gray;
            target.LegendText = "baseline's final accuracy";
        }

        plot.Title("Test accuracy against wall-clock seconds (transfer + fine-tuning vs the baseline)");
        plot.XLabel("seconds of transfer and training (evaluation excluded)");
        plot.YLabel("test accuracy (%)");
        plot.ShowLegend(Alignment.LowerRight);
        plot.SavePng(path, Width, Height);
        return path;
    }

    /// <summary>Loss along the straight line from each method's parameters to π(θ₁ᵀ) or to the truly trained target.</summary>
    /// <param name="report">The report.</param>
    /// <param name="toSource">The line to the permuted source (else to the trained target).</param>
    /// <param name="path">The PNG to write.</param>
    public static string Connectivity(Report report, bool toSource, string path)
    {
        ArgumentNullException.ThrowIfNull(report);
        var plot = new Plot();
        var curves = report.ModeConnectivity;
        foreach (var (key, method) in curves.Methods)
        {
            var losses = toSource ? method.ToPermutedSource : method.ToTrainedTarget;
            var points = curves.Alphas.Zip(losses).Where(p => p.Second is not null).ToArray();
            var line = plot.Add.Scatter(points.Select(p => p.First).ToArray(), points.Select(p => p.Second!.Value).ToArray());
            Style(line, key);
        }

        plot.Title(toSource
            ? "Straight line: transferred (α = 0) to permuted source π(θ₁^T) (α = 1)"
            : "Straight line: transferred (α = 0) to target trained from θ₂^0 (α = 1)");
        plot.XLabel("α");
        plot.YLabel($"{curves.Split} loss (cross-entropy, {curves.Examples} examples)");
        plot.ShowLegend(Alignment.UpperRight);
        plot.SavePng(path, Width, Height);
        return path;
    }

    private static string BaselineName(Report report) => report.Scenario == "pretrained" ? "fine-tune target directly" : "from scratch";

    private static void Style(ScottPlot.Plottables.Scatter line, string key)
    {
        line.LegendText = Choices.Methods.TryGetValue(key, out var method) ? Choices.Display(method) : key;
        line.Color = MethodColors.GetValueOrDefault(key, Colors.Gray);
        line.LineWidth = 2;
        line.MarkerSize = 6;
    }

    private static double[] Percent(IEnumerable<double> fractions) => fractions.Select(f => f * 100).ToArray();

    private static double[] Epochs(int count) => Enumerable.Range(0, count).Select(i => (double)i).ToArray();
}
