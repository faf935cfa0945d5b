using System.Buffers.Binary;
using System.IO.Compression;
using TorchSharp;
using static TorchSharp.torch;

namespace TrajectoryTransfer.Samples.Data;

/// <summary>One split of an MNIST-format dataset: images as float32 [N, 1, H, W] in [0, 1] (28×28 for MNIST) and int64 labels [N].</summary>
/// <param name="Images">The images.</param>
/// <param name="Labels">The labels.</param>
public sealed record MnistSplit(Tensor Images, Tensor Labels) : IDisposable
{
    /// <summary>The number of examples.</summary>
    public int Count => (int)Labels.shape[0];

    /// <summary>The images' height (and width: images are square).</summary>
    public int ImageSize => (int)Images.shape[2];

    /// <summary>The examples at <paramref name="indices"/>, copied.</summary>
    /// <param name="indices">Row indices.</param>
    public MnistSplit Select(Tensor indices) => new(Images.index_select(0, indices), Labels.index_select(0, indices));

    /// <summary>Rows [start, start + count), copied.</summary>
    /// <param name="start">First row.</param>
    /// <param name="count">Rows.</param>
    public MnistSplit Slice(long start, long count) => new(Images.narrow(0, start, count).clone(), Labels.narrow(0, start, count).clone());

    /// <summary>Normalises the images in place to (x − mean) / std, as torchvision's <c>Normalize</c> does; returns this split.</summary>
    /// <param name="mean">The mean to subtract (MNIST's customary 0.1307: see <see cref="MnistFormat.MnistMean"/>).</param>
    /// <param name="std">The standard deviation to divide by; positive.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="std"/> is not positive and finite.</exception>
    public MnistSplit Normalize(double mean, double std)
    {
        if (!(std > 0) || !double.IsFinite(std) || !double.IsFinite(mean))
        {
            throw new ArgumentOutOfRangeException(nameof(std), $"Normalisation needs a finite mean and a positive finite std; got mean {mean}, std {std}.");
        }

        Images.sub_(mean).div_(std);
        return this;
    }

    /// <summary>Disposes the tensors.</summary>
    public void Dispose()
    {
        Images.Dispose();
        Labels.Dispose();
    }
}

/// <summary>
/// Reads MNIST-format datasets (MNIST, Fashion-MNIST, KMNIST…): the four IDX files with MNIST's file names, gzip-compressed or not.
/// </summary>
/// <remarks>
/// Written here rather than using TorchVision's reader because TorchVision 0.107's <c>FashionMNIST</c> only reads
/// uncompressed files from a fixed folder layout (<c>&lt;root&gt;/fashion-mnist/test_data/</c> for both splits) and
/// yields one example at a time; the IDX format is a 16-byte header and raw bytes, and reading it directly handles
/// <c>.gz</c> files, any MNIST-format dataset in any folder, and loads 60,000 images as one tensor in well under a second.
/// </remarks>
public static class MnistFormat
{
    /// <summary>The mean pixel (in [0, 1]) of MNIST's training set, the constant of the customary MNIST input normalisation.</summary>
    public const double MnistMean = 0.1307;

    /// <summary>The pixel standard deviation of MNIST's training set, the other constant of that normalisation.</summary>
    public const double MnistStd = 0.3081;

    private const int ImagesMagic = 0x00000803;
    private const int LabelsMagic = 0x00000801;

    /// <summary>Whether <paramref name="directory"/> holds the four files (gzip-compressed or not).</summary>
    /// <param name="directory">A folder.</param>
    public static bool Exists(string directory) =>
        Directory.Exists(directory)
        && new[] { "train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte" }
            .All(f => Find(directory, f) is not null);

    /// <summary>Loads the training or the test split from <paramref name="directory"/>.</summary>
    /// <param name="directory">A folder with the IDX files.</param>
    /// <param name="train">The training split (<c>train-*</c>) or the test split (<c>t10k-*</c>).</param>
    /// <exception cref="FileNotFoundException">A file is missing.</exception>
    /// <exception cref="InvalidDataException">A file is not IDX, images are not square (4 to 256 pixels), counts differ, or a label is outside 0–9.</exception>
    public static MnistSplit Load(string directory, bool train)
    {
        ArgumentNullException.ThrowIfNull(directory);
        var prefix = train ? "train" : "t10k";
        var imagesPath = Find(directory, $"{prefix}-images-idx3-ubyte") ?? throw new FileNotFoundException($"No {prefix}-images-idx3-ubyte[.gz] in {directory}.");
        var labelsPath = Find(directory, $"{prefix}-labels-idx1-ubyte") ?? throw new FileNotFoundException($"No {prefix}-labels-idx1-ubyte[.gz] in {directory}.");

        var images = ReadAll(imagesPath);
        var labels = ReadAll(labelsPath);
        if (images.Length < 16 || BinaryPrimitives.ReadInt32BigEndian(images) != ImagesMagic)
        {
            throw new InvalidDataException($"{imagesPath} is not an IDX image file (magic 0x00000803).");
        }

        if (labels.Length < 8 || BinaryPrimitives.ReadInt32BigEndian(labels) != LabelsMagic)
        {
            throw new InvalidDataException($"{labelsPath} is not an IDX label file (magic 0x00000801).");
        }

        var count = BinaryPrimitives.ReadInt32BigEndian(images.AsSpan(4));
        var rows = BinaryPrimitives.ReadInt32BigEndian(images.AsSpan(8));
        var cols = BinaryPrimitives.ReadInt32BigEndian(images.AsSpan(12));
        var labelCount = BinaryPrimitives.ReadInt32BigEndian(labels.AsSpan(4));
        if (rows != cols || rows < 4 || rows > 256)
        {
            throw new InvalidDataException($"{imagesPath} holds {rows}×{cols} images; square images of 4×4 to 256×256 pixels are expected (MNIST's are 28×28).");
        }

        if (count < 1 || count != labelCount || images.Length - 16 < (long)count * rows * cols || labels.Length - 8 < count)
        {
            throw new InvalidDataException($"{imagesPath} ({count} images) and {labelsPath} ({labelCount} labels) do not match or are truncated.");
        }

        var labelValues = new long[count];
        for (var i = 0; i < count; i++)
        {
            var label = labels[8 + i];
            if (label > 9)
            {
                throw new InvalidDataException($"{labelsPath} has label {label} at {i}; 0–9 are expected.");
            }

            labelValues[i] = label;
        }

        using var scope = torch.NewDisposeScope();
        var pixels = torch.tensor(images.AsSpan(16, count * rows * cols).ToArray(), dtype: ScalarType.Byte)
            .reshape(count, 1, rows, cols).to(ScalarType.Float32).div_(255f);
        var result = new MnistSplit(pixels, torch.tensor(labelValues));
        result.Images.MoveToOuterDisposeScope();
        result.Labels.MoveToOuterDisposeScope();
        return result;
    }

    private static string? Find(string directory, string name)
    {
        var plain = Path.Combine(directory, name);
        if (File.Exists(plain))
        {
            return plain;
        }

        var gz = plain + ".gz";
        return File.Exists(gz) ? gz : null;
    }

    private static byte[] ReadAll(string path)
    {
        using var file = File.OpenRead(path);
        using var stream = path.EndsWith(".gz", StringComparison.OrdinalIgnoreCase) ? new GZipStream(file, CompressionMode.Decompress) : (Stream)file;
        using var memory = new MemoryStream();
        stream.CopyTo(memory);
        return memory.ToArray();
    }
}
