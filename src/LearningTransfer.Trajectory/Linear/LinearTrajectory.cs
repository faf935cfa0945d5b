using TorchSharp;
using TrajectoryTransfer.Permutations;
using static TorchSharp.torch;

namespace TrajectoryTransfer.Trajectories;

/// <summary>
/// The paper's linear trajectory: only the start θ^0 and the end θ^* are kept, and point t is
/// θ^t = θ^0 + λ_t (θ^* − θ^0) for a schedule λ_0 = 0 &lt; … &lt; λ_T = 1, computed when asked for.
/// </summary>
/// <remarks>
/// Memory is two parameter sets whatever T is. Point 0 equals the start and point T the end bit for bit.
/// Integer buffers (BatchNorm's <c>num_batches_tracked</c>) are interpolated and rounded.
/// </remarks>
public sealed class LinearTrajectory : ITrajectory, IDisposable
{
    private readonly double[] _lambdas;
    private readonly TrajectoryPointLabel[] _labels;
    private readonly LinearTrajectory? _owner;
    private bool _disposed;

    /// <summary>Creates a linear trajectory from copies of <paramref name="start"/> and <paramref name="end"/>.</summary>
    /// <param name="start">θ^0; copied, the caller keeps ownership.</param>
    /// <param name="end">θ^*; copied, the caller keeps ownership.</param>
    /// <param name="steps">The number of steps T (at least 1); the trajectory has T + 1 points.</param>
    /// <param name="schedule">The schedule of λ, such as <see cref="TrajectorySchedule.Cosine"/>.</param>
    /// <param name="device">Where to keep the two copies; <see langword="null"/> keeps them where <paramref name="start"/> is.</param>
    /// <exception cref="ArgumentNullException">An argument is null.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="steps"/> is less than 1.</exception>
    /// <exception cref="ArgumentException">The schedule gives invalid values.</exception>
    /// <exception cref="TrajectoryArchitectureMismatchException">The two sets differ in names, shapes or element types.</exception>
    public LinearTrajectory(ParameterSet start, ParameterSet end, int steps, TrajectorySchedule schedule, Device? device = null)
    {
        ArgumentNullException.ThrowIfNull(start);
        ArgumentNullException.ThrowIfNull(end);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(steps);
        ArgumentNullException.ThrowIfNull(schedule);
        Layout = start.Layout;
        TensorOps.EnsureSameLayout(Layout, end.Layout, null, "Creating a linear trajectory (end versus start)");
        _lambdas = schedule.Lambdas(steps);
        Steps = steps;
        Schedule = schedule;
        _labels = Label(_lambdas, steps);

        using var scope = torch.NewDisposeScope();
        Start = TensorOps.CopyTo(start, device).DetachFromDisposeScope();
        try
        {
            End = TensorOps.CopyTo(end, device ?? start.Values.FirstOrDefault()?.device).DetachFromDisposeScope();
        }
        catch
        {
            Start.Dispose();
            throw;
        }
    }

    private LinearTrajectory(LinearTrajectory owner, int steps, TrajectorySchedule schedule)
    {
        _owner = owner;
        Layout = owner.Layout;
        Start = owner.Start;
        End = owner.End;
        _lambdas = schedule.Lambdas(steps);
        Steps = steps;
        Schedule = schedule;
        _labels = Label(_lambdas, steps);
    }

    /// <summary>Creates a linear trajectory from snapshots of two modules (neither module is changed).</summary>
    /// <param name="start">The module at θ^0.</param>
    /// <param name="end">The module at θ^*.</param>
    /// <param name="steps">The number of steps T (at least 1).</param>
    /// <param name="schedule">The schedule of λ.</param>
    /// <param name="includeBuffers">Whether buffers (BatchNorm running statistics) are part of the points; the default is <see langword="true"/>.</param>
    /// <param name="device">Where to keep the snapshots; <see langword="null"/> keeps them on the modules' device.</param>
    /// <exception cref="ArgumentNullException">An argument is null.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="steps"/> is less than 1.</exception>
    /// <exception cref="ArgumentException">The schedule gives invalid values.</exception>
    /// <exception cref="TrajectoryArchitectureMismatchException">The modules have different architectures.</exception>
    public static LinearTrajectory FromModules(nn.Module start, nn.Module end, int steps, TrajectorySchedule schedule, bool includeBuffers = true, Device? device = null)
    {
        ArgumentNullException.ThrowIfNull(start);
        ArgumentNullException.ThrowIfNull(end);
        using var scope = torch.NewDisposeScope();
        using var startSet = ParameterSet.FromModule(start, includeBuffers);
        using var endSet = ParameterSet.FromModule(end, includeBuffers);
        return new LinearTrajectory(startSet, endSet, steps, schedule, device);
    }

    /// <summary>θ^0, owned by this trajectory: read it, do not change or dispose it.</summary>
    public ParameterSet Start { get; }

    /// <summary>θ^*, owned by this trajectory: read it, do not change or dispose it.</summary>
    public ParameterSet End { get; }

    /// <summary>The number of steps T.</summary>
    public int Steps { get; }

    /// <summary>The schedule the λ came from.</summary>
    public TrajectorySchedule Schedule { get; }

    /// <summary>λ_0, …, λ_T.</summary>
    public IReadOnlyList<double> Lambdas => _lambdas;

    /// <inheritdoc />
    public int Count => Steps + 1;

    /// <inheritdoc />
    public ParameterLayout Layout { get; }

    /// <inheritdoc />
    public IReadOnlyList<TrajectoryPointLabel> Labels => _labels;

    /// <summary>
    /// The same straight line with another number of steps or schedule, sharing this trajectory's two endpoints instead of
    /// copying them: it is usable only while this trajectory is not disposed, and disposing it releases nothing.
    /// </summary>
    /// <param name="steps">The number of steps T (at least 1).</param>
    /// <param name="schedule">The schedule of λ.</param>
    /// <exception cref="ArgumentNullException"><paramref name="schedule"/> is null.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="steps"/> is less than 1.</exception>
    /// <exception cref="ArgumentException">The schedule gives invalid values.</exception>
    /// <exception cref="ObjectDisposedException">This trajectory was disposed.</exception>
    public LinearTrajectory WithSteps(int steps, TrajectorySchedule schedule)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(steps);
        ArgumentNullException.ThrowIfNull(schedule);
        ThrowIfDisposed();
        return new LinearTrajectory(_owner ?? this, steps, schedule);
    }

    /// <summary>Returns θ^t = θ^0 + λ_t (θ^* − θ^0) as a new set the caller owns.</summary>
    /// <param name="index">The step t, from 0 to T.</param>
    /// <param name="device">Where to compute and return the point; <see langword="null"/> means where the endpoints are kept.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="index"/> is outside 0 … T.</exception>
    /// <exception cref="ObjectDisposedException">The trajectory was disposed.</exception>
    public ParameterSet GetPoint(int index, Device? device = null)
    {
        CheckIndex(index);
        if (index == 0)
        {
            // Exactly the start, even where the end holds NaN or infinity (0 · NaN would be NaN).
            return TensorOps.CopyTo(Start, device);
        }

        using var scope = torch.NewDisposeScope();
        return TensorOps.Interpolate(Start, End, _lambdas[index], device).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Returns θ^t − θ^0 = λ_t (θ^* − θ^0) as a new set the caller owns, without forming θ^t (what GMT transfers).
    /// </summary>
    /// <param name="index">The step t, from 0 to T.</param>
    /// <param name="device">Where to compute and return it; <see langword="null"/> means where the endpoints are kept.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="index"/> is outside 0 … T.</exception>
    /// <exception cref="ObjectDisposedException">The trajectory was disposed.</exception>
    public ParameterSet GetDisplacement(int index, Device? device = null)
    {
        CheckIndex(index);
        using var scope = torch.NewDisposeScope();
        return TensorOps.Displacement(Start, End, _lambdas[index], device).MoveToOuterDisposeScope();
    }

    /// <summary>Always <see langword="true"/>: a displacement is λ_t (θ^* − θ^0), computed from the endpoints.</summary>
    public bool HasCheapDisplacement => true;

    /// <summary>λ_t: where point t lies on the line from the start (0) to the end (1).</summary>
    /// <param name="index">The step t, from 0 to T.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="index"/> is outside 0 … T.</exception>
    /// <exception cref="ObjectDisposedException">The trajectory was disposed.</exception>
    public double Position(int index)
    {
        CheckIndex(index);
        return _lambdas[index];
    }

    /// <summary>
    /// The same line with <paramref name="steps"/> steps by <paramref name="schedule"/>: this trajectory when both are
    /// already its own, otherwise <see cref="WithSteps"/> (sharing the endpoints).
    /// </summary>
    /// <param name="steps">T, at least 1.</param>
    /// <param name="schedule">The schedule of λ.</param>
    /// <exception cref="ArgumentNullException"><paramref name="schedule"/> is null.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="steps"/> is less than 1.</exception>
    /// <exception cref="ObjectDisposedException">This trajectory was disposed.</exception>
    public ITrajectory Resample(int steps, TrajectorySchedule schedule)
    {
        ArgumentNullException.ThrowIfNull(schedule);
        ThrowIfDisposed();
        return steps == Steps && schedule.Equals(Schedule) ? this : WithSteps(steps, schedule);
    }

    /// <summary>Disposes the two endpoint copies (a trajectory made by <see cref="WithSteps"/> shares them and releases nothing).</summary>
    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        if (_owner is null)
        {
            Start.Dispose();
            End.Dispose();
        }
    }

    private static TrajectoryPointLabel[] Label(double[] lambdas, int steps) =>
        [.. lambdas.Select((lambda, t) => new TrajectoryPointLabel(t, Lambda: lambda, Text: t == 0 ? "start" : t == steps ? "end" : null))];

    private void ThrowIfDisposed()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (_owner is not null)
        {
            ObjectDisposedException.ThrowIf(_owner._disposed, _owner);
        }
    }

    private void CheckIndex(int index)
    {
        ThrowIfDisposed();
        ArgumentOutOfRangeException.ThrowIfNegative(index);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(index, Steps);
    }
}
