namespace TrajectoryTransfer.Samples.Data;

/// <summary>Where the data came from.</summary>
/// <param name="Name">A display name.</param>
/// <param name="Path">The folder.</param>
/// <param name="Embedded">Whether it is the small subset shipped with the sample.</param>
public sealed record DataSource(string Name, string Path, bool Embedded);

/// <summary>Picks the data folder: the one given, else the installed Fashion-MNIST, else the embedded subset.</summary>
public static class DatasetLocator
{
    /// <summary>Where Debian's <c>dataset-fashion-mnist</c> package installs the full dataset.</summary>
    public const string SystemFashionMnist = "/usr/share/datasets/fashion-mnist";

    /// <summary>The embedded subset (6,000 training and 2,000 test images), copied next to the executable.</summary>
    public static string EmbeddedSubset => Path.Combine(AppContext.BaseDirectory, "data", "fashion-mnist-subset");

    /// <summary>Chooses the data folder.</summary>
    /// <param name="dataDirectory">The folder given on the command line, if any.</param>
    /// <exception cref="DirectoryNotFoundException">Nothing was given, nothing is installed and the embedded subset is missing.</exception>
    public static DataSource Locate(string? dataDirectory)
    {
        if (dataDirectory is not null)
        {
            var full = Path.GetFullPath(dataDirectory);
            var name = full == Path.GetFullPath(EmbeddedSubset) ? "Fashion-MNIST (embedded subset)" : new DirectoryInfo(full).Name;
            return new DataSource(name, full, full == Path.GetFullPath(EmbeddedSubset));
        }

        if (MnistFormat.Exists(SystemFashionMnist))
        {
            return new DataSource("Fashion-MNIST", SystemFashionMnist, false);
        }

        if (MnistFormat.Exists(EmbeddedSubset))
        {
            return new DataSource("Fashion-MNIST (embedded subset)", EmbeddedSubset, true);
        }

        throw new DirectoryNotFoundException(
            $"No data: give an MNIST-format folder with --data, or install Fashion-MNIST (apt-get install dataset-fashion-mnist); the embedded subset was not found at {EmbeddedSubset}.");
    }
}
