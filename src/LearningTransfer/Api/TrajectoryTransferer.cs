using TorchSharp;
using TrajectoryTransfer.Permutations;
using TrajectoryTransfer.Trajectories;
using static TorchSharp.torch;

namespace TrajectoryTransfer;

/// <summary>
/// A validated, immutable transfer configuration; each <see cref="Run"/> is independent. Made by <see cref="TransferBuilder.Build"/>.
/// Dispose it to release a linear or subdivided trajectory it built from the source (the caller's source is never disposed).
/// </summary>
public sealed class TrajectoryTransferer : IDisposable
{
    private readonly ITrajectory _trajectory;
    private readonly TransferStrategy _strategy;
    private readonly TransferTarget[] _targets;
    private readonly nn.Module<Tensor, Tensor> _model;
    private readonly Device _device;
    private readonly PermutationSpec? _spec;
    private readonly GradientDataFactory? _data;
    private readonly Func<nn.Module<Tensor, Tensor>, double>? _validation;
    private readonly IReadOnlyList<ParameterSet>? _trained;

    internal TrajectoryTransferer(
        ITrajectory trajectory,
        bool ownsTrajectory,
        TransferStrategy strategy,
        TransferTarget[] targets,
        nn.Module<Tensor, Tensor> model,
        Device device,
        TransferOptions options,
        PermutationSpec? spec,
        GradientDataFactory? data,
        Func<nn.Module<Tensor, Tensor>, double>? validation,
        IReadOnlyList<ParameterSet>? trained)
    {
        _trajectory = trajectory;
        OwnsTrajectory = ownsTrajectory;
        _strategy = strategy;
        _targets = targets;
        _model = model;
        _device = device;
        Options = options;
        _spec = spec;
        _data = data;
        _validation = validation;
        _trained = trained;
    }

    /// <summary>The settings.</summary>
    public TransferOptions Options { get; }

    /// <summary>T, the number of transfer steps.</summary>
    public int Steps => _trajectory.Count - 1;

    /// <summary>The source trajectory as transferred (after linearisation or subdivision).</summary>
    public ITrajectory Source => _trajectory;

    internal bool OwnsTrajectory { get; }

    /// <summary>Releases the trajectory this transferer built from the source, if it built one.</summary>
    public void Dispose()
    {
        if (OwnsTrajectory && _trajectory is IDisposable owned)
        {
            owned.Dispose();
        }
    }

    /// <summary>Runs a single-target transfer.</summary>
    /// <param name="progress">Receives per-step, per-phase and per-sweep events.</param>
    /// <param name="cancellationToken">Honoured between gradient evaluations and solves; the caller's module is left untouched.</param>
    /// <exception cref="InvalidOperationException">Several targets were configured: use <see cref="RunAll"/>.</exception>
    /// <exception cref="ArgumentException">The training data is empty.</exception>
    /// <exception cref="PermutationSpecException">The spec does not cover the model, or could not be inferred.</exception>
    /// <exception cref="OperationCanceledException">Cancelled.</exception>
    /// <exception cref="NonFiniteGradientException">A gradient became NaN or infinite.</exception>
    public TransferResult Run(IProgress<TransferProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        if (_targets.Length != 1)
        {
            throw new InvalidOperationException($"This transfer has {_targets.Length} targets: use RunAll.");
        }

        return RunAll(progress, cancellationToken)[0];
    }

    /// <summary>Runs the transfer onto every configured new initialization, sharing source-side gradients.</summary>
    /// <param name="progress">Receives per-step, per-phase and per-sweep events.</param>
    /// <param name="cancellationToken">Honoured between gradient evaluations and solves.</param>
    /// <exception cref="ArgumentException">The training data is empty.</exception>
    /// <exception cref="PermutationSpecException">The spec does not cover the model, or could not be inferred.</exception>
    /// <exception cref="OperationCanceledException">Cancelled.</exception>
    /// <exception cref="NonFiniteGradientException">A gradient became NaN or infinite.</exception>
    public IReadOnlyList<TransferResult> RunAll(IProgress<TransferProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        using var scope = torch.NewDisposeScope();
        GradientData? data = null;
        if (_data is not null)
        {
            data = _data.Create(_device);
            data.EnsureNotEmpty("data");
        }

        try
        {
            var spec = _spec ?? InferSpec();
            using var workspace = new Workspace(_model);
            if (_spec is not null && Options.VerifySpec && data is not null)
            {
                SpecCheck.Verify(_model, spec, data, data.PeekFirst(), Options.Seed);
            }

            using var source = new SourceView(_trajectory, _device);
            var initializations = _targets.Select(t =>
            {
                using var snapshot = t.Module is not null ? ParameterSet.FromModule(t.Module) : t.Parameters!.Clone();
                return snapshot.To(_device).DetachFromDisposeScope();
            }).ToArray();
            var trained = _trained?.Select(t => t.To(_device).DetachFromDisposeScope()).ToArray();
            try
            {
                using var run = new TransferRun(Options, spec, source, workspace, data, _validation, initializations, trained, progress, cancellationToken);
                var results = new TransferEngine(_strategy).Run(run);
                foreach (var result in results)
                {
                    result.Parameters.DetachFromDisposeScope();
                    result.BestParameters?.DetachFromDisposeScope();
                }

                return results;
            }
            finally
            {
                foreach (var init in initializations)
                {
                    init.Dispose();
                }

                foreach (var t in trained ?? [])
                {
                    t.Dispose();
                }
            }
        }
        finally
        {
            data?.Close();
        }
    }

    private PermutationSpec InferSpec()
    {
        var sample = _data?.SampleInput();
        return PermutationSpecInference.Infer(_model, sample?.to(_device));
    }
}
