using TorchSharp;
using TorchSharp.Modules;
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
    /// Loads <paramref name="base"/> + <paramref name="displacement"/> into the module (floating entries the displacement
    /// has; other entries of the base as they are): the values of loading <see cref="SourceView.Combine"/>'s result, written
    /// in place instead of through a new tensor per entry (GMT loads a point per gradient; each fresh 13 MB tensor of the
    /// paper's model costs page faults).
    /// </summary>
    public void LoadSum(ParameterSet @base, IReadOnlyDictionary<string, Tensor> displacement) =>
        LoadSum(@base, displacement, spec: null, permutation: null);

    /// <summary>
    /// Loads <paramref name="base"/> + π(<paramref name="displacement"/>) into the module in place: the values of loading
    /// <c>Combine(base, spec.Apply(π, displacement))</c>, bit for bit, without a new tensor per entry. A permuted entry is
    /// gathered by scattering into the module's own tensor (<c>index_copy_</c> with π⁻¹ along its last permuted axis,
    /// <c>index_select</c> along any other), then the base is added.
    /// </summary>
    public void LoadPermutedSum(ParameterSet @base, PermutationSpec spec, Permutation permutation, ParameterSet displacement) =>
        LoadSum(@base, displacement, spec, permutation);

    /// <summary>base + π(displacement) in place, π the identity when <paramref name="permutation"/> is null.</summary>
    private void LoadSum(ParameterSet @base, IReadOnlyDictionary<string, Tensor> displacement, PermutationSpec? spec, Permutation? permutation)
    {
        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        var state = Module.state_dict();
        if (@base.Any(kv => !state.TryGetValue(kv.Key, out var t) || !t.shape.SequenceEqual(kv.Value.shape) || t.dtype != kv.Value.dtype
            || (displacement.TryGetValue(kv.Key, out var d) && d.dtype != t.dtype)))
        {
            // Not expected (all come from the same layout): the full path converts dtypes and names any mismatch.
            using var moved = permutation is null ? null : spec!.Apply(permutation, displacement);
            using var sum = SourceView.Combine(@base, moved ?? displacement);
            Load(sum);
            return;
        }

        // Before any write: a missing parameter must not leave the module half overwritten.
        foreach (var (name, _) in Module.named_parameters())
        {
            if (!@base.ContainsKey(name))
            {
                throw new ArgumentException($"The set has no entry for the module's parameter '{name}'.", nameof(@base));
            }
        }

        var indices = new Dictionary<(string Group, int Block, bool Inverse), Tensor>();
        Tensor Index(AxisPermutation axis, bool inverse, Device device)
        {
            if (!indices.TryGetValue((axis.Group, axis.BlockSize, inverse), out var index))
            {
                index = PermutationIndex.Build(permutation![axis.Group], axis.BlockSize, inverse, device);
                indices[(axis.Group, axis.BlockSize, inverse)] = index;
            }

            return index;
        }

        foreach (var (name, value) in @base)
        {
            var destination = state[name];
            if (!displacement.TryGetValue(name, out var d) || !value.is_floating_point())
            {
                destination.copy_(value);
                continue;
            }

            var axes = permutation is not null && spec!.Covers(name) ? spec.AxesOf(name) : [];
            var permuted = Enumerable.Range(0, axes.Count).Where(a => axes[a] is not null).ToArray();
            if (permuted.Length == 0)
            {
                destination.copy_(d);
            }
            else
            {
                var moving = d;
                foreach (var axis in permuted[..^1])
                {
                    moving = moving.index_select(axis, Index(axes[axis]!.Value, inverse: false, d.device));
                }

                // destination[…, q[j], …] = moving[…, j, …] with q = π⁻¹: destination[…, i, …] = moving[…, π(i), …].
                var last = permuted[^1];
                destination.index_copy_(last, Index(axes[last]!.Value, inverse: true, d.device), moving);
            }

            destination.add_(value);
        }
    }

    /// <summary>
    /// ∇L at the loaded parameters, averaged over <paramref name="batches"/>, in training mode; with a
    /// <paramref name="capture"/>, the weights it captures come as factors and are left out of the full tensors.
    /// </summary>
    /// <remarks>
    /// Once a layer's factors have been checked against its full gradient, autograd is no longer asked for that gradient
    /// (the backward pass names every other parameter as an input instead): for the paper's MLP this skips one
    /// 4096 × 128 × 784 product per minibatch. Should such a layer not be captured in some minibatch after all, the
    /// sample is computed again in full, so a gradient is never silently missing.
    /// </remarks>
    public GradientSample Gradient(GradientData data, object[] batches, GradientCapture? capture = null)
    {
        var skipped = capture?.VerifiedWeights() ?? EmptyNames;
        if (skipped.Count > 0 && Compute(data, batches, capture, skipped) is { } sample)
        {
            return sample;
        }

        return Compute(data, batches, capture, EmptyNames)
            ?? throw new InvalidOperationException("A full gradient came back without the weights it was computed for.");
    }

    private static readonly IReadOnlySet<string> EmptyNames = new HashSet<string>(StringComparer.Ordinal);

    /// <summary>
    /// One gradient sample, autograd skipping the weights in <paramref name="skipped"/>; null when one of them was not
    /// captured as factors (its gradient would be missing).
    /// </summary>
    private GradientSample? Compute(GradientData data, object[] batches, GradientCapture? capture, IReadOnlySet<string> skipped)
    {
        using var scope = torch.NewDisposeScope();
        Module.train();
        Module.zero_grad();
        var parameters = Module.named_parameters().Where(p => !skipped.Contains(p.name)).ToArray();
        var inputs = skipped.Count == 0 ? null : parameters.Select(p => p.parameter).Where(p => p.requires_grad).ToList();
        foreach (var batch in batches)
        {
            using var inner = torch.NewDisposeScope();
            capture?.BeginBatch();
            var loss = data.Loss(Module, batch);
            if (batches.Length > 1)
            {
                loss = loss / batches.Length;
            }

            if (inputs is null)
            {
                loss.backward();
            }
            else
            {
                // Only these gradients: the other parameters' and the captured layers' outputs (their factors' left side).
                // Nothing to name means the verified layers did not run: a plain backward pass, then the full recomputation.
                var wanted = inputs.Concat(capture!.RecordedOutputs()).ToList();
                loss.backward(inputs: wanted.Count == 0 ? null : wanted);
            }

            capture?.EndBatch();
        }

        var gradients = GradientsOf(parameters);
        Module.zero_grad();
        var factors = capture?.Collect(gradients) ?? [];
        if (!skipped.All(factors.ContainsKey))
        {
            foreach (var factor in factors.Values)
            {
                factor.Dispose();
            }

            return null;
        }

        ThrowIfAllZero(gradients, factors);
        if (factors.Count > 0)
        {
            // The captured weights travel as factors: drop their full gradients, keep the other tensors as they are.
            foreach (var name in factors.Keys.Where(gradients.ContainsKey))
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

    /// <summary>Copies of the gradients of <paramref name="parameters"/> (zeros where autograd left none).</summary>
    private static ParameterSet GradientsOf(IEnumerable<(string name, Parameter parameter)> parameters)
    {
        using var noGrad = torch.no_grad();
        var entries = new List<KeyValuePair<string, Tensor>>();
        foreach (var (name, parameter) in parameters)
        {
            // Every read of .grad makes a new tensor handle: dispose it.
            using var grad = parameter.grad;
            entries.Add(new(name, grad is null ? torch.zeros_like(parameter) : grad.detach().clone()));
        }

        return new ParameterSet(entries);
    }

    /// <summary>
    /// A gradient that is exactly zero everywhere comes from a degenerate batch (no rows, or every label ignored by the
    /// loss), not from a network: matching it would silently return the identity.
    /// </summary>
    private static void ThrowIfAllZero(ParameterSet gradients, Dictionary<string, LowRankTensor> factors)
    {
        using var scope = torch.NewDisposeScope();
        var largest = gradients.Values.Concat(factors.Values.Select(f => f.Left)).Select(g => g.abs().max()).ToArray();
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
