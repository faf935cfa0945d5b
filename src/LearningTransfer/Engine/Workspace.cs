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

    /// <summary>∇L at the loaded parameters, averaged over <paramref name="batches"/>, in training mode.</summary>
    public ParameterSet Gradient(GradientData data, object[] batches)
    {
        using var scope = torch.NewDisposeScope();
        Module.train();
        Module.zero_grad();
        foreach (var batch in batches)
        {
            using var inner = torch.NewDisposeScope();
            var loss = data.Loss(Module, batch);
            if (batches.Length > 1)
            {
                loss = loss / batches.Length;
            }

            loss.backward();
        }

        var gradients = ParameterSet.GradientsOf(Module);
        Module.zero_grad();
        return gradients.MoveToOuterDisposeScope();
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
