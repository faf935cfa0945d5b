using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using TrajectoryTransfer.Permutations;
using TrajectoryTransfer.Trajectories;
using static TorchSharp.torch;

namespace TrajectoryTransfer;

/// <summary>Settings of a transfer, with the paper's defaults. Set them through <see cref="TransferBuilder"/>; validated when it builds.</summary>
public sealed record TransferOptions
{
    /// <summary>The method.</summary>
    /// <value>The default is <see cref="TransferMethod.Fgmt"/>: as accurate as GMT in the paper and in our measurements, at T instead of T(T+1)/2 gradient pairs.</value>
    public TransferMethod Method { get; init; } = TransferMethod.Fgmt;

    /// <summary>
    /// T, the number of transfer steps. The source resamples itself (<see cref="ITrajectory.Resample"/>): a recorded two-point
    /// source (start and end only) becomes a linear trajectory with T steps by <see cref="Schedule"/>; a
    /// <see cref="LinearTrajectory"/> gives the same line with T steps; a recorded trajectory with K segments is used as is
    /// when T = K and subdivided into T/K points per segment when T is a multiple of K.
    /// </summary>
    /// <value>
    /// The default is <see langword="null"/>: 10 for a recorded two-point source (the paper's setting), the trajectory's own
    /// steps otherwise (a linear trajectory keeps its T and schedule).
    /// </value>
    public int? Steps { get; init; }

    /// <summary>The schedule of λ for linear trajectories and subdivisions.</summary>
    /// <value>The default is <see cref="TrajectorySchedule.Cosine"/>, the paper's best.</value>
    public TrajectorySchedule Schedule { get; init; } = TrajectorySchedule.Cosine;

    /// <summary>Minibatches averaged per gradient (the paper's gm_iters).</summary>
    /// <value>The default is 1.</value>
    public int GradientBatches { get; init; } = 1;

    /// <summary>Training batches used to recompute BatchNorm running statistics of the evaluated and returned parameters (cumulative average).</summary>
    /// <value>The default is 10. Ignored for models without BatchNorm.</value>
    public int BatchNormRefreshBatches { get; init; } = 10;

    /// <summary>
    /// Also recompute BatchNorm statistics (on the pair's own batches) before every gradient pair. Gradients are taken in
    /// training mode, where BatchNorm normalises with the minibatch's own statistics, so the running statistics do not
    /// enter the gradient: this only costs time. It exists for users who compute gradients in evaluation mode themselves.
    /// </summary>
    /// <value>The default is <see langword="false"/>.</value>
    public bool RefreshBatchNormBeforeGradients { get; init; }

    /// <summary>Seeds the matching's group order.</summary>
    /// <value>The default is 0.</value>
    public int Seed { get; init; }

    /// <summary>The device every tensor of the transfer lives on; only n×n assignment matrices visit the CPU.</summary>
    /// <value>The default is <see langword="null"/>: the new initialization's device.</value>
    public Device? Device { get; init; }

    /// <summary>Weight matching settings (sweeps, tolerance, normalisation, solver).</summary>
    /// <value>The default is <see cref="WeightMatchingOptions.Default"/>.</value>
    public WeightMatchingOptions Matching { get; init; } = WeightMatchingOptions.Default;

    /// <summary>Where log messages go.</summary>
    /// <value>The default is <see cref="NullLoggerFactory.Instance"/>.</value>
    public ILoggerFactory LoggerFactory { get; init; } = NullLoggerFactory.Instance;

    /// <summary>Throws if a setting is out of range.</summary>
    /// <exception cref="ArgumentOutOfRangeException">A count is not positive or the method is unknown.</exception>
    /// <exception cref="ArgumentNullException">A required setting is null.</exception>
    public void Validate()
    {
        if (!Enum.IsDefined(Method))
        {
            throw new ArgumentOutOfRangeException(nameof(Method), Method, "Unknown transfer method.");
        }

        if (Steps is { } steps)
        {
            ArgumentOutOfRangeException.ThrowIfLessThan(steps, 1, nameof(Steps));
        }

        ArgumentNullException.ThrowIfNull(Schedule, nameof(Schedule));
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(GradientBatches, nameof(GradientBatches));
        ArgumentOutOfRangeException.ThrowIfNegative(BatchNormRefreshBatches, nameof(BatchNormRefreshBatches));
        ArgumentNullException.ThrowIfNull(Matching, nameof(Matching));
        Matching.Validate();
        ArgumentNullException.ThrowIfNull(LoggerFactory, nameof(LoggerFactory));
    }
}
