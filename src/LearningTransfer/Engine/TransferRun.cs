using System.Diagnostics;
using Microsoft.Extensions.Logging;
using TrajectoryTransfer.Permutations;
using static TorchSharp.torch;

namespace TrajectoryTransfer;

/// <summary>
/// Everything one run of a transfer needs, travelling as one object: settings, spec, the source as read, the module
/// forward and backward passes run in, the training data, the validation callback, the targets, progress, clock and token.
/// </summary>
internal sealed class TransferRun : IDisposable
{
    private GradientPairs? _pairs;

    public TransferRun(
        TransferOptions options,
        PermutationSpec spec,
        SourceView source,
        Workspace workspace,
        GradientData? data,
        Func<nn.Module<Tensor, Tensor>, double>? validation,
        IReadOnlyList<ParameterSet> initializations,
        IReadOnlyList<ParameterSet>? trainedTargets,
        IProgress<TransferProgress>? progress,
        CancellationToken cancellationToken)
    {
        Options = options;
        Spec = spec;
        Source = source;
        Workspace = workspace;
        Data = data;
        Validation = validation;
        TrainedTargets = trainedTargets;
        Progress = progress;
        CancellationToken = cancellationToken;
        Targets = initializations.Select((init, i) => new TargetState(i, init, Permutation.Identity(spec))).ToArray();
        MatchingOptions = options.Matching with { Seed = options.Matching.Seed + options.Seed };
        Logger = options.LoggerFactory.CreateLogger("TrajectoryTransfer.LearningTransfer");
    }

    public TransferOptions Options { get; }

    public PermutationSpec Spec { get; }

    public SourceView Source { get; }

    public Workspace Workspace { get; }

    /// <summary>The training data; present whenever the method takes gradients or the model has BatchNorm.</summary>
    public GradientData? Data { get; }

    public Func<nn.Module<Tensor, Tensor>, double>? Validation { get; }

    /// <summary>The actually trained targets (Oracle only), one per target, on the device.</summary>
    public IReadOnlyList<ParameterSet>? TrainedTargets { get; }

    public IProgress<TransferProgress>? Progress { get; }

    public CancellationToken CancellationToken { get; }

    public IReadOnlyList<TargetState> Targets { get; }

    /// <summary>The matching settings, with the transfer's seed folded in.</summary>
    public WeightMatchingOptions MatchingOptions { get; }

    public ILogger Logger { get; }

    public Stopwatch Clock { get; } = new();

    /// <summary>T.</summary>
    public int Steps => Source.Steps;

    /// <summary>The data, for a method that takes gradients (the builder guarantees it is there).</summary>
    public GradientData RequiredData => Data ?? throw new InvalidOperationException("This method takes gradients but the run has no training data.");

    /// <summary>The run's gradient pairs (made on first use: only gradient-matching methods need them).</summary>
    public GradientPairs Pairs => _pairs ??= new GradientPairs(this);

    /// <summary>A new, empty matching problem with the run's settings.</summary>
    public WeightMatchingProblem NewProblem() => new(Spec, MatchingOptions);

    /// <summary>Reports a progress event stamped with the run's clock.</summary>
    public void Report(int step, TransferPhase phase, int target, int targets, double? objective = null, double? score = null) =>
        Progress?.Report(new TransferProgress(step, Steps, phase, target, targets, objective, score, Clock.Elapsed));

    /// <summary>Per-sweep matching progress of one target, forwarded as <see cref="TransferPhase.Matching"/> events (null without a progress sink).</summary>
    public IProgress<WeightMatchingProgress>? MatchingProgress(int step, int target) =>
        Progress is null ? null : new SyncProgress<WeightMatchingProgress>(p => Report(step, TransferPhase.Matching, target, Targets.Count, p.Objective));

    /// <summary>Releases the kept minibatches and source gradients.</summary>
    public void Dispose() => _pairs?.Dispose();

    /// <summary>Reports synchronously on the calling thread (Progress&lt;T&gt; would post to a thread pool).</summary>
    private sealed class SyncProgress<T>(Action<T> report) : IProgress<T>
    {
        public void Report(T value) => report(value);
    }
}
