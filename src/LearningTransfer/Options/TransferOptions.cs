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

    /// <summary>
    /// Capture the weight gradients of Linear layers (and 1×1 convolutions) as low-rank factors during the backward pass,
    /// so that weight matching works on the factors where that is cheaper (for the paper's 784-4096-10 model with batches
    /// of 128, about 6 times fewer multiply-adds). Layers whose factors would be larger than the gradient, or whose forward
    /// hooks do not fire, use the full gradient either way; results equal the full computation to float rounding. Once a
    /// layer's factors have been checked against its full gradient (the first time it is captured), the backward pass no
    /// longer computes that weight's gradient at all, which saves one product of the layer's size per minibatch.
    /// </summary>
    /// <value>The default is <see langword="true"/>.</value>
    public bool FactoredGradients { get; init; } = true;

    /// <summary>
    /// The most bytes of source gradients GMT keeps for later steps (the source gradient at a point and minibatch does not
    /// depend on the permutation, so each is computed once); beyond it, they are computed again. On the device the transfer
    /// runs on. For the paper's 784-4096-10 model a kept gradient is about 2.5 MB as factors (13 MB in full), 25 MB for T = 10.
    /// </summary>
    /// <value>The default is 1 GiB.</value>
    public long SourceGradientCacheBytes { get; init; } = 1L << 30;

    /// <summary>
    /// The most bytes kept to make scoring steps cheap (0 turns it off). When the source is a line (a start and an end) and
    /// a Linear layer is fed the validation inputs themselves, as an MLP's first layer is, that layer's output moves along
    /// the line: X·W₂⁰ᵀ and X·Δᵀ are kept from the first scored step, and later steps gather, scale and add instead of
    /// multiplying (the paper's 784-4096-10 model: 215 MB for 6,000 validation images; scoring 10 steps on one core took
    /// 6.0 s without it and 2.3 s with it). A kept output is used only for an input equal to the recorded one, so
    /// scores equal the full computation to float rounding. On the device the transfer runs on.
    /// </summary>
    /// <value>The default is 512 MiB.</value>
    public long ScoringCacheBytes { get; init; } = 512L << 20;

    /// <summary>
    /// Before the transfer starts, check on the first training minibatch that a spec given with <c>WithSpec</c> is a
    /// symmetry of the model (a randomly permuted model must have the same loss and permuted gradients): two gradient
    /// evaluations. An inferred spec is always verified by the inference itself.
    /// </summary>
    /// <value>The default is <see langword="true"/>.</value>
    public bool VerifySpec { get; init; } = true;

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
    /// <exception cref="ArgumentOutOfRangeException">A count is not positive (or T above <see cref="TrajectorySchedule.MaxSteps"/>), or the method is unknown.</exception>
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
            ArgumentOutOfRangeException.ThrowIfGreaterThan(steps, TrajectorySchedule.MaxSteps, nameof(Steps));
        }

        ArgumentNullException.ThrowIfNull(Schedule, nameof(Schedule));
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(GradientBatches, nameof(GradientBatches));
        ArgumentOutOfRangeException.ThrowIfNegative(BatchNormRefreshBatches, nameof(BatchNormRefreshBatches));
        ArgumentOutOfRangeException.ThrowIfNegative(SourceGradientCacheBytes, nameof(SourceGradientCacheBytes));
        ArgumentOutOfRangeException.ThrowIfNegative(ScoringCacheBytes, nameof(ScoringCacheBytes));
        ArgumentNullException.ThrowIfNull(Matching, nameof(Matching));
        Matching.Validate();
        ArgumentNullException.ThrowIfNull(LoggerFactory, nameof(LoggerFactory));
    }
}
