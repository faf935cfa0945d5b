using TorchSharp;
using TrajectoryTransfer.Permutations;

namespace TrajectoryTransfer;

/// <summary>A gradient ∇L at one point on some minibatches: full tensors, and the weights captured as low-rank factors.</summary>
internal sealed class GradientSample(ParameterSet dense, Dictionary<string, LowRankTensor> factors) : IDisposable
{
    public ParameterSet Dense { get; } = dense;

    public IReadOnlyDictionary<string, LowRankTensor> Factors { get; } = factors;

    /// <summary>Bytes held (full tensors and factors).</summary>
    public long Bytes => Dense.Values.Sum(t => t.numel() * t.element_size())
        + Factors.Values.Sum(f => (f.Left.numel() * f.Left.element_size()) + (f.Right.numel() * f.Right.element_size()));

    /// <summary>Adds this pair (this sample as the target side) to <paramref name="problem"/>.</summary>
    public void AddTo(WeightMatchingProblem problem, GradientSample source) => problem.AddPair(Dense, source.Dense, Factors, source.Factors);

    /// <summary>The name of the first tensor or factor holding NaN or infinity, or null.</summary>
    public string? FirstNonFinite()
    {
        foreach (var (name, tensor) in Dense)
        {
            if (!torch.isfinite(tensor).all().ToBoolean())
            {
                return name;
            }
        }

        foreach (var (name, factor) in Factors)
        {
            if (!torch.isfinite(factor.Left).all().ToBoolean() || !torch.isfinite(factor.Right).all().ToBoolean())
            {
                return name;
            }
        }

        return null;
    }

    /// <summary>Moves everything out of the current dispose scope (the caller owns it through this sample).</summary>
    public GradientSample DetachFromDisposeScope()
    {
        Dense.DetachFromDisposeScope();
        foreach (var factor in Factors.Values)
        {
            factor.Left.DetachFromDisposeScope();
            factor.Right.DetachFromDisposeScope();
        }

        return this;
    }

    public void Dispose()
    {
        Dense.Dispose();
        foreach (var factor in Factors.Values)
        {
            factor.Dispose();
        }
    }
}
