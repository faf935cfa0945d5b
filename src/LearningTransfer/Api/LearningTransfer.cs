using TorchSharp;
using TrajectoryTransfer.Internal;
using TrajectoryTransfer.Permutations;
using TrajectoryTransfer.Trajectories;
using static TorchSharp.torch;

namespace TrajectoryTransfer;

/// <summary>
/// The entry point: <c>LearningTransfer.Transfer(source, newInit)</c> starts a fluent transfer of a learning trajectory
/// onto a new initialization. Configure the method, data and validation, then call <c>Run()</c>.
/// </summary>
/// <example>
/// <code>
/// using TrajectoryTransfer;
///
/// using var result = LearningTransfer.Transfer(source, newInit)
///     .WithData(trainBatches, (logits, labels) => nn.functional.cross_entropy(logits, labels))
///     .WithValidation(model => Accuracy(model, validation))
///     .Run();
/// result.LoadInto(newInit, best: true);
/// </code>
/// </example>
public static class LearningTransfer
{
    /// <summary>Starts a transfer of <paramref name="source"/> onto the module <paramref name="newInit"/> (which is used for forward passes and restored afterwards; it is never changed by a run).</summary>
    /// <param name="source">The source trajectory: recorded, stored, imported or linear; at least two points.</param>
    /// <param name="newInit">The new network at its initialization.</param>
    /// <exception cref="ArgumentNullException">An argument is null.</exception>
    public static TransferBuilder Transfer(ITrajectory source, nn.Module<Tensor, Tensor> newInit)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(newInit);
        return new TransferBuilder(source, [TransferTarget.Of(newInit)]);
    }

    /// <summary>Starts a transfer of <paramref name="source"/> onto the parameters <paramref name="newInit"/>; give a module for forward passes with <see cref="TransferBuilder.WithModel"/>.</summary>
    /// <param name="source">The source trajectory.</param>
    /// <param name="newInit">The new initialization's parameters (and buffers).</param>
    /// <exception cref="ArgumentNullException">An argument is null.</exception>
    public static TransferBuilder Transfer(ITrajectory source, ParameterSet newInit)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(newInit);
        return new TransferBuilder(source, [TransferTarget.Of(newInit)]);
    }

    /// <summary>
    /// Starts a transfer of one source onto several new initializations (an ensemble). Source-side gradients are computed
    /// once per trajectory point and minibatch and shared by all targets. Run with <see cref="TransferBuilder.RunAll"/>.
    /// </summary>
    /// <param name="source">The source trajectory.</param>
    /// <param name="newInits">The new networks at their initializations; the first is used for forward passes and restored.</param>
    /// <exception cref="ArgumentNullException">An argument is null.</exception>
    /// <exception cref="ArgumentException"><paramref name="newInits"/> is empty.</exception>
    public static TransferBuilder Transfer(ITrajectory source, IReadOnlyList<nn.Module<Tensor, Tensor>> newInits)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(newInits);
        if (newInits.Count == 0)
        {
            throw new ArgumentException("At least one new initialization is required.", nameof(newInits));
        }

        return new TransferBuilder(source, newInits.Select(m => TransferTarget.Of(m ?? throw new ArgumentNullException(nameof(newInits)))).ToArray());
    }

    /// <summary>
    /// Starts a transfer of the linear trajectory from <paramref name="sourceInit"/> to <paramref name="sourceTrained"/> (only the
    /// two ends are kept; 10 cosine steps unless WithSteps says otherwise) onto <paramref name="newInit"/>.
    /// </summary>
    /// <param name="sourceInit">The source network at its initialization θ₁⁰ (copied).</param>
    /// <param name="sourceTrained">The source network after training θ₁* (copied).</param>
    /// <param name="newInit">The new network at its initialization.</param>
    /// <exception cref="ArgumentNullException">An argument is null.</exception>
    public static TransferBuilder Transfer(nn.Module sourceInit, nn.Module sourceTrained, nn.Module<Tensor, Tensor> newInit)
    {
        ArgumentNullException.ThrowIfNull(sourceInit);
        ArgumentNullException.ThrowIfNull(sourceTrained);
        ArgumentNullException.ThrowIfNull(newInit);
        var linear = LinearTrajectory.FromModules(sourceInit, sourceTrained, 10, TrajectorySchedule.Cosine);
        return new TransferBuilder(linear, [TransferTarget.Of(newInit)]);
    }
}

/// <summary>A new initialization to transfer onto: a module, or parameters.</summary>
internal sealed record TransferTarget(nn.Module<Tensor, Tensor>? Module, ParameterSet? Parameters)
{
    public static TransferTarget Of(nn.Module<Tensor, Tensor> module) => new(module, null);

    public static TransferTarget Of(ParameterSet parameters) => new(null, parameters);

    public ParameterLayout Layout => Module is not null ? ParameterLayout.Of(Module) : Parameters!.Layout;

    public Device Device => Module is not null
        ? Devices.Of(Module)
        : Parameters!.Values.FirstOrDefault()?.device ?? torch.CPU;

    /// <summary>Throws <see cref="ObjectDisposedException"/> naming the module or parameter set when it was disposed.</summary>
    public void ThrowIfDisposed()
    {
        if (Module is not null)
        {
            ThrowIfDisposed(Module, "newInit");
        }
        else
        {
            ObjectDisposedException.ThrowIf(Parameters!.IsDisposed, Parameters);
        }
    }

    /// <summary>Throws <see cref="ObjectDisposedException"/> when a parameter or buffer of <paramref name="module"/> was disposed (the module was).</summary>
    public static void ThrowIfDisposed(nn.Module module, string argument)
    {
        // A disposed module forgets its parameters (TorchSharp clears them), while its layers stay registered.
        var forgotten = !module.parameters().Any() && module.modules().Any(m => m is TorchSharp.Modules.Linear or TorchSharp.Modules.Convolution or TorchSharp.Modules.BatchNorm);
        if (forgotten || module.parameters().Any(p => p.IsInvalid) || module.buffers().Any(b => b.IsInvalid))
        {
            throw new ObjectDisposedException($"{module.GetType().Name} ({argument})", $"The module given as {argument} ({module.GetType().Name}) was disposed: its parameters are gone.");
        }
    }

    public ParameterSet Snapshot(Device device) => Module is not null
        ? ParameterSet.FromModule(Module).To(device)
        : Parameters!.To(device);
}
