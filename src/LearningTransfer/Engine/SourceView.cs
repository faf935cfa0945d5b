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
        // A linear trajectory's start is stored exactly; GetPoint(0) would compute it (and 0 · NaN is NaN).
        Start = (trajectory is LinearTrajectory linear ? linear.Start.To(device) : trajectory.GetPoint(0, device)).DetachFromDisposeScope();
        Steps = trajectory.Count - 1;
        Lambdas = Enumerable.Range(0, trajectory.Count)
            .Select(t => trajectory.Labels.Count > t && trajectory.Labels[t].Lambda is { } l ? l : (double)t / Steps)
            .ToArray();
    }

    /// <summary>T.</summary>
    public int Steps { get; }

    /// <summary>θ₁⁰ on the device.</summary>
    public ParameterSet Start { get; }

    /// <summary>λ per point (or t/T where the trajectory has no λ).</summary>
    public IReadOnlyList<double> Lambdas { get; }

    /// <summary>θ₁ᵗ − θ₁⁰ for every floating-point entry (integer buffers such as num_batches_tracked are skipped).</summary>
    public ParameterSet Displacement(int t)
    {
        if (t == 0)
        {
            // Exactly zero, even where a later point holds NaN (0 · NaN would be NaN).
            return new ParameterSet(Start.Names.Where(n => Start[n].is_floating_point()).Select(n => new KeyValuePair<string, Tensor>(n, torch.zeros_like(Start[n]))));
        }

        if (_trajectory is LinearTrajectory linear)
        {
            using var d = linear.GetDisplacement(t, _device);
            return d.Where(name => d[name].is_floating_point());
        }

        using var scope = torch.NewDisposeScope();
        using var point = _trajectory.GetPoint(t, _device);
        var entries = point.Names.Where(n => point[n].is_floating_point())
            .Select(n => new KeyValuePair<string, Tensor>(n, (point[n] - Start[n]).MoveToOuterDisposeScope()))
            .ToList();
        return new ParameterSet(entries);
    }

    /// <summary>θ₁ᵗ = θ₁⁰ + (θ₁ᵗ − θ₁⁰), for the entries of θ₁⁰.</summary>
    public ParameterSet Point(ParameterSet displacement) => Combine(Start, displacement);

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
