using TorchSharp;
using TrajectoryTransfer.Permutations;
using static TorchSharp.torch;

namespace TrajectoryTransfer.Trajectories;

/// <summary>Element-wise helpers shared by the interpolating trajectories.</summary>
internal static class TensorOps
{
    /// <summary>start + λ (end − start); exact at λ = 0 and λ = 1. Integer buffers (BatchNorm's step count) are rounded.</summary>
    public static Tensor Interpolate(Tensor start, Tensor end, double lambda)
    {
        if (start.is_floating_point())
        {
            // lerp computes end − (end − start)(1 − λ) for λ ≥ 0.5, so both endpoints come out bit-exact.
            using var weight = torch.tensor(lambda, dtype: start.dtype, device: start.device);
            return start.lerp(end, weight);
        }

        using var start64 = start.to(ScalarType.Float64);
        using var end64 = end.to(ScalarType.Float64);
        using var weight64 = torch.tensor(lambda, dtype: ScalarType.Float64, device: start.device);
        using var mixed = start64.lerp(end64, weight64);
        using var rounded = mixed.round();
        return rounded.to(start.dtype);
    }

    /// <summary>λ (end − start): the displacement of an interpolated point from the start.</summary>
    public static Tensor Displacement(Tensor start, Tensor end, double lambda)
    {
        if (start.is_floating_point())
        {
            return end.sub(start).mul_(lambda);
        }

        using var difference = end.to(ScalarType.Float64).sub_(start.to(ScalarType.Float64));
        using var scaled = difference.mul_(lambda).round();
        return scaled.to(start.dtype);
    }

    /// <summary>Whether two devices are the same (Device has reference equality).</summary>
    public static bool SameDevice(Device a, Device b) => TrajectoryTransfer.Internal.Devices.Same(a, b);

    /// <summary>Interpolates two sets name by name into a new set on <paramref name="device"/> (or the start's device).</summary>
    public static ParameterSet Interpolate(ParameterSet start, ParameterSet end, double lambda, Device? device) =>
        Combine(start, end, device, (a, b) => Interpolate(a, b, lambda));

    /// <summary>λ (end − start) name by name, on <paramref name="device"/> (or the start's device).</summary>
    public static ParameterSet Displacement(ParameterSet start, ParameterSet end, double lambda, Device? device) =>
        Combine(start, end, device, (a, b) => Displacement(a, b, lambda));

    private static ParameterSet Combine(ParameterSet start, ParameterSet end, Device? device, Func<Tensor, Tensor, Tensor> combine)
    {
        using var noGrad = torch.no_grad();
        var entries = new List<KeyValuePair<string, Tensor>>(start.Count);
        foreach (var (name, a) in start)
        {
            var b = end[name];
            if (device is null || SameDevice(a.device, device))
            {
                entries.Add(new(name, combine(a, b)));
            }
            else
            {
                using var onDeviceA = a.to(device);
                using var onDeviceB = b.to(device);
                entries.Add(new(name, combine(onDeviceA, onDeviceB)));
            }
        }

        return new ParameterSet(entries);
    }

    /// <summary>A copy of <paramref name="set"/> on <paramref name="device"/>, or a plain copy where it is.</summary>
    public static ParameterSet CopyTo(ParameterSet set, Device? device) => device is null ? set.Clone() : set.To(device);

    /// <summary>Throws <see cref="TrajectoryArchitectureMismatchException"/> when the layouts differ.</summary>
    public static void EnsureSameLayout(ParameterLayout expected, ParameterLayout actual, string? filePath, string context, bool ignoreDType = false)
    {
        var difference = expected.FirstDifference(actual, ignoreDType);
        if (difference is null && !expected.Names.SequenceEqual(actual.Names))
        {
            difference = "the parameters come in another order";
        }

        if (difference is not null)
        {
            throw new TrajectoryArchitectureMismatchException(difference, filePath, context);
        }
    }
}
