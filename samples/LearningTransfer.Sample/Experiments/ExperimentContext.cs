using TrajectoryTransfer.Samples.Cli;
using TrajectoryTransfer.Samples.Data;
using TrajectoryTransfer.Samples.Models;
using TrajectoryTransfer.Trajectories;
using static TorchSharp.torch;

namespace TrajectoryTransfer.Samples.Experiments;

/// <summary>What every stage of a run shares: settings, display, model factory, device and data.</summary>
/// <param name="Settings">The settings.</param>
/// <param name="Ui">The console display.</param>
/// <param name="Factory">Creates the networks.</param>
/// <param name="Device">Where everything runs.</param>
/// <param name="Data">All classes of the dataset, split into train, validation and test.</param>
public sealed record ExperimentContext(SampleSettings Settings, ConsoleUi Ui, ModelFactory Factory, Device Device, ExperimentData Data)
{
    /// <summary>The trajectory schedule chosen by the settings.</summary>
    public TrajectorySchedule Schedule => Settings.Schedule == "uniform" ? TrajectorySchedule.Uniform : TrajectorySchedule.Cosine;

    /// <summary>Training schedule of a full training run (source, Oracle target and baseline, independent ensemble members).</summary>
    /// <param name="seedOffset">Added to the run's seed for the data order.</param>
    public TrainingSchedule FullTraining(int seedOffset) =>
        new(Settings.Epochs, Settings.TrainRecipe, Settings.BatchSize, Settings.Seed * 1000 + seedOffset);

    /// <summary>Training schedule of pre-training (the pretrained scenario's two initializations and ensemble members).</summary>
    /// <param name="seedOffset">Added to the run's seed for the data order.</param>
    public TrainingSchedule Pretraining(int seedOffset) =>
        new(Settings.PretrainEpochs, Settings.TrainRecipe, Settings.BatchSize, Settings.Seed * 1000 + seedOffset);

    /// <summary>Training schedule of the baseline (training from the target initialization, or fine-tuning it directly) when it is not the target's own training.</summary>
    /// <param name="seedOffset">Added to the run's seed for the data order.</param>
    public TrainingSchedule Baseline(int seedOffset) =>
        new(Settings.FineTuneEpochs, Settings.TrainRecipe, Settings.BatchSize, Settings.Seed * 1000 + seedOffset);

    /// <summary>Training schedule of fine-tuning after a transfer.</summary>
    /// <param name="seedOffset">Added to the run's seed for the data order.</param>
    public TrainingSchedule FineTuning(int seedOffset) =>
        new(Settings.FineTuneEpochs, Settings.FineTuneRecipe, Settings.BatchSize, Settings.Seed * 1000 + seedOffset);
}
