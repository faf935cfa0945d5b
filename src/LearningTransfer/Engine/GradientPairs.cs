using TorchSharp;
using TrajectoryTransfer.Permutations;

namespace TrajectoryTransfer;

/// <summary>
/// Computes gradient pairs (target side, source side) at trajectory points and adds them to the targets' matching
/// problems. The source gradient at a point is computed once and shared by every target, which is what makes ensembles
/// cheap. Points that are matched again at later steps (GMT) keep their minibatches, and their source gradients within
/// <see cref="TransferOptions.SourceGradientCacheBytes"/>: the source side does not depend on the permutation.
/// </summary>
internal sealed class GradientPairs : IDisposable
{
    private readonly TransferRun _run;
    private readonly GradientCapture? _capture;
    private readonly Dictionary<int, (object[] Batches, object[] Refresh)> _batches = [];
    private readonly Dictionary<int, GradientSample> _sources = [];
    private long _cachedBytes;

    public GradientPairs(TransferRun run)
    {
        _run = run;
        if (run.Options.FactoredGradients)
        {
            var capture = new GradientCapture(run.Workspace.Module, run.Spec, run.Logger);
            _capture = capture.IsEmpty ? null : capture;
            if (_capture is null)
            {
                capture.Dispose();
            }
        }
    }

    /// <summary>Bytes of source gradients kept for later steps.</summary>
    public long CachedBytes => _cachedBytes;

    /// <summary>
    /// Adds, for every target j, the pair (∇L(θ₂,π^t), ∇L(θ₁^t)) on the same minibatches to <paramref name="problems"/>[j],
    /// with θ₂,π^t built from the target's current permutation. With <paramref name="reuse"/>, point t's minibatches and its
    /// source gradient are kept for the next time t is matched.
    /// </summary>
    public void Add(int point, int step, IReadOnlyList<WeightMatchingProblem> problems, bool reuse)
    {
        using var scope = torch.NewDisposeScope();
        var token = _run.CancellationToken;
        token.ThrowIfCancellationRequested();
        var data = _run.RequiredData;
        var workspace = _run.Workspace;
        var clock = _run.Clock;
        var started = clock.Elapsed;
        var (batches, refresh) = Batches(point, reuse);
        using var displacement = _run.Source.Displacement(point);
        var computedSource = !_sources.TryGetValue(point, out var sourceGradient);
        if (computedSource)
        {
            workspace.LoadSum(_run.Source.Start, displacement);
            workspace.RefreshBatchNorm(data, refresh);
            sourceGradient = workspace.Gradient(data, batches, _capture);
            CheckFinite(sourceGradient, step, point, "source");
        }

        try
        {
            var sourceTime = clock.Elapsed - started;
            for (var j = 0; j < _run.Targets.Count; j++)
            {
                token.ThrowIfCancellationRequested();
                var target = _run.Targets[j];
                var targetStarted = clock.Elapsed;
                workspace.LoadPermutedSum(target.Initialization, _run.Spec, target.Permutation, displacement);
                workspace.RefreshBatchNorm(data, refresh);
                using var targetGradient = workspace.Gradient(data, batches, _capture);
                CheckFinite(targetGradient, step, point, "target");
                target.GradientTime += sourceTime + (clock.Elapsed - targetStarted);
                target.GradientEvaluations += (computedSource ? 2 : 1) * batches.Length;

                var matchStarted = clock.Elapsed;
                targetGradient.AddTo(problems[j], sourceGradient!);
                target.SimilarityTime += clock.Elapsed - matchStarted;
                target.CacheBytes = Math.Max(target.CacheBytes, problems[j].CachedBytes + _cachedBytes);
                _run.Report(step, TransferPhase.Gradients, j, _run.Targets.Count);
                sourceTime = TimeSpan.Zero;
            }
        }
        finally
        {
            if (computedSource)
            {
                Keep(point, sourceGradient!, reuse);
            }
        }
    }

    public void Dispose()
    {
        _capture?.Dispose();
        foreach (var sample in _sources.Values)
        {
            sample.Dispose();
        }

        _sources.Clear();
        foreach (var (batches, refresh) in _batches.Values)
        {
            DisposeBatches(batches);
            DisposeBatches(refresh);
        }

        _batches.Clear();
    }

    /// <summary>Point t's minibatches: drawn now, or the ones drawn the first time t was matched.</summary>
    private (object[] Batches, object[] Refresh) Batches(int point, bool reuse)
    {
        if (_batches.TryGetValue(point, out var kept))
        {
            return kept;
        }

        var data = _run.RequiredData;
        var batches = data.Draw(_run.Options.GradientBatches);
        var refresh = _run.Options.RefreshBatchNormBeforeGradients && _run.Workspace.HasBatchNorm
            ? data.Draw(_run.Options.BatchNormRefreshBatches)
            : [];
        // Only batches of tensors can be kept past this step: other batch types belong to the caller's loader.
        if (reuse && batches.Concat(refresh).All(IsTensorBatch))
        {
            DetachBatches(batches);
            DetachBatches(refresh);
            _batches[point] = (batches, refresh);
        }

        return (batches, refresh);
    }

    /// <summary>Keeps a source gradient for later steps while the cache has room (and its batches are kept); otherwise lets it go with the step.</summary>
    private void Keep(int point, GradientSample sample, bool reuse)
    {
        var bytes = sample.Bytes;
        if (reuse && _batches.ContainsKey(point) && _cachedBytes + bytes <= _run.Options.SourceGradientCacheBytes)
        {
            _sources[point] = sample.DetachFromDisposeScope();
            _cachedBytes += bytes;
        }
        else
        {
            sample.Dispose();
        }
    }

    private static void DetachBatches(object[] batches)
    {
        foreach (var batch in batches)
        {
            foreach (var tensor in Tensors(batch))
            {
                tensor.DetachFromDisposeScope();
            }
        }
    }

    private static void DisposeBatches(object[] batches)
    {
        foreach (var batch in batches)
        {
            foreach (var tensor in Tensors(batch))
            {
                tensor.Dispose();
            }
        }
    }

    private static bool IsTensorBatch(object batch) => batch is torch.Tensor or ValueTuple<torch.Tensor, torch.Tensor>;

    /// <summary>The tensors of a drawn batch: a tensor, or the tensors of an (input, label) tuple.</summary>
    private static IEnumerable<torch.Tensor> Tensors(object batch) => batch switch
    {
        torch.Tensor t => [t],
        ValueTuple<torch.Tensor, torch.Tensor> pair => [pair.Item1, pair.Item2],
        _ => [],
    };

    private static void CheckFinite(GradientSample gradient, int step, int point, string side)
    {
        if (gradient.FirstNonFinite() is { } name)
        {
            throw new NonFiniteGradientException(step, point, side, name);
        }
    }
}
