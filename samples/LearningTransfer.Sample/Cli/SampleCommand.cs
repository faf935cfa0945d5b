using System.CommandLine;
using System.CommandLine.Parsing;
using TrajectoryTransfer.Samples.Experiments;

namespace TrajectoryTransfer.Samples.Cli;

/// <summary>The command line: its options, their validation, and the binding to <see cref="SampleSettings"/>.</summary>
public sealed class SampleCommand
{
    private readonly Option<string> _preset = Choice("--preset", "Default settings: quick (a few minutes on 2 CPU cores), paper (the authors' MNIST setting) or conv (the authors' Conv8 recipe sized for 2 CPU cores).", Preset.Names, "quick");
    private readonly Option<string?> _model = Choice("--model", "mlp (ReLU MLP with biases), linear-mlp (no bias, no activation; the paper's), conv (VGG-style Conv4 with BatchNorm), conv8 (the authors' Conv8) or conv8-bn (Conv8 with BatchNorm). Default: mlp; linear-mlp with --preset paper; conv8-bn with --preset conv.", Choices.Models.Keys);
    private readonly Option<string> _scenario = Choice("--scenario", "random: transfer onto a new random initialization; pretrained: transfer a fine-tuning run (classes 5-9) between two models pre-trained on classes 0-4.", Choices.Scenarios.Keys, "random");
    private readonly Option<string?> _methods = new("--methods") { Description = "Comma-separated transfer methods: gmt, fgmt, naive, oracle (default all four; gmt,fgmt,naive in the conv preset's random scenario)." };
    private readonly Option<int?> _steps = Positive("--steps", "T, the number of transfer steps (default 10; conv preset 30, 15 in the pretrained scenario).");
    private readonly Option<string> _schedule = Choice("--schedule", "The schedule of the trajectory points: cosine (the paper's best) or uniform.", ["cosine", "uniform"], "cosine");
    private readonly Option<string> _trajectory = Choice("--trajectory", "linear: the line from the source's initialization to its end (the paper's); recorded: the per-epoch checkpoints, subdivided.", Choices.Trajectories.Keys, "linear");
    private readonly Option<int?> _gradientBatches = Positive("--gradient-batches", "Minibatches averaged per gradient (default 1).");
    private readonly Option<int?> _batchSize = Positive("--batch-size", "Minibatch size (default 128).");
    private readonly Option<double?> _lr = PositiveReal("--lr", "Learning rate of training: the source, the baseline, pre-training (quick 0.1, paper 0.01, conv 0.05).");
    private readonly Option<double?> _momentum = NonNegativeReal("--momentum", "SGD momentum of training and SGD fine-tuning (quick 0; paper and conv 0.9, the authors').");
    private readonly Option<double?> _weightDecay = NonNegativeReal("--weight-decay", "Weight decay of training (quick and paper 0; conv 1e-4).");
    private readonly Option<string?> _lrSchedule = Choice("--lr-schedule", "Learning rate schedule of training: constant or cosine (conv: cosine).", ["constant", "cosine"]);
    private readonly Option<string?> _crops = Choice("--random-crops", "4-pixel-padded random crops while training and fine-tuning: on or off (conv: on).", ["on", "off"]);
    private readonly Option<string?> _fineTuneOptimizer = Choice("--fine-tune-optimizer", "Optimizer of fine-tuning after a transfer: sgd (the training recipe's) or adamw (conv: adamw, the authors').", ["sgd", "adamw"]);
    private readonly Option<string?> _fineTuneSchedule = Choice("--fine-tune-schedule", "Learning rate schedule of fine-tuning after a transfer: constant or cosine (annealed to 0 over the fine-tuning epochs, no warmup; default constant).", ["constant", "cosine"]);
    private readonly Option<double?> _fineTuneLr = PositiveReal("--fine-tune-lr", "Learning rate of fine-tuning after a transfer (default: --lr with sgd, 1e-4 with adamw).");
    private readonly Option<int?> _pretrainEpochs = Positive("--pretrain-epochs", "Pretrained scenario: pre-training epochs of the two initializations (default: --epochs).");
    private readonly Option<double?> _widthFactor = PositiveReal("--width-factor", "Conv8: the factor every width is scaled by (1 = the authors' 64 ... 512 channels; default 0.25, conv preset 0.125).");
    private readonly Option<int?> _validationLimit = Positive("--validation-limit", "Score each transfer step on at most this many validation examples (default all; conv preset 500).");
    private readonly Option<bool> _normalizePairs = new("--normalize-pairs") { Description = "Divide each gradient pair's matching term by the product of its norms (WeightMatchingOptions.Normalize), so that every layer and every step weighs alike." };
    private readonly Option<int?> _batchNormRefresh = NonNegative("--batch-norm-refresh", "Models with BatchNorm: training batches its statistics are recomputed on at each scored transfer step (default 10; conv preset 3).");
    private readonly Option<int?> _evaluations = Positive("--evals-per-epoch", "Test evaluations per training and fine-tuning epoch, for finer time-to-accuracy curves (default 1; 4 with --preset conv --scenario pretrained).");
    private readonly Option<int?> _epochs = Positive("--epochs", "Training epochs of the source and of every fully trained model (quick 3, 2 for conv; paper 10; conv preset 6, 4 in the pretrained scenario).");
    private readonly Option<int?> _fineTuneEpochs = Positive("--fine-tune-epochs", "Fine-tuning epochs after a transfer, and epochs of the baseline (quick 2, 1 for conv; paper 3; conv preset 6, 4 in the pretrained scenario, as many as the source).");
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
    private readonly Option<int?> _threads = Positive("--threads", "libtorch threads. Default: the cores other processes leave free, measured over 1 s at the start (libtorch's threads stall when one shares its core), else libtorch's choice.");

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
            _preset, _model, _scenario, _methods, _steps, _schedule, _trajectory, _gradientBatches, _batchSize, _lr, _momentum, _weightDecay,
            _lrSchedule, _crops, _fineTuneOptimizer, _fineTuneSchedule, _fineTuneLr, _epochs, _pretrainEpochs, _fineTuneEpochs, _width, _widthFactor, _ensemble,
            _trainLimit, _testLimit, _validationFraction, _validationLimit, _batchNormRefresh, _normalizePairs, _normalize, _seed, _device, _data, _out, _curvePoints, _curveExamples,
            _evaluations, _threads,
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
        var scenario = Choices.Scenarios[parse.GetValue(_scenario)!];
        var preset = Preset.For(presetName, model, scenario);
        var methods = Split(parse.GetValue(_methods) ?? preset.Methods).Select(n => Choices.Methods[n]).Distinct().ToArray();
        var epochs = parse.GetValue(_epochs) ?? preset.Epochs;
        var train = preset.TrainRecipe with
        {
            LearningRate = parse.GetValue(_lr) ?? preset.TrainRecipe.LearningRate,
            Momentum = parse.GetValue(_momentum) ?? preset.TrainRecipe.Momentum,
            WeightDecay = parse.GetValue(_weightDecay) ?? preset.TrainRecipe.WeightDecay,
            Schedule = parse.GetValue(_lrSchedule) is { } schedule ? ScheduleNamed(schedule) : preset.TrainRecipe.Schedule,
            RandomCrops = parse.GetValue(_crops) is { } crops ? crops == "on" : preset.TrainRecipe.RandomCrops,
        };
        var fineTuneOptimizer = parse.GetValue(_fineTuneOptimizer) ?? (preset.FineTuneRecipe.Optimizer == OptimizerKind.AdamW ? "adamw" : "sgd");
        var fineTune = fineTuneOptimizer == "adamw"
            ? TrainingRecipe.AuthorsFineTune(train.RandomCrops)
            : train with { Schedule = LearningRateSchedule.Constant, WarmupEpochs = 0 };
        fineTune = fineTune with
        {
            LearningRate = parse.GetValue(_fineTuneLr) ?? fineTune.LearningRate,
            Schedule = parse.GetValue(_fineTuneSchedule) is { } fineTuneSchedule ? ScheduleNamed(fineTuneSchedule) : fineTune.Schedule,
        };
        return new SampleSettings
        {
            Preset = preset.Name,
            Model = model,
            Scenario = scenario,
            Methods = methods,
            Steps = parse.GetValue(_steps) ?? preset.Steps,
            Schedule = parse.GetValue(_schedule)!.ToLowerInvariant(),
            Trajectory = Choices.Trajectories[parse.GetValue(_trajectory)!],
            GradientBatches = parse.GetValue(_gradientBatches) ?? preset.GradientBatches,
            BatchSize = parse.GetValue(_batchSize) ?? preset.BatchSize,
            TrainRecipe = train,
            FineTuneRecipe = fineTune,
            Epochs = epochs,
            PretrainEpochs = parse.GetValue(_pretrainEpochs) ?? (parse.GetValue(_epochs) is not null ? epochs : preset.PretrainEpochs ?? epochs),
            FineTuneEpochs = parse.GetValue(_fineTuneEpochs) ?? preset.FineTuneEpochs,
            Width = parse.GetValue(_width) ?? preset.Width,
            WidthFactor = parse.GetValue(_widthFactor) ?? preset.WidthFactor,
            EnsembleMembers = parse.GetValue(_ensemble) ?? preset.EnsembleMembers,
            TrainLimit = parse.GetValue(_trainLimit) ?? preset.TrainLimit,
            ValidationFraction = parse.GetValue(_validationFraction) ?? preset.ValidationFraction,
            ValidationLimit = parse.GetValue(_validationLimit) ?? preset.ValidationLimit,
            BatchNormRefreshBatches = parse.GetValue(_batchNormRefresh) ?? preset.BatchNormRefreshBatches ?? 10,
            NormalizePairs = parse.GetValue(_normalizePairs),
            Normalize = parse.GetValue(_normalize)?.ToLowerInvariant() ?? preset.Normalize,
            Seed = parse.GetValue(_seed),
            Device = parse.GetValue(_device)!,
            DataDirectory = parse.GetValue(_data),
            OutputDirectory = parse.GetValue(_out)!,
            CurvePoints = parse.GetValue(_curvePoints) ?? preset.CurvePoints,
            CurveExamples = parse.GetValue(_curveExamples) ?? preset.CurveExamples,
            TestLimit = parse.GetValue(_testLimit) ?? preset.TestLimit,
            EvaluationsPerEpoch = parse.GetValue(_evaluations) ?? preset.EvaluationsPerEpoch,
            Threads = parse.GetValue(_threads),
            Arguments = parse.Tokens.Select(t => t.Value).ToArray(),
        };
    }

    private static string[] Split(string list) =>
        list.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(s => s.ToLowerInvariant()).ToArray();

    /// <summary>The schedule a <c>--lr-schedule</c> or <c>--fine-tune-schedule</c> value names (validated by its option).</summary>
    private static LearningRateSchedule ScheduleNamed(string name) => name == "cosine" ? LearningRateSchedule.Cosine : LearningRateSchedule.Constant;

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

    private static Option<double?> NonNegativeReal(string name, string description)
    {
        var option = new Option<double?>(name) { Description = description };
        option.Validators.Add(result =>
        {
            if (result.GetValueOrDefault<double?>() is { } value && !(value >= 0 && double.IsFinite(value)))
            {
                result.AddError($"{name} must be a number, at least 0.");
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
