using TorchSharp;
using TrajectoryTransfer.Permutations;
using TrajectoryTransfer.Tests.RealData;
using TrajectoryTransfer.Tests.Support;
using TrajectoryTransfer.Trajectories;
using static TorchSharp.torch;

namespace TrajectoryTransfer.Tests.Api;

/// <summary>Bad input is rejected with a specific message before any work.</summary>
public sealed class TransferValidationTests(SourceRunFixture source) : IClassFixture<SourceRunFixture>
{
    private LinearTrajectory Trajectory() => new(source.SourceInit, source.SourceFinal, 3, TrajectorySchedule.Cosine);

    [Fact]
    public void Build_DifferentArchitectures_NamesFirstDifferingParameterAndShapes()
    {
        using var trajectory = Trajectory();
        using var target = new SmallMlp(256, 1);

        var ex = Assert.Throws<ArgumentException>(() => LearningTransfer.Transfer(trajectory, target).UseNaive().Build());

        Assert.Contains("'fc1.weight'", ex.Message, StringComparison.Ordinal);
        Assert.Contains("[512, 784]", ex.Message, StringComparison.Ordinal);
        Assert.Contains("[256, 784]", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Build_DifferentArchitectures_NamesBothSides()
    {
        using var trajectory = Trajectory();
        using var target = new SmallMlp(256, 1);

        var ex = Assert.Throws<ArgumentException>(() => LearningTransfer.Transfer(trajectory, target).UseNaive().Build());

        Assert.Contains("in the source trajectory", ex.Message, StringComparison.Ordinal);
        Assert.Contains("in the model used for forward passes", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void WithOptions_AfterAnotherSetting_RefusesInsteadOfDroppingIt()
    {
        using var trajectory = Trajectory();
        using var target = new SmallMlp(SourceRunFixture.Hidden, 1);

        var ex = Assert.Throws<InvalidOperationException>(() => LearningTransfer.Transfer(trajectory, target).UseGmt().WithOptions(new TransferOptions()));

        Assert.Contains("Call WithOptions first", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void WithOptions_First_ThenWithCalls_AdjustTheGivenOptions()
    {
        using var trajectory = Trajectory();
        using var target = new SmallMlp(SourceRunFixture.Hidden, 1);

        using var transferer = LearningTransfer.Transfer(trajectory, target)
            .WithOptions(new TransferOptions { GradientBatches = 3, Seed = 7 })
            .UseNaive()
            .Build();

        Assert.Equal(3, transferer.Options.GradientBatches);
        Assert.Equal(7, transferer.Options.Seed);
        Assert.Equal(TransferMethod.Naive, transferer.Options.Method);
    }

    [Fact]
    public void Build_SpecNotCoveringModel_Throws()
    {
        using var trajectory = Trajectory();
        using var target = new SmallMlp(SourceRunFixture.Hidden, 1);
        var partial = PermutationSpec.CreateBuilder().Permute("fc1.weight", "h", null).Permute("fc1.bias", "h").Group("h", SourceRunFixture.Hidden).Build();

        var ex = Assert.Throws<PermutationSpecException>(() => LearningTransfer.Transfer(trajectory, target).WithSpec(partial)
            .WithData(TestData.Loader(source.Train, 128, 1), Training.CrossEntropy).Build());

        Assert.Contains("'fc2.weight'", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Run_EmptyData_ThrowsBeforeWork()
    {
        using var trajectory = Trajectory();
        using var target = new SmallMlp(SourceRunFixture.Hidden, 1);

        var ex = Assert.Throws<ArgumentException>(() => LearningTransfer.Transfer(trajectory, target).UseGmt().WithSpec(source.Spec)
            .WithData(Array.Empty<(Tensor, Tensor)>(), Training.CrossEntropy).Run());

        Assert.Contains("no batch", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void WithSteps_Zero_Throws()
    {
        using var trajectory = Trajectory();
        using var target = new SmallMlp(SourceRunFixture.Hidden, 1);

        Assert.Throws<ArgumentOutOfRangeException>(() => LearningTransfer.Transfer(trajectory, target).WithSteps(0));
    }

    [Fact]
    public void Build_OnePointTrajectory_Throws()
    {
        using var single = new InMemoryTrajectory(source.SourceInit.Layout);
        single.Append(source.SourceInit);
        using var target = new SmallMlp(SourceRunFixture.Hidden, 1);

        var ex = Assert.Throws<ArgumentException>(() => LearningTransfer.Transfer(single, target).UseNaive().Build());

        Assert.Contains("at least two", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Build_GmtWithoutData_Throws()
    {
        using var trajectory = Trajectory();
        using var target = new SmallMlp(SourceRunFixture.Hidden, 1);

        var ex = Assert.Throws<ArgumentException>(() => LearningTransfer.Transfer(trajectory, target).UseGmt().WithSpec(source.Spec).Build());

        Assert.Contains("WithData", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Build_OracleWithoutTrainedTarget_Throws()
    {
        using var trajectory = Trajectory();
        using var target = new SmallMlp(SourceRunFixture.Hidden, 1);

        var ex = Assert.Throws<ArgumentException>(() => LearningTransfer.Transfer(trajectory, target).WithMethod(TransferMethod.Oracle).WithSpec(source.Spec).Build());

        Assert.Contains("trained target", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Run_NonFiniteSourcePoint_StopsNamingStepPointAndParameter()
    {
        using var end = source.SourceFinal.Clone();
        end["fc2.bias"][3] = float.NaN;
        using var trajectory = new LinearTrajectory(source.SourceInit, end, 3, TrajectorySchedule.Cosine);
        using var target = new SmallMlp(SourceRunFixture.Hidden, 1);

        var ex = Assert.Throws<NonFiniteGradientException>(() => LearningTransfer.Transfer(trajectory, target).UseFgmt().WithSpec(source.Spec)
            .WithData(TestData.Loader(source.Train, 128, 1), Training.CrossEntropy).Run());

        Assert.Equal(2, ex.Step);
        Assert.Equal(1, ex.Point);
        Assert.Equal("source", ex.Side);
        Assert.Contains("step 2", ex.Message, StringComparison.Ordinal);
    }
}
