using System.CommandLine;
using System.CommandLine.Parsing;

namespace TrajectoryTransfer.Samples.Cli;

/// <summary>The command line: its options, their validation, and the binding to <see cref="SampleSettings"/>.</summary>
public sealed class SampleCommand
{
    private readonly Option<string> _preset = Choice("--preset", "Default settings: quick (a few minutes on 2 CPU cores) or paper (the authors' MNIST setting).", Preset.Names, "quick");
    private readonly Option<string?> _model = Choice("--model", "mlp (ReLU MLP with biases), linear-mlp (no bias, no activation; the paper's) or conv (VGG-style Conv4 with BatchNorm). Default: mlp; linear-mlp with --preset paper.", Choices.Models.Keys);
    private readonly Option<string> _scenario = Choice("--scenario", "random: transfer onto a new random initialization; pretrained: transfer a fine-tuning run (classes 5-9) between two models pre-trained on classes 0-4.", Choices.Scenarios.Keys, "random");
    private readonly Option<string> _methods = new("--methods") { Description = "Comma-separated transfer methods: gmt, fgmt, naive, oracle.", DefaultValueFactory = _ => "gmt,fgmt,naive,oracle" };
    private readonly Option<int?> _steps = Positive("--steps", "T, the number of transfer steps (default 10).");
    private readonly Option<string> _schedule = Choice("--schedule", "The schedule of the trajectory points: cosine (the paper's best) or uniform.", ["cosine", "uniform"], "cosine");
    private readonly Option<string> _trajectory = Choice("--trajectory", "linear: the line from the source's initialization to its end (the paper's); recorded: the per-epoch checkpoints, subdivided.", Choices.Trajectories.Keys, "linear");
    private readonly Option<int?> _gradientBatches = Positive("--gradient-batches", "Minibatches averaged per gradient (default 1).");
    private readonly Option<int?> _batchSize = Positive("--batch-size", "Minibatch size (default 128).");
    private readonly Option<double?> _lr = PositiveReal("--lr", "SGD learning rate for training (quick 0.1, paper 0.01).");
    private readonly Option<double?> _fineTuneLr = PositiveReal("--fine-tune-lr", "SGD learning rate for fine-tuning and the scratch baseline (default: --lr).");
    private readonly Option<int?> _epochs = Positive("--epochs", "Training epochs of the source and of every fully trained model (quick 3, 2 for conv; paper 10).");
    private readonly Option<int?> _fineTuneEpochs = Positive("--fine-tune-epochs", "Fine-tuning epochs after a transfer, and epochs of the scratch baseline (quick 2, 1 for conv; paper 3).");
    private readonly Option<int?> _width = Positive("--width", "Hidden width of the MLPs, or first-stage channels of conv (quick 512 / 16, paper 4096 / 64).");
    private readonly Option<int?> _ensemble = NonNegative("--ensemble-members", "Members of each ensemble; 0 skips the ensemble experiment (default 3; quick conv 2).");
    private readonly Option<int?> _trainLimit = Positive("--train-limit", "Use at most this many training examples, validation included (quick 12000, 6000 for conv; paper all).");
    private readonly Option<int?> _testLimit = Positive("--test-limit", "Use at most this many test examples (default all; 2000 for conv with --preset quick).");
    private readonly Option<double?> _validationFraction = PositiveReal("--validation-fraction", "Fraction of the training examples held out for validation (default 0.1).");
    private readonly Option<string?> _normalize = Choice("--normalize", "Input normalisation: none (pixel/255) or mnist ((pixel/255 - 0.1307) / 0.3081). Default: none; mnist with --preset paper.", ["none", "mnist"]);
    private readonly Option<int> _seed = new("--seed") { Description = "Seeds initializations, data order and matching.", DefaultValueFactory = _ => 1 };
    private readonly Option<string> _device = new("--device") { Description = "cpu, cuda or cuda:N. Every model and tensor is created there.", DefaultValueFactory = _ => "cpu" };
    private readonly Option<string?> _data = new("--data") { Description = "An MNIST-format folder (28x28, 10 classes). Default: /usr/share/datasets/fashion-mnist if installed, else the embedded 6k/2k subset." };
    private readonly Option<string> _out = new("--out") { Description = "Where report.json and the plots go.", DefaultValueFactory = _ => "out" };
    private readonly Option<int?> _curvePoints = Positive("--curve-points", "Points α in [0, 1] on each mode-connectivity line (default 11).");
    private readonly Option<int?> _curveExamples = Positive("--curve-examples", "Test examples for the mode-connectivity losses (quick 2000, 500 for conv; paper all).");
    private readonly Option<int?> _threads = Positive("--threads", "libtorch threads. Default: 1 when the machine is busy (1-minute load average at least the number of cores, where 2 threads measured 10-25 times slower than 1), else libtorch's choice.");

    /// <summary>Creates the root command; <paramref name="run"/> receives the resolved settings and returns the exit code.</summary>
    /// <param name="run">Runs the sample.</param>
    public RootCommand Create(Func<SampleSettings, int> run)
    {
        ArgumentNullException.ThrowIfNull(run);
        var root = new RootCommand(
            "Transfers a network's learning trajectory onto a new initialization without training it (GMT and FGMT from "
            + "\"Transferring Learning Trajectories of Neural Networks\", ICLR 2024), compares with Naive and Oracle, fine-tunes, "
            + "builds ensembles, and writes report.json and plots.");
        Option[] options =
        [
            _preset, _model, _scenario, _methods, _steps, _schedule, _trajectory, _gradientBatches, _batchSize, _lr, _fineTuneLr,
            _epochs, _fineTuneEpochs, _width, _ensemble, _trainLimit, _testLimit, _validationFraction, _normalize, _seed, _device, _data, _out,
            _curvePoints, _curveExamples, _threads,
        ];
        foreach (var option in options)
        {
            root.Options.Add(option);
        }

        _methods.Validators.Add(result =>
        {
            foreach (var name in Split(result.GetValueOrDefault<string>() ?? string.Empty))
            {
                if (!Choices.Methods.ContainsKey(name))
                {
                    result.AddError($"--methods: unknown method '{name}'; use some of {string.Join(", ", Choices.Methods.Keys)}.");
                }
            }
        });
        _validationFraction.Validators.Add(result =>
        {
            if (result.GetValueOrDefault<double?>() is >= 1)
            {
                result.AddError("--validation-fraction must be less than 1.");
            }
        });

        root.SetAction(parseResult => run(Bind(parseResult)));
        return root;
    }

    /// <summary>Resolves the settings of a parsed command line (preset defaults for what it leaves out).</summary>
    /// <param name="parse">A parse result without errors.</param>
    public SampleSettings Bind(ParseResult parse)
    {
        ArgumentNullException.ThrowIfNull(parse);
        var presetName = parse.GetValue(_preset)!.ToLowerInvariant();
        var model = parse.GetValue(_model) is { } m ? Choices.Models[m] : Preset.DefaultModel(presetName);
        var preset = Preset.For(presetName, model);
        var lr = parse.GetValue(_lr) ?? preset.LearningRate;
        var methods = Split(parse.GetValue(_methods) ?? string.Empty).Select(n => Choices.Methods[n]).Distinct().ToArray();
        return new SampleSettings
        {
            Preset = preset.Name,
            Model = model,
            Scenario = Choices.Scenarios[parse.GetValue(_scenario)!],
            Methods = methods,
            Steps = parse.GetValue(_steps) ?? preset.Steps,
            Schedule = parse.GetValue(_schedule)!.ToLowerInvariant(),
            Trajectory = Choices.Trajectories[parse.GetValue(_trajectory)!],
            GradientBatches = parse.GetValue(_gradientBatches) ?? preset.GradientBatches,
            BatchSize = parse.GetValue(_batchSize) ?? preset.BatchSize,
            LearningRate = lr,
            Epochs = parse.GetValue(_epochs) ?? preset.Epochs,
            FineTuneEpochs = parse.GetValue(_fineTuneEpochs) ?? preset.FineTuneEpochs,
            FineTuneLearningRate = parse.GetValue(_fineTuneLr) ?? lr,
            Width = parse.GetValue(_width) ?? preset.Width,
            EnsembleMembers = parse.GetValue(_ensemble) ?? preset.EnsembleMembers,
            TrainLimit = parse.GetValue(_trainLimit) ?? preset.TrainLimit,
            ValidationFraction = parse.GetValue(_validationFraction) ?? preset.ValidationFraction,
            Normalize = parse.GetValue(_normalize)?.ToLowerInvariant() ?? preset.Normalize,
            Seed = parse.GetValue(_seed),
            Device = parse.GetValue(_device)!,
            DataDirectory = parse.GetValue(_data),
            OutputDirectory = parse.GetValue(_out)!,
            CurvePoints = parse.GetValue(_curvePoints) ?? preset.CurvePoints,
            CurveExamples = parse.GetValue(_curveExamples) ?? preset.CurveExamples,
            TestLimit = parse.GetValue(_testLimit) ?? preset.TestLimit,
            Threads = parse.GetValue(_threads),
            Arguments = parse.Tokens.Select(t => t.Value).ToArray(),
        };
    }

    private static string[] Split(string list) =>
        list.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(s => s.ToLowerInvariant()).ToArray();

    private static Option<string> Choice(string name, string description, IEnumerable<string> values, string defaultValue)
    {
        var option = new Option<string>(name) { Description = description, DefaultValueFactory = _ => defaultValue };
        option.AcceptOnlyFromAmong([.. values]);
        return option;
    }

    private static Option<string?> Choice(string name, string description, IEnumerable<string> values)
    {
        var option = new Option<string?>(name) { Description = description };
        option.AcceptOnlyFromAmong([.. values]);
        return option;
    }

    private static Option<int?> Positive(string name, string description)
    {
        var option = new Option<int?>(name) { Description = description };
        option.Validators.Add(result =>
        {
            if (result.GetValueOrDefault<int?>() is < 1)
            {
                result.AddError($"{name} must be at least 1.");
            }
        });
        return option;
    }

    private static Option<int?> NonNegative(string name, string description)
    {
        var option = new Option<int?>(name) { Description = description };
        option.Validators.Add(result =>
        {
            if (result.GetValueOrDefault<int?>() is < 0)
            {
                result.AddError($"{name} must not be negative.");
            }
        });
        return option;
    }

    private static Option<double?> PositiveReal(string name, string description)
    {
        var option = new Option<double?>(name) { Description = description };
        option.Validators.Add(result =>
        {
            if (result.GetValueOrDefault<double?>() is { } value && !(value > 0 && double.IsFinite(value)))
            {
                result.AddError($"{name} must be a positive number.");
            }
        });
        return option;
    }
}
