using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace TrajectoryTransfer.Tests.BatchNorm;

/// <summary>The public BatchNorm refresh: a cumulative average over the given batches, the caller's module otherwise untouched.</summary>
public sealed class BatchNormStatisticsTests
{
    private sealed class Net : nn.Module<Tensor, Tensor>
    {
        private readonly Linear fc;
        private readonly BatchNorm1d bn;

        public Net()
            : base(nameof(Net))
        {
            torch.manual_seed(3);
            fc = nn.Linear(6, 4);
            bn = nn.BatchNorm1d(4);
            RegisterComponents();
        }

        public BatchNorm1d Norm => bn;

        public override Tensor forward(Tensor input) => bn.call(fc.call(input));
    }

    private static Tensor[] Inputs(int count) =>
        Enumerable.Range(0, count).Select(i => torch.randn([8, 6], generator: new Generator((ulong)(10 + i)))).ToArray();

    [Fact]
    public void Recompute_SetsRunningStatisticsToTheAverageOverTheBatches_AndKeepsEvalMode()
    {
        using var scope = torch.NewDisposeScope();
        using var model = new Net();
        model.eval();
        var inputs = Inputs(3);

        var used = BatchNormStatistics.Recompute(model, inputs, maxBatches: 10);

        // The cumulative average of the per-batch means of the pre-norm activations (and of the unbiased variances).
        Tensor mean, variance;
        using (torch.no_grad())
        {
            var activations = inputs.Select(x => model.named_children().First().module is Linear fc ? fc.call(x) : throw new InvalidOperationException()).ToArray();
            mean = torch.stack(activations.Select(a => a.mean([0])).ToArray()).mean([0]);
            variance = torch.stack(activations.Select(a => a.var(0, unbiased: true)).ToArray()).mean([0]);
        }

        Assert.Equal(3, used);
        Assert.True(model.Norm.running_mean!.allclose(mean, rtol: 1e-5, atol: 1e-6));
        Assert.True(model.Norm.running_var!.allclose(variance, rtol: 1e-5, atol: 1e-6));
        Assert.False(model.training);
        Assert.Equal(0.1, model.Norm.momentum);
    }

    [Fact]
    public void Recompute_ReadsAtMostMaxBatches()
    {
        using var scope = torch.NewDisposeScope();
        using var model = new Net();
        var read = 0;
        var inputs = Inputs(5).Select(x =>
        {
            read++;
            return x;
        });

        var used = BatchNormStatistics.Recompute(model, inputs, maxBatches: 2);

        Assert.Equal(2, used);
        Assert.Equal(2, read);
    }

    [Fact]
    public void Recompute_NoBatch_ThrowsForABatchNormModel()
    {
        using var model = new Net();

        var ex = Assert.Throws<ArgumentException>(() => BatchNormStatistics.Recompute(model, Array.Empty<Tensor>()));

        Assert.Contains("at least one training batch", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Recompute_NoBatchNorm_ReadsNothingAndReturnsZero()
    {
        using var model = nn.Sequential(nn.Linear(6, 4));
        var read = 0;

        var used = BatchNormStatistics.Recompute(model, Inputs(2).Select(x =>
        {
            read++;
            return x;
        }));

        Assert.Equal(0, used);
        Assert.Equal(0, read);
        Assert.False(BatchNormStatistics.HasBatchNorm(model));
    }
}
