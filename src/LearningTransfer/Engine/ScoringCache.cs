using Microsoft.Extensions.Logging;
using TorchSharp;
using TorchSharp.Modules;
using TrajectoryTransfer.Permutations;
using static TorchSharp.torch;

namespace TrajectoryTransfer;

/// <summary>
/// Makes scoring a step cheap when the source trajectory is a line and a Linear layer is fed the validation inputs
/// themselves (an MLP's first layer: 97 % of the paper model's multiply-adds). On a line the layer's weight at step s is
/// W₂⁰ + πₛ(λₛΔ), so its output on an input X is X·W₂⁰ᵀ + (λₛ/λᵣ)·(X·(λᵣΔ)ᵀ)[…, πₛ] + bₛ: both products are kept from
/// the first step that sees X (step r, one extra product), and every later step only gathers, scales and adds.
/// A recorded output is replayed only for an input equal to the recorded one (compared at every call), so a layer that
/// sees anything else — its input depends on parameters, or the scoring callback changes its data — is computed as
/// usual from then on. What is kept is bounded by <see cref="TransferOptions.ScoringCacheBytes"/>.
/// </summary>
internal sealed class ScoringCache : IDisposable
{
    private readonly List<Layer> _layers;
    private readonly TransferRun _run;
    private long _bytes;

    private ScoringCache(TransferRun run, List<Layer> layers)
    {
        _run = run;
        _layers = layers;
    }

    /// <summary>Bytes kept now (inputs, their products with the displacement, and each target's base outputs).</summary>
    public long Bytes => _bytes;

    /// <summary>Layer outputs replayed instead of computed, over the run.</summary>
    public int Replays { get; private set; }

    /// <summary>
    /// The cache for a run whose steps are scored, whose source is a line, and whose model has a Linear layer with an
    /// unpermuted input axis; null otherwise (steps are then scored as usual).
    /// </summary>
    public static ScoringCache? Create(TransferRun run)
    {
        if (run.Validation is null || run.Options.ScoringCacheBytes == 0 || !run.Source.IsLine)
        {
            return null;
        }

        var layers = new List<Layer>();
        foreach (var (name, module) in run.Workspace.Module.named_modules())
        {
            if (module is not Linear linear)
            {
                continue;
            }

            var weight = name.Length == 0 ? "weight" : $"{name}.weight";
            var axes = run.Spec.Covers(weight) ? run.Spec.AxesOf(weight) : null;
            if (axes is { Count: 2 } && axes[1] is not null)
            {
                // Its input is a permuted hidden layer: it depends on the parameters, so it never repeats.
                continue;
            }

            layers.Add(new Layer(linear, weight, axes?[0]));
        }

        return layers.Count == 0 ? null : new ScoringCache(run, layers);
    }

    /// <summary>Runs <paramref name="score"/> with the cache's hooks on, for <paramref name="target"/> at <paramref name="step"/>.</summary>
    /// <param name="target">The target whose θ₂,πₛˢ is loaded.</param>
    /// <param name="step">s.</param>
    /// <param name="displacement">θ₁ˢ − θ₁⁰, as the engine applied it.</param>
    /// <param name="score">The scoring call (the module is already loaded).</param>
    public double Score(TargetState target, int step, ParameterSet displacement, Func<double> score)
    {
        var lambda = _run.Source.Positions[step];
        var removers = new List<Action>(2 * _layers.Count);
        var context = new Context(this, target, lambda, displacement);
        try
        {
            foreach (var layer in _layers.Where(l => !l.Disabled))
            {
                layer.Begin(context);
                var pre = layer.Module.register_forward_pre_hook((_, input) => layer.Before(input));
                var post = layer.Module.register_forward_hook((_, input, output) => layer.After(input, output));
                removers.Add(pre.remove);
                removers.Add(post.remove);
            }

            return score();
        }
        finally
        {
            foreach (var remove in removers)
            {
                remove();
            }

            foreach (var layer in _layers)
            {
                layer.End();
            }
        }
    }

    public void Dispose()
    {
        foreach (var layer in _layers)
        {
            layer.Clear();
        }

        _bytes = 0;
    }

    private bool TryReserve(long bytes)
    {
        if (_bytes + bytes > _run.Options.ScoringCacheBytes)
        {
            return false;
        }

        _bytes += bytes;
        return true;
    }

    private void Release(long bytes) => _bytes -= bytes;

    private static long BytesOf(Tensor tensor) => tensor.numel() * tensor.ElementSize;

    /// <summary>What one scoring call needs: the target, λₛ, the displacement, and πₛ's index vector for each group (made on first use).</summary>
    private sealed class Context(ScoringCache owner, TargetState target, double lambda, ParameterSet displacement)
    {
        private readonly Dictionary<(string, int), Tensor> _indices = [];

        public ScoringCache Owner => owner;

        public TargetState Target => target;

        public double Lambda => lambda;

        public ParameterSet Displacement => displacement;

        /// <summary>The index vector that reorders an output axis the way the spec's <paramref name="axis"/> permutes it (null: not permuted).</summary>
        public Tensor? Index(AxisPermutation? axis, Device device)
        {
            if (axis is not { } a)
            {
                return null;
            }

            if (_indices.TryGetValue((a.Group, a.BlockSize), out var index))
            {
                return index;
            }

            index = PermutationIndex.Build(target.Permutation[a.Group], a.BlockSize, inverse: false, device).DetachFromDisposeScope();
            _indices[(a.Group, a.BlockSize)] = index;
            return index;
        }

        public void Dispose()
        {
            foreach (var index in _indices.Values)
            {
                index.Dispose();
            }

            _indices.Clear();
        }
    }

    /// <summary>One input recorded for a layer: X, X·Dᵣᵀ with the displacement of step r (λᵣ), and each target's X·W₂⁰ᵀ.</summary>
    private sealed class Entry(Tensor input, Tensor product, double lambda) : IDisposable
    {
        public Tensor Input { get; } = input;

        public Tensor Product { get; } = product;

        public double Lambda { get; } = lambda;

        public Dictionary<int, Tensor> Bases { get; } = [];

        public void Dispose()
        {
            Input.Dispose();
            Product.Dispose();
            foreach (var b in Bases.Values)
            {
                b.Dispose();
            }

            Bases.Clear();
        }
    }

    /// <summary>One Linear layer: its recorded inputs in call order, and what the current call will do.</summary>
    private sealed class Layer(Linear module, string weight, AxisPermutation? outputAxis)
    {
        private readonly List<Entry> _entries = [];
        private Context? _context;
        private int _call;
        private Func<Tensor, Tensor>? _replacement;

        public Linear Module { get; } = module;

        public bool Disabled { get; private set; }

        public void Begin(Context context)
        {
            _context = context;
            _call = 0;
            _replacement = null;
        }

        public void End()
        {
            _context?.Dispose();
            _context = null;
            _replacement = null;
        }

        /// <summary>Before the layer runs: replays a recorded input (the layer then runs on one row only), or arranges to record it.</summary>
        public Tensor Before(Tensor input)
        {
            _replacement = null;
            var context = _context!;
            var call = _call++;
            if (Disabled || input.dim() < 2 || input.shape[0] == 0 || input.requires_grad)
            {
                return input;
            }

            var device = input.device;
            var outputs = Module.weight!.shape[0];
            if (call < _entries.Count)
            {
                var entry = _entries[call];
                if (!SameTensor(entry.Input, input))
                {
                    // This layer's input is not always the same: score it as usual from now on.
                    Disable(context.Owner);
                    Log.ScoringCacheDropped(context.Owner._run.Logger, weight);
                    return input;
                }

                var index = context.Index(outputAxis, device);
                var scale = context.Lambda / entry.Lambda;
                if (entry.Bases.TryGetValue(context.Target.Index, out var @base))
                {
                    _replacement = _ => Replay(@base, entry.Product, index, scale);
                    context.Owner.Replays++;
                    return input.narrow(0, 0, 1);
                }

                var bytes = BytesOf(entry.Product);
                if (context.Owner.TryReserve(bytes))
                {
                    _replacement = output =>
                    {
                        entry.Bases[context.Target.Index] = BaseOf(output, entry.Product, index, scale);
                        return output;
                    };
                }

                return input;
            }

            if (context.Lambda == 0 || !context.Displacement.TryGetValue(weight, out var delta))
            {
                return input;
            }

            var rows = input.numel() / input.shape[^1];
            var elementSize = input.ElementSize;
            var needed = BytesOf(input) + (2 * rows * outputs * elementSize);
            if (_entries.Count != call || !context.Owner.TryReserve(needed))
            {
                return input;
            }

            var lambda = context.Lambda;
            _replacement = output =>
            {
                using var scope = torch.NewDisposeScope();
                var product = nn.functional.linear(input, delta);
                var entry = new Entry(input.clone().DetachFromDisposeScope(), product.DetachFromDisposeScope(), lambda);
                entry.Bases[context.Target.Index] = BaseOf(output, product, context.Index(outputAxis, device), 1.0);
                _entries.Add(entry);
                return output;
            };
            return input;
        }

        /// <summary>After the layer ran: the replayed output, or the layer's own output (recorded when arranged).</summary>
        public Tensor After(Tensor input, Tensor output)
        {
            var replacement = _replacement;
            _replacement = null;
            return replacement is null ? output : replacement(output);
        }

        public void Clear()
        {
            foreach (var entry in _entries)
            {
                entry.Dispose();
            }

            _entries.Clear();
        }

        private void Disable(ScoringCache owner)
        {
            Disabled = true;
            foreach (var entry in _entries)
            {
                owner.Release(BytesOf(entry.Input) + BytesOf(entry.Product) + entry.Bases.Values.Sum(BytesOf));
            }

            Clear();
        }

        /// <summary>X·W₂⁰ᵀ = Y − b − scale·P[…, π]: the part of the output that does not move along the line.</summary>
        private Tensor BaseOf(Tensor output, Tensor product, Tensor? index, double scale)
        {
            using var scope = torch.NewDisposeScope();
            var moving = index is null ? product : product.index_select(-1, index);
            var @base = output.add(moving, -scale);
            if (Module.bias is { } bias)
            {
                @base.sub_(bias);
            }

            return @base.DetachFromDisposeScope();
        }

        private Tensor Replay(Tensor @base, Tensor product, Tensor? index, double scale)
        {
            // One new tensor per call: the gathered product, scaled and shifted in place.
            var output = index is null ? product.mul(scale) : product.index_select(-1, index).mul_(scale);
            output.add_(@base);
            if (Module.bias is { } bias)
            {
                output.add_(bias);
            }

            return output;
        }

        private static bool SameTensor(Tensor recorded, Tensor input) =>
            recorded.dtype == input.dtype
            && recorded.shape.SequenceEqual(input.shape)
            && recorded.device.type == input.device.type && recorded.device.index == input.device.index
            && recorded.allclose(input, rtol: 0, atol: 0);
    }
}
