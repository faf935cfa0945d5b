using System.Collections;
using System.Diagnostics.CodeAnalysis;
using TorchSharp;
using static TorchSharp.torch;

namespace TrajectoryTransfer.Permutations;

/// <summary>
/// An ordered, owning map from parameter (or buffer) names to tensors: a snapshot of a network's state,
/// a gradient, or a difference of two states. Disposing the set disposes its tensors.
/// </summary>
/// <remarks>
/// Names follow TorchSharp's <c>state_dict()</c> convention (<c>"fc1.weight"</c>, <c>"bn.running_mean"</c>).
/// The set keeps the insertion order, which for sets made from a module is the module's own order.
/// </remarks>
public sealed class ParameterSet : IReadOnlyDictionary<string, Tensor>, IDisposable
{
    private readonly List<string> _names;
    private readonly Dictionary<string, Tensor> _tensors;
    private bool _disposed;

    /// <summary>Creates a set that takes ownership of the given tensors, in the given order.</summary>
    /// <param name="entries">The named tensors. The set disposes them when it is disposed.</param>
    /// <exception cref="ArgumentNullException"><paramref name="entries"/> or one of its tensors is null.</exception>
    /// <exception cref="ArgumentException">A name appears twice.</exception>
    public ParameterSet(IEnumerable<KeyValuePair<string, Tensor>> entries)
    {
        ArgumentNullException.ThrowIfNull(entries);
        _names = [];
        _tensors = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        foreach (var (name, tensor) in entries)
        {
            ArgumentNullException.ThrowIfNull(tensor, $"{nameof(entries)}[{name}]");
            if (!_tensors.TryAdd(name, tensor))
            {
                throw new ArgumentException($"The parameter name '{name}' appears twice.", nameof(entries));
            }

            _names.Add(name);
        }
    }

    /// <summary>The names, in order.</summary>
    public IReadOnlyList<string> Names => _names;

    /// <summary>Whether the set (and so its tensors) was disposed.</summary>
    public bool IsDisposed => _disposed;

    /// <inheritdoc />
    public int Count => _names.Count;

    /// <inheritdoc />
    public IEnumerable<string> Keys => _names;

    /// <inheritdoc />
    public IEnumerable<Tensor> Values
    {
        get
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            return _names.Select(n => _tensors[n]);
        }
    }

    /// <summary>The tensor stored under <paramref name="key"/>.</summary>
    /// <exception cref="KeyNotFoundException">No tensor has that name; the message lists the names the set has.</exception>
    public Tensor this[string key]
    {
        get
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (_tensors.TryGetValue(key, out var tensor))
            {
                return tensor;
            }

            throw new KeyNotFoundException($"The parameter set has no entry '{key}'. It has: {Describe(_names)}.");
        }
    }

    /// <summary>The layout (names, shapes, dtypes) of this set.</summary>
    public ParameterLayout Layout => ParameterLayout.Of(this);

    /// <summary>Total number of elements over all tensors.</summary>
    public long ElementCount => _names.Sum(n => _tensors[n].numel());

    /// <summary>
    /// Snapshots a module's parameters (and, by default, its buffers such as BatchNorm running statistics) as detached
    /// copies on the module's device. The module is not changed.
    /// </summary>
    /// <param name="module">The module to read.</param>
    /// <param name="includeBuffers">Whether to include buffers (running statistics); the default is <see langword="true"/>.</param>
    /// <exception cref="ArgumentNullException"><paramref name="module"/> is null.</exception>
    public static ParameterSet FromModule(nn.Module module, bool includeBuffers = true)
    {
        ArgumentNullException.ThrowIfNull(module);
        using var noGrad = torch.no_grad();
        var entries = new List<KeyValuePair<string, Tensor>>();
        if (includeBuffers)
        {
            // state_dict() holds parameters and persistent buffers, in module order; entries are live views: clone them.
            foreach (var (name, tensor) in module.state_dict())
            {
                entries.Add(new(name, DetachedClone(tensor)));
            }
        }
        else
        {
            foreach (var (name, parameter) in module.named_parameters())
            {
                entries.Add(new(name, DetachedClone(parameter)));
            }
        }

        return new ParameterSet(entries);
    }

    /// <summary>Snapshots a module's gradients (after <c>backward()</c>) as detached copies; parameters without a gradient get zeros.</summary>
    /// <param name="module">The module whose parameters hold gradients.</param>
    /// <exception cref="ArgumentNullException"><paramref name="module"/> is null.</exception>
    public static ParameterSet GradientsOf(nn.Module module)
    {
        ArgumentNullException.ThrowIfNull(module);
        using var noGrad = torch.no_grad();
        var entries = new List<KeyValuePair<string, Tensor>>();
        foreach (var (name, parameter) in module.named_parameters())
        {
            // Every read of .grad makes a new tensor handle: dispose it.
            using var grad = parameter.grad;
            entries.Add(new(name, grad is null ? torch.zeros_like(parameter) : DetachedClone(grad)));
        }

        return new ParameterSet(entries);
    }

    /// <summary>Copies these tensors into the module's parameters and buffers of the same names, in place (under no_grad).</summary>
    /// <param name="module">The module to overwrite. Entries the set lacks are left as they are.</param>
    /// <param name="strict">When <see langword="true"/> (the default), every parameter of the module must be present in the set.</param>
    /// <exception cref="ArgumentNullException"><paramref name="module"/> is null.</exception>
    /// <exception cref="ArgumentException">A name is unknown to the module, a shape differs, or (strict) a parameter is missing.</exception>
    public void LoadInto(nn.Module module, bool strict = true)
    {
        ArgumentNullException.ThrowIfNull(module);
        ObjectDisposedException.ThrowIf(_disposed, this);
        using var noGrad = torch.no_grad();
        var state = module.state_dict();
        foreach (var name in _names)
        {
            if (!state.TryGetValue(name, out var destination))
            {
                throw new ArgumentException($"The module has no parameter or buffer named '{name}'. It has: {Describe(state.Keys)}.", nameof(module));
            }

            var source = _tensors[name];
            if (!destination.shape.SequenceEqual(source.shape))
            {
                throw new ArgumentException(
                    $"Shape mismatch for '{name}': the module has {ParameterLayout.FormatShape(destination.shape)}, the set has {ParameterLayout.FormatShape(source.shape)}.",
                    nameof(module));
            }

            destination.copy_(source);
        }

        if (strict)
        {
            foreach (var (name, _) in module.named_parameters())
            {
                if (!_tensors.ContainsKey(name))
                {
                    throw new ArgumentException($"The set has no entry for the module's parameter '{name}'.", nameof(module));
                }
            }
        }
    }

    /// <summary>Returns a deep copy (on the same devices).</summary>
    public ParameterSet Clone() => Map(DetachedClone);

    /// <summary>Returns a copy with every tensor on <paramref name="device"/>.</summary>
    /// <param name="device">The target device.</param>
    /// <exception cref="ArgumentNullException"><paramref name="device"/> is null.</exception>
    public ParameterSet To(Device device)
    {
        ArgumentNullException.ThrowIfNull(device);
        return Map(t =>
        {
            using var detached = t.detach();
            return detached.to(device, copy: true);
        });
    }

    /// <summary>Returns a new set with <paramref name="transform"/> applied to every tensor (names and order kept).</summary>
    /// <param name="transform">Makes the new tensor from the old one; it must return a new tensor the set can own.</param>
    /// <exception cref="ArgumentNullException"><paramref name="transform"/> is null.</exception>
    public ParameterSet Map(Func<Tensor, Tensor> transform)
    {
        ArgumentNullException.ThrowIfNull(transform);
        ObjectDisposedException.ThrowIf(_disposed, this);
        using var noGrad = torch.no_grad();
        return new ParameterSet(_names.Select(n => new KeyValuePair<string, Tensor>(n, transform(_tensors[n]))));
    }

    /// <summary>Returns a new set holding only the entries whose names satisfy <paramref name="predicate"/>, copied.</summary>
    /// <param name="predicate">Selects names.</param>
    /// <exception cref="ArgumentNullException"><paramref name="predicate"/> is null.</exception>
    public ParameterSet Where(Func<string, bool> predicate)
    {
        ArgumentNullException.ThrowIfNull(predicate);
        ObjectDisposedException.ThrowIf(_disposed, this);
        using var noGrad = torch.no_grad();
        return new ParameterSet(_names.Where(predicate).Select(n => new KeyValuePair<string, Tensor>(n, DetachedClone(_tensors[n]))));
    }

    /// <summary>Moves all tensors of this set out of the current TorchSharp dispose scope, so the caller owns them.</summary>
    public ParameterSet MoveToOuterDisposeScope()
    {
        foreach (var tensor in _tensors.Values)
        {
            tensor.MoveToOuterDisposeScope();
        }

        return this;
    }

    /// <summary>Detaches all tensors from any TorchSharp dispose scope; they live until this set is disposed.</summary>
    public ParameterSet DetachFromDisposeScope()
    {
        foreach (var tensor in _tensors.Values)
        {
            tensor.DetachFromDisposeScope();
        }

        return this;
    }

    /// <inheritdoc />
    public bool ContainsKey(string key) => _tensors.ContainsKey(key);

    /// <inheritdoc />
    public bool TryGetValue(string key, [MaybeNullWhen(false)] out Tensor value) => _tensors.TryGetValue(key, out value);

    /// <inheritdoc />
    /// <exception cref="ObjectDisposedException">The set was disposed.</exception>
    public IEnumerator<KeyValuePair<string, Tensor>> GetEnumerator()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        return _names.Select(n => new KeyValuePair<string, Tensor>(n, _tensors[n])).GetEnumerator();
    }

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

    /// <summary>Disposes every tensor of the set.</summary>
    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        foreach (var tensor in _tensors.Values)
        {
            tensor.Dispose();
        }
    }

    // detach() makes a new tensor handle; without a dispose scope around the caller it would stay alive until finalized.
    private static Tensor DetachedClone(Tensor tensor)
    {
        using var detached = tensor.detach();
        return detached.clone();
    }

    internal static string Describe(IEnumerable<string> names)
    {
        var list = names.Take(12).ToList();
        var total = names.Count();
        var text = string.Join(", ", list.Select(n => $"'{n}'"));
        return total > list.Count ? $"{text}, … ({total} in all)" : text;
    }
}
