using System.IO.Compression;
using TorchSharp;
using TrajectoryTransfer;
using TrajectoryTransfer.Permutations;
using TrajectoryTransfer.Trajectories;
using static TorchSharp.torch;

// Fashion-MNIST in MNIST's IDX format: the folder given, or the 6,000-image subset copied next to the program.
var folder = args.Length > 0 ? args[0] : Path.Combine(AppContext.BaseDirectory, "data");
using var images = Read("train-images-idx3-ubyte.gz", 16, ScalarType.Float32, -1, 784).div_(255);
using var labels = Read("train-labels-idx1-ubyte.gz", 8, ScalarType.Int64, -1);
using var testImages = Read("t10k-images-idx3-ubyte.gz", 16, ScalarType.Float32, -1, 784).div_(255);
using var testLabels = Read("t10k-labels-idx1-ubyte.gz", 8, ScalarType.Int64, -1);
IEnumerable<(Tensor, Tensor)> Batches() // images 0-4999, made lazily: a batch belongs to the dispose scope that reads it
{
    for (var i = 0; i + 128 <= 5000; i += 128) yield return (images[i..(i + 128)], labels[i..(i + 128)]);
}

// 1. Train a source network as usual, keeping only where it started and where it ended.
torch.manual_seed(1);
using var source = new Mlp(784, [512], 10);
using var sourceInit = ParameterSet.FromModule(source);
using var optimizer = optim.SGD(source.parameters(), 0.01, momentum: 0.9);
for (var epoch = 0; epoch < 5; epoch++)
{
    using var scope = torch.NewDisposeScope();
    foreach (var (x, y) in Batches())
    {
        optimizer.zero_grad();
        nn.functional.cross_entropy(source.call(x), y).backward();
        optimizer.step();
    }
}
using var sourceFinal = ParameterSet.FromModule(source);
using var trajectory = new LinearTrajectory(sourceInit, sourceFinal, steps: 10, TrajectorySchedule.Cosine);

// 2. Transfer that training onto a new random initialization, without training it.
using var target = new Mlp(784, [512], 10);
Console.WriteLine($"new initialization: {Accuracy(target, testImages, testLabels):P1} test accuracy");
using var result = LearningTransfer.Transfer(trajectory, target)
    .UseFgmt()
    .WithData(Batches(), (logits, y) => nn.functional.cross_entropy(logits, y))
    .WithValidation(model => Accuracy(model, images[5000..], labels[5000..])) // held-out images pick the best step
    .Run();
result.LoadInto(target, best: true);
Console.WriteLine($"source, trained:    {Accuracy(source, testImages, testLabels):P1} test accuracy");
Console.WriteLine($"transferred (FGMT): {Accuracy(target, testImages, testLabels):P1} test accuracy, without training");

Tensor Read(string file, int header, ScalarType type, params long[] shape) // IDX: a header, then one byte per value
{
    using var gzip = new GZipStream(File.OpenRead(Path.Combine(folder, file)), CompressionMode.Decompress);
    using var bytes = new MemoryStream();
    gzip.CopyTo(bytes);
    using var scope = torch.NewDisposeScope();
    return torch.tensor(bytes.ToArray()[header..]).reshape(shape).to(type).MoveToOuterDisposeScope();
}

static double Accuracy(nn.Module<Tensor, Tensor> model, Tensor x, Tensor y)
{
    using var scope = torch.NewDisposeScope();
    using var noGrad = torch.no_grad();
    return model.call(x).argmax(1).eq(y).to(ScalarType.Float32).mean().item<float>();
}
