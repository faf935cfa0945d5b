using TorchSharp;
using TrajectoryTransfer.Internal;
using TrajectoryTransfer.Permutations;
using static TorchSharp.torch;

namespace TrajectoryTransfer;

/// <summary>
/// The module the transfer runs forward and backward passes in. It may be the caller's own module: its state,
/// gradients and training modes are saved first and restored by <see cref="Dispose"/>, whatever happens.
/// </summary>
internal sealed class Workspace : IDisposable
{
    private readonly ModuleStateScope _saved;

    public Workspace(nn.Module<Tensor, Tensor> module)
    {
        Module = module;
        _saved = ModuleStateScope.Capture(module);
        HasBatchNorm = BatchNormStatistics.HasBatchNorm(module);
    }

    public nn.Module<Tensor, Tensor> Module { get; }

    public bool HasBatchNorm { get; }

    /// <summary>Loads a state (parameters, and buffers where given) into the module.</summary>
    public void Load(ParameterSet state) => state.LoadInto(Module, strict: true);

    /// <summary>
    /// ∇L at the loaded parameters, averaged over <paramref name="batches"/>, in training mode; with a
    /// <paramref name="capture"/>, the weights it captures come as factors and are left out of the full tensors.
    /// </summary>
    public GradientSample Gradient(GradientData data, object[] batches, GradientCapture? capture = null)
    {
        using var scope = torch.NewDisposeScope();
        Module.train();
        Module.zero_grad();
        foreach (var batch in batches)
        {
            using var inner = torch.NewDisposeScope();
            capture?.BeginBatch();
            var loss = data.Loss(Module, batch);
            if (batches.Length > 1)
            {
                loss = loss / batches.Length;
            }

            loss.backward();
            capture?.EndBatch();
        }

        var gradients = ParameterSet.GradientsOf(Module);
        Module.zero_grad();
        ThrowIfAllZero(gradients);
        var factors = capture?.Collect(gradients) ?? [];
        if (factors.Count > 0)
        {
            // The captured weights travel as factors: drop their full gradients, keep the other tensors as they are.
            foreach (var name in factors.Keys)
            {
                gradients[name].Dispose();
            }

            gradients = new ParameterSet(gradients.Where(kv => !factors.ContainsKey(kv.Key)));
        }

        var sample = new GradientSample(gradients, factors);
        sample.Dense.MoveToOuterDisposeScope();
        foreach (var factor in factors.Values)
        {
            factor.Left.MoveToOuterDisposeScope();
            factor.Right.MoveToOuterDisposeScope();
        }

        return sample;
    }

    /// <summary>
    /// A gradient that is exactly zero everywhere comes from a degenerate batch (no rows, or every label ignored by the
    /// loss), not from a network: matching it would silently return the identity.
    /// </summary>
    private static void ThrowIfAllZero(ParameterSet gradients)
    {
        using var scope = torch.NewDisposeScope();
        var largest = gradients.Values.Select(g => g.abs().max()).ToArray();
        if (largest.Length > 0 && torch.stack(largest).max().ToDouble() == 0)
        {
            throw new ArgumentException(
                "A training minibatch gave a gradient that is exactly zero for every parameter: the batch is empty, or the loss ignores all of its labels (for example every label at the ignore index). Give batches with at least one counted example.",
                "data");
        }
    }

    /// <summary>Resets BatchNorm running statistics and recomputes them as a cumulative average over <paramref name="batches"/>.</summary>
    public void RefreshBatchNorm(GradientData data, object[] batches)
    {
        if (HasBatchNorm && batches.Length > 0)
        {
            BatchNormStatistics.Recompute(Module, batches, batch => data.Loss(Module, batch), batches.Length);
        }
    }

    /// <summary>Scores the loaded parameters in evaluation mode, under no_grad, in a dispose scope of its own.</summary>
    public double Score(Func<nn.Module<Tensor, Tensor>, double> validation)
    {
        using var modes = ModuleStateScope.Capture(Module, ModuleParts.Modes);
        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        Module.eval();
        return validation(Module);
    }

    /// <summary>Restores the caller's state, gradients and modes.</summary>
    public void Dispose() => _saved.Dispose();
}
