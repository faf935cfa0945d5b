using TorchSharp;
using static TorchSharp.torch;

namespace TrajectoryTransfer.Permutations;

/// <summary>
/// A VGG-style convolutional network: stages of 3×3 convolutions (padding 1) each followed by an optional BatchNorm2d
/// and a ReLU, a 2×2 max pool after every stage, then a Flatten into Linear layers with ReLU, the classifier last.
/// Module names are stable: <c>conv1</c> … <c>convK</c>, <c>bn1</c> … <c>bnK</c> (with batch norm), <c>fc1</c> … <c>fcM</c>.
/// </summary>
/// <remarks>
/// The factories <see cref="Conv4"/>, <see cref="Conv6"/> and <see cref="Conv8"/> build the families the paper uses
/// (from Frankle and Carbin's lottery-ticket networks): stages [64, 64], [128, 128], [256, 256], [512, 512] (the first
/// 2, 3 or 4 of them) and a classifier [256, 256].
/// </remarks>
public sealed class VggNet : nn.Module<Tensor, Tensor>
{
    private readonly nn.Module<Tensor, Tensor>[] _convs;
    private readonly nn.Module<Tensor, Tensor>?[] _norms;
    private readonly nn.Module<Tensor, Tensor>[] _linears;
    private readonly int[] _stageEnds;

    /// <summary>Creates the network with TorchSharp's default initialization (seed it with <c>torch.manual_seed</c>).</summary>
    /// <param name="inChannels">Input channels (1 for grayscale, 3 for RGB).</param>
    /// <param name="imageSize">Input height and width (square images); each stage halves it, rounding down, and it must stay at least 1.</param>
    /// <param name="stages">The convolution widths of each stage; a max pool follows every stage.</param>
    /// <param name="classifier">The widths of the hidden Linear layers after the Flatten (may be empty).</param>
    /// <param name="classes">The number of outputs.</param>
    /// <param name="batchNorm">Whether each convolution is followed by a BatchNorm2d.</param>
    /// <param name="device">Where to create the parameters; the default is the CPU.</param>
    /// <exception cref="ArgumentNullException">A list is null.</exception>
    /// <exception cref="ArgumentException">There is no stage, a stage is empty, or the image is too small for the number of stages.</exception>
    /// <exception cref="ArgumentOutOfRangeException">A size is not positive.</exception>
    public VggNet(
        int inChannels,
        int imageSize,
        IReadOnlyList<IReadOnlyList<int>> stages,
        IReadOnlyList<int> classifier,
        int classes,
        bool batchNorm = false,
        Device? device = null)
        : base(nameof(VggNet))
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(inChannels);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(imageSize);
        ArgumentNullException.ThrowIfNull(stages);
        ArgumentNullException.ThrowIfNull(classifier);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(classes);
        if (stages.Count == 0)
        {
            throw new ArgumentException("A VGG network needs at least one stage.", nameof(stages));
        }

        var spatial = imageSize;
        foreach (var stage in stages)
        {
            ArgumentNullException.ThrowIfNull(stage, nameof(stages));
            if (stage.Count == 0)
            {
                throw new ArgumentException("Every stage needs at least one convolution.", nameof(stages));
            }

            foreach (var width in stage)
            {
                ArgumentOutOfRangeException.ThrowIfNegativeOrZero(width, nameof(stages));
            }

            spatial /= 2;
        }

        if (spatial < 1)
        {
            throw new ArgumentException($"An image of {imageSize}×{imageSize} is too small for {stages.Count} stages of 2×2 max pooling.", nameof(imageSize));
        }

        foreach (var width in classifier)
        {
            ArgumentOutOfRangeException.ThrowIfNegativeOrZero(width, nameof(classifier));
        }

        InChannels = inChannels;
        ImageSize = imageSize;
        Stages = stages.Select(s => (IReadOnlyList<int>)s.ToArray()).ToArray();
        Classifier = classifier.ToArray();
        Classes = classes;
        BatchNorm = batchNorm;
        FeatureMapSize = spatial;

        var widths = stages.SelectMany(s => s).ToArray();
        _convs = new nn.Module<Tensor, Tensor>[widths.Length];
        _norms = new nn.Module<Tensor, Tensor>?[widths.Length];
        _stageEnds = stages.Select((s, i) => stages.Take(i + 1).Sum(t => t.Count) - 1).ToArray();
        var channels = (long)inChannels;
        for (var i = 0; i < widths.Length; i++)
        {
            _convs[i] = nn.Conv2d(channels, widths[i], kernel_size: 3, padding: 1, device: device);
            register_module($"conv{i + 1}", _convs[i]);
            if (batchNorm)
            {
                _norms[i] = nn.BatchNorm2d(widths[i], device: device);
                register_module($"bn{i + 1}", _norms[i]!);
            }

            channels = widths[i];
        }

        var features = new[] { (int)channels * spatial * spatial }.Concat(classifier).Append(classes).ToArray();
        _linears = new nn.Module<Tensor, Tensor>[features.Length - 1];
        for (var i = 0; i < _linears.Length; i++)
        {
            _linears[i] = nn.Linear(features[i], features[i + 1], device: device);
            register_module($"fc{i + 1}", _linears[i]);
        }
    }

    /// <summary>Input channels.</summary>
    public int InChannels { get; }

    /// <summary>Input height and width.</summary>
    public int ImageSize { get; }

    /// <summary>The convolution widths of each stage.</summary>
    public IReadOnlyList<IReadOnlyList<int>> Stages { get; }

    /// <summary>The hidden Linear widths.</summary>
    public IReadOnlyList<int> Classifier { get; }

    /// <summary>The number of outputs.</summary>
    public int Classes { get; }

    /// <summary>Whether each convolution is followed by a BatchNorm2d.</summary>
    public bool BatchNorm { get; }

    /// <summary>The height and width of the last feature map (the Flatten's block size is its square).</summary>
    public int FeatureMapSize { get; }

    /// <summary>The convolutions' module names, in order.</summary>
    public IReadOnlyList<string> ConvLayerNames => Enumerable.Range(1, _convs.Length).Select(i => $"conv{i}").ToArray();

    /// <summary>The BatchNorm module names, one per convolution (null without batch norm).</summary>
    public IReadOnlyList<string?> NormLayerNames => Enumerable.Range(1, _convs.Length).Select(i => BatchNorm ? $"bn{i}" : null).ToArray();

    /// <summary>The Linear layers' module names, in order, the classifier last.</summary>
    public IReadOnlyList<string> LinearLayerNames => Enumerable.Range(1, _linears.Length).Select(i => $"fc{i}").ToArray();

    /// <summary>
    /// A Conv4 network (stages [64, 64], [128, 128]; classifier [256, 256]), every width scaled by <paramref name="widthMultiplier"/>.
    /// </summary>
    /// <param name="inChannels">Input channels.</param>
    /// <param name="imageSize">Input height and width.</param>
    /// <param name="classes">The number of outputs.</param>
    /// <param name="widthMultiplier">Scales every hidden width (rounded, at least 1); the default is 1.</param>
    /// <param name="batchNorm">Whether each convolution is followed by a BatchNorm2d; the default is <see langword="false"/>.</param>
    /// <param name="device">Where to create the parameters; the default is the CPU.</param>
    /// <exception cref="ArgumentOutOfRangeException">A size or the multiplier is not positive.</exception>
    public static VggNet Conv4(int inChannels, int imageSize, int classes, double widthMultiplier = 1, bool batchNorm = false, Device? device = null) =>
        Family(2, inChannels, imageSize, classes, widthMultiplier, batchNorm, device);

    /// <summary>A Conv6 network (stages [64, 64], [128, 128], [256, 256]; classifier [256, 256]), every width scaled by <paramref name="widthMultiplier"/>.</summary>
    /// <param name="inChannels">Input channels.</param>
    /// <param name="imageSize">Input height and width.</param>
    /// <param name="classes">The number of outputs.</param>
    /// <param name="widthMultiplier">Scales every hidden width (rounded, at least 1); the default is 1.</param>
    /// <param name="batchNorm">Whether each convolution is followed by a BatchNorm2d; the default is <see langword="false"/>.</param>
    /// <param name="device">Where to create the parameters; the default is the CPU.</param>
    /// <exception cref="ArgumentOutOfRangeException">A size or the multiplier is not positive.</exception>
    public static VggNet Conv6(int inChannels, int imageSize, int classes, double widthMultiplier = 1, bool batchNorm = false, Device? device = null) =>
        Family(3, inChannels, imageSize, classes, widthMultiplier, batchNorm, device);

    /// <summary>A Conv8 network (stages [64, 64], [128, 128], [256, 256], [512, 512]; classifier [256, 256]), every width scaled by <paramref name="widthMultiplier"/>.</summary>
    /// <param name="inChannels">Input channels.</param>
    /// <param name="imageSize">Input height and width (at least 16).</param>
    /// <param name="classes">The number of outputs.</param>
    /// <param name="widthMultiplier">Scales every hidden width (rounded, at least 1); the default is 1.</param>
    /// <param name="batchNorm">Whether each convolution is followed by a BatchNorm2d; the default is <see langword="false"/>.</param>
    /// <param name="device">Where to create the parameters; the default is the CPU.</param>
    /// <exception cref="ArgumentOutOfRangeException">A size or the multiplier is not positive.</exception>
    public static VggNet Conv8(int inChannels, int imageSize, int classes, double widthMultiplier = 1, bool batchNorm = false, Device? device = null) =>
        Family(4, inChannels, imageSize, classes, widthMultiplier, batchNorm, device);

    /// <summary>A small network for tests and quick experiments: stages [8], [16]; classifier [32].</summary>
    /// <param name="inChannels">Input channels; the default is 3.</param>
    /// <param name="imageSize">Input height and width; the default is 8.</param>
    /// <param name="classes">The number of outputs; the default is 10.</param>
    /// <param name="batchNorm">Whether each convolution is followed by a BatchNorm2d; the default is <see langword="false"/>.</param>
    /// <param name="device">Where to create the parameters; the default is the CPU.</param>
    /// <exception cref="ArgumentOutOfRangeException">A size is not positive.</exception>
    public static VggNet Small(int inChannels = 3, int imageSize = 8, int classes = 10, bool batchNorm = false, Device? device = null) =>
        new(inChannels, imageSize, [[8], [16]], [32], classes, batchNorm, device);

    /// <summary>Computes the outputs [N, classes] of a batch [N, inChannels, imageSize, imageSize].</summary>
    /// <param name="input">The batch.</param>
    /// <exception cref="ArgumentException">The batch does not have that shape.</exception>
    public override Tensor forward(Tensor input)
    {
        ArgumentNullException.ThrowIfNull(input);
        if (input.dim() != 4 || input.shape[1] != InChannels || input.shape[2] != ImageSize || input.shape[3] != ImageSize)
        {
            throw new ArgumentException(
                $"The network expects a batch [N, {InChannels}, {ImageSize}, {ImageSize}]; the input has shape {ParameterLayout.FormatShape(input.shape)}.", nameof(input));
        }

        var x = input;
        var stage = 0;
        for (var i = 0; i < _convs.Length; i++)
        {
            x = _convs[i].call(x);
            if (_norms[i] is { } norm)
            {
                x = norm.call(x);
            }

            x = nn.functional.relu(x);
            if (i == _stageEnds[stage])
            {
                x = nn.functional.max_pool2d(x, 2);
                stage++;
            }
        }

        x = x.flatten(1);
        for (var i = 0; i < _linears.Length; i++)
        {
            x = _linears[i].call(x);
            if (i < _linears.Length - 1)
            {
                x = nn.functional.relu(x);
            }
        }

        return x;
    }

    /// <summary>The permutation spec of this network: one group per convolution and hidden Linear layer; the first Linear's input in blocks of H·W.</summary>
    public PermutationSpec CreatePermutationSpec() =>
        PermutationSpecs.Vgg(this, ConvLayerNames, BatchNorm ? NormLayerNames : null, LinearLayerNames, FeatureMapSize * FeatureMapSize);

    private static VggNet Family(int stageCount, int inChannels, int imageSize, int classes, double widthMultiplier, bool batchNorm, Device? device)
    {
        if (!(widthMultiplier > 0) || double.IsInfinity(widthMultiplier))
        {
            throw new ArgumentOutOfRangeException(nameof(widthMultiplier), widthMultiplier, "The width multiplier must be positive and finite.");
        }

        int Scale(int width) => Math.Max(1, (int)Math.Round(width * widthMultiplier));
        var stages = new[] { 64, 128, 256, 512 }.Take(stageCount).Select(w => (IReadOnlyList<int>)[Scale(w), Scale(w)]).ToArray();
        return new VggNet(inChannels, imageSize, stages, [Scale(256), Scale(256)], classes, batchNorm, device);
    }
}
