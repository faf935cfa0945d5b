using System.Text.Json;
using TorchSharp;
using TorchSharp.PyBridge;
using TrajectoryTransfer.Permutations;
using TrajectoryTransfer.Trajectories.Tests.TestSupport;
using static TorchSharp.torch;

namespace TrajectoryTransfer.Trajectories.Tests.PyTorch;

public sealed class PyTorchCheckpointsTests
{
    private static readonly string FixtureDirectory = Path.Combine(AppContext.BaseDirectory, "Fixtures", "pytorch-trajectory");

    private static (float[][] Pixels, float[][][] Logits) ReadFixtureManifest()
    {
        using var document = JsonDocument.Parse(File.ReadAllText(Path.Combine(FixtureDirectory, "manifest.json")));
        var pixels = document.RootElement.GetProperty("probe_pixels").EnumerateArray()
            .Select(row => row.EnumerateArray().Select(p => p.GetInt32() / 255f).ToArray()).ToArray();
        var logits = document.RootElement.GetProperty("checkpoints").EnumerateArray()
            .Select(c => c.GetProperty("probe_logits").EnumerateArray().Select(row => row.EnumerateArray().Select(v => v.GetSingle()).ToArray()).ToArray())
            .ToArray();
        return (pixels, logits);
    }

    [Fact]
    public void GetPoint_EachFixtureCheckpoint_ReproducesPyTorchLogits()
    {
        var (pixels, expectedLogits) = ReadFixtureManifest();
        var checkpoints = PyTorchCheckpoints.Open(FixtureDirectory);
        using var model = new FixtureMlp();
        model.eval();
        using var input = torch.tensor(pixels.SelectMany(p => p).ToArray(), [pixels.Length, 784]);

        Assert.Equal(4, checkpoints.Count);
        var worst = 0.0;
        for (var i = 0; i < checkpoints.Count; i++)
        {
            using var scope = torch.NewDisposeScope();
            using var point = checkpoints.GetPoint(i);
            point.LoadInto(model);
            using var noGrad = torch.no_grad();
            var logits = model.forward(input);
            var expected = torch.tensor(expectedLogits[i].SelectMany(r => r).ToArray(), [pixels.Length, 10]);
            var difference = (logits - expected).abs().max().item<float>();
            worst = Math.Max(worst, difference);
        }

        // PyTorch printed the logits with 6 decimals; PyBridge's own load_py reproduces them to about 1e-6.
        Assert.True(worst < 2e-6, $"worst logit difference {worst}");
    }

    [Fact]
    public void Open_Fixture_RecoversStateDictOrderAndLabels()
    {
        using var model = new FixtureMlp();

        var checkpoints = PyTorchCheckpoints.Open(FixtureDirectory);

        Assert.Equal(ParameterLayout.Of(model), checkpoints.Layout);
        Assert.Equal(["fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"], checkpoints.Layout.Names);
        Assert.Equal([0L, 1L, 2L, 3L], checkpoints.Labels.Select(l => l.Step!.Value));
        Assert.Equal("step_2.pt", checkpoints.Labels[2].Text);
    }

    [Fact]
    public void GetPoint_Fixture_EqualsPyBridgeLoadPy()
    {
        var checkpoints = PyTorchCheckpoints.Open(FixtureDirectory);
        using var model = new FixtureMlp();
        model.load_py(Path.Combine(FixtureDirectory, "step_3.pt"));

        using var expected = ParameterSet.FromModule(model);
        using var point = checkpoints.GetPoint(3);

        TestSets.AssertBitEqual(expected, point);
    }

    [Theory]
    [InlineData(PyTorchCheckpointFormat.Pt)]
    [InlineData(PyTorchCheckpointFormat.Safetensors)]
    public void Export_Trajectory_ReimportsIdentically(PyTorchCheckpointFormat format)
    {
        using var temp = new TempDirectory();
        using var source = InMemoryTrajectory.CopyOf(PyTorchCheckpoints.Open(FixtureDirectory));
        using (var withBuffers = TestSets.Random(5))
        {
            // Also a trajectory with an integer buffer and a 0-dim tensor.
            using var second = TestSets.Random(6);
            using var linear = new LinearTrajectory(withBuffers, second, 2, TrajectorySchedule.Uniform);
            var bufferFiles = PyTorchCheckpoints.Export(linear, temp.Sub("buffers"), format);
            var bufferBack = PyTorchCheckpoints.Open(bufferFiles);
            for (var i = 0; i < linear.Count; i++)
            {
                using var a = linear.GetPoint(i);
                using var b = bufferBack.GetPoint(i);
                TestSets.AssertBitEqual(a, b);
            }
        }

        var files = PyTorchCheckpoints.Export(source, temp.Sub("export"), format);
        var back = PyTorchCheckpoints.Open(temp.Sub("export"));

        Assert.Equal(files, back.Files);
        Assert.Equal(source.Layout, back.Layout);
        for (var i = 0; i < source.Count; i++)
        {
            using var a = source.GetPoint(i);
            using var b = back.GetPoint(i);
            TestSets.AssertBitEqual(a, b);
        }
    }

    [Fact]
    public void Open_Folder_SortsFileNamesNaturally()
    {
        using var temp = new TempDirectory();
        using var start = TestSets.Random(1);
        using var end = TestSets.Random(2);
        using var linear = new LinearTrajectory(start, end, 11, TrajectorySchedule.Uniform);
        PyTorchCheckpoints.Export(linear, temp.Path, PyTorchCheckpointFormat.Safetensors, "ckpt-");

        var back = PyTorchCheckpoints.Open(temp.Path);

        Assert.Equal(Enumerable.Range(0, 12).Select(i => (long?)i), back.Labels.Select(l => l.Step));
        using var tenth = back.GetPoint(10);
        using var expected = linear.GetPoint(10);
        TestSets.AssertBitEqual(expected, tenth);
    }

    [Fact]
    public void GetPoint_FileWithOtherShapes_ThrowsArchitectureMismatchNamingFile()
    {
        using var temp = new TempDirectory();
        File.Copy(Path.Combine(FixtureDirectory, "step_0.pt"), temp.Sub("step_0.pt"));
        using (var other = new FixtureMlp(784, 16, 10))
        {
            other.save_py(temp.Sub("step_1.pt"));
        }

        var checkpoints = PyTorchCheckpoints.Open(temp.Path);

        var error = Assert.Throws<TrajectoryArchitectureMismatchException>(() => checkpoints.GetPoint(1));
        Assert.Equal(temp.Sub("step_1.pt"), error.FilePath);
        Assert.Contains("fc1.weight", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Load_NotACheckpoint_ThrowsCorruptedNamingFile()
    {
        using var temp = new TempDirectory();
        var path = temp.Sub("garbage.pt");
        File.WriteAllBytes(path, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);

        var error = Assert.Throws<TrajectoryStoreCorruptedException>(() => PyTorchCheckpoints.Load(path));

        Assert.Equal(path, error.FilePath);
    }

    [Fact]
    public void Load_WithLayout_ConvertsElementTypesAndFollowsLayoutOrder()
    {
        var layout = new ParameterLayout(
        [
            new ParameterInfo("fc2.bias", [10], ScalarType.Float64),
            new ParameterInfo("fc2.weight", [10, 32], ScalarType.Float64),
            new ParameterInfo("fc1.bias", [32], ScalarType.Float64),
            new ParameterInfo("fc1.weight", [32, 784], ScalarType.Float64),
        ]);

        using var point = PyTorchCheckpoints.Load(Path.Combine(FixtureDirectory, "step_1.pt"), layout);
        using var plain = PyTorchCheckpoints.Load(Path.Combine(FixtureDirectory, "step_1.pt"));

        Assert.Equal(layout, point.Layout);
        Assert.True(TestSets.BitEqual(point["fc1.weight"], plain["fc1.weight"].to(ScalarType.Float64)));
    }
}
