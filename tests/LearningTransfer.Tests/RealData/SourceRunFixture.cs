using TorchSharp;
using TrajectoryTransfer.Permutations;
using TrajectoryTransfer.Samples.Data;
using TrajectoryTransfer.Tests.Support;
using static TorchSharp.torch;

namespace TrajectoryTransfer.Tests.RealData;

/// <summary>
/// One real source run, shared by the real-data tests: a 784-512-10 ReLU MLP trained 3 epochs with SGD (lr 0.1, batch 100)
/// on 5,000 Fashion-MNIST images; 1,000 more training images are held out for validation; the 2,000 test images test.
/// </summary>
public sealed class SourceRunFixture : IDisposable
{
    public const int Hidden = 512;

    public SourceRunFixture()
    {
        using var scope = torch.NewDisposeScope();
        Train = TestData.Train.Slice(0, 5000);
        Validation = TestData.Train.Slice(5000, 1000);
        Test = TestData.Test;
        DetachAll(Train);
        DetachAll(Validation);

        using var model = new SmallMlp(Hidden, seed: 1);
        Spec = SmallMlp.Spec(model);
        SourceInit = ParameterSet.FromModule(model).DetachFromDisposeScope();
        Training.Sgd(model, Train, epochs: 3, lr: 0.1, batchSize: 100, seed: 1);
        SourceFinal = ParameterSet.FromModule(model).DetachFromDisposeScope();
        SourceTestAccuracy = Training.Accuracy(model, Test);
    }

    public MnistSplit Train { get; }

    public MnistSplit Validation { get; }

    public MnistSplit Test { get; }

    public PermutationSpec Spec { get; }

    public ParameterSet SourceInit { get; }

    public ParameterSet SourceFinal { get; }

    public double SourceTestAccuracy { get; }

    /// <summary>Trains a model from <paramref name="seed"/>'s initialization the same way as the source (for Oracle).</summary>
    public SmallMlp TrainTarget(int seed)
    {
        var model = new SmallMlp(Hidden, seed);
        Training.Sgd(model, Train, epochs: 3, lr: 0.1, batchSize: 100, seed: seed);
        return model;
    }

    public void Dispose()
    {
        SourceInit.Dispose();
        SourceFinal.Dispose();
        Train.Dispose();
        Validation.Dispose();
    }

    private static void DetachAll(MnistSplit split)
    {
        split.Images.DetachFromDisposeScope();
        split.Labels.DetachFromDisposeScope();
    }
}
