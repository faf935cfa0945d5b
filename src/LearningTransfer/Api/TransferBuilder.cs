using Microsoft.Extensions.Logging;
using TorchSharp;
using TrajectoryTransfer.Internal;
using TrajectoryTransfer.Permutations;
using TrajectoryTransfer.Trajectories;
using static TorchSharp.torch;

namespace TrajectoryTransfer;

/// <summary>
/// Fluent configuration of a transfer, started by <see cref="LearningTransfer.Transfer(ITrajectory, nn.Module{Tensor, Tensor})"/>.
/// <see cref="Build"/> validates everything and returns an immutable, reusable <see cref="TrajectoryTransferer"/>;
/// <see cref="Run"/> builds and runs in one call.
/// </summary>
public sealed class TransferBuilder
{
    private readonly ITrajectory _source;
    private readonly TransferTarget[] _targets;
    private TransferOptions _options = new();
    private bool _configured;
    private PermutationSpec? _spec;
    private GradientDataFactory? _data;
    private Func<nn.Module<Tensor, Tensor>, double>? _validation;
    private nn.Module<Tensor, Tensor>? _model;
    private IReadOnlyList<ParameterSet>? _trained;

    internal TransferBuilder(ITrajectory source, TransferTarget[] targets)
    {
        _source = source;
        _targets = targets;
    }

    /// <summary>Chooses the method (the default is <see cref="TransferMethod.Fgmt"/>). Oracle also needs <see cref="WithTrainedTargets(nn.Module[])"/>.</summary>
    /// <param name="method">The method.</param>
    public TransferBuilder WithMethod(TransferMethod method)
    {
        _options = Configure(_options with { Method = method });
        return this;
    }

    /// <summary>Uses GMT.</summary>
    public TransferBuilder UseGmt() => WithMethod(TransferMethod.Gmt);

    /// <summary>Uses FGMT.</summary>
    public TransferBuilder UseFgmt() => WithMethod(TransferMethod.Fgmt);

    /// <summary>Uses the Naive baseline (identity permutation).</summary>
    public TransferBuilder UseNaive() => WithMethod(TransferMethod.Naive);

    /// <summary>Uses the Oracle baseline with actually trained targets, one per new initialization, in the same order.</summary>
    /// <param name="trainedTargets">The targets after training from the new initializations.</param>
    /// <exception cref="ArgumentNullException"><paramref name="trainedTargets"/> is null.</exception>
    public TransferBuilder UseOracle(params nn.Module[] trainedTargets) => WithTrainedTargets(trainedTargets).WithMethod(TransferMethod.Oracle);

    /// <summary>Gives the actually trained targets the Oracle baseline needs (copied now).</summary>
    /// <param name="trainedTargets">One module per new initialization, in the same order.</param>
    /// <exception cref="ArgumentNullException"><paramref name="trainedTargets"/> is null.</exception>
    public TransferBuilder WithTrainedTargets(params nn.Module[] trainedTargets)
    {
        ArgumentNullException.ThrowIfNull(trainedTargets);
        _trained = trainedTargets.Select(m => ParameterSet.FromModule(m ?? throw new ArgumentNullException(nameof(trainedTargets))).DetachFromDisposeScope()).ToArray();
        return this;
    }

    /// <summary>Sets T and the λ schedule (see <see cref="TransferOptions.Steps"/> for how each kind of source uses them).</summary>
    /// <param name="steps">T, at least 1.</param>
    /// <param name="schedule">The schedule; the default is cosine.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="steps"/> is less than 1 or more than <see cref="TrajectorySchedule.MaxSteps"/>.</exception>
    public TransferBuilder WithSteps(int steps, TrajectorySchedule? schedule = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(steps, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(steps, TrajectorySchedule.MaxSteps);
        _options = Configure(_options with { Steps = steps, Schedule = schedule ?? _options.Schedule });
        return this;
    }

    /// <summary>
    /// Uses this permutation spec (otherwise it is inferred from the model; see <see cref="PermutationSpecInference"/>). Before
    /// the transfer starts, the spec is checked to be a symmetry of the model on one training minibatch (cheap: two gradient
    /// evaluations; see <see cref="TransferOptions.VerifySpec"/>).
    /// </summary>
    /// <param name="spec">The spec.</param>
    /// <param name="verify">Whether to check the spec first; the default is <see langword="true"/>.</param>
    /// <exception cref="ArgumentNullException"><paramref name="spec"/> is null.</exception>
    public TransferBuilder WithSpec(PermutationSpec spec, bool verify = true)
    {
        ArgumentNullException.ThrowIfNull(spec);
        _spec = spec;
        _options = Configure(_options with { VerifySpec = verify });
        return this;
    }

    /// <summary>
    /// Training data as (input, label) minibatches and a loss of (model output, label). Each drawn batch is copied to the
    /// transfer's device (once, for the source and every target), so loaders that dispose a batch when they move on work.
    /// </summary>
    /// <param name="batches">The minibatches, read cyclically; a shuffling loader reshuffles on each pass.</param>
    /// <param name="loss">The loss, for example <c>(output, label) =&gt; nn.functional.cross_entropy(output, label)</c>.</param>
    /// <exception cref="ArgumentNullException">An argument is null.</exception>
    public TransferBuilder WithData(IEnumerable<(Tensor Input, Tensor Label)> batches, Func<Tensor, Tensor, Tensor> loss)
    {
        ArgumentNullException.ThrowIfNull(batches);
        ArgumentNullException.ThrowIfNull(loss);
        _data = new GradientDataFactory(
            device => GradientData.Create(
                batches,
                (nn.Module<Tensor, Tensor> model, (Tensor Input, Tensor Label) b) => loss(model.forward(b.Input), b.Label),
                b => CopyBatch(b, device)),
            () => batches.Select(b => b.Input).FirstOrDefault());
        return this;
    }

    /// <summary>Training data from a TorchSharp <c>DataLoader</c> (dictionaries of tensors) and a loss of (model output, label).</summary>
    /// <param name="loader">The loader.</param>
    /// <param name="loss">The loss of (output, label).</param>
    /// <param name="inputKey">The key of the input tensor; the default is <c>"data"</c>.</param>
    /// <param name="labelKey">The key of the label tensor; the default is <c>"label"</c>.</param>
    /// <exception cref="ArgumentNullException">An argument is null.</exception>
    public TransferBuilder WithData(IEnumerable<Dictionary<string, Tensor>> loader, Func<Tensor, Tensor, Tensor> loss, string inputKey = "data", string labelKey = "label")
    {
        ArgumentNullException.ThrowIfNull(loader);
        ArgumentNullException.ThrowIfNull(loss);
        ArgumentNullException.ThrowIfNull(inputKey);
        ArgumentNullException.ThrowIfNull(labelKey);
        return WithData(loader.Select(d => (Key(d, inputKey), Key(d, labelKey))), loss);
    }

    /// <summary>Training data of any shape, with a loss that runs the model on a batch itself (for models with several inputs, or custom losses).</summary>
    /// <typeparam name="TBatch">The batch type.</typeparam>
    /// <param name="batches">The minibatches, read cyclically.</param>
    /// <param name="loss">Runs the model on a batch and returns the scalar loss; it must move the batch to the model's device.</param>
    /// <param name="copy">
    /// Copies a batch as it is drawn (tensors made in it are disposed by the library when the batch is no longer needed).
    /// Needed when the enumerable disposes a batch when it moves to the next, as TorchSharp's <c>DataLoader</c> does, and
    /// more than one batch is alive at once (several minibatches per gradient, or BatchNorm refresh). Null uses batches as given.
    /// </param>
    /// <exception cref="ArgumentNullException">An argument is null.</exception>
    public TransferBuilder WithData<TBatch>(IEnumerable<TBatch> batches, Func<nn.Module<Tensor, Tensor>, TBatch, Tensor> loss, Func<TBatch, TBatch>? copy = null)
        where TBatch : notnull
    {
        ArgumentNullException.ThrowIfNull(batches);
        ArgumentNullException.ThrowIfNull(loss);
        _data = new GradientDataFactory(_ => GradientData.Create(batches, loss, copy), () => null);
        return this;
    }

    /// <summary>Minibatches averaged per gradient (the paper's gm_iters; default 1).</summary>
    /// <param name="batches">At least 1.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="batches"/> is not positive.</exception>
    public TransferBuilder WithGradientBatches(int batches)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(batches);
        _options = Configure(_options with { GradientBatches = batches });
        return this;
    }

    /// <summary>Training batches used to recompute BatchNorm statistics (default 10), and whether to also refresh before each gradient pair (default no; see <see cref="TransferOptions.RefreshBatchNormBeforeGradients"/>).</summary>
    /// <param name="batches">At least 0.</param>
    /// <param name="beforeGradients">Refresh before each gradient pair too.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="batches"/> is negative.</exception>
    public TransferBuilder WithBatchNormRefresh(int batches, bool beforeGradients = false)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(batches);
        _options = Configure(_options with { BatchNormRefreshBatches = batches, RefreshBatchNormBeforeGradients = beforeGradients });
        return this;
    }

    /// <summary>
    /// Scores the transferred parameters at every step (higher is better, e.g. validation accuracy); the result then carries
    /// the best step. The callback receives the model in evaluation mode, under no_grad, with the step's parameters loaded.
    /// When the source is a line (a start and an end), a Linear layer whose input is exactly the same at every step (an MLP's
    /// first layer on fixed validation data) is answered from kept outputs, equal to its computation to float rounding,
    /// and runs on one row only (hooks of your own on that layer see that row); see <see cref="TransferOptions.ScoringCacheBytes"/>.
    /// </summary>
    /// <param name="score">The scoring callback.</param>
    /// <exception cref="ArgumentNullException"><paramref name="score"/> is null.</exception>
    public TransferBuilder WithValidation(Func<nn.Module<Tensor, Tensor>, double> score)
    {
        ArgumentNullException.ThrowIfNull(score);
        _validation = score;
        return this;
    }

    /// <summary>
    /// Scores every step by classification accuracy on (<paramref name="inputs"/>, <paramref name="labels"/>): the share of
    /// examples whose arg-max output is the label, from forward passes in chunks under no_grad. To make validation cheaper,
    /// pass <paramref name="maxExamples"/>: the first that many examples are scored, and the best step is chosen on them
    /// (each step costs one forward pass over them; on a line from a start to an end, a first Linear layer fed these inputs
    /// is replayed from kept outputs instead, see <see cref="TransferOptions.ScoringCacheBytes"/>).
    /// </summary>
    /// <param name="inputs">Validation inputs [N, …] (moved to the model's device chunk by chunk if elsewhere).</param>
    /// <param name="labels">Class indices [N].</param>
    /// <param name="maxExamples">Score only the first this many examples; the default is all.</param>
    /// <param name="batchSize">Examples per forward pass; the default is 1000.</param>
    /// <exception cref="ArgumentNullException">An argument is null.</exception>
    /// <exception cref="ArgumentException">The inputs and labels differ in length, or there is no example.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="maxExamples"/> or <paramref name="batchSize"/> is not positive.</exception>
    public TransferBuilder WithValidationAccuracy(Tensor inputs, Tensor labels, int? maxExamples = null, int batchSize = 1000)
    {
        ArgumentNullException.ThrowIfNull(inputs);
        ArgumentNullException.ThrowIfNull(labels);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(batchSize);
        if (maxExamples is { } max)
        {
            ArgumentOutOfRangeException.ThrowIfNegativeOrZero(max, nameof(maxExamples));
        }

        if (inputs.dim() == 0 || labels.dim() != 1 || inputs.shape[0] != labels.shape[0] || labels.shape[0] == 0)
        {
            throw new ArgumentException(
                $"Validation needs inputs [N, …] and labels [N] with N ≥ 1; they are {ParameterLayout.FormatShape(inputs.shape)} and {ParameterLayout.FormatShape(labels.shape)}.",
                nameof(labels));
        }

        var count = Math.Min(labels.shape[0], maxExamples ?? long.MaxValue);
        return WithValidation(model =>
        {
            var device = Devices.Of(model);
            // Counted on the model's device and read once: one device-to-host sync per step, not one per chunk.
            using var correct = torch.zeros(1, ScalarType.Int64, device);
            for (long start = 0; start < count; start += batchSize)
            {
                using var scope = torch.NewDisposeScope();
                var n = Math.Min(batchSize, count - start);
                var predicted = model.call(inputs.narrow(0, start, n).to(device)).argmax(1);
                correct.add_(predicted.eq(labels.narrow(0, start, n).to(device)).sum());
            }

            return (double)correct.ToInt64() / count;
        });
    }

    /// <summary>Seeds the matching (default 0). The same seed and inputs give the same permutations on CPU.</summary>
    /// <param name="seed">The seed.</param>
    public TransferBuilder WithSeed(int seed)
    {
        _options = Configure(_options with { Seed = seed });
        return this;
    }

    /// <summary>Runs on <paramref name="device"/> (default: the new initialization's device). The model used for forward passes must live there.</summary>
    /// <param name="device">The device.</param>
    /// <exception cref="ArgumentNullException"><paramref name="device"/> is null.</exception>
    public TransferBuilder OnDevice(Device device)
    {
        ArgumentNullException.ThrowIfNull(device);
        _options = Configure(_options with { Device = device });
        return this;
    }

    /// <summary>Uses this assignment solver (default <see cref="AssignmentSolvers.Default"/>).</summary>
    /// <param name="solver">The solver.</param>
    /// <exception cref="ArgumentNullException"><paramref name="solver"/> is null.</exception>
    public TransferBuilder WithSolver(IAssignmentSolver solver)
    {
        ArgumentNullException.ThrowIfNull(solver);
        return WithMatchingOptions(_options.Matching with { Solver = solver });
    }

    /// <summary>Uses these weight matching settings.</summary>
    /// <param name="options">The settings.</param>
    /// <exception cref="ArgumentNullException"><paramref name="options"/> is null.</exception>
    public TransferBuilder WithMatchingOptions(WeightMatchingOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        _options = Configure(_options with { Matching = options });
        return this;
    }

    /// <summary>Sends log messages to <paramref name="loggerFactory"/>.</summary>
    /// <param name="loggerFactory">The logger factory.</param>
    /// <exception cref="ArgumentNullException"><paramref name="loggerFactory"/> is null.</exception>
    public TransferBuilder WithLogger(ILoggerFactory loggerFactory)
    {
        ArgumentNullException.ThrowIfNull(loggerFactory);
        _options = Configure(_options with { LoggerFactory = loggerFactory });
        return this;
    }

    /// <summary>
    /// Replaces all settings at once. Call it first: the <c>With*</c>/<c>Use*</c> calls that follow adjust the given settings,
    /// while settings made before it would be silently lost, so that order is refused.
    /// </summary>
    /// <param name="options">The settings.</param>
    /// <exception cref="ArgumentNullException"><paramref name="options"/> is null.</exception>
    /// <exception cref="InvalidOperationException">A setting was already made on this builder by a <c>With*</c> or <c>Use*</c> call (or an earlier <c>WithOptions</c>).</exception>
    public TransferBuilder WithOptions(TransferOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (_configured)
        {
            throw new InvalidOperationException(
                "WithOptions replaces every setting, and settings were already made on this builder (by With*/Use* or an earlier WithOptions); they would be lost. Call WithOptions first, then adjust with With* calls.");
        }

        _options = Configure(options);
        return this;
    }

    /// <summary>
    /// The module used for forward and backward passes (needed when the new initialization is given as parameters). Its
    /// state is saved before a run and restored after it.
    /// </summary>
    /// <param name="model">A module of the transfer's architecture, on the transfer's device.</param>
    /// <exception cref="ArgumentNullException"><paramref name="model"/> is null.</exception>
    public TransferBuilder WithModel(nn.Module<Tensor, Tensor> model)
    {
        ArgumentNullException.ThrowIfNull(model);
        _model = model;
        return this;
    }

    /// <summary>Validates the configuration and returns an immutable transferer that can run any number of times.</summary>
    /// <exception cref="ArgumentException">The source has fewer than two points; architectures differ (the first differing parameter and shapes are named); the steps do not fit the source; data is missing where the method needs it; the Oracle targets are missing or differ.</exception>
    /// <exception cref="ArgumentOutOfRangeException">A setting is out of range.</exception>
    /// <exception cref="PermutationSpecException">The spec does not cover the model.</exception>
    public TrajectoryTransferer Build()
    {
        _options.Validate();
        foreach (var target in _targets)
        {
            target.ThrowIfDisposed();
        }

        if (_model is not null)
        {
            TransferTarget.ThrowIfDisposed(_model, "model");
        }

        foreach (var trained in _trained ?? [])
        {
            ObjectDisposedException.ThrowIf(trained.IsDisposed, trained);
        }

        if (_source.Count < 2)
        {
            throw new ArgumentException($"The source trajectory has {_source.Count} point(s); a transfer needs at least two (the initialization and a later point).", "source");
        }

        var strategy = TransferStrategy.For(_options.Method);
        var model = _model ?? _targets[0].Module
            ?? throw new ArgumentException("The new initialization was given as parameters: give a module of the same architecture for forward passes with WithModel(model).", "newInit");
        var modelDevice = Devices.Of(model);
        var device = _options.Device ?? _targets[0].Device;
        if (!Devices.Same(modelDevice, device))
        {
            throw new ArgumentException($"The model used for forward passes is on {modelDevice} but the transfer runs on {device}. Move the model there first (module.to(device)), or pass one that is there with WithModel.", "device");
        }

        var modelLayout = ParameterLayout.Of(model);
        // A trajectory may have been recorded without buffers: compare it with the model's parameters and the buffers it has.
        var sourceLayout = _source.Layout;
        var modelParameters = model.named_parameters().Select(p => p.name).ToHashSet(StringComparer.Ordinal);
        var comparable = new ParameterLayout(modelLayout.Entries.Where(e => modelParameters.Contains(e.Name) || sourceLayout.TryGet(e.Name, out _)));
        CheckArchitecture(sourceLayout, "the source trajectory", comparable, "source");
        for (var i = 0; i < _targets.Length; i++)
        {
            CheckArchitecture(_targets[i].Layout, $"new initialization {i}", modelLayout, "newInit");
        }

        if (_spec is not null)
        {
            _spec.Validate(model);
            _spec.Validate(_source.Layout, requireAllCovered: true, requireAllPresent: false, "source");
        }

        if (strategy.TakesGradients && _data is null)
        {
            throw new ArgumentException($"{strategy.Method} takes gradients: give training data and a loss with WithData(...).", "data");
        }

        if (BatchNormStatistics.HasBatchNorm(model) && _data is null && _options.BatchNormRefreshBatches > 0)
        {
            throw new ArgumentException("The model has BatchNorm, whose statistics must be recomputed for the transferred parameters: give training data with WithData(...).", "data");
        }

        if (strategy.NeedsTrainedTargets)
        {
            if (_trained is null || _trained.Count != _targets.Length)
            {
                throw new ArgumentException($"{strategy.Method} needs one actually trained target per new initialization ({_targets.Length}); give them with UseOracle(...) or WithTrainedTargets(...).", "trainedTargets");
            }

            for (var i = 0; i < _trained.Count; i++)
            {
                CheckArchitecture(_trained[i].Layout, $"trained target {i}", modelLayout, "trainedTargets");
            }
        }

        var trajectory = ResolveTrajectory(out var ownsTrajectory);
        return new TrajectoryTransferer(trajectory, ownsTrajectory, strategy, _targets, model, device, _options, _spec, _data, _validation, _trained);
    }

    /// <summary>Builds and runs a single-target transfer.</summary>
    /// <param name="progress">Receives per-step, per-phase and per-sweep events.</param>
    /// <param name="cancellationToken">Honoured between gradient evaluations and solves; the caller's module is left untouched.</param>
    /// <exception cref="InvalidOperationException">Several targets were given: use <see cref="RunAll"/>.</exception>
    /// <exception cref="OperationCanceledException">Cancelled.</exception>
    /// <exception cref="NonFiniteGradientException">A gradient became NaN or infinite.</exception>
    public TransferResult Run(IProgress<TransferProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        using var transferer = Build();
        return transferer.Run(progress, cancellationToken);
    }

    /// <summary>Builds and runs a transfer onto every new initialization, sharing source-side work.</summary>
    /// <param name="progress">Receives per-step, per-phase and per-sweep events.</param>
    /// <param name="cancellationToken">Honoured between gradient evaluations and solves.</param>
    /// <exception cref="OperationCanceledException">Cancelled.</exception>
    public IReadOnlyList<TransferResult> RunAll(IProgress<TransferProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        using var transferer = Build();
        return transferer.RunAll(progress, cancellationToken);
    }

    /// <summary>A drawn (input, label) batch, copied to the transfer's device; a batch without rows is refused.</summary>
    private static (Tensor Input, Tensor Label) CopyBatch((Tensor Input, Tensor Label) batch, Device device)
    {
        ObjectDisposedException.ThrowIf(batch.Input is null || batch.Input.IsInvalid, typeof(Tensor));
        ObjectDisposedException.ThrowIf(batch.Label is null || batch.Label.IsInvalid, typeof(Tensor));
        if (batch.Input.dim() == 0 || batch.Input.shape[0] == 0)
        {
            throw new ArgumentException(
                $"A training batch has no examples (input {ParameterLayout.FormatShape(batch.Input.shape)}); every minibatch needs at least one row.", "data");
        }

        return (batch.Input.detach().to(device, copy: true), batch.Label.detach().to(device, copy: true));
    }

    private static Tensor Key(Dictionary<string, Tensor> batch, string key) =>
        batch.TryGetValue(key, out var t)
            ? t
            : throw new ArgumentException($"A data batch has no entry '{key}'; it has: {string.Join(", ", batch.Keys)}.", "loader");

    /// <summary>Marks the builder as configured (WithOptions afterwards would drop these settings).</summary>
    private TransferOptions Configure(TransferOptions options)
    {
        _configured = true;
        return options;
    }

    /// <summary>The one architecture comparison of a transfer: names and shapes (element types may differ: loading converts them).</summary>
    private static void CheckArchitecture(ParameterLayout layout, string side, ParameterLayout model, string paramName)
    {
        if (layout.FirstDifference(model, side, "the model used for forward passes", ignoreDType: true) is { } difference)
        {
            throw new ArgumentException($"The architectures differ: {difference}.", paramName);
        }
    }

    /// <summary>
    /// The trajectory to transfer: resampled by the source itself to T steps when T is set; otherwise a recorded pair of
    /// points (start and end, no schedule) becomes the paper's 10-step line, and any other source is used as it is.
    /// </summary>
    private ITrajectory ResolveTrajectory(out bool owns)
    {
        ITrajectory resolved = _options.Steps is { } steps
            ? _source.Resample(steps, _options.Schedule)
            : _source.Count == 2 && _source.Schedule is null
                ? _source.Resample(10, _options.Schedule)
                : _source;
        owns = !ReferenceEquals(resolved, _source);
        return resolved;
    }
}

/// <summary>Makes a fresh <see cref="GradientData"/> for each run, and can peek a sample input for spec inference.</summary>
internal sealed record GradientDataFactory(Func<Device, GradientData> Create, Func<Tensor?> SampleInput);
