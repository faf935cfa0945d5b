using TorchSharp;
using static TorchSharp.torch;

namespace TrajectoryTransfer.Internal;

/// <summary>
/// Saves what a library operation may change in a caller's module (parameters and buffers, gradients, the training mode
/// of every submodule) and restores it when disposed, whatever happened in between. Compiled into each package.
/// </summary>
internal sealed class ModuleStateScope : IDisposable
{
    private readonly nn.Module _module;
    private readonly Dictionary<string, Tensor>? _state;
    private readonly Dictionary<string, Tensor?>? _gradients;
    private readonly (nn.Module Module, bool Training)[] _modes;
    private bool _disposed;

    private ModuleStateScope(nn.Module module, ModuleParts parts)
    {
        _module = module;
        using var noGrad = torch.no_grad();
        if (parts.HasFlag(ModuleParts.State))
        {
            _state = new Dictionary<string, Tensor>(StringComparer.Ordinal);
            foreach (var (name, tensor) in module.state_dict())
            {
                _state[name] = DetachedCopy(tensor);
            }
        }

        if (parts.HasFlag(ModuleParts.Gradients))
        {
            _gradients = new Dictionary<string, Tensor?>(StringComparer.Ordinal);
            foreach (var (name, parameter) in module.named_parameters())
            {
                // Every read of .grad makes a new handle: dispose it after copying.
                using var grad = parameter.grad;
                _gradients[name] = grad is null ? null : DetachedCopy(grad);
            }
        }

        _modes = [(module, module.training), .. module.modules().Select(m => (m, m.training))];
    }

    /// <summary>Saves the training modes and the chosen <paramref name="parts"/> of <paramref name="module"/>.</summary>
    /// <param name="module">The caller's module.</param>
    /// <param name="parts">What besides the training modes to save; the default is everything.</param>
    public static ModuleStateScope Capture(nn.Module module, ModuleParts parts = ModuleParts.All) => new(module, parts);

    /// <summary>Restores everything saved and releases the copies.</summary>
    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        using (torch.no_grad())
        {
            if (_state is not null)
            {
                var live = _module.state_dict();
                foreach (var (name, saved) in _state)
                {
                    if (live.TryGetValue(name, out var destination))
                    {
                        destination.copy_(saved);
                    }
                }
            }

            if (_gradients is not null)
            {
                RestoreGradients(_gradients);
            }
        }

        foreach (var (module, training) in _modes)
        {
            module.train(training);
        }

        foreach (var tensor in _state?.Values ?? Enumerable.Empty<Tensor>())
        {
            tensor.Dispose();
        }

        foreach (var tensor in _gradients?.Values ?? Enumerable.Empty<Tensor?>())
        {
            tensor?.Dispose();
        }
    }

    private void RestoreGradients(Dictionary<string, Tensor?> gradients)
    {
        foreach (var (name, parameter) in _module.named_parameters())
        {
            if (!gradients.TryGetValue(name, out var saved) || saved is null)
            {
                parameter.grad = null;
                continue;
            }

            using var current = parameter.grad;
            if (current is null)
            {
                // The parameter keeps its own reference to the new gradient; our handle to it is released at once
                // instead of being left to the finalizer.
                using var copy = saved.clone();
                parameter.grad = copy;
            }
            else
            {
                current.copy_(saved);
            }
        }
    }

    private static Tensor DetachedCopy(Tensor tensor)
    {
        using var detached = tensor.detach();
        return detached.clone().DetachFromDisposeScope();
    }
}

/// <summary>What <see cref="ModuleStateScope"/> saves besides the training mode of every submodule.</summary>
[Flags]
internal enum ModuleParts
{
    /// <summary>Only the training modes.</summary>
    Modes = 0,

    /// <summary>The parameters' gradients.</summary>
    Gradients = 1,

    /// <summary>Parameters and buffers.</summary>
    State = 2,

    /// <summary>Gradients, parameters and buffers.</summary>
    All = Gradients | State,
}
