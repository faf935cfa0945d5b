using TorchSharp;
using TrajectoryTransfer.Samples.Cli;
using static TorchSharp.torch;

namespace TrajectoryTransfer.Samples.Models;

/// <summary>Turns the <c>--device</c> text into a TorchSharp device, checking that it exists.</summary>
public static class Devices
{
    /// <summary>Resolves <paramref name="name"/> (<c>cpu</c>, <c>cuda</c>, <c>cuda:N</c>).</summary>
    /// <param name="name">The device name.</param>
    /// <exception cref="SettingsException">The name is not a device, or CUDA is not available in this build.</exception>
    public static Device Resolve(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        if (name.StartsWith("cuda", StringComparison.OrdinalIgnoreCase) && !torch.cuda.is_available())
        {
            throw new SettingsException(
                $"--device {name}: CUDA is not available. This sample references the CPU build of libtorch (libtorch-cpu-linux-x64); "
                + "for a GPU, reference a CUDA build of libtorch (e.g. libtorch-cuda-12.8-linux-x64) in the sample's project instead.");
        }

        try
        {
            return torch.device(name);
        }
        catch (Exception e) when (e is ArgumentException or FormatException or InvalidOperationException or NotSupportedException)
        {
            throw new SettingsException($"--device {name}: {e.Message.Split('\n')[0]} Use cpu, cuda or cuda:N.", e);
        }
    }
}
