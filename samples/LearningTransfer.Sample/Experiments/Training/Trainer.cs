using System.Diagnostics;
using TorchSharp;
using TrajectoryTransfer.Samples.Data;
using TrajectoryTransfer.Trajectories;
using static TorchSharp.torch;

namespace TrajectoryTransfer.Samples.Experiments;

/// <summary>How a model is trained: plain SGD (no momentum, no weight decay), as in the paper.</summary>
/// <param name="Epochs">Passes over the training data.</param>
/// <param name="LearningRate">SGD step size.</param>
/// <param name="BatchSize">Examples per minibatch.</param>
/// <param name="Seed">Seeds the data order (epoch e uses seed + e).</param>
public sealed record TrainingSchedule(int Epochs, double LearningRate, int BatchSize, int Seed);

/// <summary>What a training run measured.</summary>
/// <param name="EpochSeconds">Wall seconds of each epoch's training (evaluation excluded).</param>
/// <param name="TestAccuracyByEpoch">The evaluation after each epoch, when one was asked for.</param>
public sealed record TrainingRun(IReadOnlyList<double> EpochSeconds, IReadOnlyList<double> TestAccuracyByEpoch)
{
    /// <summary>Total training seconds.</summary>
    public double Seconds => EpochSeconds.Sum();

    /// <summary>Mean training seconds per epoch.</summary>
    public double SecondsPerEpoch => EpochSeconds.Count == 0 ? 0 : EpochSeconds.Average();
}

/// <summary>The training loop every model of the sample goes through.</summary>
public static class Trainer
{
    /// <summary>Trains <paramref name="model"/> in place with SGD and cross-entropy.</summary>
    /// <param name="model">The model, on the data's device.</param>
    /// <param name="data">The training examples.</param>
    /// <param name="schedule">Epochs, learning rate, batch size and seed.</param>
    /// <param name="afterEpoch">Scores the model after every epoch (e.g. test accuracy); not timed as training.</param>
    /// <param name="recorder">Told about every optimizer step and epoch end, to record the trajectory.</param>
    /// <param name="batchDone">Called after every minibatch (for progress display).</param>
    public static TrainingRun Train(
        nn.Module<Tensor, Tensor> model,
        MnistSplit data,
        TrainingSchedule schedule,
        Func<nn.Module<Tensor, Tensor>, double>? afterEpoch = null,
        TrajectoryRecorder? recorder = null,
        Action? batchDone = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(data);
        ArgumentNullException.ThrowIfNull(schedule);
        var seconds = new List<double>();
        var scores = new List<double>();
        using var optimizer = torch.optim.SGD(model.parameters(), schedule.LearningRate);
        var batches = Batches.PerEpoch(data, schedule.BatchSize);
        for (var epoch = 0; epoch < schedule.Epochs; epoch++)
        {
            var clock = Stopwatch.StartNew();
            model.train();
            using (var epochScope = torch.NewDisposeScope())
            {
                var order = Batches.Order(data, schedule.Seed + epoch);
                for (var b = 0; b < batches; b++)
                {
                    using var batchScope = torch.NewDisposeScope();
                    var (input, label) = Batches.Get(data, order, b, schedule.BatchSize);
                    optimizer.zero_grad();
                    nn.functional.cross_entropy(model.call(input), label).backward();
                    optimizer.step();
                    recorder?.OnOptimizerStep();
                    batchDone?.Invoke();
                }
            }

            seconds.Add(clock.Elapsed.TotalSeconds);
            recorder?.OnEpochEnd(epoch + 1);
            if (afterEpoch is not null)
            {
                scores.Add(afterEpoch(model));
            }
        }

        model.train();
        return new TrainingRun(seconds, scores);
    }
}
