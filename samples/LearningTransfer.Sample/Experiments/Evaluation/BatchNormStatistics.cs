using TorchSharp;
using TorchSharp.Modules;
using TrajectoryTransfer.Samples.Data;
using static TorchSharp.torch;

namespace TrajectoryTransfer.Samples.Experiments;

/// <summary>
/// Recomputes BatchNorm running statistics for parameters that were never trained as they are (interpolations between
/// two networks): reset, then a cumulative average over training batches in training mode. The library does this inside a
/// transfer but does not expose it, so the sample has its own.
/// </summary>
public static class BatchNormStatistics
{
    /// <summary>Recomputes the statistics of every BatchNorm of <paramref name="model"/>; does nothing without BatchNorm.</summary>
    /// <param name="model">The model, on the data's device.</param>
    /// <param name="data">Training examples.</param>
    /// <param name="batches">How many minibatches to average.</param>
    /// <param name="batchSize">Examples per minibatch.</param>
    /// <param name="seed">Seeds which examples are used.</param>
    public static void Recompute(nn.Module<Tensor, Tensor> model, MnistSplit data, int batches, int batchSize, int seed)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(data);
        var norms = model.modules().OfType<BatchNorm>().ToArray();
        if (norms.Length == 0)
        {
            return;
        }

        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        var momenta = norms.Select(n => n.momentum).ToArray();
        var wasTraining = model.training;
        try
        {
            foreach (var norm in norms)
            {
                norm.reset_running_stats();
                norm.momentum = null; // null momentum: a cumulative average over the batches below
            }

            model.train();
            var order = Batches.Order(data, seed);
            var count = Math.Min(batches, Batches.PerEpoch(data, batchSize));
            for (var b = 0; b < count; b++)
            {
                using var batchScope = torch.NewDisposeScope();
                model.call(Batches.Get(data, order, b, batchSize).Input);
            }
        }
        finally
        {
            for (var i = 0; i < norms.Length; i++)
            {
                norms[i].momentum = momenta[i];
            }

            model.train(wasTraining);
        }
    }
}
