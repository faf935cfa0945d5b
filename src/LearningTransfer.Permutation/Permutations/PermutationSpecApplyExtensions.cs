using TorchSharp;
using static TorchSharp.torch;

namespace TrajectoryTransfer.Permutations;

/// <summary>Applies a <see cref="Permutation"/> to tensors and modules, on the tensors' own device.</summary>
public static class PermutationSpecApplyExtensions
{
    /// <summary>
    /// Returns a permuted copy of named tensors (parameters, buffers, gradients, differences): every axis the spec permutes
    /// is reordered by its group's index vector; tensors the spec leaves alone are copied unchanged. The input is not changed.
    /// </summary>
    /// <param name="spec">The spec.</param>
    /// <param name="permutation">The permutation; its groups must match the spec.</param>
    /// <param name="tensors">The tensors; each name must be covered by the spec (a subset of the spec is fine).</param>
    /// <exception cref="ArgumentNullException">An argument is null.</exception>
    /// <exception cref="PermutationSpecException">A tensor is not covered or its shape does not fit, or the permutation does not match the spec.</exception>
    public static ParameterSet Apply(this PermutationSpec spec, Permutation permutation, IEnumerable<KeyValuePair<string, Tensor>> tensors)
    {
        ArgumentNullException.ThrowIfNull(spec);
        ArgumentNullException.ThrowIfNull(permutation);
        ArgumentNullException.ThrowIfNull(tensors);
        var list = tensors as IReadOnlyCollection<KeyValuePair<string, Tensor>> ?? tensors.ToList();
        spec.Validate(list, requireAllPresent: false);
        permutation.Validate(spec);

        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        var indexCache = new IndexCache(permutation);
        // A permuted tensor is already a new one (index_select copies): only the tensors nothing moves are cloned.
        var result = new ParameterSet(list.Select(kv =>
        {
            var permuted = PermuteTensor(spec, indexCache, kv.Key, kv.Value, skipAxis: -1);
            return new KeyValuePair<string, Tensor>(kv.Key, ReferenceEquals(permuted, kv.Value) ? kv.Value.detach().clone() : permuted.detach());
        }));
        return result.MoveToOuterDisposeScope();
    }

    /// <summary>Permutes a module's parameters and buffers in place (under no_grad), so that its function is unchanged.</summary>
    /// <param name="spec">The spec, which must cover the module.</param>
    /// <param name="module">The module to change.</param>
    /// <param name="permutation">The permutation.</param>
    /// <exception cref="ArgumentNullException">An argument is null.</exception>
    /// <exception cref="PermutationSpecException">The spec does not fit the module, or the permutation does not match the spec.</exception>
    public static void Permute(this PermutationSpec spec, nn.Module module, Permutation permutation)
    {
        ArgumentNullException.ThrowIfNull(spec);
        ArgumentNullException.ThrowIfNull(module);
        ArgumentNullException.ThrowIfNull(permutation);
        spec.Validate(module);
        permutation.Validate(spec);

        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        var indexCache = new IndexCache(permutation);
        foreach (var (name, tensor) in module.state_dict())
        {
            var permuted = PermuteTensor(spec, indexCache, name, tensor, skipAxis: -1);
            if (!ReferenceEquals(permuted, tensor))
            {
                tensor.copy_(permuted);
            }
        }
    }

    /// <summary>Permutes every permuted axis of one tensor except <paramref name="skipAxis"/>; returns the input itself when nothing moves.</summary>
    internal static Tensor PermuteTensor(PermutationSpec spec, IndexCache cache, string name, Tensor tensor, int skipAxis)
    {
        var axes = spec.AxesOf(name);
        var result = tensor;
        for (var axis = 0; axis < axes.Count; axis++)
        {
            if (axis == skipAxis || axes[axis] is not { } a)
            {
                continue;
            }

            result = result.index_select(axis, cache.Get(a.Group, a.BlockSize, tensor.device));
        }

        return result;
    }

    /// <summary>Index tensors per (group, block size, device), built once per operation.</summary>
    internal sealed class IndexCache(Permutation permutation)
    {
        private readonly Dictionary<(string, int, string), Tensor> _cache = [];

        public Permutation Permutation { get; } = permutation;

        public Tensor Get(string group, int blockSize, Device device)
        {
            var key = (group, blockSize, device.ToString());
            if (_cache.TryGetValue(key, out var index))
            {
                return index;
            }

            var p = Permutation.Indices(group);
            var full = new long[(long)p.Length * blockSize];
            for (var i = 0; i < p.Length; i++)
            {
                for (var b = 0; b < blockSize; b++)
                {
                    full[((long)i * blockSize) + b] = ((long)p[i] * blockSize) + b;
                }
            }

            index = torch.tensor(full, device: device);
            _cache[key] = index;
            return index;
        }
    }
}
