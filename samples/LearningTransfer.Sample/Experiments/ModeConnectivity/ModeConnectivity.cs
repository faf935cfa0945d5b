using TorchSharp;
using TrajectoryTransfer.Permutations;
using TrajectoryTransfer.Samples.Data;
using static TorchSharp.torch;

namespace TrajectoryTransfer.Samples.Experiments;

/// <summary>The loss at evenly spaced points of the straight line between two parameter sets.</summary>
/// <param name="Alphas">α from 0 (the first set) to 1 (the second).</param>
/// <param name="Losses">The mean cross-entropy at each α.</param>
public sealed record LossCurve(IReadOnlyList<double> Alphas, IReadOnlyList<double> Losses)
{
    /// <summary>
    /// The loss barrier: the largest excess of the loss over the straight line between the two end losses,
    /// max_α L(α) − ((1 − α) L(0) + α L(1)). Near 0 means the two ends are linearly mode-connected.
    /// </summary>
    public double Barrier => Alphas.Select((a, i) => Losses[i] - ((1 - a) * Losses[0]) - (a * Losses[^1])).Max();
}

/// <summary>
/// The paper's mode-connectivity view: is the transferred network in the same loss basin as the (permuted) source, or as a
/// network actually trained from the same initialization?
/// </summary>
public static class ModeConnectivity
{
    /// <summary>Minibatches used to recompute BatchNorm statistics at each point.</summary>
    public const int BatchNormBatches = 5;

    /// <summary><paramref name="points"/> evenly spaced values of α in [0, 1].</summary>
    /// <param name="points">At least 2.</param>
    public static double[] Alphas(int points)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(points, 2);
        return Enumerable.Range(0, points).Select(i => (double)i / (points - 1)).ToArray();
    }

    /// <summary>π(θ): a copy of <paramref name="state"/> with its hidden units reordered by <paramref name="permutation"/> (same function).</summary>
    /// <param name="spec">The architecture's spec.</param>
    /// <param name="permutation">The permutation.</param>
    /// <param name="state">Parameters and buffers; entries the spec does not cover (such as BatchNorm's batch counter) are copied.</param>
    public static ParameterSet Permuted(PermutationSpec spec, Permutation permutation, ParameterSet state)
    {
        ArgumentNullException.ThrowIfNull(spec);
        ArgumentNullException.ThrowIfNull(permutation);
        ArgumentNullException.ThrowIfNull(state);
        using var scope = torch.NewDisposeScope();
        using var permuted = spec.Apply(permutation, state.Where(kv => spec.Covers(kv.Key)));
        var result = new ParameterSet(state.Names.Select(n => new KeyValuePair<string, Tensor>(
            n, permuted.TryGetValue(n, out var p) ? p.clone() : state[n].clone())));
        return result.MoveToOuterDisposeScope();
    }

    /// <summary>The loss along the line from <paramref name="from"/> (α = 0) to <paramref name="to"/> (α = 1).</summary>
    /// <param name="model">A module of the architecture, used as a workspace (its state is overwritten).</param>
    /// <param name="from">The first end.</param>
    /// <param name="to">The second end.</param>
    /// <param name="alphas">The points.</param>
    /// <param name="evaluation">Where the loss is measured.</param>
    /// <param name="train">Training data for recomputing BatchNorm statistics (models with BatchNorm only).</param>
    /// <param name="batchSize">Minibatch size for the BatchNorm statistics.</param>
    /// <param name="seed">Seeds the BatchNorm batches.</param>
    public static LossCurve Along(
        nn.Module<Tensor, Tensor> model,
        ParameterSet from,
        ParameterSet to,
        IReadOnlyList<double> alphas,
        MnistSplit evaluation,
        MnistSplit train,
        int batchSize,
        int seed)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(from);
        ArgumentNullException.ThrowIfNull(to);
        ArgumentNullException.ThrowIfNull(alphas);
        var losses = new double[alphas.Count];
        for (var i = 0; i < alphas.Count; i++)
        {
            using var scope = torch.NewDisposeScope();
            using (var point = Interpolate(from, to, alphas[i]))
            {
                point.LoadInto(model);
            }

            BatchNormStatistics.Recompute(model, Batches.Loader(train, batchSize, seed), BatchNormBatches);
            losses[i] = Evaluator.Evaluate(model, evaluation).Loss;
        }

        return new LossCurve(alphas.ToArray(), losses);
    }

    private static ParameterSet Interpolate(ParameterSet from, ParameterSet to, double alpha)
    {
        using var noGrad = torch.no_grad();
        return new ParameterSet(from.Names.Select(n => new KeyValuePair<string, Tensor>(
            n, from[n].is_floating_point() ? from[n].mul(1 - alpha).add_(to[n].mul(alpha)) : from[n].clone())));
    }
}
