using TorchSharp;
using static TorchSharp.torch;

namespace TrajectoryTransfer.Samples.Experiments;

/// <summary>Data augmentation for training batches.</summary>
public static class Augmentation
{
    /// <summary>
    /// Pads each image by <paramref name="padding"/> pixels of zeros and crops it back to its size at a random offset of its
    /// own (the authors' "random crop with padding 4"). Written here rather than taken from TorchVision because its
    /// <c>RandomCrop</c> crops a whole batch tensor at one offset, while every example should get its own.
    /// </summary>
    /// <param name="images">A batch [N, C, H, W].</param>
    /// <param name="padding">The padding and largest shift, in pixels.</param>
    /// <param name="generator">Seeds the offsets.</param>
    public static Tensor RandomCrops(Tensor images, int padding, Generator generator)
    {
        ArgumentNullException.ThrowIfNull(images);
        ArgumentNullException.ThrowIfNull(generator);
        using var scope = torch.NewDisposeScope();
        var (n, c, h, w) = (images.shape[0], images.shape[1], images.shape[2], images.shape[3]);
        var paddedWidth = w + (2 * padding);
        var padded = nn.functional.pad(images, [padding, padding, padding, padding]).reshape(n, c, -1);
        var device = images.device;
        var dy = torch.randint(0, (2 * padding) + 1, [n, 1, 1], generator: generator).to(device);
        var dx = torch.randint(0, (2 * padding) + 1, [n, 1, 1], generator: generator).to(device);
        var rows = torch.arange(h, device: device).reshape(1, h, 1) + dy;
        var columns = torch.arange(w, device: device).reshape(1, 1, w) + dx;
        var flat = ((rows * paddedWidth) + columns).reshape(n, 1, h * w).expand(n, c, h * w);
        return padded.gather(2, flat).reshape(n, c, h, w).MoveToOuterDisposeScope();
    }
}
