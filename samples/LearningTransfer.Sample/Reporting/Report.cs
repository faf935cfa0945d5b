namespace TrajectoryTransfer.Samples.Reporting;

// The shape of report.json: a contract. Property names are serialized in camelCase (see ReportJson).

/// <summary>Everything one run measured.</summary>
/// <param name="Scenario">random or pretrained.</param>
/// <param name="Dataset">The data.</param>
/// <param name="Model">The network.</param>
/// <param name="Settings">The settings that ran.</param>
/// <param name="Source">The source run whose trajectory was transferred.</param>
/// <param name="Scratch">Training from the target initialization for the fine-tuning epochs (the baseline of fine-tuning).</param>
/// <param name="Methods">Per method key (gmt, fgmt, naive, oracle).</param>
/// <param name="Ensemble">Transferred versus independently trained ensembles (null when skipped).</param>
/// <param name="ModeConnectivity">Losses along straight lines from each method's parameters.</param>
/// <param name="Machine">Where it ran.</param>
/// <param name="Run">How it was started and how long it took.</param>
public sealed record Report(
    string Scenario,
    DatasetReport Dataset,
    ModelReport Model,
    SettingsReport Settings,
    SourceReport Source,
    ScratchReport Scratch,
    Dictionary<string, MethodReport> Methods,
    EnsembleReport? Ensemble,
    ModeConnectivityReport ModeConnectivity,
    MachineReport Machine,
    RunReport Run);

/// <summary>The data.</summary>
/// <param name="Name">Display name.</param>
/// <param name="Train">Training examples used.</param>
/// <param name="Validation">Held-out validation examples.</param>
/// <param name="Test">Test examples.</param>
/// <param name="Path">The folder read.</param>
/// <param name="Embedded">Whether it is the small subset shipped with the sample.</param>
/// <param name="Classes">The classes of the task transferred to, e.g. 0-9 (5-9 in the pretrained scenario).</param>
public sealed record DatasetReport(string Name, int Train, int Validation, int Test, string Path, bool Embedded, string Classes);

/// <summary>The network.</summary>
/// <param name="Name">Architecture description.</param>
/// <param name="Parameters">Trainable parameters.</param>
/// <param name="Kind">mlp, linear-mlp, conv, conv8 or conv8-bn.</param>
/// <param name="Width">Hidden width or first-stage channels.</param>
/// <param name="PermutationGroups">Groups of hidden units the transfer permutes.</param>
public sealed record ModelReport(string Name, long Parameters, string Kind, int Width, int PermutationGroups);

/// <summary>The settings that ran.</summary>
/// <param name="Steps">T.</param>
/// <param name="Schedule">cosine or uniform.</param>
/// <param name="GradientBatches">Minibatches per gradient.</param>
/// <param name="BatchSize">Minibatch size.</param>
/// <param name="Epochs">Training epochs of the source and of fully trained models.</param>
/// <param name="FineTuneEpochs">Fine-tuning epochs.</param>
/// <param name="Seed">The seed.</param>
/// <param name="Preset">quick, paper or conv.</param>
/// <param name="Trajectory">linear or recorded.</param>
/// <param name="LearningRate">Training learning rate.</param>
/// <param name="FineTuneLearningRate">Fine-tuning learning rate.</param>
/// <param name="Methods">The methods run.</param>
/// <param name="EnsembleMembers">Ensemble size.</param>
/// <param name="TrainLimit">Training examples cap before the validation split (null: none).</param>
/// <param name="ValidationFraction">Held-out fraction.</param>
/// <param name="Device">The TorchSharp device.</param>
/// <param name="Normalize">Input normalisation: none (pixel/255) or mnist ((pixel/255 − 0.1307) / 0.3081).</param>
/// <param name="TrainRecipe">How the source, the baseline and pre-trained models were trained.</param>
/// <param name="FineTuneRecipe">How transferred models were fine-tuned.</param>
/// <param name="PretrainEpochs">Pre-training epochs (pretrained scenario).</param>
/// <param name="WidthFactor">Conv8's width factor (null for other models).</param>
/// <param name="ValidationLimit">Validation examples each transfer step was scored on (null: all).</param>
/// <param name="EvaluationsPerEpoch">Test evaluations per training epoch.</param>
/// <param name="BatchNormRefreshBatches">Training batches BatchNorm statistics were recomputed on at each scored transfer step.</param>
/// <param name="NormalizePairs">Whether each gradient pair's matching term was divided by the product of its norms.</param>
public sealed record SettingsReport(
    int Steps,
    string Schedule,
    int GradientBatches,
    int BatchSize,
    int Epochs,
    int FineTuneEpochs,
    int Seed,
    string Preset,
    string Trajectory,
    double LearningRate,
    double FineTuneLearningRate,
    IReadOnlyList<string> Methods,
    int EnsembleMembers,
    int? TrainLimit,
    double ValidationFraction,
    string Device,
    string Normalize,
    string TrainRecipe,
    string FineTuneRecipe,
    int PretrainEpochs,
    double? WidthFactor,
    int? ValidationLimit,
    int EvaluationsPerEpoch,
    int BatchNormRefreshBatches,
    bool NormalizePairs);

/// <summary>The source run.</summary>
/// <param name="TestAccuracy">Test accuracy of the source's final parameters.</param>
/// <param name="TrainSeconds">Wall seconds of its training (evaluation excluded).</param>
/// <param name="ValidationAccuracy">Validation accuracy of its final parameters.</param>
/// <param name="TrajectoryPoints">Checkpoints recorded (initialization and every epoch).</param>
/// <param name="PretrainSeconds">Pretrained scenario: seconds spent pre-training the two models on classes 0-4.</param>
/// <param name="PretrainedTestAccuracy">Pretrained scenario: test accuracy of the pre-trained source and target on classes 0-4.</param>
public sealed record SourceReport(
    double TestAccuracy,
    double TrainSeconds,
    double ValidationAccuracy,
    int TrajectoryPoints,
    double? PretrainSeconds,
    IReadOnlyList<double>? PretrainedTestAccuracy);

/// <summary>
/// The baseline: the target initialization trained for the fine-tuning epochs (random scenario), or fine-tuned directly
/// (pretrained scenario).
/// </summary>
/// <param name="TestAccuracyByEpoch">Test accuracy after each epoch.</param>
/// <param name="SecondsPerEpoch">Mean training seconds per epoch.</param>
/// <param name="InitialTestAccuracy">Test accuracy of the initialization itself.</param>
/// <param name="SharedWithOracleTarget">Whether these epochs are the first epochs of the Oracle target's own training (same data order and recipe).</param>
/// <param name="Seconds">Training seconds of the whole baseline (evaluation excluded).</param>
/// <param name="Checkpoints">Every test evaluation with the training seconds spent before it (several per epoch with --evals-per-epoch).</param>
public sealed record ScratchReport(
    IReadOnlyList<double> TestAccuracyByEpoch,
    double SecondsPerEpoch,
    double InitialTestAccuracy,
    bool SharedWithOracleTarget,
    double Seconds,
    IReadOnlyList<CheckpointReport> Checkpoints);

/// <summary>One test evaluation during training or fine-tuning.</summary>
/// <param name="Epoch">Fractional epochs trained so far.</param>
/// <param name="Seconds">Training (or fine-tuning) seconds spent so far, evaluation excluded.</param>
/// <param name="TestAccuracy">Test accuracy at that point.</param>
public sealed record CheckpointReport(double Epoch, double Seconds, double TestAccuracy);

/// <summary>One transfer method.</summary>
/// <param name="TransferredTestAccuracy">Test accuracy of the parameters the method returns (the best validation step's).</param>
/// <param name="BestStep">The step with the best validation accuracy.</param>
/// <param name="BestValidationAccuracy">Its validation accuracy.</param>
/// <param name="FinalValidationAccuracy">Validation accuracy of step T.</param>
/// <param name="ValidationAccuracyByStep">Validation accuracy of steps 1..T.</param>
/// <param name="TransferSeconds">Wall seconds of the transfer.</param>
/// <param name="GradientSeconds">Of which gradients.</param>
/// <param name="AssignmentSeconds">Of which assignment solves.</param>
/// <param name="EvaluationSeconds">Of which BatchNorm refresh and validation.</param>
/// <param name="GradientEvaluations">Forward+backward passes over one minibatch.</param>
/// <param name="FineTuneTestAccuracyByEpoch">Test accuracy after each fine-tuning epoch from the returned parameters.</param>
/// <param name="SimilaritySeconds">Of the transfer, building similarity matrices.</param>
/// <param name="FinalTestAccuracy">Test accuracy of step T's parameters.</param>
/// <param name="FineTuneSecondsPerEpoch">Mean fine-tuning seconds per epoch.</param>
/// <param name="ObjectiveByStep">The matching objective after each step.</param>
/// <param name="SecondsToScratchFinal">
/// Transfer plus fine-tuning seconds until the test accuracy first reaches the baseline's final test accuracy (the
/// transferred parameters count at the transfer's end); null if it never does.
/// </param>
/// <param name="FineTuneCheckpoints">Every test evaluation while fine-tuning, with the fine-tuning seconds spent before it.</param>
/// <param name="PeakRssBytes">The process's peak resident memory during the transfer (Linux; null elsewhere).</param>
/// <param name="CacheBytes">Bytes the transfer kept for its matching (FGMT's pairs; GMT's kept source gradients and per-step problem).</param>
public sealed record MethodReport(
    double TransferredTestAccuracy,
    int BestStep,
    double BestValidationAccuracy,
    double FinalValidationAccuracy,
    IReadOnlyList<double> ValidationAccuracyByStep,
    double TransferSeconds,
    double GradientSeconds,
    double AssignmentSeconds,
    double EvaluationSeconds,
    int GradientEvaluations,
    IReadOnlyList<double> FineTuneTestAccuracyByEpoch,
    double SimilaritySeconds,
    double FinalTestAccuracy,
    double FineTuneSecondsPerEpoch,
    IReadOnlyList<double> ObjectiveByStep,
    double? SecondsToScratchFinal,
    IReadOnlyList<CheckpointReport> FineTuneCheckpoints,
    long? PeakRssBytes,
    long CacheBytes);

/// <summary>Ensembles of transferred members versus independently trained ones.</summary>
/// <param name="Members">K.</param>
/// <param name="Transferred">FGMT onto K initializations in one run (shared source gradients), then short fine-tuning.</param>
/// <param name="Independent">K members each trained for the full schedule.</param>
/// <param name="Note">What the seconds include.</param>
public sealed record EnsembleReport(int Members, EnsembleSideReport Transferred, EnsembleSideReport Independent, string Note);

/// <summary>One kind of ensemble.</summary>
/// <param name="TestAccuracy">Test accuracy of the averaged softmax.</param>
/// <param name="Seconds">Wall seconds to produce all members (transfer and training; evaluation excluded).</param>
/// <param name="MemberTestAccuracies">Each member's own test accuracy.</param>
/// <param name="Epochs">Training epochs per member.</param>
public sealed record EnsembleSideReport(double TestAccuracy, double Seconds, IReadOnlyList<double> MemberTestAccuracies, int Epochs);

/// <summary>Losses along straight lines from each method's transferred parameters.</summary>
/// <param name="Alphas">α from 0 (the transferred parameters) to 1 (the other end).</param>
/// <param name="Split">Where the loss is measured.</param>
/// <param name="Examples">How many examples.</param>
/// <param name="Methods">Per method key.</param>
public sealed record ModeConnectivityReport(IReadOnlyList<double> Alphas, string Split, int Examples, Dictionary<string, CurvesReport> Methods);

/// <summary>The two lines of one method.</summary>
/// <param name="ToPermutedSource">Loss from the transferred parameters to π(θ₁ᵀ), the source's final parameters under the method's permutation.</param>
/// <param name="ToTrainedTarget">Loss from the transferred parameters to the target actually trained from the same initialization.</param>
/// <param name="BarrierToPermutedSource">Loss barrier of the first line.</param>
/// <param name="BarrierToTrainedTarget">Loss barrier of the second line.</param>
public sealed record CurvesReport(IReadOnlyList<double?> ToPermutedSource, IReadOnlyList<double?> ToTrainedTarget, double? BarrierToPermutedSource, double? BarrierToTrainedTarget);

/// <summary>Where the run happened.</summary>
/// <param name="Cores">Logical processors.</param>
/// <param name="Os">Operating system.</param>
/// <param name="Framework">.NET runtime.</param>
/// <param name="Architecture">Process architecture.</param>
/// <param name="TorchThreads">libtorch intra-op threads.</param>
/// <param name="LoadAverage">1, 5 and 15-minute load averages at the start (Linux), to judge the timings on a shared machine.</param>
public sealed record MachineReport(int Cores, string Os, string Framework, string Architecture, int TorchThreads, IReadOnlyList<double>? LoadAverage);

/// <summary>How the run was started.</summary>
/// <param name="CommandLine">The command line.</param>
/// <param name="Arguments">The arguments.</param>
/// <param name="StartedUtc">Start time (UTC, ISO 8601).</param>
/// <param name="WallSeconds">Wall seconds from start to the report.</param>
public sealed record RunReport(string CommandLine, IReadOnlyList<string> Arguments, string StartedUtc, double WallSeconds);
