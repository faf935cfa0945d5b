using TorchSharp;
using static TorchSharp.torch;

namespace TrajectoryTransfer.Permutations;

/// <summary>Device helpers: TorchSharp's <see cref="Device"/> compares by reference, not by value.</summary>
internal static class Devices
{
    public static bool Same(Device a, Device b) => a.type == b.type && NormalIndex(a) == NormalIndex(b);

    // CPU devices report index -1 or 0 depending on how they were made.
    private static long NormalIndex(Device d) => d.type == DeviceType.CPU ? 0 : Math.Max(0, d.index);
}
