using System.Diagnostics;
using System.Text.Json;
using Spectre.Console;
using TorchSharp;
using TrajectoryTransfer.Samples;
using TrajectoryTransfer.Samples.Data;
using Xunit.Abstractions;

namespace TrajectoryTransfer.Samples.Tests;

/// <summary>
/// Runs the sample's entry point in-process with tiny settings on the embedded Fashion-MNIST subset and checks that
/// report.json keeps its contract and that every plot was written.
/// </summary>
public sealed class SampleSmokeTests(ITestOutputHelper output) : IDisposable
{
    private const int Steps = 2;
    private static readonly int FineTuneEpochs = 1;
    private const int Members = 2;

    private readonly string _out = Path.Combine(Path.GetTempPath(), "lt-sample-" + Guid.NewGuid().ToString("N"));

    [Fact]
    public void Run_MlpOnEmbeddedSubset_WritesCompleteReportAndPlots()
    {
        var report = RunSample("mlp", ["gmt", "fgmt", "naive", "oracle"], width: 32, testLimit: null);

        CheckReport(report, ["gmt", "fgmt", "naive", "oracle"], testCount: 2000);
        Assert.Equal("none", report.GetProperty("settings").GetProperty("normalize").GetString());
        Assert.Equal("mlp", report.GetProperty("model").GetProperty("kind").GetString());
    }

    [Fact]
    public void Run_ConvWithTwoMethods_WritesCompleteReportAndPlots()
    {
        // Narrower than the MLP and on fewer test images: a conv epoch costs about 20 MLP epochs on a CPU.
        var report = RunSample("conv", ["fgmt", "naive"], width: 8, testLimit: 500, normalize: "mnist");

        CheckReport(report, ["fgmt", "naive"], testCount: 500);
        Assert.Equal("mnist", report.GetProperty("settings").GetProperty("normalize").GetString());
        Assert.Equal("conv", report.GetProperty("model").GetProperty("kind").GetString());
    }

    [Fact]
    public void Run_UnknownMethod_FailsWithoutWritingAReport()
    {
        var (code, text) = Invoke(["--methods", "gmt,bogus", "--out", _out]);

        Assert.NotEqual(0, code);
        Assert.False(File.Exists(Path.Combine(_out, "report.json")), text);
    }

    [Fact]
    public void Run_CudaOnTheCpuBuild_FailsWithAMessage()
    {
        if (torch.cuda.is_available())
        {
            return; // a CUDA build of libtorch would run it
        }

        var (code, text) = Invoke(["--data", SubsetPath(), "--device", "cuda", "--out", _out]);

        Assert.Equal(2, code);
        Assert.Contains("CUDA is not available", text, StringComparison.Ordinal);
        Assert.False(File.Exists(Path.Combine(_out, "report.json")), text);
    }

    public void Dispose()
    {
        if (Directory.Exists(_out))
        {
            Directory.Delete(_out, recursive: true);
        }
    }

    private JsonElement RunSample(string model, string[] methods, int width, int? testLimit, string normalize = "none")
    {
        var liveBefore = DisposeScopeManager.Statistics.TensorStatistics.ThreadTotalLiveCount;
        var clock = Stopwatch.StartNew();
        var (code, text) = Invoke(
        [
            "--data", SubsetPath(), "--train-limit", "1000", "--steps", $"{Steps}", "--epochs", "1", "--fine-tune-epochs", $"{FineTuneEpochs}",
            "--ensemble-members", $"{Members}", "--width", $"{width}", "--model", model, "--methods", string.Join(',', methods), "--out", _out,
            "--normalize", normalize,
            .. testLimit is { } limit ? new[] { "--test-limit", $"{limit}", "--curve-examples", "200" } : [],
        ]);
        output.WriteLine($"{model}: exit code {code} after {clock.Elapsed.TotalSeconds:F1} s");
        output.WriteLine(text);
        Assert.True(code == 0, text);

        // Everything the run made on this thread is disposed again (a few tensors of lazily created statics may remain).
        var leaked = DisposeScopeManager.Statistics.TensorStatistics.ThreadTotalLiveCount - liveBefore;
        output.WriteLine($"{leaked} tensors made by the run are still alive.");
        Assert.True(leaked < 20, $"{leaked} tensors are still alive after the run.");

        foreach (var png in new[] { "transfer-validation.png", "fine-tuning.png", "accuracy-over-time.png", "mode-connectivity-source.png", "mode-connectivity-target.png" })
        {
            var file = new FileInfo(Path.Combine(_out, png));
            Assert.True(file.Exists && file.Length > 1000, $"{png} is missing or empty.");
        }

        Assert.Empty(Directory.GetFiles(_out, "*.tmp").Concat(Directory.GetFiles(_out, ".*")));
        using var json = JsonDocument.Parse(File.ReadAllText(Path.Combine(_out, "report.json")));
        return json.RootElement.Clone();
    }

    private static void CheckReport(JsonElement report, string[] methods, int testCount)
    {
        var dataset = report.GetProperty("dataset");
        Assert.False(string.IsNullOrEmpty(dataset.GetProperty("name").GetString()));
        Assert.False(string.IsNullOrEmpty(dataset.GetProperty("path").GetString()));
        Assert.Equal(900, dataset.GetProperty("train").GetInt32());
        Assert.Equal(100, dataset.GetProperty("validation").GetInt32());
        Assert.Equal(testCount, dataset.GetProperty("test").GetInt32());

        var model = report.GetProperty("model");
        Assert.False(string.IsNullOrEmpty(model.GetProperty("name").GetString()));
        Assert.True(model.GetProperty("parameters").GetInt64() > 0);

        var settings = report.GetProperty("settings");
        Assert.Equal(Steps, settings.GetProperty("steps").GetInt32());
        Assert.Equal("cosine", settings.GetProperty("schedule").GetString());
        Assert.Equal(1, settings.GetProperty("gradientBatches").GetInt32());
        Assert.Equal(128, settings.GetProperty("batchSize").GetInt32());
        Assert.Equal(1, settings.GetProperty("epochs").GetInt32());
        Assert.Equal(FineTuneEpochs, settings.GetProperty("fineTuneEpochs").GetInt32());
        Assert.Equal(1, settings.GetProperty("seed").GetInt32());

        var source = report.GetProperty("source");
        Accuracy(source, "testAccuracy");
        Seconds(source, "trainSeconds");

        var scratch = report.GetProperty("scratch");
        Assert.Equal(FineTuneEpochs, Accuracies(scratch, "testAccuracyByEpoch").Length);
        Seconds(scratch, "secondsPerEpoch");
        Assert.Equal(Seconds(scratch, "secondsPerEpoch") * FineTuneEpochs, Seconds(scratch, "seconds"), 6);
        Assert.Equal(FineTuneEpochs, scratch.GetProperty("checkpoints").GetArrayLength());

        var reported = report.GetProperty("methods");
        Assert.Equal(methods.Order(), reported.EnumerateObject().Select(p => p.Name).Order());
        foreach (var name in methods)
        {
            var m = reported.GetProperty(name);
            Accuracy(m, "transferredTestAccuracy");
            var bestStep = m.GetProperty("bestStep").GetInt32();
            Assert.InRange(bestStep, 1, Steps);
            var byStep = Accuracies(m, "validationAccuracyByStep");
            Assert.Equal(Steps, byStep.Length);
            Assert.Equal(byStep.Max(), Accuracy(m, "bestValidationAccuracy"), 12);
            Assert.Equal(byStep[bestStep - 1], Accuracy(m, "bestValidationAccuracy"), 12);
            Assert.Equal(byStep[^1], Accuracy(m, "finalValidationAccuracy"), 12);
            var total = Seconds(m, "transferSeconds");
            Assert.True(Seconds(m, "gradientSeconds") <= total);
            Assert.True(Seconds(m, "assignmentSeconds") <= total);
            Assert.True(Seconds(m, "evaluationSeconds") <= total);
            var gradients = m.GetProperty("gradientEvaluations").GetInt32();
            // GMT computes each point's source gradient once (Steps) and the targets' at every step (Steps (Steps + 1) / 2).
            Assert.Equal(name switch { "gmt" => Steps + (Steps * (Steps + 1) / 2), "fgmt" => 2 * Steps, _ => 0 }, gradients);
            var toBaseline = m.GetProperty("secondsToScratchFinal");
            if (toBaseline.ValueKind != JsonValueKind.Null)
            {
                Assert.True(toBaseline.GetDouble() >= total, $"{name}: time to the baseline's accuracy {toBaseline.GetDouble()} is shorter than the transfer {total}");
            }

            Assert.Equal(FineTuneEpochs, m.GetProperty("fineTuneCheckpoints").GetArrayLength());
            Assert.Equal(FineTuneEpochs, Accuracies(m, "fineTuneTestAccuracyByEpoch").Length);
        }

        var ensemble = report.GetProperty("ensemble");
        Assert.Equal(Members, ensemble.GetProperty("members").GetInt32());
        foreach (var side in new[] { "transferred", "independent" })
        {
            Accuracy(ensemble.GetProperty(side), "testAccuracy");
            Seconds(ensemble.GetProperty(side), "seconds");
        }

        var curves = report.GetProperty("modeConnectivity");
        var alphas = curves.GetProperty("alphas").EnumerateArray().Select(a => a.GetDouble()).ToArray();
        Assert.Equal(0, alphas[0]);
        Assert.Equal(1, alphas[^1]);
        foreach (var name in methods)
        {
            var c = curves.GetProperty("methods").GetProperty(name);
            Assert.Equal(alphas.Length, c.GetProperty("toPermutedSource").GetArrayLength());
            Assert.Equal(alphas.Length, c.GetProperty("toTrainedTarget").GetArrayLength());
        }

        var machine = report.GetProperty("machine");
        Assert.True(machine.GetProperty("cores").GetInt32() > 0);
        Assert.False(string.IsNullOrEmpty(machine.GetProperty("os").GetString()));
        Assert.Contains("--train-limit", report.GetProperty("run").GetProperty("commandLine").GetString(), StringComparison.Ordinal);
    }

    private static double Accuracy(JsonElement parent, string name)
    {
        var value = parent.GetProperty(name).GetDouble();
        Assert.InRange(value, 0, 1);
        return value;
    }

    private static double[] Accuracies(JsonElement parent, string name)
    {
        var values = parent.GetProperty(name).EnumerateArray().Select(v => v.GetDouble()).ToArray();
        Assert.All(values, v => Assert.InRange(v, 0, 1));
        return values;
    }

    private static double Seconds(JsonElement parent, string name)
    {
        var value = parent.GetProperty(name).GetDouble();
        Assert.True(value >= 0 && double.IsFinite(value), $"{name} = {value}");
        return value;
    }

    private static (int Code, string Text) Invoke(string[] args)
    {
        using var writer = new StringWriter();
        var console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Ansi = AnsiSupport.No,
            ColorSystem = ColorSystemSupport.NoColors,
            Interactive = InteractionSupport.No,
            Out = new AnsiConsoleOutput(writer),
        });
        var code = App.Run(args, console);
        return (code, writer.ToString());
    }

    private static string SubsetPath()
    {
        Assert.True(MnistFormat.Exists(DatasetLocator.EmbeddedSubset), $"The embedded subset was not copied to {DatasetLocator.EmbeddedSubset}.");
        return DatasetLocator.EmbeddedSubset;
    }
}
