using TorchSharp;
using static TorchSharp.torch;

namespace TrajectoryTransfer.Internal;

/// <summary>Device equality, compiled into each package: TorchSharp's <see cref="Device"/> compares by reference, not by value.</summary>
internal static class Devices
{
    /// <summary>Whether <paramref name="a"/> and <paramref name="b"/> name the same device.</summary>
    public static bool Same(Device a, Device b) => a.type == b.type && NormalIndex(a) == NormalIndex(b);

    /// <summary>The device of a module's first parameter, or the CPU for a module without parameters.</summary>
    public static Device Of(nn.Module module)
    {
        foreach (var parameter in module.parameters())
        {
            return parameter.device;
        }

        return torch.CPU;
    }

    // CPU devices report index -1 or 0 depending on how they were made; "cuda" means the current device, index 0 here.
    private static long NormalIndex(Device d) => d.type == DeviceType.CPU ? 0 : Math.Max(0, d.index);
}
