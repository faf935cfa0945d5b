namespace TrajectoryTransfer.Samples.Cli;

/// <summary>The network the sample trains and transfers.</summary>
public enum ModelKind
{
    /// <summary>784 → width → 10 ReLU MLP with biases.</summary>
    Mlp,

    /// <summary>784 → width → 10 with no bias and no activation (the paper authors' MNIST model).</summary>
    LinearMlp,

    /// <summary>A small VGG-style Conv4 network with BatchNorm (first stage <c>width</c> channels).</summary>
    Conv,

    /// <summary>The paper authors' Conv8 (no BatchNorm), every width scaled by <c>--width-factor</c>; 28×28 images padded to 32×32.</summary>
    Conv8,

    /// <summary>Conv8 with a BatchNorm2d after each of its eight convolutions.</summary>
    Conv8BatchNorm,
}

/// <summary>Which of the paper's two settings the sample runs.</summary>
public enum Scenario
{
    /// <summary>Transfer a training run from one random initialization to another (and build ensembles).</summary>
    Random,

    /// <summary>Transfer a fine-tuning run (classes 5–9) from one pre-trained model (classes 0–4) to another.</summary>
    Pretrained,
}

/// <summary>Which source trajectory is transferred.</summary>
public enum TrajectoryKind
{
    /// <summary>The straight line from the source's initialization to its final parameters, walked by the schedule (the paper's default).</summary>
    Linear,

    /// <summary>The checkpoints recorded after every epoch, each segment subdivided by the schedule.</summary>
    Recorded,
}

/// <summary>Command-line spellings of the choices.</summary>
public static class Choices
{
    /// <summary>The spelling of each model kind.</summary>
    public static IReadOnlyDictionary<string, ModelKind> Models { get; } = new Dictionary<string, ModelKind>(StringComparer.OrdinalIgnoreCase)
    {
        ["mlp"] = ModelKind.Mlp,
        ["linear-mlp"] = ModelKind.LinearMlp,
        ["conv"] = ModelKind.Conv,
        ["conv8"] = ModelKind.Conv8,
        ["conv8-bn"] = ModelKind.Conv8BatchNorm,
    };

    /// <summary>The spelling of each scenario.</summary>
    public static IReadOnlyDictionary<string, Scenario> Scenarios { get; } = new Dictionary<string, Scenario>(StringComparer.OrdinalIgnoreCase)
    {
        ["random"] = Scenario.Random,
        ["pretrained"] = Scenario.Pretrained,
    };

    /// <summary>The spelling of each trajectory kind.</summary>
    public static IReadOnlyDictionary<string, TrajectoryKind> Trajectories { get; } = new Dictionary<string, TrajectoryKind>(StringComparer.OrdinalIgnoreCase)
    {
        ["linear"] = TrajectoryKind.Linear,
        ["recorded"] = TrajectoryKind.Recorded,
    };

    /// <summary>The spelling of each transfer method.</summary>
    public static IReadOnlyDictionary<string, TransferMethod> Methods { get; } = new Dictionary<string, TransferMethod>(StringComparer.OrdinalIgnoreCase)
    {
        ["gmt"] = TransferMethod.Gmt,
        ["fgmt"] = TransferMethod.Fgmt,
        ["naive"] = TransferMethod.Naive,
        ["oracle"] = TransferMethod.Oracle,
    };

    /// <summary>The report key of a method (<c>gmt</c>, <c>fgmt</c>, <c>naive</c>, <c>oracle</c>).</summary>
    /// <param name="method">The method.</param>
    public static string Key(TransferMethod method) => Methods.First(kv => kv.Value == method).Key;

    /// <summary>The command-line spelling of a model kind.</summary>
    /// <param name="model">The model kind.</param>
    public static string Key(ModelKind model) => Models.First(kv => kv.Value == model).Key;

    /// <summary>The display name of a method.</summary>
    /// <param name="method">The method.</param>
    public static string Display(TransferMethod method) => method switch
    {
        TransferMethod.Gmt => "GMT",
        TransferMethod.Fgmt => "FGMT",
        TransferMethod.Naive => "Naive",
        TransferMethod.Oracle => "Oracle",
        _ => method.ToString(),
    };
}
