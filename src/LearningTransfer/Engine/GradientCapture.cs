using Microsoft.Extensions.Logging;
using TorchSharp;
using TorchSharp.Modules;
using TrajectoryTransfer.Permutations;
using static TorchSharp.torch;

namespace TrajectoryTransfer;

/// <summary>
/// Captures, during the forward and backward passes of a gradient, the two factors of the weight gradient of every Linear
/// (and 1×1 convolution) the spec permutes: a minibatch's gradient is Δᵀ X, with Δ the gradients of the layer's outputs and
/// X its inputs, one row per example (per pixel for a convolution). A layer is captured only where the factors are smaller
/// than the gradient; a layer a forward pass runs more than once, or whose forward hooks do not fire (a module invoked
/// with <c>forward()</c> instead of <c>call()</c>), falls back to the full gradient. The first capture of each layer is
/// checked against the full gradient autograd computed, and a layer that disagrees falls back too; a layer that agreed is
/// then left out of autograd's weight gradients (<see cref="Workspace.Gradient"/>), its factors being all that is needed.
/// </summary>
internal sealed class GradientCapture : IDisposable
{
    private readonly List<Layer> _layers = [];
    private readonly List<Action> _removers = [];
    private readonly ILogger _logger;
    private bool _active;

    public GradientCapture(nn.Module model, PermutationSpec spec, ILogger logger)
    {
        _logger = logger;
        foreach (var (name, module) in model.named_modules())
        {
            var weight = name.Length == 0 ? "weight" : $"{name}.weight";
            if (!spec.Covers(weight) || spec.AxesOf(weight).All(a => a is null))
            {
                continue;
            }

            var kind = module switch
            {
                Linear => LayerKind.Linear,
                Conv2d conv when IsPointwise(conv) => LayerKind.Pointwise,
                _ => (LayerKind?)null,
            };
            if (kind is null || module is not nn.Module<Tensor, Tensor> hookable)
            {
                continue;
            }

            var layer = new Layer(weight, kind.Value);
            _layers.Add(layer);
            var handle = hookable.register_forward_hook((_, input, output) =>
            {
                // Only the forward passes of a gradient count: scoring a step or refreshing BatchNorm statistics runs the
                // same module in between, and must not spoil the next gradient's capture.
                if (_active)
                {
                    layer.Record(input, output);
                }

                return output;
            });
            _removers.Add(handle.remove);
        }
    }

    /// <summary>Whether any layer can be captured at all.</summary>
    public bool IsEmpty => _layers.Count == 0;

    /// <summary>
    /// The weights whose factors were checked against their full gradient: autograd need not compute these gradients any
    /// more (one product of the layer's size per minibatch), as long as their factors are captured.
    /// </summary>
    public IReadOnlySet<string> VerifiedWeights() =>
        _layers.Where(l => l.Verified && !l.Disabled).Select(l => l.Weight).ToHashSet(StringComparer.Ordinal);

    /// <summary>The outputs recorded in the current minibatch's forward pass, whose gradients the backward pass must reach.</summary>
    public IEnumerable<Tensor> RecordedOutputs() => _layers.Select(l => l.Output).OfType<Tensor>();

    /// <summary>Starts one minibatch: forgets the previous one's records.</summary>
    public void BeginBatch()
    {
        _active = true;
        foreach (var layer in _layers)
        {
            layer.BeginBatch();
        }
    }

    /// <summary>After the minibatch's backward pass: keeps its factor rows (outside the batch's dispose scope).</summary>
    public void EndBatch()
    {
        _active = false;
        foreach (var layer in _layers)
        {
            layer.EndBatch();
        }
    }

    /// <summary>
    /// The factors of every captured layer over the minibatches since the last call (their rows concatenated), checked on
    /// first use against <paramref name="gradients"/> (which must then hold the layer's full gradient); layers that were not
    /// captured are absent (their gradients stay in full).
    /// </summary>
    public Dictionary<string, LowRankTensor> Collect(IReadOnlyDictionary<string, Tensor> gradients)
    {
        var factors = new Dictionary<string, LowRankTensor>(StringComparer.Ordinal);
        foreach (var layer in _layers)
        {
            var fellBack = layer.FellBack;
            if (layer.Take() is not { } factor)
            {
                if (fellBack)
                {
                    Log.FactorsSkipped(_logger, layer.Weight);
                }

                continue;
            }

            if (!layer.Verified)
            {
                using var scope = torch.NewDisposeScope();
                var dense = factor.ToDense();
                var expected = gradients[layer.Weight];
                var scale = Math.Max(1e-30, expected.abs().max().ToDouble());
                if (dense.sub(expected).abs().max().ToDouble() > 1e-3 * scale)
                {
                    // The hooks saw something else than the weight's whole gradient (the weight is also used elsewhere, or
                    // the output is changed in place): use the full gradient for this layer from now on.
                    layer.Disable();
                    Log.FactorsRefused(_logger, layer.Weight);
                    factor.Dispose();
                    continue;
                }

                layer.Verified = true;
                Log.FactorsCaptured(_logger, layer.Weight, factor.Rank);
            }

            factors[layer.Weight] = factor;
        }

        return factors;
    }

    public void Dispose()
    {
        foreach (var remove in _removers)
        {
            remove();
        }

        foreach (var layer in _layers)
        {
            layer.Clear();
        }
    }

    private static bool IsPointwise(Conv2d conv) =>
        !conv.transposed && conv.groups == 1 && conv.kernel_size.All(k => k == 1) && conv.stride.All(s => s == 1)
        && (conv.padding is null || conv.padding.All(p => p == 0));

    private enum LayerKind
    {
        Linear,
        Pointwise,
    }

    /// <summary>One captured layer: the records of the current minibatch and the factor rows of the minibatches so far.</summary>
    private sealed class Layer(string weight, LayerKind kind)
    {
        private readonly List<(Tensor Left, Tensor Right)> _rows = [];
        private Tensor? _input;
        private Tensor? _output;
        private int _calls;
        private bool _disabled;
        private bool _failed;
        private bool _larger;

        public string Weight { get; } = weight;

        public bool Verified { get; set; }

        public bool Disabled => _disabled;

        public Tensor? Output => _output;

        /// <summary>Whether the minibatches since the last <see cref="Take"/> could not all be captured (the gradient is taken in full).</summary>
        public bool FellBack => !_disabled && _failed && !_larger;

        public void BeginBatch()
        {
            _input = null;
            _output = null;
            _calls = 0;
        }

        public void Record(Tensor input, Tensor output)
        {
            if (_disabled)
            {
                return;
            }

            _calls++;
            var outFeatures = kind == LayerKind.Linear ? output.shape[^1] : output.shape[1];
            var inFeatures = kind == LayerKind.Linear ? input.shape[^1] : input.shape[1];
            var rows = output.numel() / outFeatures;
            // Factors only where they are smaller than the gradient itself (the paper's first layer: 128 × (4096 + 784) against 4096 × 784).
            if (_calls > 1 || !output.requires_grad)
            {
                _failed = true;
                return;
            }

            if (rows * (outFeatures + inFeatures) >= outFeatures * inFeatures)
            {
                // Not a failure: the full gradient is the cheaper form for this layer.
                _failed = true;
                _larger = true;
                return;
            }

            _input = input.detach();
            _output = output;
            output.retain_grad();
        }

        public void EndBatch()
        {
            if (_disabled)
            {
                return;
            }

            using var grad = _output?.grad;
            if (_failed || _calls != 1 || _input is null || grad is null)
            {
                // Not seen exactly once with a gradient (hooks did not fire, or the layer ran twice): full gradient this time.
                _failed = true;
                return;
            }

            var (left, right) = kind == LayerKind.Linear
                ? (grad.reshape(-1, grad.shape[^1]), _input.reshape(-1, _input.shape[^1]))
                : (grad.permute(0, 2, 3, 1).reshape(-1, grad.shape[1]), _input.permute(0, 2, 3, 1).reshape(-1, _input.shape[1]));
            _rows.Add((left.detach().clone().DetachFromDisposeScope(), right.clone().DetachFromDisposeScope()));
        }

        /// <summary>The factors of the minibatches since the last call, or null when any of them was not captured.</summary>
        public LowRankTensor? Take()
        {
            try
            {
                if (_disabled || _failed || _rows.Count == 0)
                {
                    return null;
                }

                using var scope = torch.NewDisposeScope();
                var left = _rows.Count == 1 ? _rows[0].Left.clone() : torch.cat(_rows.Select(r => r.Left).ToArray(), 0);
                var right = _rows.Count == 1 ? _rows[0].Right.clone() : torch.cat(_rows.Select(r => r.Right).ToArray(), 0);
                var shape = kind == LayerKind.Linear ? new[] { left.shape[1], right.shape[1] } : [left.shape[1], right.shape[1], 1, 1];
                return new LowRankTensor(left.MoveToOuterDisposeScope(), right.MoveToOuterDisposeScope(), shape);
            }
            finally
            {
                Clear();
            }
        }

        public void Disable() => _disabled = true;

        public void Clear()
        {
            foreach (var (left, right) in _rows)
            {
                left.Dispose();
                right.Dispose();
            }

            _rows.Clear();
            _failed = false;
            _larger = false;
            _input = null;
            _output = null;
        }
    }
}
