using System.Globalization;
using System.Text.RegularExpressions;
using Microsoft.Extensions.Logging;
using TorchSharp;
using TrajectoryTransfer.Permutations;
using TrajectoryTransfer.Tests.RealData;
using TrajectoryTransfer.Tests.Support;
using TrajectoryTransfer.Trajectories;
using static TorchSharp.torch;

namespace TrajectoryTransfer.Tests.Engine;

/// <summary>
/// Scoring steps from kept first-layer outputs (<see cref="TransferOptions.ScoringCacheBytes"/>) must give what the full
/// forward pass gives, for every target and step, and must never replay an output for an input it did not record.
/// </summary>
public sealed partial class ScoringCacheTests(SourceRunFixture source) : IClassFixture<SourceRunFixture>
{
    private LinearTrajectory Trajectory() => new(source.SourceInit, source.SourceFinal, 3, TrajectorySchedule.Cosine);

    private static Mlp Target(int seed)
    {
        torch.manual_seed(seed);
        return new Mlp(784, [SourceRunFixture.Hidden], 10);
    }

    /// <summary>Runs FGMT onto two targets and returns the logits the scoring callback saw, in call order (target 0, 1 per step).</summary>
    private (List<Tensor> Logits, List<string> Messages, Permutation[] Permutations) Run(long cacheBytes, Func<int, Tensor> inputs)
    {
        using var trajectory = Trajectory();
        using var first = Target(41);
        using var second = Target(42);
        var logs = new RecordingLoggerFactory();
        var logits = new List<Tensor>();
        var results = LearningTransfer.Transfer(trajectory, [first, second])
            .WithOptions(new TransferOptions { ScoringCacheBytes = cacheBytes, LoggerFactory = logs })
            .UseFgmt().WithSpec(source.Spec)
            .WithData(TestData.Loader(source.Train, 128, seed: 8), Training.CrossEntropy)
            .WithValidation(model =>
            {
                var output = model.call(inputs(logits.Count));
                logits.Add(output.clone().DetachFromDisposeScope());
                return output.argmax(1).eq(0).to(ScalarType.Float64).mean().ToDouble();
            })
            .RunAll();
        var permutations = results.Select(r => r.Permutation).ToArray();
        foreach (var result in results)
        {
            result.Dispose();
        }

        return (logits, logs.Messages, permutations);
    }

    private static int Replays(IEnumerable<string> messages) =>
        messages.Select(m => ReplaysPattern().Match(m)).Where(m => m.Success).Select(m => int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture)).Single();

    private static void AssertClose(IReadOnlyList<Tensor> expected, IReadOnlyList<Tensor> actual)
    {
        Assert.Equal(expected.Count, actual.Count);
        for (var i = 0; i < expected.Count; i++)
        {
            var scale = expected[i].abs().max().ToDouble();
            var difference = expected[i].sub(actual[i]).abs().max().ToDouble();
            Assert.True(difference <= 1e-4 * scale, $"call {i}: logits differ by {difference:G3} (scale {scale:G3})");
        }
    }

    /// <summary>The recorded logits were detached from the scoring's dispose scope; release them.</summary>
    private static void DisposeAll(params List<Tensor>[] lists)
    {
        foreach (var tensor in lists.SelectMany(l => l))
        {
            tensor.Dispose();
        }
    }

    [Fact]
    public void Run_WithTheCache_ScoresWhatTheFullForwardPassScores()
    {
        using var scope = torch.NewDisposeScope();
        using var images = source.Validation.Images.narrow(0, 0, 300);

        var (full, fullLogs, fullPermutations) = Run(0, _ => images);
        var (cached, cachedLogs, cachedPermutations) = Run(512L << 20, _ => images);

        // 3 steps × 2 targets; the first step of each target records, the other four calls replay fc1.
        Assert.Equal(6, cached.Count);
        Assert.Equal(4, Replays(cachedLogs));
        Assert.DoesNotContain(fullLogs, m => ReplaysPattern().IsMatch(m));
        AssertClose(full, cached);
        DisposeAll(full, cached);
        Assert.Equal(fullPermutations, cachedPermutations);
    }

    [Fact]
    public void Run_WhenTheScoredInputsChange_ComputesEveryOutputInFull()
    {
        // A hostile callback: new inputs at every call. Nothing recorded may be replayed for them.
        using var scope = torch.NewDisposeScope();
        Tensor Inputs(int call)
        {
            using var generator = new Generator((ulong)(100 + call));
            return torch.randn([50, 1, 28, 28], generator: generator);
        }

        var (full, _, _) = Run(0, Inputs);
        var (cached, logs, _) = Run(512L << 20, Inputs);

        Assert.Equal(0, Replays(logs));
        Assert.Contains(logs, m => m.Contains("The input of 'fc1.weight' changed between scored steps", StringComparison.Ordinal));
        AssertClose(full, cached);
        DisposeAll(full, cached);
    }

    [Fact]
    public void Run_WithoutRoomInTheCache_ScoresInFull()
    {
        using var scope = torch.NewDisposeScope();
        using var images = source.Validation.Images.narrow(0, 0, 300);

        var (full, _, _) = Run(0, _ => images);
        var (cached, logs, _) = Run(1024, _ => images);

        Assert.Equal(0, Replays(logs));
        AssertClose(full, cached);
        DisposeAll(full, cached);
    }

    [GeneratedRegex(@"^Scoring replayed (\d+) layer outputs")]
    private static partial Regex ReplaysPattern();
}
