using TorchSharp;
using TrajectoryTransfer.Permutations;
using TrajectoryTransfer.Trajectories.Tests.TestSupport;
using static TorchSharp.torch;

namespace TrajectoryTransfer.Trajectories.Tests.Linear;

public sealed class LinearTrajectoryTests
{
    [Fact]
    public void GetPoint_EveryStep_EqualsFormula()
    {
        using var start = TestSets.Random(1);
        using var end = TestSets.Random(2);
        using var trajectory = new LinearTrajectory(start, end, 10, TrajectorySchedule.Cosine);
        var lambdas = TrajectorySchedule.Cosine.Lambdas(10);

        Assert.Equal(11, trajectory.Count);
        for (var t = 0; t <= 10; t++)
        {
            using var scope = torch.NewDisposeScope();
            using var point = trajectory.GetPoint(t);
            foreach (var name in new[] { "fc1.weight", "fc1.bias", "bn.running_var", "fc2.weight" })
            {
                var a = start[name].to(ScalarType.Float64);
                var b = end[name].to(ScalarType.Float64);
                var expected = a + (lambdas[t] * (b - a));
                Assert.True(expected.allclose(point[name].to(ScalarType.Float64), rtol: 1e-6, atol: 1e-6), $"{name} at t = {t}");
            }

            var counter = 10 + (lambdas[t] * 10);
            Assert.Equal((long)Math.Round(counter), point["bn.num_batches_tracked"].item<long>());
            Assert.Equal(lambdas[t], trajectory.Labels[t].Lambda);
        }
    }

    [Fact]
    public void GetPoint_Endpoints_AreBitExact()
    {
        using var start = TestSets.Random(3);
        using var end = TestSets.Random(4);
        using var trajectory = new LinearTrajectory(start, end, 7, TrajectorySchedule.Uniform);

        using var first = trajectory.GetPoint(0);
        using var last = trajectory.GetPoint(7);

        TestSets.AssertBitEqual(start, first);
        TestSets.AssertBitEqual(end, last);
    }

    [Fact]
    public void GetDisplacement_EveryStep_EqualsLambdaTimesDifference()
    {
        using var start = TestSets.Random(5);
        using var end = TestSets.Random(6);
        using var trajectory = new LinearTrajectory(start, end, 5, TrajectorySchedule.Cosine);

        for (var t = 0; t <= 5; t++)
        {
            using var scope = torch.NewDisposeScope();
            using var displacement = trajectory.GetDisplacement(t);
            using var viaExtension = ((ITrajectory)trajectory).GetDisplacement(t);
            using var point = trajectory.GetPoint(t);
            var expected = (end["fc1.weight"] - start["fc1.weight"]) * trajectory.Lambdas[t];
            Assert.True(expected.allclose(displacement["fc1.weight"], rtol: 1e-6, atol: 1e-7));
            Assert.True((point["fc2.weight"] - start["fc2.weight"]).allclose(displacement["fc2.weight"], rtol: 1e-5, atol: 1e-6));
            TestSets.AssertBitEqual(displacement, viaExtension);
        }
    }

    [Fact]
    public void GetPoint_ThousandSteps_NativeTensorCountStaysFlat()
    {
        using var start = TestSets.Random(7);
        using var end = TestSets.Random(8);
        using var trajectory = new LinearTrajectory(start, end, 1000, TrajectorySchedule.Cosine);
        using (trajectory.GetPoint(0))
        {
        }

        var before = TestSets.LiveTensors;
        var checksum = 0.0;
        for (var t = 0; t <= 1000; t++)
        {
            using var point = trajectory.GetPoint(t);
            using var displacement = trajectory.GetDisplacement(t);
            if (t % 250 == 0)
            {
                using var sum = point["fc1.bias"].sum();
                checksum += sum.item<float>();
            }
        }

        Assert.Equal(before, TestSets.LiveTensors);
        Assert.NotEqual(0.0, checksum);
    }

    [Fact]
    public void Constructor_CopiesInputs_LaterChangesDoNotLeakIn()
    {
        var start = TestSets.Random(9);
        var end = TestSets.Random(10);
        using var expectedStart = start.Clone();
        using var trajectory = new LinearTrajectory(start, end, 3, TrajectorySchedule.Uniform);

        start["fc1.weight"].add_(100);
        start.Dispose();
        end.Dispose();

        using var first = trajectory.GetPoint(0);
        TestSets.AssertBitEqual(expectedStart, first);
    }

    [Fact]
    public void Constructor_DifferentShapes_ThrowsArchitectureMismatch()
    {
        using var start = TestSets.Random(11);
        using var end = new ParameterSet([new("fc1.weight", torch.zeros(2, 2))]);

        var error = Assert.Throws<TrajectoryArchitectureMismatchException>(() => new LinearTrajectory(start, end, 3, TrajectorySchedule.Uniform));

        Assert.Contains("fc1.weight", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void FromModules_BatchNormNetworks_InterpolatesParametersAndBuffers()
    {
        torch.manual_seed(12);
        using var a = new BatchNormNet();
        using var b = new BatchNormNet();
        using (torch.no_grad())
        {
            b.state_dict()["bn.running_mean"].fill_(2.0);
        }

        using var trajectory = LinearTrajectory.FromModules(a, b, 4, TrajectorySchedule.Uniform);
        using var middle = trajectory.GetPoint(2);

        Assert.Equal(ParameterLayout.Of(a), trajectory.Layout);
        Assert.Equal(1.0f, middle["bn.running_mean"][0].item<float>(), 6);
    }

    [Fact]
    public void GetPoint_IndexOutOfRange_Throws()
    {
        using var start = TestSets.Random(13);
        using var trajectory = new LinearTrajectory(start, start, 3, TrajectorySchedule.Uniform);

        Assert.Throws<ArgumentOutOfRangeException>(() => trajectory.GetPoint(4));
        Assert.Throws<ArgumentOutOfRangeException>(() => trajectory.GetPoint(-1));
    }

    [Fact]
    public void WithSteps_SharesEndpoints_PointsEqualAFreshTrajectory_AndDisposingTheOwnerEndsIt()
    {
        using var start = TestSets.Random(14);
        using var end = TestSets.Random(15);
        var owner = new LinearTrajectory(start, end, 1, TrajectorySchedule.Uniform);
        using var fresh = new LinearTrajectory(start, end, 6, TrajectorySchedule.Cosine);
        var resampled = owner.WithSteps(6, TrajectorySchedule.Cosine);

        Assert.Same(owner.Start, resampled.Start);
        Assert.Same(owner.End, resampled.End);
        Assert.Equal(fresh.Lambdas, resampled.Lambdas);
        for (var t = 0; t <= 6; t++)
        {
            using var expected = fresh.GetPoint(t);
            using var actual = resampled.GetPoint(t);
            TestSets.AssertBitEqual(expected, actual);
        }

        resampled.Dispose();
        using (var stillThere = owner.GetPoint(1))
        {
            TestSets.AssertBitEqual(end, stillThere);
        }

        var second = owner.WithSteps(3, TrajectorySchedule.Uniform);
        owner.Dispose();
        Assert.Throws<ObjectDisposedException>(() => second.GetPoint(0));
        Assert.Throws<ObjectDisposedException>(() => owner.WithSteps(2, TrajectorySchedule.Uniform));
    }
}
