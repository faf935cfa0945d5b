using TorchSharp;
using TrajectoryTransfer.Permutations;
using TrajectoryTransfer.Trajectories;
using static TorchSharp.torch;

namespace TrajectoryTransfer;

/// <summary>The source trajectory as the transfer reads it: θ₁⁰ kept on the device, other points read lazily.</summary>
internal sealed class SourceView : IDisposable
{
    private readonly ITrajectory _trajectory;
    private readonly Device _device;

    public SourceView(ITrajectory trajectory, Device device)
    {
        _trajectory = trajectory;
        _device = device;
        Start = trajectory.GetPoint(0, device).DetachFromDisposeScope();
        Steps = trajectory.Count - 1;
        Positions = Enumerable.Range(0, trajectory.Count).Select(trajectory.Position).ToArray();
    }

    /// <summary>T.</summary>
    public int Steps { get; }

    /// <summary>Whether the source is a line from its start to its end: then θ₁ᵗ − θ₁⁰ = λₜ(θ₁ᵀ − θ₁⁰), with λₜ = <see cref="Positions"/>[t].</summary>
    public bool IsLine => _trajectory is LinearTrajectory;

    /// <summary>θ₁⁰ on the device.</summary>
    public ParameterSet Start { get; }

    /// <summary>Where each point lies along the trajectory (λ on a linear one, t/T otherwise).</summary>
    public IReadOnlyList<double> Positions { get; }

    /// <summary>θ₁ᵗ − θ₁⁰ for every floating-point entry (integer buffers such as num_batches_tracked are skipped).</summary>
    public ParameterSet Displacement(int t)
    {
        if (t == 0)
        {
            // Exactly zero, even where a later point holds NaN (0 · NaN would be NaN).
            return new ParameterSet(Start.Names.Where(n => Start[n].is_floating_point()).Select(n => new KeyValuePair<string, Tensor>(n, torch.zeros_like(Start[n]))));
        }

        if (_trajectory.HasCheapDisplacement)
        {
            var displacement = _trajectory.GetDisplacement(t, _device);
            if (displacement.Values.All(v => v.is_floating_point()))
            {
                return displacement;
            }

            using (displacement)
            {
                return displacement.Where(name => displacement[name].is_floating_point());
            }
        }

        // θ₁⁰ is already here: read one point instead of two.
        using var scope = torch.NewDisposeScope();
        using var point = _trajectory.GetPoint(t, _device);
        var entries = point.Names.Where(n => point[n].is_floating_point())
            .Select(n => new KeyValuePair<string, Tensor>(n, (point[n] - Start[n]).MoveToOuterDisposeScope()))
            .ToList();
        return new ParameterSet(entries);
    }

    /// <summary>base + displacement for the floating entries the displacement has; other entries of base are copied.</summary>
    public static ParameterSet Combine(ParameterSet @base, IReadOnlyDictionary<string, Tensor> displacement)
    {
        using var noGrad = torch.no_grad();
        return new ParameterSet(@base.Select(kv => new KeyValuePair<string, Tensor>(
            kv.Key,
            displacement.TryGetValue(kv.Key, out var d) && kv.Value.is_floating_point() ? kv.Value + d : kv.Value.clone())));
    }

    public void Dispose() => Start.Dispose();
}
