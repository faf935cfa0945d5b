using System.Diagnostics;
using TorchSharp;
using TrajectoryTransfer.Samples.Data;
using TrajectoryTransfer.Trajectories;
using static TorchSharp.torch;

namespace TrajectoryTransfer.Samples.Experiments;

/// <summary>How long and how a model is trained.</summary>
/// <param name="Epochs">Passes over the training data.</param>
/// <param name="Recipe">Optimizer, learning rate and schedule, weight decay, augmentation.</param>
/// <param name="BatchSize">Examples per minibatch.</param>
/// <param name="Seed">Seeds the data order (epoch e uses seed + e) and the augmentation.</param>
public sealed record TrainingSchedule(int Epochs, TrainingRecipe Recipe, int BatchSize, int Seed)
{
    /// <summary>The learning rate of the recipe.</summary>
    public double LearningRate => Recipe.LearningRate;
}

/// <summary>One evaluation during training: the training seconds spent so far and the score.</summary>
/// <param name="Epoch">Fractional epochs trained so far (1 = after the first epoch).</param>
/// <param name="Seconds">Training seconds so far (evaluation excluded).</param>
/// <param name="Score">The score (e.g. test accuracy).</param>
public readonly record struct TrainingCheckpoint(double Epoch, double Seconds, double Score);

/// <summary>What a training run measured.</summary>
/// <param name="EpochSeconds">Wall seconds of each epoch's training (evaluation excluded).</param>
/// <param name="TestAccuracyByEpoch">The evaluation after each epoch, when one was asked for.</param>
public sealed record TrainingRun(IReadOnlyList<double> EpochSeconds, IReadOnlyList<double> TestAccuracyByEpoch)
{
    /// <summary>Every evaluation with the training time spent before it (several per epoch when asked for; the epoch ends otherwise).</summary>
    public IReadOnlyList<TrainingCheckpoint> Checkpoints { get; init; } = [];

    /// <summary>Total training seconds.</summary>
    public double Seconds => EpochSeconds.Sum();

    /// <summary>Mean training seconds per epoch.</summary>
    public double SecondsPerEpoch => EpochSeconds.Count == 0 ? 0 : EpochSeconds.Average();

    /// <summary>The first <paramref name="epochs"/> epochs of this run (its own first epochs, as measured).</summary>
    /// <param name="epochs">How many.</param>
    public TrainingRun Take(int epochs) => new(EpochSeconds.Take(epochs).ToArray(), TestAccuracyByEpoch.Take(epochs).ToArray())
    {
        Checkpoints = Checkpoints.Where(c => c.Epoch <= epochs + 1e-9).ToArray(),
    };
}

/// <summary>The training loop every model of the sample goes through.</summary>
public static class Trainer
{
    /// <summary>Trains <paramref name="model"/> in place with cross-entropy and the schedule's recipe.</summary>
    /// <param name="model">The model, on the data's device.</param>
    /// <param name="data">The training examples.</param>
    /// <param name="schedule">Epochs, recipe, batch size and seed.</param>
    /// <param name="evaluate">Scores the model after every epoch (e.g. test accuracy); not timed as training.</param>
    /// <param name="recorder">Told about every optimizer step and epoch end, to record the trajectory.</param>
    /// <param name="batchDone">Called after every minibatch (for progress display).</param>
    /// <param name="evaluationsPerEpoch">How often <paramref name="evaluate"/> runs per epoch (at evenly spaced minibatches, the last at the epoch's end); the default is 1.</param>
    public static TrainingRun Train(
        nn.Module<Tensor, Tensor> model,
        MnistSplit data,
        TrainingSchedule schedule,
        Func<nn.Module<Tensor, Tensor>, double>? evaluate = null,
        TrajectoryRecorder? recorder = null,
        Action? batchDone = null,
        int evaluationsPerEpoch = 1)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(data);
        ArgumentNullException.ThrowIfNull(schedule);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(evaluationsPerEpoch);
        var recipe = schedule.Recipe;
        var seconds = new List<double>();
        var scores = new List<double>();
        var checkpoints = new List<TrainingCheckpoint>();
        var batches = Batches.PerEpoch(data, schedule.BatchSize);
        var totalSteps = (long)schedule.Epochs * batches;
        using var optimizer = CreateOptimizer(model, recipe);
        using var generator = new Generator((ulong)schedule.Seed + 7_000_000UL);
        var evaluateAt = Enumerable.Range(1, evaluationsPerEpoch).Select(k => (int)Math.Round((double)k * batches / evaluationsPerEpoch)).Where(b => b > 0).ToHashSet();
        var trained = 0.0;
        long step = 0;
        for (var epoch = 0; epoch < schedule.Epochs; epoch++)
        {
            var clock = Stopwatch.StartNew();
            var epochSeconds = 0.0;
            model.train();
            using (var epochScope = torch.NewDisposeScope())
            {
                var order = Batches.Order(data, schedule.Seed + epoch);
                for (var b = 0; b < batches; b++)
                {
                    using (var batchScope = torch.NewDisposeScope())
                    {
                        if (recipe.Schedule == LearningRateSchedule.Cosine || recipe.WarmupEpochs > 0)
                        {
                            SetLearningRate(optimizer, recipe.LearningRateAt(step, totalSteps, batches));
                        }

                        var (input, label) = Batches.Get(data, order, b, schedule.BatchSize);
                        if (recipe.RandomCrops)
                        {
                            input = Augmentation.RandomCrops(input, 4, generator);
                        }

                        optimizer.zero_grad();
                        nn.functional.cross_entropy(model.call(input), label).backward();
                        optimizer.step();
                        step++;
                        recorder?.OnOptimizerStep();
                        batchDone?.Invoke();
                    }

                    if (evaluate is not null && evaluationsPerEpoch > 1 && b + 1 < batches && evaluateAt.Contains(b + 1))
                    {
                        epochSeconds += clock.Elapsed.TotalSeconds;
                        checkpoints.Add(new TrainingCheckpoint(epoch + ((b + 1.0) / batches), trained + epochSeconds, evaluate(model)));
                        model.train();
                        clock.Restart();
                    }
                }
            }

            epochSeconds += clock.Elapsed.TotalSeconds;
            trained += epochSeconds;
            seconds.Add(epochSeconds);
            recorder?.OnEpochEnd(epoch + 1);
            if (evaluate is not null)
            {
                var score = evaluate(model);
                scores.Add(score);
                checkpoints.Add(new TrainingCheckpoint(epoch + 1, trained, score));
            }
        }

        model.train();
        return new TrainingRun(seconds, scores) { Checkpoints = checkpoints };
    }

    private static optim.Optimizer CreateOptimizer(nn.Module model, TrainingRecipe recipe) => recipe.Optimizer switch
    {
        OptimizerKind.AdamW => torch.optim.AdamW(model.parameters(), recipe.LearningRate, weight_decay: recipe.WeightDecay),
        _ => torch.optim.SGD(model.parameters(), recipe.LearningRate, momentum: recipe.Momentum, weight_decay: recipe.WeightDecay),
    };

    private static void SetLearningRate(optim.Optimizer optimizer, double learningRate)
    {
        foreach (var group in optimizer.ParamGroups)
        {
            group.LearningRate = learningRate;
        }
    }
}
