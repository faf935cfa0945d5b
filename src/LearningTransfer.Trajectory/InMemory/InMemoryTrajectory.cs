using TorchSharp;
using TrajectoryTransfer.Permutations;
using static TorchSharp.torch;

namespace TrajectoryTransfer.Trajectories;

/// <summary>
/// A trajectory whose points are all held in memory (on the device each point was given on). Memory grows with the
/// number of points: use a <see cref="TrajectoryStore"/> or a <see cref="LinearTrajectory"/> for long trajectories.
/// </summary>
public sealed class InMemoryTrajectory : ITrajectory, IDisposable
{
    private readonly List<ParameterSet> _points = [];
    private readonly List<TrajectoryPointLabel> _labels = [];
    private bool _disposed;

    /// <summary>Creates an empty trajectory for the given architecture.</summary>
    /// <param name="layout">The names, shapes and element types every point must have.</param>
    /// <exception cref="ArgumentNullException"><paramref name="layout"/> is null.</exception>
    public InMemoryTrajectory(ParameterLayout layout)
    {
        ArgumentNullException.ThrowIfNull(layout);
        Layout = layout;
    }

    /// <summary>Creates an empty trajectory for the architecture of <paramref name="module"/>.</summary>
    /// <param name="module">The module whose layout the points will have.</param>
    /// <param name="includeBuffers">Whether buffers (BatchNorm running statistics) are part of the points; the default is <see langword="true"/>.</param>
    /// <exception cref="ArgumentNullException"><paramref name="module"/> is null.</exception>
    public static InMemoryTrajectory ForModule(nn.Module module, bool includeBuffers = true)
    {
        ArgumentNullException.ThrowIfNull(module);
        return new InMemoryTrajectory(ParameterLayout.Of(module, includeBuffers));
    }

    /// <summary>Loads every point of <paramref name="source"/> into memory.</summary>
    /// <param name="source">The trajectory to copy.</param>
    /// <param name="device">Where to keep the points; <see langword="null"/> keeps them where the source returns them.</param>
    /// <param name="cancellationToken">Stops between points.</param>
    /// <exception cref="ArgumentNullException"><paramref name="source"/> is null.</exception>
    /// <exception cref="OperationCanceledException">The operation was canceled.</exception>
    public static InMemoryTrajectory CopyOf(ITrajectory source, Device? device = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(source);
        var copy = new InMemoryTrajectory(source.Layout);
        try
        {
            for (var i = 0; i < source.Count; i++)
            {
                cancellationToken.ThrowIfCancellationRequested();
                copy.AppendOwned(source.GetPoint(i, device), source.Labels[i]);
            }
        }
        catch
        {
            copy.Dispose();
            throw;
        }

        return copy;
    }

    /// <inheritdoc />
    /// <exception cref="ObjectDisposedException">The trajectory was disposed (its points are gone).</exception>
    public int Count
    {
        get
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            return _points.Count;
        }
    }

    /// <inheritdoc />
    public ParameterLayout Layout { get; }

    /// <inheritdoc />
    public IReadOnlyList<TrajectoryPointLabel> Labels => _labels;

    /// <summary>Appends a copy of <paramref name="point"/>; the caller keeps ownership of the set it passed.</summary>
    /// <param name="point">The parameters; the layout must equal <see cref="Layout"/>.</param>
    /// <param name="label">The point's label; its index is replaced by the point's position. <see langword="null"/> gives a bare label.</param>
    /// <param name="device">Where to keep the copy; <see langword="null"/> keeps it where <paramref name="point"/> is.</param>
    /// <exception cref="ArgumentNullException"><paramref name="point"/> is null.</exception>
    /// <exception cref="TrajectoryArchitectureMismatchException">The point's layout differs from <see cref="Layout"/>.</exception>
    /// <exception cref="ObjectDisposedException">The trajectory was disposed.</exception>
    public void Append(ParameterSet point, TrajectoryPointLabel? label = null, Device? device = null)
    {
        ArgumentNullException.ThrowIfNull(point);
        ObjectDisposedException.ThrowIf(_disposed, this);
        TensorOps.EnsureSameLayout(Layout, point.Layout, null, "Appending to an in-memory trajectory");
        using var scope = torch.NewDisposeScope();
        AppendOwned(TensorOps.CopyTo(point, device).DetachFromDisposeScope(), label, validated: true);
    }

    /// <inheritdoc />
    /// <exception cref="ObjectDisposedException">The trajectory was disposed.</exception>
    public ParameterSet GetPoint(int index, Device? device = null)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        ArgumentOutOfRangeException.ThrowIfNegative(index);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(index, Count);
        using var scope = torch.NewDisposeScope();
        return TensorOps.CopyTo(_points[index], device).MoveToOuterDisposeScope();
    }

    /// <summary>Disposes every point.</summary>
    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        foreach (var point in _points)
        {
            point.Dispose();
        }

        _points.Clear();
    }

    /// <summary>Appends a set the trajectory takes ownership of (no copy), checking its layout unless the caller did.</summary>
    internal void AppendOwned(ParameterSet point, TrajectoryPointLabel? label, bool validated = false)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (!validated)
        {
            try
            {
                TensorOps.EnsureSameLayout(Layout, point.Layout, null, "Appending to an in-memory trajectory");
            }
            catch
            {
                point.Dispose();
                throw;
            }
        }

        point.DetachFromDisposeScope();
        _labels.Add((label ?? new TrajectoryPointLabel(0)).WithIndex(_points.Count));
        _points.Add(point);
    }
}
