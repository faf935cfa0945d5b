using TorchSharp;
using TrajectoryTransfer.Permutations;
using static TorchSharp.torch;

namespace TrajectoryTransfer.Trajectories;

/// <summary>Operations every trajectory supports, callable on concrete trajectory types too.</summary>
public static class TrajectoryExtensions
{
    /// <summary>Returns θ^t − θ^0 as a new set the caller owns (see <see cref="ITrajectory.GetDisplacement"/>).</summary>
    /// <param name="trajectory">The trajectory.</param>
    /// <param name="index">The point t.</param>
    /// <param name="device">Where to compute and return it; <see langword="null"/> means where the trajectory keeps its points.</param>
    /// <exception cref="ArgumentNullException"><paramref name="trajectory"/> is null.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="index"/> is outside the trajectory.</exception>
    public static ParameterSet GetDisplacement(this ITrajectory trajectory, int index, Device? device = null)
    {
        ArgumentNullException.ThrowIfNull(trajectory);
        return trajectory.GetDisplacement(index, device);
    }

    /// <summary>
    /// Visits every point in order, disposing each after <paramref name="visit"/> returns, so that memory stays at one point.
    /// </summary>
    /// <param name="trajectory">The trajectory.</param>
    /// <param name="visit">Called with the index and the point; it must not keep the set.</param>
    /// <param name="device">Where to put the points; <see langword="null"/> means where the trajectory keeps them.</param>
    /// <param name="cancellationToken">Stops between points.</param>
    /// <exception cref="ArgumentNullException">An argument is null.</exception>
    /// <exception cref="OperationCanceledException">The operation was canceled.</exception>
    public static void ForEachPoint(this ITrajectory trajectory, Action<int, ParameterSet> visit, Device? device = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(trajectory);
        ArgumentNullException.ThrowIfNull(visit);
        for (var i = 0; i < trajectory.Count; i++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            using var scope = torch.NewDisposeScope();
            using var point = trajectory.GetPoint(i, device);
            visit(i, point);
        }
    }
}
