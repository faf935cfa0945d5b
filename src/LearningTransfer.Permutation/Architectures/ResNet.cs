using TorchSharp;
using static TorchSharp.torch;

namespace TrajectoryTransfer.Permutations;

/// <summary>
/// A ResNet with basic blocks and batch norm, named as in torchvision: a 3×3 stem <c>conv1</c>/<c>bn1</c> (no max pool,
/// so 28×28 and 32×32 inputs work), stages <c>layer1</c> … <c>layerS</c> of blocks <c>layer{s}.{b}</c> with
/// <c>conv1</c>/<c>bn1</c>/<c>conv2</c>/<c>bn2</c> and, where the shape changes, a shortcut <c>downsample.0</c> (1×1 conv,
/// stride 2) / <c>downsample.1</c> (BatchNorm); global average pooling; a Linear head <c>fc</c>.
/// </summary>
/// <remarks>
/// <see cref="ResNet20"/> is the CIFAR-style ResNet-20 (3 stages of 3 blocks, widths 16/32/64);
/// <see cref="ResNet18"/> is ResNet-18 (4 stages of 2 blocks, widths 64/128/256/512) with a CIFAR-style stem.
/// The first stage keeps the resolution; every later stage halves it with stride 2.
/// </remarks>
public sealed class ResNet : nn.Module<Tensor, Tensor>
{
    private readonly nn.Module<Tensor, Tensor> _stem;
    private readonly nn.Module<Tensor, Tensor> _stemNorm;
    private readonly nn.Module<Tensor, Tensor>[] _stages;
    private readonly nn.Module<Tensor, Tensor> _head;

    /// <summary>Creates the network with TorchSharp's default initialization (seed it with <c>torch.manual_seed</c>).</summary>
    /// <param name="inChannels">Input channels.</param>
    /// <param name="stemWidth">Output channels of the stem convolution.</param>
    /// <param name="stageWidths">The width of each stage.</param>
    /// <param name="blocksPerStage">The number of basic blocks of each stage (same length as <paramref name="stageWidths"/>).</param>
    /// <param name="classes">The number of outputs.</param>
    /// <param name="device">Where to create the parameters; the default is the CPU.</param>
    /// <exception cref="ArgumentNullException">A list is null.</exception>
    /// <exception cref="ArgumentException">There is no stage, or the two lists differ in length.</exception>
    /// <exception cref="ArgumentOutOfRangeException">A size or count is not positive.</exception>
    public ResNet(int inChannels, int stemWidth, IReadOnlyList<int> stageWidths, IReadOnlyList<int> blocksPerStage, int classes, Device? device = null)
        : base(nameof(ResNet))
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(inChannels);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(stemWidth);
        ArgumentNullException.ThrowIfNull(stageWidths);
        ArgumentNullException.ThrowIfNull(blocksPerStage);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(classes);
        if (stageWidths.Count == 0)
        {
            throw new ArgumentException("A ResNet needs at least one stage.", nameof(stageWidths));
        }

        if (stageWidths.Count != blocksPerStage.Count)
        {
            throw new ArgumentException($"{stageWidths.Count} stage widths but {blocksPerStage.Count} block counts were given.", nameof(blocksPerStage));
        }

        foreach (var width in stageWidths)
        {
            ArgumentOutOfRangeException.ThrowIfNegativeOrZero(width, nameof(stageWidths));
        }

        foreach (var count in blocksPerStage)
        {
            ArgumentOutOfRangeException.ThrowIfNegativeOrZero(count, nameof(blocksPerStage));
        }

        InChannels = inChannels;
        StemWidth = stemWidth;
        StageWidths = stageWidths.ToArray();
        BlocksPerStage = blocksPerStage.ToArray();
        Classes = classes;

        _stem = nn.Conv2d(inChannels, stemWidth, kernel_size: 3, padding: 1, bias: false, device: device);
        _stemNorm = nn.BatchNorm2d(stemWidth, device: device);
        register_module("conv1", _stem);
        register_module("bn1", _stemNorm);
        _stages = new nn.Module<Tensor, Tensor>[stageWidths.Count];
        var channels = stemWidth;
        for (var s = 0; s < stageWidths.Count; s++)
        {
            var blocks = new List<nn.Module<Tensor, Tensor>>();
            for (var b = 0; b < blocksPerStage[s]; b++)
            {
                var stride = s > 0 && b == 0 ? 2 : 1;
                blocks.Add(new BasicBlock(channels, stageWidths[s], stride, device));
                channels = stageWidths[s];
            }

            _stages[s] = nn.Sequential(blocks.ToArray());
            register_module($"layer{s + 1}", _stages[s]);
        }

        _head = nn.Linear(channels, classes, device: device);
        register_module("fc", _head);
    }

    /// <summary>Input channels.</summary>
    public int InChannels { get; }

    /// <summary>Output channels of the stem.</summary>
    public int StemWidth { get; }

    /// <summary>The width of each stage.</summary>
    public IReadOnlyList<int> StageWidths { get; }

    /// <summary>The number of blocks of each stage.</summary>
    public IReadOnlyList<int> BlocksPerStage { get; }

    /// <summary>The number of outputs.</summary>
    public int Classes { get; }

    /// <summary>
    /// ResNet-20 for 32×32 images (CIFAR-style): stem 16, stages 16/32/64 of 3 blocks each, every width scaled by
    /// <paramref name="widthMultiplier"/>.
    /// </summary>
    /// <param name="inChannels">Input channels; the default is 3.</param>
    /// <param name="classes">The number of outputs; the default is 10.</param>
    /// <param name="widthMultiplier">Scales every width (rounded, at least 1); the default is 1.</param>
    /// <param name="device">Where to create the parameters; the default is the CPU.</param>
    /// <exception cref="ArgumentOutOfRangeException">A size or the multiplier is not positive.</exception>
    public static ResNet ResNet20(int inChannels = 3, int classes = 10, double widthMultiplier = 1, Device? device = null)
    {
        var scale = Scaler(widthMultiplier);
        return new ResNet(inChannels, scale(16), [scale(16), scale(32), scale(64)], [3, 3, 3], classes, device);
    }

    /// <summary>
    /// ResNet-18 with a 3×3 stem and no max pool (usable on 28×28 and 32×32 images): stem 64, stages 64/128/256/512 of 2
    /// blocks each, every width scaled by <paramref name="widthMultiplier"/>.
    /// </summary>
    /// <param name="inChannels">Input channels; the default is 3.</param>
    /// <param name="classes">The number of outputs; the default is 10.</param>
    /// <param name="widthMultiplier">Scales every width (rounded, at least 1); the default is 1.</param>
    /// <param name="device">Where to create the parameters; the default is the CPU.</param>
    /// <exception cref="ArgumentOutOfRangeException">A size or the multiplier is not positive.</exception>
    public static ResNet ResNet18(int inChannels = 3, int classes = 10, double widthMultiplier = 1, Device? device = null)
    {
        var scale = Scaler(widthMultiplier);
        return new ResNet(inChannels, scale(64), [scale(64), scale(128), scale(256), scale(512)], [2, 2, 2, 2], classes, device);
    }

    /// <summary>Computes the outputs [N, classes] of a batch [N, inChannels, H, W].</summary>
    /// <param name="input">The batch.</param>
    /// <exception cref="ArgumentException">The batch is not [N, inChannels, H, W].</exception>
    public override Tensor forward(Tensor input)
    {
        ArgumentNullException.ThrowIfNull(input);
        if (input.dim() != 4 || input.shape[1] != InChannels)
        {
            throw new ArgumentException(
                $"The network expects a batch [N, {InChannels}, H, W]; the input has shape {ParameterLayout.FormatShape(input.shape)}.", nameof(input));
        }

        var x = nn.functional.relu(_stemNorm.call(_stem.call(input)));
        foreach (var stage in _stages)
        {
            x = stage.call(x);
        }

        x = nn.functional.adaptive_avg_pool2d(x, 1).flatten(1);
        return _head.call(x);
    }

    /// <summary>
    /// The permutation spec of this network (see <see cref="PermutationSpecs.ResNet(nn.Module)"/>): one group per residual
    /// stream, one per block's inner channels.
    /// </summary>
    public PermutationSpec CreatePermutationSpec() => PermutationSpecs.ResNet(this);

    private static Func<int, int> Scaler(double widthMultiplier)
    {
        if (!(widthMultiplier > 0) || double.IsInfinity(widthMultiplier))
        {
            throw new ArgumentOutOfRangeException(nameof(widthMultiplier), widthMultiplier, "The width multiplier must be positive and finite.");
        }

        return width => Math.Max(1, (int)Math.Round(width * widthMultiplier));
    }

    /// <summary>relu(bn2(conv2(relu(bn1(conv1(x))))) + shortcut(x)), the shortcut a 1×1 conv + BN where the shape changes.</summary>
    private sealed class BasicBlock : nn.Module<Tensor, Tensor>
    {
        private readonly nn.Module<Tensor, Tensor> _conv1;
        private readonly nn.Module<Tensor, Tensor> _bn1;
        private readonly nn.Module<Tensor, Tensor> _conv2;
        private readonly nn.Module<Tensor, Tensor> _bn2;
        private readonly nn.Module<Tensor, Tensor>? _downsample;

        public BasicBlock(int inChannels, int outChannels, int stride, Device? device)
            : base(nameof(BasicBlock))
        {
            _conv1 = nn.Conv2d(inChannels, outChannels, kernel_size: 3, stride: stride, padding: 1, bias: false, device: device);
            _bn1 = nn.BatchNorm2d(outChannels, device: device);
            _conv2 = nn.Conv2d(outChannels, outChannels, kernel_size: 3, padding: 1, bias: false, device: device);
            _bn2 = nn.BatchNorm2d(outChannels, device: device);
            register_module("conv1", _conv1);
            register_module("bn1", _bn1);
            register_module("conv2", _conv2);
            register_module("bn2", _bn2);
            if (stride != 1 || inChannels != outChannels)
            {
                _downsample = nn.Sequential(
                    nn.Conv2d(inChannels, outChannels, kernel_size: 1, stride: stride, bias: false, device: device),
                    nn.BatchNorm2d(outChannels, device: device));
                register_module("downsample", _downsample);
            }
        }

        public override Tensor forward(Tensor input)
        {
            var x = nn.functional.relu(_bn1.call(_conv1.call(input)));
            x = _bn2.call(_conv2.call(x));
            var shortcut = _downsample is null ? input : _downsample.call(input);
            return nn.functional.relu(x + shortcut);
        }
    }
}
