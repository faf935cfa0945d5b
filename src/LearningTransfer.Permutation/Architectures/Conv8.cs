using System.Globalization;
using TorchSharp;
using static TorchSharp.torch;

namespace TrajectoryTransfer.Permutations;

/// <summary>
/// The paper authors' Conv8 for 32×32 images: eight 3×3 convolutions (padding 1), each followed by an optional BatchNorm2d
/// and a ReLU, with channels 64, 64, max-pool 2, 128, 128, max-pool 2, 256, 256, max-pool 2, 512, 512, max-pool 4 (to 1×1),
/// then a head of 1×1 convolutions 512 → 256 → 256 → classes with ReLU between. Every width scales with one width factor.
/// Inputs of 28×28 (MNIST-format images) are zero-padded to 32×32 by the network itself.
/// </summary>
/// <remarks>
/// <para>
/// Module names are stable: <c>conv1</c> … <c>conv8</c>, <c>bn1</c> … <c>bn8</c> (with BatchNorm), <c>head1</c> …
/// <c>head3</c>. The authors' network has no BatchNorm; the variant with it normalises the eight feature convolutions.
/// </para>
/// <para>
/// Initialization matters twice here. Without BatchNorm, TorchSharp's default (PyTorch's) shrinks the signal about
/// threefold per layer, and the eleven-layer network stayed at chance for three epochs of Fashion-MNIST; He initialization
/// (<see cref="Conv8Initialization.He"/>) trains at once. But a transfer adds the source's update to the new
/// initialization, and He-sized initial weights outweigh a short run's update (measured: the update's norm was 0.3–0.7 of
/// the initial weights'), so every transfer, Oracle included, stayed near chance. With BatchNorm the default init trains
/// and its smaller weights are outweighed by the update, the regime in which the paper's transfers work.
/// </para>
/// </remarks>
/// <example>
/// <code>
/// var model = new Conv8(inChannels: 1, classes: 10, widthFactor: 0.25); // channels 16, 16, 32, 32, 64, 64, 128, 128; head 64
/// var spec = model.CreatePermutationSpec();
/// </code>
/// </example>
public sealed class Conv8 : nn.Module<Tensor, Tensor>
{
    private static readonly int[] BaseChannels = [64, 64, 128, 128, 256, 256, 512, 512];
    private const int BaseHead = 256;
    private readonly nn.Module<Tensor, Tensor>[] _convs;
    private readonly nn.Module<Tensor, Tensor>?[] _norms;
    private readonly nn.Module<Tensor, Tensor>[] _head;

    /// <summary>Creates the network (seed it with <c>torch.manual_seed</c>).</summary>
    /// <param name="inChannels">Input channels (1 for grayscale, 3 for RGB).</param>
    /// <param name="classes">The number of outputs.</param>
    /// <param name="widthFactor">Scales every width (rounded to the nearest integer); 1 is the authors' network.</param>
    /// <param name="batchNorm">Whether each of the eight convolutions is followed by a BatchNorm2d; the authors' network has none.</param>
    /// <param name="initialization">How the convolutions start; the default is TorchSharp's (PyTorch's) own.</param>
    /// <param name="device">Where to create the parameters; the default is the CPU.</param>
    /// <exception cref="ArgumentOutOfRangeException">
    /// A count is not positive, or <paramref name="widthFactor"/> is not positive and finite or so small that a layer would have no channel.
    /// </exception>
    public Conv8(int inChannels = 3, int classes = 10, double widthFactor = 1, bool batchNorm = false, Conv8Initialization initialization = Conv8Initialization.Default, Device? device = null)
        : base(nameof(Conv8))
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(inChannels);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(classes);
        Channels = BaseChannels.Select(c => Scale(c, widthFactor)).ToArray();
        HeadWidth = Scale(BaseHead, widthFactor);
        InChannels = inChannels;
        Classes = classes;
        WidthFactor = widthFactor;
        BatchNorm = batchNorm;

        _convs = new nn.Module<Tensor, Tensor>[Channels.Count];
        _norms = new nn.Module<Tensor, Tensor>?[Channels.Count];
        var channels = (long)inChannels;
        for (var i = 0; i < Channels.Count; i++)
        {
            _convs[i] = nn.Conv2d(channels, Channels[i], kernel_size: 3, padding: 1, device: device);
            register_module($"conv{i + 1}", _convs[i]);
            if (batchNorm)
            {
                _norms[i] = nn.BatchNorm2d(Channels[i], device: device);
                register_module($"bn{i + 1}", _norms[i]!);
            }

            channels = Channels[i];
        }

        var head = new long[] { channels, HeadWidth, HeadWidth, classes };
        _head = new nn.Module<Tensor, Tensor>[3];
        for (var i = 0; i < _head.Length; i++)
        {
            _head[i] = nn.Conv2d(head[i], head[i + 1], kernel_size: 1, device: device);
            register_module($"head{i + 1}", _head[i]);
        }

        if (initialization == Conv8Initialization.He)
        {
            InitializeHe();
        }
        else if (initialization != Conv8Initialization.Default)
        {
            throw new ArgumentOutOfRangeException(nameof(initialization), initialization, "Unknown initialization.");
        }
    }

    /// <summary>Input channels.</summary>
    public int InChannels { get; }

    /// <summary>The number of outputs.</summary>
    public int Classes { get; }

    /// <summary>The factor every width was scaled by.</summary>
    public double WidthFactor { get; }

    /// <summary>Whether each convolution is followed by a BatchNorm2d.</summary>
    public bool BatchNorm { get; }

    /// <summary>The output channels of the eight convolutions.</summary>
    public IReadOnlyList<int> Channels { get; }

    /// <summary>The width of the two hidden 1×1 convolutions of the head.</summary>
    public int HeadWidth { get; }

    /// <summary>The weight layers' module names in the order data flows through them: conv1 … conv8, head1 … head3.</summary>
    public IReadOnlyList<string> LayerNames => [.. Enumerable.Range(1, 8).Select(i => $"conv{i}"), "head1", "head2", "head3"];

    /// <summary>Computes the outputs [N, classes] of a batch [N, inChannels, 32, 32] or [N, inChannels, 28, 28] (zero-padded to 32×32).</summary>
    /// <param name="input">The batch.</param>
    /// <exception cref="ArgumentException">The batch is not [N, inChannels, 32, 32] or [N, inChannels, 28, 28].</exception>
    public override Tensor forward(Tensor input)
    {
        ArgumentNullException.ThrowIfNull(input);
        if (input.dim() != 4 || input.shape[1] != InChannels || input.shape[2] != input.shape[3] || input.shape[2] is not (28 or 32))
        {
            throw new ArgumentException(
                $"Conv8 expects a batch [N, {InChannels}, 32, 32] or [N, {InChannels}, 28, 28] (padded to 32×32); the input has shape {ParameterLayout.FormatShape(input.shape)}.",
                nameof(input));
        }

        var x = input.shape[2] == 28 ? nn.functional.pad(input, [2, 2, 2, 2]) : input;
        for (var i = 0; i < _convs.Length; i++)
        {
            x = _convs[i].call(x);
            if (_norms[i] is { } norm)
            {
                x = norm.call(x);
            }

            x = nn.functional.relu(x);
            if (i is 1 or 3 or 5)
            {
                x = nn.functional.max_pool2d(x, 2);
            }
        }

        x = nn.functional.max_pool2d(x, 4);
        for (var i = 0; i < _head.Length; i++)
        {
            x = _head[i].call(x);
            if (i < _head.Length - 1)
            {
                x = nn.functional.relu(x);
            }
        }

        return x.flatten(1);
    }

    /// <summary>The permutation spec: one group per convolution and hidden head layer; the last layer's outputs (the classes) stay put.</summary>
    public PermutationSpec CreatePermutationSpec() => PermutationSpecs.Chain(
        this,
        [.. LayerNames.Select((name, i) => new ChainLayer(name, BatchNorm && i < 8 ? [$"bn{i + 1}"] : null, i == 8 ? 1 : null))]);

    /// <summary>He (Kaiming normal, fan-in, ReLU gain) weights and zero biases for every convolution.</summary>
    private void InitializeHe()
    {
        using var noGrad = torch.no_grad();
        foreach (var layer in _convs.Concat(_head).Cast<TorchSharp.Modules.Conv2d>())
        {
            nn.init.kaiming_normal_(layer.weight!, mode: nn.init.FanInOut.FanIn, nonlinearity: nn.init.NonlinearityType.ReLU);
            layer.bias?.zero_();
        }
    }

    private static int Scale(int width, double factor)
    {
        if (!(factor > 0) || double.IsInfinity(factor))
        {
            throw new ArgumentOutOfRangeException("widthFactor", factor, "The width factor must be positive and finite.");
        }

        var scaled = (int)Math.Round(width * factor, MidpointRounding.AwayFromZero);
        if (scaled < 1)
        {
            throw new ArgumentOutOfRangeException(
                "widthFactor",
                factor,
                string.Create(CultureInfo.InvariantCulture, $"A width factor of {factor} leaves a layer of {width} channels with {width * factor:G3}, which rounds to none; use at least {0.5 / 64:G3}."));
        }

        return scaled;
    }
}

/// <summary>How a <see cref="Conv8"/>'s convolutions are initialized.</summary>
public enum Conv8Initialization
{
    /// <summary>TorchSharp's (PyTorch's) default: Kaiming-uniform with a = √5 weights and uniform biases, about 0.4 of He's scale.</summary>
    Default,

    /// <summary>He (Kaiming normal, fan-in, ReLU gain) weights and zero biases: trains the network without BatchNorm.</summary>
    He,
}
