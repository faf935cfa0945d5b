using TorchSharp;
using TrajectoryTransfer.Permutations;
using TrajectoryTransfer.Trajectories.Tests.TestSupport;

namespace TrajectoryTransfer.Trajectories.Tests.InMemory;

public sealed class InMemoryTrajectoryTests
{
    [Fact]
    public void Append_ThenDisposeOriginal_KeepsCopy()
    {
        var point = TestSets.Random(1);
        using var expected = point.Clone();
        using var trajectory = new InMemoryTrajectory(point.Layout);

        trajectory.Append(point, new TrajectoryPointLabel(7, Step: 3));
        point.Dispose();

        using var read = trajectory.GetPoint(0);
        TestSets.AssertBitEqual(expected, read);
        Assert.Equal(0, trajectory.Labels[0].Index);
        Assert.Equal(3, trajectory.Labels[0].Step);
    }

    [Fact]
    public void GetPoint_ChangingResult_DoesNotChangeStoredPoint()
    {
        using var point = TestSets.Random(2);
        using var trajectory = new InMemoryTrajectory(point.Layout);
        trajectory.Append(point);

        using (var first = trajectory.GetPoint(0))
        {
            first["fc1.weight"].add_(1);
        }

        using var second = trajectory.GetPoint(0);
        TestSets.AssertBitEqual(point, second);
    }

    [Fact]
    public void Append_OtherLayout_ThrowsArchitectureMismatch()
    {
        using var point = TestSets.Random(3);
        using var trajectory = new InMemoryTrajectory(point.Layout);
        using var other = new ParameterSet([new("fc1.weight", torch.zeros(5, 4))]);

        var error = Assert.Throws<TrajectoryArchitectureMismatchException>(() => trajectory.Append(other));

        Assert.Contains("fc1.bias", error.Message, StringComparison.Ordinal);
        Assert.Equal(0, trajectory.Count);
    }

    [Fact]
    public void CopyOf_LinearTrajectory_HoldsSamePoints()
    {
        using var start = TestSets.Random(4);
        using var end = TestSets.Random(5);
        using var linear = new LinearTrajectory(start, end, 3, TrajectorySchedule.Uniform);

        using var copy = InMemoryTrajectory.CopyOf(linear);

        Assert.Equal(4, copy.Count);
        using var a = linear.GetPoint(2);
        using var b = copy.GetPoint(2);
        TestSets.AssertBitEqual(a, b);
        Assert.Equal(linear.Labels[2], copy.Labels[2]);
    }
}
