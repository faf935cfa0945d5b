using System.Globalization;
using TrajectoryTransfer.Samples.Data;
using TrajectoryTransfer.Samples.Experiments;

namespace TrajectoryTransfer.Samples.Cli;

/// <summary>Every setting of one run, after the preset has filled in what the command line left out.</summary>
public sealed record SampleSettings
{
    /// <summary>The preset the defaults came from.</summary>
    public required string Preset { get; init; }

    /// <summary>The network.</summary>
    public required ModelKind Model { get; init; }

    /// <summary>Random initializations or pre-trained ones.</summary>
    public required Scenario Scenario { get; init; }

    /// <summary>The transfer methods to run, in order.</summary>
    public required IReadOnlyList<TransferMethod> Methods { get; init; }

    /// <summary>T.</summary>
    public required int Steps { get; init; }

    /// <summary><c>cosine</c> or <c>uniform</c>.</summary>
    public required string Schedule { get; init; }

    /// <summary>Linear (two ends) or recorded (every epoch) source trajectory.</summary>
    public required TrajectoryKind Trajectory { get; init; }

    /// <summary>Minibatches averaged per gradient.</summary>
    public required int GradientBatches { get; init; }

    /// <summary>Minibatch size for training, fine-tuning and gradients.</summary>
    public required int BatchSize { get; init; }

    /// <summary>How the source, the baseline, pre-trained and other fully trained models are trained.</summary>
    public required TrainingRecipe TrainRecipe { get; init; }

    /// <summary>How transferred models are fine-tuned.</summary>
    public required TrainingRecipe FineTuneRecipe { get; init; }

    /// <summary>The training learning rate (of <see cref="TrainRecipe"/>).</summary>
    public double LearningRate => TrainRecipe.LearningRate;

    /// <summary>Training epochs of the source and of every fully trained model.</summary>
    public required int Epochs { get; init; }

    /// <summary>Fine-tuning epochs after a transfer, and epochs of the scratch baseline.</summary>
    public required int FineTuneEpochs { get; init; }

    /// <summary>The fine-tuning learning rate (of <see cref="FineTuneRecipe"/>).</summary>
    public double FineTuneLearningRate => FineTuneRecipe.LearningRate;

    /// <summary>Pre-training epochs of the pretrained scenario's initializations.</summary>
    public required int PretrainEpochs { get; init; }

    /// <summary>Hidden width (MLPs) or first-stage channels (Conv4).</summary>
    public required int Width { get; init; }

    /// <summary>Conv8's width factor.</summary>
    public double WidthFactor { get; init; } = 0.25;

    /// <summary>Validation examples each transfer step is scored on (null: all).</summary>
    public int? ValidationLimit { get; init; }

    /// <summary>Training batches BatchNorm statistics are recomputed on at each scored transfer step (models with BatchNorm).</summary>
    public int BatchNormRefreshBatches { get; init; } = 10;

    /// <summary>Whether each gradient pair's matching term is divided by the product of its norms.</summary>
    public bool NormalizePairs { get; init; }

    /// <summary>Test evaluations per training or fine-tuning epoch.</summary>
    public int EvaluationsPerEpoch { get; init; } = 1;

    /// <summary>Ensemble members; 0 skips the ensemble experiment.</summary>
    public required int EnsembleMembers { get; init; }

    /// <summary>Training examples used before the validation split (null: all).</summary>
    public required int? TrainLimit { get; init; }

    /// <summary>Test examples used (null: all).</summary>
    public int? TestLimit { get; init; }

    /// <summary>Fraction of the training examples held out for validation.</summary>
    public required double ValidationFraction { get; init; }

    /// <summary>Input normalisation: <c>none</c> or <c>mnist</c>.</summary>
    public string Normalize { get; init; } = "none";

    /// <summary>Seeds initializations, data order and matching.</summary>
    public required int Seed { get; init; }

    /// <summary>The TorchSharp device name (<c>cpu</c>, <c>cuda</c>, <c>cuda:1</c>).</summary>
    public required string Device { get; init; }

    /// <summary>An MNIST-format folder given with <c>--data</c>.</summary>
    public string? DataDirectory { get; init; }

    /// <summary>Where the report and plots go.</summary>
    public required string OutputDirectory { get; init; }

    /// <summary>Points α on each mode-connectivity line.</summary>
    public required int CurvePoints { get; init; }

    /// <summary>Test examples for the mode-connectivity losses (null: all).</summary>
    public required int? CurveExamples { get; init; }

    /// <summary>libtorch intra-op threads (null: libtorch's default).</summary>
    public int? Threads { get; init; }

    /// <summary>The command-line arguments, for the report.</summary>
    public IReadOnlyList<string> Arguments { get; init; } = [];

    /// <summary>Checks cross-setting rules that single options cannot.</summary>
    /// <exception cref="SettingsException">A rule is broken; the message says how to fix it.</exception>
    public void Validate()
    {
        if (Methods.Count == 0)
        {
            throw new SettingsException("--methods names no method; give some of gmt,fgmt,naive,oracle.");
        }

        if (Trajectory == TrajectoryKind.Recorded && Steps % Epochs != 0)
        {
            throw new SettingsException(string.Create(CultureInfo.InvariantCulture,
                $"--trajectory recorded has one checkpoint per epoch ({Epochs} segments); --steps {Steps} must be a multiple of {Epochs}."));
        }

        if (ValidationFraction is <= 0 or >= 1)
        {
            throw new SettingsException("--validation-fraction must be between 0 and 1 (exclusive).");
        }

        if (DataDirectory is not null && !MnistFormat.Exists(DataDirectory))
        {
            throw new SettingsException($"--data {DataDirectory}: no MNIST-format files there (train-images-idx3-ubyte[.gz], train-labels-idx1-ubyte[.gz], t10k-images-idx3-ubyte[.gz], t10k-labels-idx1-ubyte[.gz]).");
        }
    }
}

/// <summary>A setting or combination of settings that cannot run; the message is meant for the user.</summary>
public sealed class SettingsException : Exception
{
    /// <summary>Creates the exception.</summary>
    public SettingsException()
    {
    }

    /// <summary>Creates the exception with a message for the user.</summary>
    /// <param name="message">What is wrong and how to fix it.</param>
    public SettingsException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with a message and a cause.</summary>
    /// <param name="message">What is wrong.</param>
    /// <param name="innerException">The cause.</param>
    public SettingsException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
