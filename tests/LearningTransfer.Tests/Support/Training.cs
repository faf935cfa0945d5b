using TorchSharp;
using TrajectoryTransfer.Samples.Data;
using static TorchSharp.torch;

namespace TrajectoryTransfer.Tests.Support;

/// <summary>Plain SGD training and accuracy, as a user's own loop would do it.</summary>
public static class Training
{
    public static Tensor CrossEntropy(Tensor logits, Tensor labels) => nn.functional.cross_entropy(logits, labels);

    public static void Sgd(nn.Module<Tensor, Tensor> model, MnistSplit data, int epochs, double lr, int batchSize, int seed, Action? afterStep = null)
    {
        model.train();
        using var optimizer = torch.optim.SGD(model.parameters(), lr);
        for (var epoch = 0; epoch < epochs; epoch++)
        {
            foreach (var (input, label) in TestData.Batches(data, batchSize, seed + epoch))
            {
                using var scope = torch.NewDisposeScope();
                optimizer.zero_grad();
                CrossEntropy(model.forward(input), label).backward();
                optimizer.step();
                afterStep?.Invoke();
            }
        }
    }

    public static double Accuracy(nn.Module<Tensor, Tensor> model, MnistSplit data)
    {
        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        var wasTraining = model.training;
        model.eval();
        long correct = 0;
        for (long start = 0; start < data.Count; start += 1000)
        {
            var n = Math.Min(1000, data.Count - start);
            var logits = model.forward(data.Images.narrow(0, start, n));
            correct += logits.argmax(1).eq(data.Labels.narrow(0, start, n)).sum().ToInt64();
        }

        model.train(wasTraining);
        return (double)correct / data.Count;
    }
}
