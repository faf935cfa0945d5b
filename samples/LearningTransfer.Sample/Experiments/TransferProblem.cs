using TrajectoryTransfer.Permutations;
using TrajectoryTransfer.Samples.Data;
using TrajectoryTransfer.Trajectories;

namespace TrajectoryTransfer.Samples.Experiments;

/// <summary>
/// What a scenario prepares for the transfers: the source's recorded trajectory, the new initialization, the data of the
/// task, and how to make more initializations for ensembles. Owns its tensors.
/// </summary>
public sealed class TransferProblem : IDisposable
{
    private readonly List<IDisposable> _owned = [];

    /// <summary>The data of the task the source was trained on and the target is evaluated on.</summary>
    public required ExperimentData Data { get; init; }

    /// <summary>The source's checkpoints: its initialization θ₁⁰, then one per epoch.</summary>
    public required InMemoryTrajectory Recorded { get; init; }

    /// <summary>θ₁⁰.</summary>
    public required ParameterSet SourceInit { get; init; }

    /// <summary>θ₁ᵀ.</summary>
    public required ParameterSet SourceFinal { get; init; }

    /// <summary>θ₂⁰, the new initialization.</summary>
    public required ParameterSet TargetInit { get; init; }

    /// <summary>Makes the initialization of ensemble member k (the caller owns it).</summary>
    public required Func<int, ParameterSet> EnsembleInit { get; init; }

    /// <summary>Test accuracy of θ₁ᵀ.</summary>
    public required double SourceTestAccuracy { get; init; }

    /// <summary>Validation accuracy of θ₁ᵀ.</summary>
    public required double SourceValidationAccuracy { get; init; }

    /// <summary>Training seconds of the source run.</summary>
    public required double SourceTrainSeconds { get; init; }

    /// <summary>Pretrained scenario: seconds of pre-training the source and target models.</summary>
    public double? PretrainSeconds { get; init; }

    /// <summary>Pretrained scenario: test accuracy of the pre-trained source and target on the pre-training classes.</summary>
    public IReadOnlyList<double>? PretrainedTestAccuracy { get; init; }

    /// <summary>Makes the problem dispose <paramref name="disposable"/> with itself.</summary>
    /// <param name="disposable">Something the problem's members depend on.</param>
    public void Own(IDisposable disposable) => _owned.Add(disposable);

    /// <summary>Disposes the tensors.</summary>
    public void Dispose()
    {
        Recorded.Dispose();
        SourceInit.Dispose();
        SourceFinal.Dispose();
        TargetInit.Dispose();
        foreach (var d in _owned)
        {
            d.Dispose();
        }
    }
}
