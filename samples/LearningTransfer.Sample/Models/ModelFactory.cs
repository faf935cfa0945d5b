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
    /// <param name="width">Hidden width (MLPs) or first-stage channels (conv).</param>
    /// <param name="device">Where every model is placed.</param>
    public ModelFactory(ModelKind kind, int width, Device device)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(width);
        ArgumentNullException.ThrowIfNull(device);
        Kind = kind;
        Width = width;
        Device = device;
        using var probe = Create(0);
        Spec = probe switch
        {
            Mlp mlp => mlp.CreatePermutationSpec(),
            VggNet vgg => vgg.CreatePermutationSpec(),
            _ => throw new InvalidOperationException($"No spec for {probe.GetType().Name}."),
        };
        ParameterCount = probe.parameters().Sum(p => p.numel());
        HasBatchNorm = probe.modules().OfType<TorchSharp.Modules.BatchNorm>().Any();
    }

    /// <summary>The architecture.</summary>
    public ModelKind Kind { get; }

    /// <summary>Hidden width or first-stage channels.</summary>
    public int Width { get; }

    /// <summary>The device models are created on.</summary>
    public Device Device { get; }

    /// <summary>The permutation spec shared by every model of this factory.</summary>
    public PermutationSpec Spec { get; }

    /// <summary>Trainable parameters per model.</summary>
    public long ParameterCount { get; }

    /// <summary>Whether the models have BatchNorm (whose statistics must be recomputed for new parameters).</summary>
    public bool HasBatchNorm { get; }

    /// <summary>A short description, e.g. <c>mlp 784-512-10 (ReLU, bias)</c>.</summary>
    public string Name => Kind switch
    {
        ModelKind.Mlp => Invariant($"mlp 784-{Width}-10 (ReLU, bias)"),
        ModelKind.LinearMlp => Invariant($"linear-mlp 784-{Width}-10 (no bias, no activation)"),
        _ => Invariant($"conv VGG Conv4 ({Width}, {Width}, pool, {2 * Width}, {2 * Width}, pool, fc {4 * Width}, {4 * Width}, 10; BatchNorm)"),
    };

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
                ModelKind.Mlp => new Mlp(784, [Width], 10),
                ModelKind.LinearMlp => new Mlp(784, [Width], 10, new MlpOptions { Bias = false, Activation = MlpActivation.None }),
                _ => VggNet.Conv4(1, 28, 10, widthMultiplier: Width / 64.0, batchNorm: true),
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

    private static string Invariant(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);
}
