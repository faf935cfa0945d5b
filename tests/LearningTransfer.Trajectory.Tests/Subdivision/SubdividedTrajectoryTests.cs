using TorchSharp;
using TrajectoryTransfer.Trajectories.Tests.TestSupport;
using static TorchSharp.torch;

namespace TrajectoryTransfer.Trajectories.Tests.Subdivision;

public sealed class SubdividedTrajectoryTests
{
    private static InMemoryTrajectory Checkpoints(int count)
    {
        using var first = TestSets.Random(100);
        var trajectory = new InMemoryTrajectory(first.Layout);
        for (var i = 0; i < count; i++)
        {
            using var point = TestSets.Random(100 + i);
            trajectory.Append(point, new TrajectoryPointLabel(0, Step: i * 50L, Epoch: i));
        }

        return trajectory;
    }

    [Fact]
    public void GetPoint_EveryPoint_EqualsSegmentFormula()
    {
        using var source = Checkpoints(3);
        using var subdivided = new SubdividedTrajectory(source, 4, TrajectorySchedule.Cosine);
        var lambdas = TrajectorySchedule.Cosine.Lambdas(4);

        Assert.Equal(9, subdivided.Count);
        Assert.Equal(8, subdivided.Steps);
        for (var t = 0; t < subdivided.Count; t++)
        {
            using var scope = torch.NewDisposeScope();
            var (segment, j) = Math.DivRem(t, 4);
            using var point = subdivided.GetPoint(t);
            using var a = source.GetPoint(segment);
            if (j == 0)
            {
                TestSets.AssertBitEqual(a, point);
                Assert.Equal(segment * 50L, subdivided.Labels[t].Step);
                continue;
            }

            using var b = source.GetPoint(segment + 1);
            var expected = a["fc2.weight"].to(ScalarType.Float64) + (lambdas[j] * (b["fc2.weight"].to(ScalarType.Float64) - a["fc2.weight"].to(ScalarType.Float64)));
            Assert.True(expected.allclose(point["fc2.weight"].to(ScalarType.Float64), rtol: 1e-6, atol: 1e-6), $"t = {t}");
            Assert.Equal(lambdas[j], subdivided.Labels[t].Lambda);
        }
    }

    [Fact]
    public void GetPoint_LastPoint_IsLastCheckpoint()
    {
        using var source = Checkpoints(4);
        using var subdivided = new SubdividedTrajectory(source, 5, TrajectorySchedule.Uniform);

        using var last = subdivided.GetPoint(subdivided.Count - 1);
        using var expected = source.GetPoint(3);

        TestSets.AssertBitEqual(expected, last);
    }

    [Fact]
    public void GetPoint_ThousandSteps_NativeTensorCountStaysFlat()
    {
        using var source = Checkpoints(11);
        using var subdivided = new SubdividedTrajectory(source, 100, TrajectorySchedule.Cosine);
        Assert.Equal(1001, subdivided.Count);
        using (subdivided.GetPoint(1))
        {
        }

        var before = TestSets.LiveTensors;
        for (var t = 0; t < subdivided.Count; t++)
        {
            using var point = subdivided.GetPoint(t);
        }

        // The cache holds one segment (two checkpoints) whichever segment it is.
        Assert.Equal(before, TestSets.LiveTensors);
    }

    [Fact]
    public void GetPoint_BackwardsAndRandomOrder_SameAsForward()
    {
        using var source = Checkpoints(3);
        using var subdivided = new SubdividedTrajectory(source, 3, TrajectorySchedule.Uniform);
        var forward = new List<ParameterSetHolder>();
        for (var t = 0; t < subdivided.Count; t++)
        {
            forward.Add(new ParameterSetHolder(subdivided.GetPoint(t)));
        }

        foreach (var t in new[] { 5, 1, 6, 2, 4, 0, 3 })
        {
            using var again = subdivided.GetPoint(t);
            TestSets.AssertBitEqual(forward[t].Set, again);
        }

        forward.ForEach(f => f.Set.Dispose());
    }

    [Fact]
    public void Constructor_SinglePoint_Throws()
    {
        using var source = Checkpoints(1);

        Assert.Throws<ArgumentException>(() => new SubdividedTrajectory(source, 3, TrajectorySchedule.Uniform));
    }

    private sealed record ParameterSetHolder(TrajectoryTransfer.Permutations.ParameterSet Set);
}
