using TorchSharp;
using TrajectoryTransfer.Permutations;
using static TorchSharp.torch;

namespace TrajectoryTransfer.Trajectories;

/// <summary>
/// A learning trajectory θ^0, …, θ^(Count−1): the parameters (and buffers) of one network at chosen moments of training,
/// read one point at a time so that a trajectory of any length never has to be in memory as a whole.
/// </summary>
/// <remarks>
/// Implementations read or compute a point only when <see cref="GetPoint"/> asks for it. They are not thread-safe
/// unless they say so. Besides points, a trajectory states its capabilities here, with general default implementations
/// that a trajectory overrides where it can do better: a displacement θ^t − θ^0 (<see cref="GetDisplacement"/>), where a
/// point lies along the trajectory (<see cref="Position"/>), and the same trajectory at another number of steps
/// (<see cref="Resample"/>).
/// </remarks>
public interface ITrajectory
{
    /// <summary>The number of points; point 0 is the initialization θ^0.</summary>
    int Count { get; }

    /// <summary>The names, shapes and element types every point has.</summary>
    ParameterLayout Layout { get; }

    /// <summary>One label per point, in order (step, epoch, λ, text).</summary>
    IReadOnlyList<TrajectoryPointLabel> Labels { get; }

    /// <summary>
    /// Returns point <paramref name="index"/> as a new parameter set that the caller owns and must dispose.
    /// </summary>
    /// <param name="index">The point, from 0 to <see cref="Count"/> − 1.</param>
    /// <param name="device">
    /// Where the tensors should live; <see langword="null"/> means where the trajectory keeps them (the CPU for files on disk).
    /// </param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="index"/> is outside the trajectory.</exception>
    /// <exception cref="TrajectoryException">The point could not be read (see the implementation for the specific exceptions).</exception>
    ParameterSet GetPoint(int index, Device? device = null);

    /// <summary>
    /// The schedule this trajectory's points were sampled by, for trajectories computed from a schedule
    /// (<see cref="LinearTrajectory"/>, <see cref="SubdividedTrajectory"/>); <see langword="null"/> (the default) for recorded
    /// points. A transfer keeps a sampled trajectory's own steps unless told otherwise, and linearises a recorded pair of points.
    /// </summary>
    TrajectorySchedule? Schedule => null;

    /// <summary>
    /// Whether <see cref="GetDisplacement"/> costs less than reading points t and 0 (a <see cref="LinearTrajectory"/> computes
    /// it from its endpoints). Readers that already hold θ^0 subtract it themselves when this is <see langword="false"/>.
    /// </summary>
    bool HasCheapDisplacement => false;

    /// <summary>
    /// Returns θ^t − θ^0 as a new set the caller owns (what a transfer carries onto a new initialization). The default reads
    /// points t and 0; a <see cref="LinearTrajectory"/> computes it from its endpoints without forming θ^t.
    /// </summary>
    /// <param name="index">The point t.</param>
    /// <param name="device">Where to compute and return it; <see langword="null"/> means where the trajectory keeps its points.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="index"/> is outside the trajectory.</exception>
    /// <exception cref="TrajectoryException">A point could not be read.</exception>
    ParameterSet GetDisplacement(int index, Device? device = null)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(index);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(index, Count);
        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        using var point = GetPoint(index, device);
        using var start = GetPoint(0, device);
        return new ParameterSet(point.Select(kv => new KeyValuePair<string, Tensor>(kv.Key, kv.Value.sub(start[kv.Key])))).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Where point <paramref name="index"/> lies along the trajectory, from 0 (the start) to 1 (the end): λ_t on a
    /// <see cref="LinearTrajectory"/>; t / (Count − 1), the point's place in the sequence, by default.
    /// </summary>
    /// <param name="index">The point t.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="index"/> is outside the trajectory.</exception>
    double Position(int index)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(index);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(index, Count);
        return Count == 1 ? 0 : (double)index / (Count - 1);
    }

    /// <summary>
    /// This trajectory with <paramref name="steps"/> steps: itself when it already has them; otherwise a new trajectory that
    /// reads this one, which the caller disposes (keep this one alive while using it). By default a two-point trajectory
    /// becomes a <see cref="LinearTrajectory"/> of its ends (copied), and a trajectory of K segments is subdivided into
    /// <paramref name="steps"/> / K steps per segment (<see cref="SubdividedTrajectory"/>); a
    /// <see cref="LinearTrajectory"/> gives the same line with new λ.
    /// </summary>
    /// <param name="steps">T, at least 1.</param>
    /// <param name="schedule">The schedule of λ for new points.</param>
    /// <exception cref="ArgumentNullException"><paramref name="schedule"/> is null.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="steps"/> is less than 1.</exception>
    /// <exception cref="ArgumentException">The trajectory's K segments cannot be split evenly into <paramref name="steps"/> steps.</exception>
    ITrajectory Resample(int steps, TrajectorySchedule schedule)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(steps, 1);
        ArgumentNullException.ThrowIfNull(schedule);
        var segments = Count - 1;
        if (steps == segments)
        {
            return this;
        }

        if (segments == 1)
        {
            using var start = GetPoint(0);
            using var end = GetPoint(1);
            return new LinearTrajectory(start, end, steps, schedule);
        }

        if (segments < 1 || steps % segments != 0)
        {
            throw new ArgumentException(
                $"The trajectory has {segments} segment(s); {steps} steps cannot split them evenly. Use a multiple of {Math.Max(1, segments)}.",
                nameof(steps));
        }

        return new SubdividedTrajectory(this, steps / segments, schedule);
    }
}
