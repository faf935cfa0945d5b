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

    /// <summary>Training schedule of a full training run (source, Oracle target, independent ensemble members).</summary>
    /// <param name="seedOffset">Added to the run's seed for the data order.</param>
    public TrainingSchedule FullTraining(int seedOffset) =>
        new(Settings.Epochs, Settings.LearningRate, Settings.BatchSize, Settings.Seed * 1000 + seedOffset);

    /// <summary>Training schedule of a fine-tuning run (after a transfer, and the scratch baseline).</summary>
    /// <param name="seedOffset">Added to the run's seed for the data order.</param>
    public TrainingSchedule FineTuning(int seedOffset) =>
        new(Settings.FineTuneEpochs, Settings.FineTuneLearningRate, Settings.BatchSize, Settings.Seed * 1000 + seedOffset);
}
