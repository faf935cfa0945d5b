using TorchSharp;
using TorchSharp.Modules;
using TrajectoryTransfer.Permutations;
using static TorchSharp.torch;

namespace TrajectoryTransfer;

/// <summary>
/// The module the transfer runs forward and backward passes in. It may be the caller's own module: its state,
/// gradients and training mode are saved first and restored by <see cref="Dispose"/>, whatever happens.
/// </summary>
internal sealed class Workspace : IDisposable
{
    private readonly ParameterSet _savedState;
    private readonly Dictionary<string, Tensor?> _savedGradients;
    private readonly bool _wasTraining;
    private readonly BatchNorm[] _batchNorms;

    public Workspace(nn.Module<Tensor, Tensor> module)
    {
        Module = module;
        _savedState = ParameterSet.FromModule(module).DetachFromDisposeScope();
        _savedGradients = module.named_parameters().ToDictionary(p => p.name, p => p.parameter.grad?.detach().clone().DetachFromDisposeScope());
        _wasTraining = module.training;
        _batchNorms = module.modules().OfType<BatchNorm>().ToArray();
    }

    public nn.Module<Tensor, Tensor> Module { get; }

    public bool HasBatchNorm => _batchNorms.Length > 0;

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
        if (_batchNorms.Length == 0 || batches.Length == 0)
        {
            return;
        }

        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        var momenta = _batchNorms.Select(b => b.momentum).ToArray();
        try
        {
            foreach (var bn in _batchNorms)
            {
                bn.reset_running_stats();
                bn.momentum = null; // cumulative moving average over the refresh batches
            }

            Module.train();
            foreach (var batch in batches)
            {
                using var inner = torch.NewDisposeScope();
                data.Loss(Module, batch);
            }
        }
        finally
        {
            for (var i = 0; i < _batchNorms.Length; i++)
            {
                _batchNorms[i].momentum = momenta[i];
            }
        }
    }

    /// <summary>Restores the caller's state, gradients and mode.</summary>
    public void Dispose()
    {
        _savedState.LoadInto(Module, strict: false);
        using (torch.no_grad())
        {
            foreach (var (name, parameter) in Module.named_parameters())
            {
                var saved = _savedGradients[name];
                if (saved is null)
                {
                    parameter.grad = null;
                }
                else if (parameter.grad is null)
                {
                    parameter.grad = saved.clone().DetachFromDisposeScope();
                }
                else
                {
                    parameter.grad.copy_(saved);
                }
            }
        }

        Module.train(_wasTraining);
        _savedState.Dispose();
        foreach (var g in _savedGradients.Values)
        {
            g?.Dispose();
        }
    }
}
