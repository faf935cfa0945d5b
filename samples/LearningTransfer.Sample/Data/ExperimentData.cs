using TorchSharp;
using static TorchSharp.torch;

namespace TrajectoryTransfer.Samples.Data;

/// <summary>The training, validation and test splits of one experiment, on the experiment's device.</summary>
public sealed class ExperimentData : IDisposable
{
    private ExperimentData(DataSource source, MnistSplit train, MnistSplit validation, MnistSplit test, string classes)
    {
        Source = source;
        Train = train;
        Validation = validation;
        Test = test;
        Classes = classes;
    }

    /// <summary>Where the data came from.</summary>
    public DataSource Source { get; }

    /// <summary>Training examples (the validation examples are not among them).</summary>
    public MnistSplit Train { get; }

    /// <summary>Held-out training examples, used to pick the best transfer step.</summary>
    public MnistSplit Validation { get; }

    /// <summary>The test split.</summary>
    public MnistSplit Test { get; }

    /// <summary>The classes kept, e.g. <c>0-9</c>.</summary>
    public string Classes { get; }

    /// <summary>The images' height and width.</summary>
    public int ImageSize => Train.ImageSize;

    /// <summary>
    /// Loads a dataset, shuffles its training split with <paramref name="seed"/>, keeps at most <paramref name="trainLimit"/>
    /// training and <paramref name="testLimit"/> test examples, holds out <paramref name="validationFraction"/> of them for validation, and moves everything to <paramref name="device"/>.
    /// </summary>
    /// <param name="source">The folder.</param>
    /// <param name="trainLimit">At most this many training examples before the split (null: all).</param>
    /// <param name="testLimit">At most this many test examples, the first ones of the file (null: all).</param>
    /// <param name="validationFraction">The held-out fraction.</param>
    /// <param name="seed">Seeds the shuffle.</param>
    /// <param name="device">Where the tensors go.</param>
    /// <param name="normalize"><c>none</c> keeps pixel/255; <c>mnist</c> applies (x − 0.1307) / 0.3081 to every split.</param>
    /// <exception cref="ArgumentException"><paramref name="normalize"/> is neither.</exception>
    public static ExperimentData Load(DataSource source, int? trainLimit, int? testLimit, double validationFraction, int seed, Device device, string normalize = "none")
    {
        if (normalize is not ("none" or "mnist"))
        {
            throw new ArgumentException($"Normalisation must be 'none' or 'mnist', not '{normalize}'.", nameof(normalize));
        }

        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(device);
        using var scope = torch.NewDisposeScope();
        var fullTrain = MnistFormat.Load(source.Path, train: true);
        var test = MnistFormat.Load(source.Path, train: false);
        if (test.ImageSize != fullTrain.ImageSize)
        {
            throw new InvalidDataException($"{source.Path}: the training images are {fullTrain.ImageSize}×{fullTrain.ImageSize} but the test images {test.ImageSize}×{test.ImageSize}.");
        }

        if (normalize == "mnist")
        {
            fullTrain.Normalize(MnistFormat.MnistMean, MnistFormat.MnistStd);
            test.Normalize(MnistFormat.MnistMean, MnistFormat.MnistStd);
        }
        var order = Enumerable.Range(0, fullTrain.Count).Select(i => (long)i).ToArray();
        new Random(seed).Shuffle(order);
        var pool = Math.Min(order.Length, trainLimit ?? int.MaxValue);
        var validationCount = Math.Max(1, (int)Math.Round(pool * validationFraction));
        using var validationRows = torch.tensor(order[..validationCount]);
        using var trainRows = torch.tensor(order[validationCount..pool]);
        var result = new ExperimentData(
            source,
            OnDevice(fullTrain.Select(trainRows), device),
            OnDevice(fullTrain.Select(validationRows), device),
            OnDevice(test.Count > (testLimit ?? int.MaxValue) ? test.Slice(0, testLimit!.Value) : test, device),
            "0-9");
        Detach(result);
        return result;
    }

    /// <summary>A copy holding only the examples whose label is in [<paramref name="first"/>, <paramref name="last"/>].</summary>
    /// <param name="first">The first class kept.</param>
    /// <param name="last">The last class kept.</param>
    public ExperimentData WithClasses(int first, int last)
    {
        using var scope = torch.NewDisposeScope();
        var result = new ExperimentData(Source, Filter(Train, first, last), Filter(Validation, first, last), Filter(Test, first, last), $"{first}-{last}");
        Detach(result);
        return result;
    }

    /// <summary>The first <paramref name="count"/> test examples (all when null or larger), copied.</summary>
    /// <param name="count">How many.</param>
    public MnistSplit TestSubset(int? count)
    {
        using var scope = torch.NewDisposeScope();
        var subset = Test.Slice(0, Math.Min(Test.Count, count ?? int.MaxValue));
        subset.Images.DetachFromDisposeScope();
        subset.Labels.DetachFromDisposeScope();
        return subset;
    }

    /// <summary>Disposes the splits.</summary>
    public void Dispose()
    {
        Train.Dispose();
        Validation.Dispose();
        Test.Dispose();
    }

    // A copy even on the same device: the loaded tensors are disposed with the loading scope.
    private static MnistSplit OnDevice(MnistSplit split, Device device) => new(split.Images.to(device, copy: true), split.Labels.to(device, copy: true));

    private static MnistSplit Filter(MnistSplit split, int first, int last)
    {
        using var keep = (split.Labels >= first).logical_and(split.Labels <= last).nonzero().squeeze(1);
        return split.Select(keep);
    }

    private static void Detach(ExperimentData data)
    {
        foreach (var split in new[] { data.Train, data.Validation, data.Test })
        {
            split.Images.DetachFromDisposeScope();
            split.Labels.DetachFromDisposeScope();
        }
    }
}
