using TorchSharp;
using TrajectoryTransfer.Permutations;
using TrajectoryTransfer.Trajectories;
using static TorchSharp.torch;

namespace TrajectoryTransfer.Benchmarks.Transfer;

/// <summary>
/// A transfer workload without a dataset: a 784-w-10 ReLU MLP, a linear source trajectory from its initialization to a
/// seeded random displacement of it, and eight fixed minibatches of 128 random inputs and labels. The cost of a transfer
/// depends on shapes and counts, not on what the data means, so this measures the method, not the data pipeline.
/// </summary>
public sealed class SyntheticTransfer : IDisposable
{
    private readonly (Tensor Input, Tensor Label)[] _batches;
    private readonly ParameterSet _start;
    private readonly ParameterSet _end;

    public SyntheticTransfer(int width, int seed = 1)
    {
        torch.manual_seed(seed);
        using var source = new Mlp(784, [width], 10);
        _start = ParameterSet.FromModule(source).DetachFromDisposeScope();
        _end = _start.Map(t => t + (torch.randn_like(t) * 0.02)).DetachFromDisposeScope();
        Target = new Mlp(784, [width], 10);
        Spec = Target.CreatePermutationSpec();
        _batches = Enumerable.Range(0, 8).Select(_ => (torch.rand(128, 784).DetachFromDisposeScope(), torch.randint(0, 10, [128]).DetachFromDisposeScope())).ToArray();
    }

    public Mlp Target { get; }

    public PermutationSpec Spec { get; }

    public TransferResult Run(TransferMethod method, int steps, IAssignmentSolver? solver = null)
    {
        using var trajectory = new LinearTrajectory(_start, _end, steps, TrajectorySchedule.Cosine);
        var builder = LearningTransfer.Transfer(trajectory, Target).WithMethod(method).WithSpec(Spec)
            .WithData(_batches, (logits, labels) => nn.functional.cross_entropy(logits, labels));
        if (solver is not null)
        {
            builder = builder.WithSolver(solver);
        }

        return builder.Run();
    }

    public void Dispose()
    {
        _start.Dispose();
        _end.Dispose();
        Target.Dispose();
        foreach (var (input, label) in _batches)
        {
            input.Dispose();
            label.Dispose();
        }
    }
}
