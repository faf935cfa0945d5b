using TorchSharp;
using TrajectoryTransfer.Permutations;
using static TorchSharp.torch;

namespace TrajectoryTransfer.Trajectories;

/// <summary>
/// A real trajectory with checkpoints c_0, …, c_K made finer: each segment [c_s, c_{s+1}] is split into k steps by a
/// schedule, so the result has T = K·k steps and point s·k + j is c_s + λ_j (c_{s+1} − c_s). Points are computed when asked for.
/// </summary>
/// <remarks>
/// Point s·k is checkpoint c_s exactly. To avoid reading the same checkpoints k times when walking forward, the two
/// checkpoints of the last segment used are kept (on the device last asked for): memory is two checkpoints plus the
/// point returned. The source trajectory is not owned: dispose it yourself. Not thread-safe.
/// </remarks>
public sealed class SubdividedTrajectory : ITrajectory, IDisposable
{
    private readonly ITrajectory _source;
    private readonly double[] _lambdas;
    private readonly TrajectoryPointLabel[] _labels;
    private int _cachedSegment = -1;
    private Device? _cachedDevice;
    private ParameterSet? _cachedStart;
    private ParameterSet? _cachedEnd;
    private bool _disposed;

    /// <summary>Subdivides <paramref name="source"/>: every segment between two of its points gets <paramref name="splits"/> steps.</summary>
    /// <param name="source">The real trajectory (at least two points); not owned.</param>
    /// <param name="splits">The number of steps k per segment, at least 1 (1 gives the source itself).</param>
    /// <param name="schedule">The schedule of λ within each segment.</param>
    /// <exception cref="ArgumentNullException">An argument is null.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="splits"/> is less than 1.</exception>
    /// <exception cref="ArgumentException"><paramref name="source"/> has fewer than two points, or the schedule gives invalid values.</exception>
    public SubdividedTrajectory(ITrajectory source, int splits, TrajectorySchedule schedule)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(splits);
        ArgumentNullException.ThrowIfNull(schedule);
        if (source.Count < 2)
        {
            throw new ArgumentException($"A trajectory needs at least two points to be subdivided; it has {source.Count}.", nameof(source));
        }

        if ((long)(source.Count - 1) * splits + 1 > int.MaxValue)
        {
            throw new ArgumentOutOfRangeException(nameof(splits), splits, $"{source.Count - 1} segments × {splits} splits is too many points.");
        }

        _source = source;
        _lambdas = schedule.Lambdas(splits);
        Splits = splits;
        Schedule = schedule;
        var count = (source.Count - 1) * splits + 1;
        _labels = new TrajectoryPointLabel[count];
        for (var t = 0; t < count; t++)
        {
            var (segment, j) = Math.DivRem(t, splits);
            _labels[t] = j == 0
                ? source.Labels[segment].WithIndex(t)
                : new TrajectoryPointLabel(t, Lambda: _lambdas[j], Text: $"segment {segment}→{segment + 1}, step {j}/{splits}");
        }
    }

    /// <summary>The number of steps k per segment.</summary>
    public int Splits { get; }

    /// <summary>The schedule of λ within each segment.</summary>
    public TrajectorySchedule Schedule { get; }

    /// <summary>λ_0, …, λ_k used within every segment.</summary>
    public IReadOnlyList<double> Lambdas => _lambdas;

    /// <summary>The number of steps T = K·k.</summary>
    public int Steps => Count - 1;

    /// <inheritdoc />
    public int Count => _labels.Length;

    /// <inheritdoc />
    public ParameterLayout Layout => _source.Layout;

    /// <inheritdoc />
    /// <remarks>Points that are source checkpoints keep the source's label; the others carry their λ within the segment.</remarks>
    public IReadOnlyList<TrajectoryPointLabel> Labels => _labels;

    /// <inheritdoc />
    /// <exception cref="ObjectDisposedException">The trajectory was disposed.</exception>
    public ParameterSet GetPoint(int index, Device? device = null)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        ArgumentOutOfRangeException.ThrowIfNegative(index);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(index, Count);
        var (segment, j) = Math.DivRem(index, Splits);
        if (j == 0)
        {
            return _source.GetPoint(segment, device);
        }

        using var scope = torch.NewDisposeScope();
        var (start, end) = Segment(segment, device);
        return TensorOps.Interpolate(start, end, _lambdas[j], null).MoveToOuterDisposeScope();
    }

    /// <summary>Releases the cached checkpoints (not the source).</summary>
    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        DropCache();
    }

    private (ParameterSet Start, ParameterSet End) Segment(int segment, Device? device)
    {
        var sameDevice = device is null ? _cachedDevice is null : _cachedDevice is not null && TensorOps.SameDevice(_cachedDevice, device);
        if (sameDevice && _cachedSegment == segment && _cachedStart is not null && _cachedEnd is not null)
        {
            return (_cachedStart, _cachedEnd);
        }

        // Walking forward, the next segment starts where the last one ended: reuse it instead of reading it again.
        ParameterSet? start = null;
        if (sameDevice && _cachedSegment + 1 == segment && _cachedEnd is not null)
        {
            start = _cachedEnd;
            _cachedEnd = null;
        }

        DropCache();
        try
        {
            start ??= _source.GetPoint(segment, device).DetachFromDisposeScope();
            _cachedEnd = _source.GetPoint(segment + 1, device).DetachFromDisposeScope();
            _cachedStart = start;
        }
        catch
        {
            start?.Dispose();
            throw;
        }

        _cachedSegment = segment;
        _cachedDevice = device;
        return (_cachedStart, _cachedEnd);
    }

    private void DropCache()
    {
        _cachedStart?.Dispose();
        _cachedEnd?.Dispose();
        _cachedStart = null;
        _cachedEnd = null;
        _cachedSegment = -1;
        _cachedDevice = null;
    }
}
