using System.Globalization;
using TorchSharp;
using TrajectoryTransfer.Permutations;
using TrajectoryTransfer.Samples.Cli;
using static TorchSharp.torch;

namespace TrajectoryTransfer.Samples.Models;

/// <summary>Creates seeded networks of one architecture on one device, and gives their permutation spec.</summary>
public sealed class ModelFactory
{
    /// <summary>Creates a factory.</summary>
    /// <param name="kind">The architecture.</param>
    /// <param name="width">Hidden width (MLPs) or first-stage channels (Conv4).</param>
    /// <param name="device">Where every model is placed.</param>
    /// <param name="widthFactor">Conv8's width factor.</param>
    /// <param name="imageSize">The height and width of the data's square images.</param>
    /// <exception cref="SettingsException">The model cannot take images of that size, or the width factor leaves a layer empty.</exception>
    public ModelFactory(ModelKind kind, int width, Device device, double widthFactor = 0.25, int imageSize = 28)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(width);
        ArgumentNullException.ThrowIfNull(device);
        Kind = kind;
        Width = width;
        WidthFactor = widthFactor;
        ImageSize = imageSize;
        Device = device;
        if (kind is ModelKind.Conv8 or ModelKind.Conv8BatchNorm && imageSize is not (28 or 32))
        {
            throw new SettingsException(string.Create(CultureInfo.InvariantCulture,
                $"--model {Choices.Key(kind)} takes 28×28 images (padded to 32×32) or 32×32 images; the data (--data) holds {imageSize}×{imageSize} images. Use --model mlp or conv for other sizes."));
        }

        nn.Module<Tensor, Tensor> probe;
        try
        {
            probe = Create(0);
        }
        catch (ArgumentOutOfRangeException e) when (e.ParamName == "widthFactor")
        {
            throw new SettingsException($"--width-factor {widthFactor.ToString(CultureInfo.InvariantCulture)}: {e.Message.Split(" (Parameter", 2)[0]}", e);
        }
        catch (ArgumentException e) when (kind == ModelKind.Conv)
        {
            throw new SettingsException($"--model conv cannot take {imageSize}×{imageSize} images (--data): {e.Message}", e);
        }

        using (probe)
        {
            Spec = probe switch
            {
                Mlp mlp => mlp.CreatePermutationSpec(),
                VggNet vgg => vgg.CreatePermutationSpec(),
                Conv8 conv8 => conv8.CreatePermutationSpec(),
                _ => throw new InvalidOperationException($"No spec for {probe.GetType().Name}."),
            };
            ParameterCount = probe.parameters().Sum(p => p.numel());
            HasBatchNorm = BatchNormStatistics.HasBatchNorm(probe);
            LastLayer = probe switch
            {
                Mlp mlp => mlp.LinearLayerNames[^1],
                VggNet vgg => vgg.LinearLayerNames[^1],
                Conv8 conv8 => conv8.LayerNames[^1],
                _ => throw new InvalidOperationException($"No last layer for {probe.GetType().Name}."),
            };
            Description = probe is Conv8 c
                ? Invariant($"conv8 (the authors' Conv8 × {widthFactor:G3}: channels {string.Join("-", c.Channels.Distinct())}, 1×1 head {c.HeadWidth}; {(c.BatchNorm ? "BatchNorm, default init" : "no BatchNorm, He init")})")
                : null;
        }
    }

    /// <summary>The architecture.</summary>
    public ModelKind Kind { get; }

    /// <summary>Hidden width or first-stage channels.</summary>
    public int Width { get; }

    /// <summary>Conv8's width factor.</summary>
    public double WidthFactor { get; }

    /// <summary>The height and width of the images the models take.</summary>
    public int ImageSize { get; }

    /// <summary>The device models are created on.</summary>
    public Device Device { get; }

    /// <summary>The permutation spec shared by every model of this factory.</summary>
    public PermutationSpec Spec { get; }

    /// <summary>Trainable parameters per model.</summary>
    public long ParameterCount { get; }

    /// <summary>Whether the models have BatchNorm (whose statistics must be recomputed for new parameters).</summary>
    public bool HasBatchNorm { get; }

    /// <summary>The module name of the output layer (the one the pretrained scenario re-initializes).</summary>
    public string LastLayer { get; }

    /// <summary>A short description, e.g. <c>mlp 784-512-10 (ReLU, bias)</c>.</summary>
    public string Name => Kind switch
    {
        ModelKind.Mlp => Invariant($"mlp {Inputs}-{Width}-10 (ReLU, bias)"),
        ModelKind.LinearMlp => Invariant($"linear-mlp {Inputs}-{Width}-10 (no bias, no activation)"),
        ModelKind.Conv8 or ModelKind.Conv8BatchNorm => Description!,
        _ => Invariant($"conv VGG Conv4 ({Width}, {Width}, pool, {2 * Width}, {2 * Width}, pool, fc {4 * Width}, {4 * Width}, 10; BatchNorm)"),
    };

    private string? Description { get; }

    private int Inputs => ImageSize * ImageSize;

    /// <summary>Creates a network initialized from <paramref name="seed"/>, on <see cref="Device"/>.</summary>
    /// <param name="seed">The initialization seed.</param>
    public nn.Module<Tensor, Tensor> Create(int seed)
    {
        // Initialize on the CPU and then move, so that a seed gives the same network on every device.
        torch.manual_seed(seed);
        nn.Module<Tensor, Tensor> model;
        using (torch.NewDisposeScope())
        {
            // TorchSharp's Conv2d leaves a temporary tensor behind when constructed outside a dispose scope; the
            // parameters themselves outlive the scope.
            model = Kind switch
            {
                ModelKind.Mlp => new Mlp(Inputs, [Width], 10),
                ModelKind.LinearMlp => new Mlp(Inputs, [Width], 10, new MlpOptions { Bias = false, Activation = MlpActivation.None }),
                // Without BatchNorm only He initialization trains within a few epochs; with it the default init trains (see Conv8).
                ModelKind.Conv8 => new Conv8(1, 10, WidthFactor, batchNorm: false, Conv8Initialization.He),
                ModelKind.Conv8BatchNorm => new Conv8(1, 10, WidthFactor, batchNorm: true),
                _ => VggNet.Conv4(1, ImageSize, 10, widthMultiplier: Width / 64.0, batchNorm: true),
            };
        }

        model.to(Device);
        return model;
    }

    /// <summary>Creates a network holding a copy of <paramref name="state"/>.</summary>
    /// <param name="state">Parameters and buffers of this architecture.</param>
    public nn.Module<Tensor, Tensor> Create(ParameterSet state)
    {
        ArgumentNullException.ThrowIfNull(state);
        var model = Create(0);
        state.LoadInto(model);
        return model;
    }

    /// <summary>Gives <paramref name="model"/> a freshly initialized output layer (seeded), keeping every other layer.</summary>
    /// <param name="model">A model of this factory.</param>
    /// <param name="seed">Seeds the new layer (as a whole new network of that seed would have it).</param>
    public void ResetLastLayer(nn.Module model, int seed)
    {
        ArgumentNullException.ThrowIfNull(model);
        using var fresh = Create(seed);
        var prefix = LastLayer + ".";
        using var full = ParameterSet.FromModule(fresh);
        using var layer = full.Where(name => name.StartsWith(prefix, StringComparison.Ordinal));
        layer.LoadInto(model, strict: false);
    }

    private static string Invariant(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);
}
