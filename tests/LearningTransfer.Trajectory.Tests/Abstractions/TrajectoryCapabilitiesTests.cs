using TorchSharp;
using TrajectoryTransfer.Trajectories.Tests.TestSupport;
using static TorchSharp.torch;

namespace TrajectoryTransfer.Trajectories.Tests.Abstractions;

/// <summary>What every trajectory states through <see cref="ITrajectory"/>: displacement, position, schedule, resampling.</summary>
public sealed class TrajectoryCapabilitiesTests
{
    private static InMemoryTrajectory Recorded(int count)
    {
        using var first = TestSets.Random(300);
        var trajectory = new InMemoryTrajectory(first.Layout);
        for (var i = 0; i < count; i++)
        {
            using var point = TestSets.Random(300 + i);
            trajectory.Append(point);
        }

        return trajectory;
    }

    [Fact]
    public void GetDisplacement_RecordedTrajectory_IsPointMinusStart()
    {
        using var recorded = Recorded(3);
        ITrajectory trajectory = recorded;

        using var displacement = trajectory.GetDisplacement(2);
        using var point = recorded.GetPoint(2);
        using var start = recorded.GetPoint(0);

        Assert.False(trajectory.HasCheapDisplacement);
        foreach (var (name, tensor) in displacement)
        {
            Assert.True(tensor.eq(point[name] - start[name]).all().ToBoolean(), name);
        }
    }

    [Fact]
    public void GetDisplacement_LinearTrajectory_IsCheapAndLambdaTimesUpdate()
    {
        using var start = TestSets.Random(1);
        using var end = TestSets.Random(2);
        using var linear = new LinearTrajectory(start, end, 4, TrajectorySchedule.Cosine);
        ITrajectory trajectory = linear;

        using var displacement = trajectory.GetDisplacement(1);

        Assert.True(trajectory.HasCheapDisplacement);
        foreach (var (name, tensor) in displacement.Where(kv => kv.Value.is_floating_point()))
        {
            Assert.True(tensor.allclose((end[name] - start[name]) * linear.Lambdas[1], rtol: 1e-6, atol: 1e-7), name);
        }
    }

    [Fact]
    public void Position_Linear_IsLambda_RecordedAndSubdivided_AreIndexOverSteps()
    {
        using var start = TestSets.Random(1);
        using var end = TestSets.Random(2);
        using var linear = new LinearTrajectory(start, end, 4, TrajectorySchedule.Cosine);
        using var recorded = Recorded(3);
        using var subdivided = new SubdividedTrajectory(recorded, 2, TrajectorySchedule.Cosine);

        Assert.Equal(linear.Lambdas, Enumerable.Range(0, 5).Select(((ITrajectory)linear).Position));
        Assert.Equal([0, 0.5, 1], Enumerable.Range(0, 3).Select(((ITrajectory)recorded).Position));
        // Subdivided points carry their λ within a segment in their labels; their position along the whole trajectory is t/T.
        Assert.Equal([0, 0.25, 0.5, 0.75, 1], Enumerable.Range(0, 5).Select(((ITrajectory)subdivided).Position));
    }

    [Fact]
    public void Schedule_SampledTrajectoriesHaveOne_RecordedDoNot()
    {
        using var start = TestSets.Random(1);
        using var end = TestSets.Random(2);
        using var linear = new LinearTrajectory(start, end, 4, TrajectorySchedule.Uniform);
        using var recorded = Recorded(3);
        using var subdivided = new SubdividedTrajectory(recorded, 2, TrajectorySchedule.Cosine);

        Assert.Same(TrajectorySchedule.Uniform, ((ITrajectory)linear).Schedule);
        Assert.Same(TrajectorySchedule.Cosine, ((ITrajectory)subdivided).Schedule);
        Assert.Null(((ITrajectory)recorded).Schedule);
    }

    [Fact]
    public void Resample_SameSteps_ReturnsItself()
    {
        using var recorded = Recorded(3);
        using var start = TestSets.Random(1);
        using var end = TestSets.Random(2);
        using var linear = new LinearTrajectory(start, end, 4, TrajectorySchedule.Cosine);

        Assert.Same(recorded, ((ITrajectory)recorded).Resample(2, TrajectorySchedule.Cosine));
        Assert.Same(linear, ((ITrajectory)linear).Resample(4, TrajectorySchedule.Cosine));
    }

    [Fact]
    public void Resample_Linear_SharesEndpointsWithNewLambdas()
    {
        using var start = TestSets.Random(1);
        using var end = TestSets.Random(2);
        using var linear = new LinearTrajectory(start, end, 4, TrajectorySchedule.Cosine);

        var resampled = Assert.IsType<LinearTrajectory>(((ITrajectory)linear).Resample(4, TrajectorySchedule.Uniform));
        using (resampled)
        {
            Assert.Same(linear.Start, resampled.Start);
            Assert.Equal([0, 0.25, 0.5, 0.75, 1], resampled.Lambdas);
        }
    }

    [Fact]
    public void Resample_RecordedPair_BecomesLinearLine()
    {
        using var recorded = Recorded(2);

        var resampled = Assert.IsType<LinearTrajectory>(((ITrajectory)recorded).Resample(10, TrajectorySchedule.Cosine));
        using (resampled)
        using (var end = recorded.GetPoint(1))
        using (var last = resampled.GetPoint(10))
        {
            Assert.Equal(11, resampled.Count);
            TestSets.AssertBitEqual(end, last);
        }
    }

    [Fact]
    public void Resample_RecordedSegments_SubdividesOrRefusesUnevenSplits()
    {
        using var recorded = Recorded(3);

        var subdivided = Assert.IsType<SubdividedTrajectory>(((ITrajectory)recorded).Resample(6, TrajectorySchedule.Cosine));
        using (subdivided)
        {
            Assert.Equal(3, subdivided.Splits);
        }

        var ex = Assert.Throws<ArgumentException>(() => ((ITrajectory)recorded).Resample(5, TrajectorySchedule.Cosine));
        Assert.Contains("multiple of 2", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void GetPoint_LinearStartWithNaNEnd_IsExactlyTheStart()
    {
        using var start = TestSets.Random(1);
        using var end = start.Map(t => t.is_floating_point() ? torch.full_like(t, double.NaN) : t.clone());
        using var linear = new LinearTrajectory(start, end, 3, TrajectorySchedule.Cosine);

        using var first = linear.GetPoint(0);

        TestSets.AssertBitEqual(start, first);
    }
}
