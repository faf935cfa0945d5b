using TrajectoryTransfer.Permutations;
using static TorchSharp.torch;

namespace TrajectoryTransfer.Trajectories;

/// <summary>
/// A learning trajectory θ^0, …, θ^(Count−1): the parameters (and buffers) of one network at chosen moments of training,
/// read one point at a time so that a trajectory of any length never has to be in memory as a whole.
/// </summary>
/// <remarks>
/// Implementations read or compute a point only when <see cref="GetPoint"/> asks for it. They are not thread-safe
/// unless they say so.
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
}
