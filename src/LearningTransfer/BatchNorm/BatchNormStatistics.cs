using TorchSharp;
using TorchSharp.Modules;
using TrajectoryTransfer.Internal;
using static TorchSharp.torch;

namespace TrajectoryTransfer;

/// <summary>
/// Recomputes BatchNorm running statistics for parameters that were never trained as they are: transferred parameters,
/// interpolations between two networks, or weights loaded from elsewhere. The statistics are reset and then set to a
/// cumulative average over training batches run in training mode without gradients (the paper's recipe). Call it after
/// <see cref="TransferResult.LoadInto"/> and before evaluating or fine-tuning a BatchNorm network; a transfer already does
/// it for the parameters it returns.
/// </summary>
/// <example>
/// <code>
/// result.LoadInto(model, best: true);
/// BatchNormStatistics.Recompute(model, trainBatches.Select(b => b.Input), maxBatches: 20);
/// </code>
/// </example>
public static class BatchNormStatistics
{
    /// <summary>Whether <paramref name="model"/> has a BatchNorm layer (whose statistics depend on the parameters).</summary>
    /// <param name="model">The model.</param>
    /// <exception cref="ArgumentNullException"><paramref name="model"/> is null.</exception>
    public static bool HasBatchNorm(nn.Module model)
    {
        ArgumentNullException.ThrowIfNull(model);
        return model.modules().OfType<BatchNorm>().Any();
    }

    /// <summary>Recomputes the statistics from input batches (the model's single input, on its device).</summary>
    /// <param name="model">The model; its training mode, gradients and parameters are left as they were.</param>
    /// <param name="inputs">Training inputs, one tensor per minibatch; read until <paramref name="maxBatches"/> are used.</param>
    /// <param name="maxBatches">The most batches to average; the default is 10.</param>
    /// <returns>The number of batches averaged (0 when the model has no BatchNorm, and nothing is read).</returns>
    /// <exception cref="ArgumentNullException">An argument is null.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="maxBatches"/> is not positive.</exception>
    /// <exception cref="ArgumentException">The model has BatchNorm and <paramref name="inputs"/> yielded no batch.</exception>
    public static int Recompute(nn.Module<Tensor, Tensor> model, IEnumerable<Tensor> inputs, int maxBatches = 10)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(inputs);
        return Recompute(model, inputs, input => model.call(input), maxBatches);
    }

    /// <summary>Recomputes the statistics from (input, label) batches, the form <c>WithData</c> takes; labels are not used.</summary>
    /// <param name="model">The model; its training mode, gradients and parameters are left as they were.</param>
    /// <param name="batches">Training minibatches on the model's device; read until <paramref name="maxBatches"/> are used.</param>
    /// <param name="maxBatches">The most batches to average; the default is 10.</param>
    /// <returns>The number of batches averaged (0 when the model has no BatchNorm).</returns>
    /// <exception cref="ArgumentNullException">An argument is null.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="maxBatches"/> is not positive.</exception>
    /// <exception cref="ArgumentException">The model has BatchNorm and <paramref name="batches"/> yielded no batch.</exception>
    public static int Recompute(nn.Module<Tensor, Tensor> model, IEnumerable<(Tensor Input, Tensor Label)> batches, int maxBatches = 10)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(batches);
        return Recompute(model, batches, batch => model.call(batch.Input), maxBatches);
    }

    /// <summary>Recomputes the statistics from batches of any shape, with a forward pass of your own (models with several inputs).</summary>
    /// <typeparam name="TBatch">The batch type.</typeparam>
    /// <param name="model">The model; its training mode, gradients and parameters are left as they were.</param>
    /// <param name="batches">Training minibatches; read until <paramref name="maxBatches"/> are used.</param>
    /// <param name="forward">Runs the model on one batch (its result is discarded).</param>
    /// <param name="maxBatches">The most batches to average; the default is 10.</param>
    /// <returns>The number of batches averaged (0 when the model has no BatchNorm).</returns>
    /// <exception cref="ArgumentNullException">An argument is null.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="maxBatches"/> is not positive.</exception>
    /// <exception cref="ArgumentException">The model has BatchNorm and <paramref name="batches"/> yielded no batch.</exception>
    public static int Recompute<TBatch>(nn.Module model, IEnumerable<TBatch> batches, Action<TBatch> forward, int maxBatches = 10)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(batches);
        ArgumentNullException.ThrowIfNull(forward);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxBatches);
        var norms = model.modules().OfType<BatchNorm>().ToArray();
        if (norms.Length == 0)
        {
            return 0;
        }

        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        using var modes = ModuleStateScope.Capture(model, ModuleParts.Modes);
        var momenta = norms.Select(n => n.momentum).ToArray();
        var used = 0;
        try
        {
            foreach (var norm in norms)
            {
                norm.reset_running_stats();
                norm.momentum = null; // null momentum: a cumulative average over the batches below
            }

            model.train();
            foreach (var batch in batches)
            {
                using var batchScope = torch.NewDisposeScope();
                forward(batch);
                if (++used == maxBatches)
                {
                    break;
                }
            }
        }
        finally
        {
            for (var i = 0; i < norms.Length; i++)
            {
                norms[i].momentum = momenta[i];
            }
        }

        if (used == 0)
        {
            throw new ArgumentException("The batches yielded nothing: BatchNorm statistics need at least one training batch.", nameof(batches));
        }

        return used;
    }
}
