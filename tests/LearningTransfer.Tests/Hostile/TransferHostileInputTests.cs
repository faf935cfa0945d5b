using TorchSharp;
using TrajectoryTransfer.Permutations;
using TrajectoryTransfer.Tests.RealData;
using TrajectoryTransfer.Tests.Support;
using TrajectoryTransfer.Trajectories;
using static TorchSharp.torch;

namespace TrajectoryTransfer.Tests.Hostile;

/// <summary>
/// Inputs a transfer must refuse with a specific message instead of running to a meaningless result or failing deep in
/// native code: a spec that is not a symmetry, degenerate or non-finite batches, disposed inputs, an absurd T.
/// </summary>
public sealed class TransferHostileInputTests(SourceRunFixture source) : IClassFixture<SourceRunFixture>
{
    private LinearTrajectory Trajectory(int steps = 2) => new(source.SourceInit, source.SourceFinal, steps, TrajectorySchedule.Cosine);

    private IEnumerable<(Tensor, Tensor)> Data() => TestData.Loader(source.Train, 64, seed: 1);

    /// <summary>fc1's bias in a group of its own: not a symmetry (its units move apart from fc1's rows).</summary>
    private static PermutationSpec BiasInAGroupOfItsOwn(SmallMlp target) => PermutationSpec.CreateBuilder()
        .Permute("fc1.weight", "h", null).Permute("fc1.bias", "loose")
        .Permute("fc2.weight", null, "h").LeaveAlone("fc2.bias")
        .Build(target);

    [Fact]
    public void Run_SpecWithABiasInAGroupOfItsOwn_IsRefusedBeforeAnyStep_NamingTheGroup()
    {
        using var trajectory = Trajectory();
        using var target = new SmallMlp(SourceRunFixture.Hidden, 40);
        var broken = BiasInAGroupOfItsOwn(target);

        var ex = Assert.Throws<PermutationSpecException>(() => LearningTransfer.Transfer(trajectory, target).UseFgmt().WithSpec(broken)
            .WithData(Data(), Training.CrossEntropy).Run());

        Assert.Contains("not a symmetry of the model", ex.Message, StringComparison.Ordinal);
        Assert.Contains("'loose'", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Run_SpecCheckTurnedOff_RunsTheBrokenSpec()
    {
        using var trajectory = Trajectory();
        using var target = new SmallMlp(SourceRunFixture.Hidden, 41);
        var broken = BiasInAGroupOfItsOwn(target);

        using var result = LearningTransfer.Transfer(trajectory, target).UseFgmt().WithSpec(broken, verify: false)
            .WithData(Data(), Training.CrossEntropy).Run();

        Assert.Equal(2, result.History.Count);
    }

    [Fact]
    public void Run_BatchWithoutRows_IsRefused()
    {
        using var trajectory = Trajectory();
        using var target = new SmallMlp(SourceRunFixture.Hidden, 42);
        var empty = new[] { (torch.zeros(0, 1, 28, 28), torch.zeros(0, ScalarType.Int64)) };

        var ex = Assert.Throws<ArgumentException>(() => LearningTransfer.Transfer(trajectory, target).UseFgmt().WithSpec(source.Spec)
            .WithData(empty, Training.CrossEntropy).Run());

        Assert.Contains("no examples", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Run_EveryLabelAtTheIgnoreIndex_IsRefusedInsteadOfMatchingZeroGradients()
    {
        using var trajectory = Trajectory();
        using var target = new SmallMlp(SourceRunFixture.Hidden, 43);
        var ignored = Data().Take(3).Select(b => (b.Item1, torch.full_like(b.Item2, -100))).ToArray();
        static Tensor Loss(Tensor logits, Tensor labels) => nn.functional.cross_entropy(logits, labels, ignore_index: -100, reduction: nn.Reduction.Sum);

        var ex = Assert.Throws<ArgumentException>(() => LearningTransfer.Transfer(trajectory, target).UseFgmt().WithSpec(source.Spec, verify: false)
            .WithData(ignored, Loss).Run());

        Assert.Contains("exactly zero for every parameter", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Run_NaNInputsWithAGivenSpec_AreReportedAsNonFiniteData()
    {
        using var trajectory = Trajectory();
        using var target = new SmallMlp(SourceRunFixture.Hidden, 44);
        var poisoned = Data().Take(2).Select(b => (b.Item1.clone().fill_(double.NaN), b.Item2)).ToArray();

        var ex = Assert.Throws<ArgumentException>(() => LearningTransfer.Transfer(trajectory, target).UseFgmt().WithSpec(source.Spec)
            .WithData(poisoned, Training.CrossEntropy).Run());

        Assert.Contains("NaN or infinite", ex.Message, StringComparison.Ordinal);
        Assert.Equal("data", ex.ParamName);
    }

    [Fact]
    public void Run_NaNInputsWithAnInferredSpec_AreReportedAsNonFiniteInput()
    {
        using var trajectory = Trajectory();
        torch.manual_seed(45);
        using var target = new Mlp(784, [SourceRunFixture.Hidden], 10);
        var poisoned = Data().Take(2).Select(b => (b.Item1.clone().fill_(double.NaN), b.Item2)).ToArray();

        var ex = Assert.Throws<ArgumentException>(() => LearningTransfer.Transfer(trajectory, target).UseFgmt()
            .WithData(poisoned, Training.CrossEntropy).Run());

        Assert.Contains("non-finite", ex.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("chain", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Build_DisposedTrajectory_ThrowsObjectDisposedNamingIt()
    {
        var trajectory = new InMemoryTrajectory(source.SourceInit.Layout);
        trajectory.Append(source.SourceInit);
        trajectory.Append(source.SourceFinal);
        trajectory.Dispose();
        using var target = new SmallMlp(SourceRunFixture.Hidden, 46);

        var ex = Assert.Throws<ObjectDisposedException>(() => LearningTransfer.Transfer(trajectory, target).UseNaive().WithSpec(source.Spec).Build());

        Assert.Contains(nameof(InMemoryTrajectory), ex.ObjectName, StringComparison.Ordinal);
    }

    [Fact]
    public void Build_DisposedModule_ThrowsObjectDisposedNamingTheArgument()
    {
        using var trajectory = Trajectory();
        var target = new SmallMlp(SourceRunFixture.Hidden, 47);
        target.Dispose();

        var ex = Assert.Throws<ObjectDisposedException>(() => LearningTransfer.Transfer(trajectory, target).UseNaive().WithSpec(source.Spec).Build());

        Assert.Contains("newInit", ex.ObjectName, StringComparison.Ordinal);
    }

    [Fact]
    public void Build_DisposedParameterSet_ThrowsObjectDisposed()
    {
        using var trajectory = Trajectory();
        using var model = new SmallMlp(SourceRunFixture.Hidden, 48);
        var init = ParameterSet.FromModule(model);
        init.Dispose();

        var ex = Assert.Throws<ObjectDisposedException>(() => LearningTransfer.Transfer(trajectory, init).WithModel(model).UseNaive().WithSpec(source.Spec).Build());

        Assert.Contains(nameof(ParameterSet), ex.ObjectName, StringComparison.Ordinal);
    }

    [Fact]
    public void WithSteps_BeyondTheLimit_IsRefusedBeforeAnySchedule()
    {
        using var trajectory = Trajectory();
        using var target = new SmallMlp(SourceRunFixture.Hidden, 49);

        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => LearningTransfer.Transfer(trajectory, target).WithSteps(int.MaxValue));
        var schedule = Assert.Throws<ArgumentOutOfRangeException>(() => TrajectorySchedule.Cosine.Lambdas(int.MaxValue));

        Assert.Equal("steps", ex.ParamName);
        Assert.Contains("1,000,000", schedule.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(TransferMethod.Gmt)]
    [InlineData(TransferMethod.Fgmt)]
    public void Run_LeavesNoTensorToTheFinalizer(TransferMethod method)
    {
        using var trajectory = Trajectory(3);
        using var target = new SmallMlp(SourceRunFixture.Hidden, 50);
        // The caller's module holds gradients of its own, which the run must restore.
        using (var scope = torch.NewDisposeScope())
        {
            var (input, label) = Data().First();
            Training.CrossEntropy(target.forward(input), label).backward();
        }

        // A first run creates TorchSharp's lazily made statics; count from the second.
        using (LearningTransfer.Transfer(trajectory, target).WithMethod(method).WithSpec(source.Spec).WithData(Data(), Training.CrossEntropy).Run())
        {
        }

        var before = DisposeScopeManager.Statistics.ThreadTotalLiveCount;

        using (LearningTransfer.Transfer(trajectory, target).WithMethod(method).WithSpec(source.Spec).WithData(Data(), Training.CrossEntropy).Run())
        {
        }

        // Counted without a GC: every tensor handle the run made was disposed by the run (the restored gradients included).
        Assert.Equal(before, DisposeScopeManager.Statistics.ThreadTotalLiveCount);
    }
}
