using static TorchSharp.torch;

namespace TrajectoryTransfer.Trajectories;

/// <summary>When and how a <see cref="TrajectoryRecorder"/> takes snapshots.</summary>
public sealed class TrajectoryRecorderOptions
{
    /// <summary>The shared default options.</summary>
    public static TrajectoryRecorderOptions Default { get; } = new();

    /// <summary>
    /// Take a snapshot every this many calls to <see cref="TrajectoryRecorder.OnOptimizerStep"/>; 0 turns step snapshots off.
    /// </summary>
    /// <value>The default is 0.</value>
    public int EveryNSteps { get; init; }

    /// <summary>
    /// Take a snapshot every this many calls to <see cref="TrajectoryRecorder.OnEpochEnd"/>; 0 turns epoch snapshots off.
    /// </summary>
    /// <value>The default is 1 (every epoch).</value>
    public int EveryNEpochs { get; init; } = 1;

    /// <summary>Whether the recorder snapshots the module as it is when attached (θ^0).</summary>
    /// <value>The default is <see langword="true"/>.</value>
    public bool SnapshotOnAttach { get; init; } = true;

    /// <summary>Whether buffers (BatchNorm running statistics) are recorded with the parameters.</summary>
    /// <value>The default is <see langword="true"/>.</value>
    public bool IncludeBuffers { get; init; } = true;

    /// <summary>
    /// Where in-memory snapshots are kept; <see langword="null"/> keeps them on the module's device (the fastest copy).
    /// For a store, the copy is always made on the module's device and written from there.
    /// </summary>
    /// <value>The default is <see langword="null"/>.</value>
    public Device? Device { get; init; }

    /// <summary>
    /// For a store: how many snapshots may wait for the background writer before <c>Snapshot</c> blocks until one is written.
    /// Memory for recording is this many snapshots plus the one being written.
    /// </summary>
    /// <value>The default is 2.</value>
    public int MaxPendingWrites { get; init; } = 2;

    internal void Validate()
    {
        ArgumentOutOfRangeException.ThrowIfNegative(EveryNSteps, nameof(EveryNSteps));
        ArgumentOutOfRangeException.ThrowIfNegative(EveryNEpochs, nameof(EveryNEpochs));
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(MaxPendingWrites, nameof(MaxPendingWrites));
    }
}
