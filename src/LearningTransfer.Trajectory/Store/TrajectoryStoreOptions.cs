namespace TrajectoryTransfer.Trajectories;

/// <summary>Options for creating a <see cref="TrajectoryStore"/>.</summary>
public sealed class TrajectoryStoreOptions
{
    /// <summary>The shared default options.</summary>
    public static TrajectoryStoreOptions Default { get; } = new();

    /// <summary>How floating-point tensors are stored.</summary>
    /// <value>The default is <see cref="TrajectoryStorePrecision.Full"/> (bit-exact).</value>
    public TrajectoryStorePrecision Precision { get; init; } = TrajectoryStorePrecision.Full;

    /// <summary>
    /// Whether every file is flushed to the disk (fsync) before it is renamed into place, so that a power loss cannot leave a
    /// renamed but empty file. Turning it off is faster and still safe against a crash of the process.
    /// </summary>
    /// <value>The default is <see langword="true"/>.</value>
    public bool FlushToDisk { get; init; } = true;
}
