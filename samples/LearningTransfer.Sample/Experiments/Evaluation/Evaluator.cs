using TorchSharp;
using TrajectoryTransfer.Samples.Data;
using static TorchSharp.torch;

namespace TrajectoryTransfer.Samples.Experiments;

/// <summary>Accuracy, loss and predicted probabilities of a model on a split, in evaluation mode and without gradients.</summary>
public static class Evaluator
{
    private const int Chunk = 2000;

    /// <summary>
    /// The fraction of examples whose arg-max prediction is the label: forward passes only, counted on the device and read
    /// back once (the transfer scores every step with this).
    /// </summary>
    /// <param name="model">The model, on the split's device.</param>
    /// <param name="split">The examples.</param>
    public static double Accuracy(nn.Module<Tensor, Tensor> model, MnistSplit split)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(split);
        return InEvalMode(model, () =>
        {
            var correct = torch.zeros(1, ScalarType.Int64, device: split.Labels.device);
            for (long start = 0; start < split.Count; start += Chunk)
            {
                using var chunkScope = torch.NewDisposeScope();
                var n = Math.Min(Chunk, split.Count - start);
                correct.add_(model.call(split.Images.narrow(0, start, n)).argmax(1).eq(split.Labels.narrow(0, start, n)).sum());
            }

            return (double)correct.ToInt64() / split.Count;
        });
    }

    /// <summary>Accuracy and mean cross-entropy loss.</summary>
    /// <param name="model">The model, on the split's device.</param>
    /// <param name="split">The examples.</param>
    public static (double Accuracy, double Loss) Evaluate(nn.Module<Tensor, Tensor> model, MnistSplit split)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(split);
        return InEvalMode(model, () =>
        {
            long correct = 0;
            double loss = 0;
            for (long start = 0; start < split.Count; start += Chunk)
            {
                using var chunkScope = torch.NewDisposeScope();
                var n = Math.Min(Chunk, split.Count - start);
                var labels = split.Labels.narrow(0, start, n);
                var logits = model.call(split.Images.narrow(0, start, n));
                correct += logits.argmax(1).eq(labels).sum().ToInt64();
                loss += nn.functional.cross_entropy(logits, labels, reduction: nn.Reduction.Sum).ToDouble();
            }

            return ((double)correct / split.Count, loss / split.Count);
        });
    }

    /// <summary>Softmax probabilities [N, classes] for every example (the caller owns the tensor).</summary>
    /// <param name="model">The model, on the split's device.</param>
    /// <param name="split">The examples.</param>
    public static Tensor Probabilities(nn.Module<Tensor, Tensor> model, MnistSplit split)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(split);
        return InEvalMode(model, () =>
        {
            var parts = new List<Tensor>();
            for (long start = 0; start < split.Count; start += Chunk)
            {
                var n = Math.Min(Chunk, split.Count - start);
                parts.Add(model.call(split.Images.narrow(0, start, n)).softmax(1));
            }

            return torch.cat(parts, 0).MoveToOuterDisposeScope();
        });
    }

    /// <summary>Accuracy of the arg-max of <paramref name="probabilities"/> against the split's labels.</summary>
    /// <param name="probabilities">[N, classes] scores (e.g. averaged softmax of ensemble members).</param>
    /// <param name="split">The examples.</param>
    public static double Accuracy(Tensor probabilities, MnistSplit split)
    {
        ArgumentNullException.ThrowIfNull(probabilities);
        ArgumentNullException.ThrowIfNull(split);
        using var scope = torch.NewDisposeScope();
        return probabilities.argmax(1).eq(split.Labels).sum().ToInt64() / (double)split.Count;
    }

    /// <summary>Runs <paramref name="body"/> in a dispose scope, without gradients and in eval mode, then restores the module's mode.</summary>
    private static T InEvalMode<T>(nn.Module<Tensor, Tensor> model, Func<T> body)
    {
        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        var wasTraining = model.training;
        model.eval();
        try
        {
            return body();
        }
        finally
        {
            model.train(wasTraining);
        }
    }
}
