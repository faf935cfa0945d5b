using TorchSharp;
using static TorchSharp.torch;

namespace TrajectoryTransfer.Permutations;

/// <summary>The nonlinearity an <see cref="Mlp"/> applies after each hidden layer.</summary>
public enum MlpActivation
{
    /// <summary>No activation: the network is linear (the paper authors' MNIST model).</summary>
    None,

    /// <summary>ReLU.</summary>
    ReLU,
}

/// <summary>The normalization an <see cref="Mlp"/> applies to each hidden layer, before the activation.</summary>
public enum MlpNormalization
{
    /// <summary>No normalization.</summary>
    None,

    /// <summary>BatchNorm1d over the hidden units (modules <c>norm1</c>, <c>norm2</c>, …).</summary>
    BatchNorm,

    /// <summary>LayerNorm over the hidden units (modules <c>norm1</c>, <c>norm2</c>, …).</summary>
    LayerNorm,
}

/// <summary>Settings of an <see cref="Mlp"/>.</summary>
public sealed class MlpOptions
{
    /// <summary>The options used when none are given.</summary>
    public static MlpOptions Default { get; } = new();

    /// <summary>Whether the Linear layers have biases.</summary>
    /// <value>The default is <see langword="true"/>.</value>
    public bool Bias { get; init; } = true;

    /// <summary>The activation after each hidden layer.</summary>
    /// <value>The default is <see cref="MlpActivation.ReLU"/>.</value>
    public MlpActivation Activation { get; init; } = MlpActivation.ReLU;

    /// <summary>The normalization of each hidden layer.</summary>
    /// <value>The default is <see cref="MlpNormalization.None"/>.</value>
    public MlpNormalization Normalization { get; init; } = MlpNormalization.None;
}

/// <summary>
/// A multilayer perceptron: <c>fc1 → [norm1] → [ReLU] → … → fc{L+1}</c>. Inputs of shape [N, …] are flattened to
/// [N, inputSize], so it takes image batches directly. Module names are stable: <c>fc1</c> … <c>fc{L+1}</c> and, with a
/// normalization, <c>norm1</c> … <c>norm{L}</c>.
/// </summary>
/// <example>
/// The paper authors' MNIST model, two bias-free Linear layers with no activation:
/// <code>
/// var model = new Mlp(784, [4096], 10, new MlpOptions { Bias = false, Activation = MlpActivation.None });
/// </code>
/// </example>
public sealed class Mlp : nn.Module<Tensor, Tensor>
{
    private readonly nn.Module<Tensor, Tensor>[] _linears;
    private readonly nn.Module<Tensor, Tensor>?[] _norms;

    /// <summary>Creates the network with TorchSharp's default initialization (seed it with <c>torch.manual_seed</c>).</summary>
    /// <param name="inputSize">Features per example (784 for 28×28 images).</param>
    /// <param name="hiddenSizes">The widths of the hidden layers; at least one.</param>
    /// <param name="outputs">The number of outputs (classes).</param>
    /// <param name="options">Bias, activation and normalization; the default is <see cref="MlpOptions.Default"/>.</param>
    /// <param name="device">Where to create the parameters; the default is the CPU.</param>
    /// <exception cref="ArgumentNullException"><paramref name="hiddenSizes"/> is null.</exception>
    /// <exception cref="ArgumentException"><paramref name="hiddenSizes"/> is empty.</exception>
    /// <exception cref="ArgumentOutOfRangeException">A size is not positive, or an enum value is undefined.</exception>
    public Mlp(int inputSize, IReadOnlyList<int> hiddenSizes, int outputs, MlpOptions? options = null, Device? device = null)
        : base(nameof(Mlp))
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(inputSize);
        ArgumentNullException.ThrowIfNull(hiddenSizes);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(outputs);
        if (hiddenSizes.Count == 0)
        {
            throw new ArgumentException("An MLP needs at least one hidden layer.", nameof(hiddenSizes));
        }

        foreach (var size in hiddenSizes)
        {
            ArgumentOutOfRangeException.ThrowIfNegativeOrZero(size, nameof(hiddenSizes));
        }

        options ??= MlpOptions.Default;
        if (!Enum.IsDefined(options.Activation))
        {
            throw new ArgumentOutOfRangeException(nameof(options), options.Activation, "Unknown activation.");
        }

        if (!Enum.IsDefined(options.Normalization))
        {
            throw new ArgumentOutOfRangeException(nameof(options), options.Normalization, "Unknown normalization.");
        }

        InputSize = inputSize;
        HiddenSizes = hiddenSizes.ToArray();
        Outputs = outputs;
        Options = options;

        var widths = new[] { inputSize }.Concat(hiddenSizes).Append(outputs).ToArray();
        _linears = new nn.Module<Tensor, Tensor>[widths.Length - 1];
        _norms = new nn.Module<Tensor, Tensor>?[hiddenSizes.Count];
        for (var i = 0; i < _linears.Length; i++)
        {
            _linears[i] = nn.Linear(widths[i], widths[i + 1], hasBias: options.Bias, device: device);
            register_module(LinearName(i), _linears[i]);
            if (i < hiddenSizes.Count && options.Normalization != MlpNormalization.None)
            {
                _norms[i] = options.Normalization == MlpNormalization.BatchNorm
                    ? nn.BatchNorm1d(widths[i + 1], device: device)
                    : nn.LayerNorm(widths[i + 1], device: device);
                register_module(NormName(i), _norms[i]!);
            }
        }
    }

    /// <summary>Features per example.</summary>
    public int InputSize { get; }

    /// <summary>The hidden layer widths.</summary>
    public IReadOnlyList<int> HiddenSizes { get; }

    /// <summary>The number of outputs.</summary>
    public int Outputs { get; }

    /// <summary>The settings the network was built with.</summary>
    public MlpOptions Options { get; }

    /// <summary>The Linear layers' module names, in order (<c>fc1</c> … <c>fc{L+1}</c>).</summary>
    public IReadOnlyList<string> LinearLayerNames => Enumerable.Range(0, _linears.Length).Select(LinearName).ToArray();

    /// <summary>The normalization layers' module names, one per hidden layer (null without normalization).</summary>
    public IReadOnlyList<string?> NormLayerNames => Enumerable.Range(0, _norms.Length).Select(i => _norms[i] is null ? null : NormName(i)).ToArray();

    /// <summary>Computes the outputs [N, outputs] of a batch [N, …] whose trailing dimensions hold <see cref="InputSize"/> features.</summary>
    /// <param name="input">The batch.</param>
    /// <exception cref="ArgumentException">The trailing dimensions do not hold <see cref="InputSize"/> features.</exception>
    public override Tensor forward(Tensor input)
    {
        ArgumentNullException.ThrowIfNull(input);
        var features = input.shape.Skip(1).Aggregate(1L, (a, b) => a * b);
        if (input.dim() < 2 || features != InputSize)
        {
            throw new ArgumentException(
                $"The MLP expects a batch [N, …] with {InputSize} features per example; the input has shape {ParameterLayout.FormatShape(input.shape)}.", nameof(input));
        }

        var x = input.dim() == 2 ? input : input.reshape(input.shape[0], InputSize);
        for (var i = 0; i < _linears.Length; i++)
        {
            x = _linears[i].call(x);
            if (i < _norms.Length)
            {
                if (_norms[i] is { } norm)
                {
                    x = norm.call(x);
                }

                if (Options.Activation == MlpActivation.ReLU)
                {
                    x = nn.functional.relu(x);
                }
            }
        }

        return x;
    }

    /// <summary>The permutation spec of this network: one group per hidden layer (its Linear outputs and normalization).</summary>
    public PermutationSpec CreatePermutationSpec() => PermutationSpecs.Mlp(this, LinearLayerNames, _norms.Length == 0 || _norms[0] is null ? null : NormLayerNames);

    private static string LinearName(int index) => $"fc{index + 1}";

    private static string NormName(int index) => $"norm{index + 1}";
}
