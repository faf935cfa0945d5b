using System.Diagnostics;
using Microsoft.Extensions.Logging;
using TorchSharp;
using TrajectoryTransfer.Permutations;
using static TorchSharp.torch;

namespace TrajectoryTransfer;

/// <summary>
/// Runs GMT, FGMT, Naive or Oracle for one or more targets in lockstep. Source-side gradients are computed once per
/// (point, minibatch) and shared by every target, which is what makes ensembles cheap.
/// </summary>
internal sealed class TransferEngine
{
    private readonly TransferOptions _options;
    private readonly PermutationSpec _spec;
    private readonly Func<nn.Module<Tensor, Tensor>, double>? _validation;
    private readonly ILogger _logger;

    public TransferEngine(TransferOptions options, PermutationSpec spec, Func<nn.Module<Tensor, Tensor>, double>? validation)
    {
        _options = options;
        _spec = spec;
        _validation = validation;
        _logger = options.LoggerFactory.CreateLogger("TrajectoryTransfer.LearningTransfer");
    }

    public IReadOnlyList<TransferResult> Run(
        SourceView source,
        IReadOnlyList<ParameterSet> initializations,
        IReadOnlyList<ParameterSet>? trainedTargets,
        Workspace workspace,
        GradientData? data,
        IProgress<TransferProgress>? progress,
        CancellationToken cancellationToken)
    {
        var clock = Stopwatch.StartNew();
        var method = _options.Method;
        var steps = source.Steps;
        var targets = initializations.Select((init, i) => new TargetRun(i, init, Permutation.Identity(_spec))).ToArray();
        Log.TransferStarted(_logger, method, steps, targets.Length, _spec.Groups.Count, initializations[0].Values.First().device.ToString());
        var step = 0;
        try
        {
            if (method == TransferMethod.Oracle)
            {
                for (var j = 0; j < targets.Length; j++)
                {
                    cancellationToken.ThrowIfCancellationRequested();
                    targets[j].Permutation = OraclePermutation(source, targets[j], trainedTargets![j], cancellationToken);
                }
            }

            if (method == TransferMethod.Fgmt)
            {
                foreach (var target in targets)
                {
                    target.Cache = new WeightMatchingProblem(_spec, MatchingOptions());
                }
            }

            for (step = 1; step <= steps; step++)
            {
                cancellationToken.ThrowIfCancellationRequested();
                using var stepScope = torch.NewDisposeScope();
                foreach (var target in targets)
                {
                    target.BeginStep();
                }

                if (method is TransferMethod.Gmt or TransferMethod.Fgmt)
                {
                    MatchStep(source, targets, workspace, data!, step, steps, clock, progress, cancellationToken);
                }

                using var displacement = source.Displacement(step);
                foreach (var target in targets)
                {
                    EvaluateStep(target, displacement, workspace, data, step, steps, source.Lambdas[step], clock, progress);
                }
            }

            return targets.Select(t => t.ToResult(method, clock.Elapsed)).ToArray();
        }
        catch (OperationCanceledException)
        {
            Log.TransferCancelled(_logger, step);
            foreach (var target in targets)
            {
                target.Dispose();
            }

            throw;
        }
        catch
        {
            foreach (var target in targets)
            {
                target.Dispose();
            }

            throw;
        }
        finally
        {
            foreach (var target in targets)
            {
                target.Cache?.Dispose();
                target.Cache = null;
            }
        }
    }

    private WeightMatchingOptions MatchingOptions() => _options.Matching with { Seed = _options.Matching.Seed + _options.Seed };

    /// <summary>One matching step: gradient pairs (all earlier points for GMT, the newest for FGMT), then one solve per target.</summary>
    private void MatchStep(
        SourceView source,
        TargetRun[] targets,
        Workspace workspace,
        GradientData data,
        int step,
        int steps,
        Stopwatch clock,
        IProgress<TransferProgress>? progress,
        CancellationToken cancellationToken)
    {
        var gmt = _options.Method == TransferMethod.Gmt;
        var problems = gmt
            ? targets.Select(_ => new WeightMatchingProblem(_spec, MatchingOptions())).ToArray()
            : targets.Select(t => t.Cache!).ToArray();
        try
        {
            var first = gmt ? 0 : step - 1;
            for (var t = first; t < step; t++)
            {
                using var pairScope = torch.NewDisposeScope();
                cancellationToken.ThrowIfCancellationRequested();
                var started = clock.Elapsed;
                var batches = data.Draw(_options.GradientBatches);
                var refresh = _options.RefreshBatchNormBeforeGradients && workspace.HasBatchNorm
                    ? data.Draw(_options.BatchNormRefreshBatches)
                    : [];
                using var displacement = source.Displacement(t);
                using var sourcePoint = source.Point(displacement);
                workspace.Load(sourcePoint);
                workspace.RefreshBatchNorm(data, refresh);
                using var sourceGradient = workspace.Gradient(data, batches);
                CheckFinite(sourceGradient, step, t, "source");
                var sourceTime = clock.Elapsed - started;

                for (var j = 0; j < targets.Length; j++)
                {
                    cancellationToken.ThrowIfCancellationRequested();
                    var target = targets[j];
                    var targetStarted = clock.Elapsed;
                    using var moved = _spec.Apply(target.Permutation, displacement);
                    using var targetPoint = SourceView.Combine(target.Initialization, moved);
                    workspace.Load(targetPoint);
                    workspace.RefreshBatchNorm(data, refresh);
                    using var targetGradient = workspace.Gradient(data, batches);
                    CheckFinite(targetGradient, step, t, "target");
                    target.GradientTime += sourceTime + (clock.Elapsed - targetStarted);
                    target.GradientEvaluations += 2 * batches.Length;

                    var matchStarted = clock.Elapsed;
                    problems[j].AddPair(targetGradient, sourceGradient);
                    target.SimilarityTime += clock.Elapsed - matchStarted;
                    progress?.Report(new TransferProgress(step, steps, TransferPhase.Gradients, j, targets.Length, null, null, clock.Elapsed));
                }
            }

            for (var j = 0; j < targets.Length; j++)
            {
                cancellationToken.ThrowIfCancellationRequested();
                var target = targets[j];
                var index = j;
                var sweepProgress = progress is null
                    ? null
                    : new SyncProgress<WeightMatchingProgress>(p => progress.Report(
                        new TransferProgress(step, steps, TransferPhase.Matching, index, targets.Length, p.Objective, null, clock.Elapsed)));
                var result = problems[j].Solve(target.Permutation, sweepProgress, cancellationToken);
                target.SimilarityTime += result.SimilarityTime;
                target.AssignmentTime += result.AssignmentTime;
                target.Solves += result.Solves;
                target.Objective = result.Objective;
                target.PermutationChange = 1 - result.Permutation.AgreementWith(target.Permutation);
                target.Permutation = result.Permutation;
                target.CacheBytes = Math.Max(target.CacheBytes, problems[j].CachedBytes);
            }
        }
        finally
        {
            if (gmt)
            {
                foreach (var p in problems)
                {
                    p.Dispose();
                }
            }
        }
    }

    /// <summary>Builds θ₂,πₛˢ, refreshes BatchNorm, scores it, and keeps it when it is the best or the last step.</summary>
    private void EvaluateStep(
        TargetRun target,
        ParameterSet displacement,
        Workspace workspace,
        GradientData? data,
        int step,
        int steps,
        double lambda,
        Stopwatch clock,
        IProgress<TransferProgress>? progress)
    {
        var last = step == steps;
        double? score = null;
        if (_validation is not null || last)
        {
            var started = clock.Elapsed;
            progress?.Report(new TransferProgress(step, steps, TransferPhase.Evaluation, target.Index, 1, target.Objective, null, clock.Elapsed));
            using var moved = _spec.Apply(target.Permutation, displacement);
            using var point = SourceView.Combine(target.Initialization, moved);
            workspace.Load(point);
            if (workspace.HasBatchNorm && data is not null)
            {
                workspace.RefreshBatchNorm(data, data.Draw(_options.BatchNormRefreshBatches));
            }

            if (_validation is not null)
            {
                var wasTraining = workspace.Module.training;
                workspace.Module.eval();
                using (var scoring = torch.NewDisposeScope())
                using (torch.no_grad())
                {
                    score = _validation(workspace.Module);
                }

                workspace.Module.train(wasTraining);
                if (target.BestScore is null || score > target.BestScore)
                {
                    target.BestParameters?.Dispose();
                    target.BestParameters = ParameterSet.FromModule(workspace.Module).DetachFromDisposeScope();
                    target.BestPermutation = target.Permutation;
                    target.BestStep = step;
                    target.BestScore = score;
                }
            }

            if (last)
            {
                target.Final = ParameterSet.FromModule(workspace.Module).DetachFromDisposeScope();
            }

            target.EvaluationTime += clock.Elapsed - started;
        }

        target.EndStep(step, lambda, score);
        Log.StepCompleted(_logger, step, steps, target.Index, target.Objective, target.StepSolves, target.PermutationChange, score);
        progress?.Report(new TransferProgress(step, steps, TransferPhase.StepCompleted, target.Index, 1, target.Objective, score, clock.Elapsed));
    }

    private Permutation OraclePermutation(SourceView source, TargetRun target, ParameterSet trained, CancellationToken cancellationToken)
    {
        using var scope = torch.NewDisposeScope();
        using var sourceUpdate = source.Displacement(source.Steps);
        var names = sourceUpdate.Names.Where(n => trained.ContainsKey(n) && target.Initialization.ContainsKey(n) && !n.Contains("running_", StringComparison.Ordinal)).ToHashSet();
        using var b = sourceUpdate.Where(names.Contains);
        using var a = new ParameterSet(names.Select(n => new KeyValuePair<string, Tensor>(n, trained[n] - target.Initialization[n])));
        var started = Stopwatch.StartNew();
        var result = WeightMatching.Match(_spec, [new MatchingPair(a, b)], MatchingOptions(), cancellationToken: cancellationToken);
        target.SimilarityTime += result.SimilarityTime;
        target.AssignmentTime += result.AssignmentTime;
        target.Solves += result.Solves;
        target.Objective = result.Objective;
        return result.Permutation;
    }

    private static void CheckFinite(ParameterSet gradient, int step, int point, string side)
    {
        foreach (var (name, tensor) in gradient)
        {
            if (!torch.isfinite(tensor).all().ToBoolean())
            {
                throw new NonFiniteGradientException(step, point, side, name);
            }
        }
    }

    /// <summary>Reports synchronously on the calling thread (Progress&lt;T&gt; would post to a thread pool).</summary>
    private sealed class SyncProgress<T>(Action<T> report) : IProgress<T>
    {
        public void Report(T value) => report(value);
    }

    /// <summary>Per-target state of a run.</summary>
    private sealed class TargetRun(int index, ParameterSet initialization, Permutation permutation) : IDisposable
    {
        private readonly List<TransferStep> _history = [];
        private int _solvesBefore;
        private int _evaluationsBefore;
        private TimeSpan _gradientBefore;
        private TimeSpan _similarityBefore;
        private TimeSpan _assignmentBefore;
        private TimeSpan _evaluationBefore;

        public int Index { get; } = index;

        public ParameterSet Initialization { get; } = initialization;

        public Permutation Permutation { get; set; } = permutation;

        public WeightMatchingProblem? Cache { get; set; }

        public double Objective { get; set; }

        public double PermutationChange { get; set; }

        public int Solves { get; set; }

        public int StepSolves => Solves - _solvesBefore;

        public int GradientEvaluations { get; set; }

        public TimeSpan GradientTime { get; set; }

        public TimeSpan SimilarityTime { get; set; }

        public TimeSpan AssignmentTime { get; set; }

        public TimeSpan EvaluationTime { get; set; }

        public long CacheBytes { get; set; }

        public ParameterSet? Final { get; set; }

        public ParameterSet? BestParameters { get; set; }

        public Permutation? BestPermutation { get; set; }

        public int? BestStep { get; set; }

        public double? BestScore { get; set; }

        /// <summary>Starts a step; work done before step 1 (Oracle's matching) is counted in step 1.</summary>
        public void BeginStep() => PermutationChange = 0;

        public void EndStep(int step, double lambda, double? score)
        {
            _history.Add(new TransferStep(
                step,
                lambda,
                Objective,
                score,
                GradientEvaluations - _evaluationsBefore,
                Solves - _solvesBefore,
                PermutationChange,
                GradientTime - _gradientBefore,
                SimilarityTime - _similarityBefore,
                AssignmentTime - _assignmentBefore,
                EvaluationTime - _evaluationBefore));
            _solvesBefore = Solves;
            _evaluationsBefore = GradientEvaluations;
            _gradientBefore = GradientTime;
            _similarityBefore = SimilarityTime;
            _assignmentBefore = AssignmentTime;
            _evaluationBefore = EvaluationTime;
        }

        public TransferResult ToResult(TransferMethod method, TimeSpan total)
        {
            var result = new TransferResult(
                method,
                Final!,
                Permutation,
                BestStep,
                BestParameters,
                BestPermutation,
                BestScore,
                _history.ToArray(),
                new TransferTimings(total, GradientTime, SimilarityTime, AssignmentTime, EvaluationTime),
                GradientEvaluations,
                Cache?.CachedBytes ?? CacheBytes);
            Final = null;
            BestParameters = null;
            return result;
        }

        public void Dispose()
        {
            Final?.Dispose();
            BestParameters?.Dispose();
            Final = null;
            BestParameters = null;
        }
    }
}
