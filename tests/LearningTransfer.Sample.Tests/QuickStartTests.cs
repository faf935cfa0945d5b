using System.Globalization;
using System.Reflection;
using System.Text.RegularExpressions;
using TorchSharp;
using TrajectoryTransfer.Samples.Data;
using Xunit.Abstractions;

namespace TrajectoryTransfer.Samples.Tests;

/// <summary>
/// Runs samples/QuickStart in-process on the embedded Fashion-MNIST subset, and checks that the package readme shows that
/// program word for word, with links that work on a NuGet gallery.
/// </summary>
public sealed partial class QuickStartTests(ITestOutputHelper output)
{
    private const string ReadmePath = "src/PACKAGE.md";
    private const string ProgramPath = "samples/QuickStart/Program.cs";
    private const string RawFiles = "https://raw.githubusercontent.com/learningtransfer/learningtransfer/main/";

    [Fact]
    public void Run_OnEmbeddedSubset_TransfersTheSourceAccuracyWithoutTraining()
    {
        var liveBefore = DisposeScopeManager.Statistics.TensorStatistics.ThreadTotalLiveCount;

        var text = Run(DatasetLocator.EmbeddedSubset);

        // Measured with seeds 1-4: new initialization 7-14 %, source 78.5-79.0 %, FGMT 75.9-78.1 % (Naive, seed 1: 59.0 %).
        Assert.InRange(Percent(text, "new initialization:"), 0, 20);
        Assert.InRange(Percent(text, "source, trained:"), 70, 100);
        Assert.InRange(Percent(text, "transferred (FGMT):"), 70, 100);
        var leaked = DisposeScopeManager.Statistics.TensorStatistics.ThreadTotalLiveCount - liveBefore;
        Assert.True(leaked < 20, $"{leaked} tensors made by the quick start are still alive.");
    }

    [Fact]
    public void PackageReadme_CSharpBlock_IsTheQuickStartProgram()
    {
        var readme = File.ReadAllText(RepositoryFile(ReadmePath));
        var blocks = CSharpBlock().Matches(readme);

        Assert.Single(blocks);
        Assert.Equal(Lines(File.ReadAllText(RepositoryFile(ProgramPath))), Lines(blocks[0].Groups["code"].Value));
    }

    [Fact]
    public void PackageReadme_Links_AreAbsoluteAndImagesExistInTheRepository()
    {
        var readme = File.ReadAllText(RepositoryFile(ReadmePath));
        var targets = LinkTarget().Matches(readme).Select(m => m.Groups["target"].Value).ToArray();

        Assert.NotEmpty(targets);
        Assert.All(targets, t => Assert.StartsWith("https://", t, StringComparison.Ordinal));
        var images = ImageTarget().Matches(readme).Select(m => m.Groups["target"].Value).ToArray();
        Assert.Contains(images, i => i.EndsWith("docs/images/paper-preset/transfer-validation.png", StringComparison.Ordinal));
        Assert.All(images, i =>
        {
            Assert.StartsWith(RawFiles, i, StringComparison.Ordinal);
            Assert.True(File.Exists(RepositoryFile(i[RawFiles.Length..])), $"{i} names no file of this repository.");
        });
    }

    private string Run(string dataFolder)
    {
        var entryPoint = Assembly.Load("QuickStart").EntryPoint!;
        var console = Console.Out;
        using var writer = new StringWriter(CultureInfo.InvariantCulture);
        Console.SetOut(writer);
        try
        {
            entryPoint.Invoke(null, [new[] { dataFolder }]);
        }
        finally
        {
            Console.SetOut(console);
        }

        output.WriteLine(writer.ToString());
        return writer.ToString();
    }

    private static double Percent(string text, string label)
    {
        var match = Regex.Match(text, Regex.Escape(label) + @"\s*(?<value>[0-9]+(?:[.,][0-9]+)?)\s*%");
        Assert.True(match.Success, $"No '{label} N %' line in:\n{text}");
        return double.Parse(match.Groups["value"].Value.Replace(',', '.'), CultureInfo.InvariantCulture);
    }

    private static string[] Lines(string text) => text.ReplaceLineEndings("\n").Trim('\n').Split('\n');

    private static string RepositoryFile(string relative)
    {
        for (var folder = new DirectoryInfo(AppContext.BaseDirectory); folder is not null; folder = folder.Parent)
        {
            if (File.Exists(Path.Combine(folder.FullName, "LearningTransfer.sln")))
            {
                return Path.Combine(folder.FullName, relative);
            }
        }

        throw new DirectoryNotFoundException($"No LearningTransfer.sln above {AppContext.BaseDirectory}.");
    }

    [GeneratedRegex(@"^```csharp\n(?<code>.*?)^```", RegexOptions.Singleline | RegexOptions.Multiline)]
    private static partial Regex CSharpBlock();

    [GeneratedRegex(@"(?:\]\(|src="")(?<target>[^)""\s]+)")]
    private static partial Regex LinkTarget();

    [GeneratedRegex(@"(?:!\[[^\]]*\]\(|<img[^>]*src="")(?<target>[^)""\s]+)")]
    private static partial Regex ImageTarget();
}
