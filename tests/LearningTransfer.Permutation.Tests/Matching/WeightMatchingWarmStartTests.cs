using TorchSharp;
using TrajectoryTransfer.Permutations.Tests.TestModels;
using static TorchSharp.torch;

namespace TrajectoryTransfer.Permutations.Tests.Matching;

/// <summary><see cref="WeightMatchingProblem.Solve(Permutation?, AssignmentWarmStartSet?, IProgress{WeightMatchingProgress}?, CancellationToken)"/>.</summary>
public sealed class WeightMatchingWarmStartTests
{
    private const int Steps = 6;

    [Fact]
    public void Solve_KeptProblemWithWarmStarts_SameObjectiveAsColdAtEveryStep()
    {
        // FGMT: one problem kept across steps, one new pair per step.
        var spec = SingleGroupSpec(width: 96);
        using var warmProblem = new WeightMatchingProblem(spec);
        using var coldProblem = new WeightMatchingProblem(spec);
        var warmStarts = new AssignmentWarmStartSet();
        var warmPermutation = Permutation.Identity(spec);
        var coldPermutation = Permutation.Identity(spec);
        for (var step = 0; step < Steps; step++)
        {
            using var pair = RandomPair(spec, seed: 20 + step);
            warmProblem.AddPair(pair.Target, pair.Source);
            coldProblem.AddPair(pair.Target, pair.Source);

            var warm = warmProblem.Solve(warmPermutation, warmStarts);
            var cold = coldProblem.Solve(coldPermutation);

            Assert.Equal(cold.Objective, warm.Objective, Math.Abs(cold.Objective) * 1e-9);
            warmPermutation = warm.Permutation;
            coldPermutation = cold.Permutation;
        }

        Assert.Equal(1, warmStarts.Count);
        Assert.True(warmStarts.TryGetValue("h", out var state));
        Assert.Equal(96, state.Size);
    }

    [Fact]
    public void Solve_RebuiltProblemWithWarmStarts_SameObjectiveAsColdAtEveryStep()
    {
        // GMT: a new problem each step over all pairs so far, sharing one set of warm starts.
        var spec = SingleGroupSpec(width: 96);
        var warmStarts = new AssignmentWarmStartSet();
        var permutation = Permutation.Identity(spec);
        for (var step = 1; step <= Steps; step++)
        {
            using var warmProblem = new WeightMatchingProblem(spec);
            using var coldProblem = new WeightMatchingProblem(spec);
            for (var t = 0; t < step; t++)
            {
                using var pair = RandomPair(spec, seed: (100 * step) + t);
                warmProblem.AddPair(pair.Target, pair.Source);
                coldProblem.AddPair(pair.Target, pair.Source);
            }

            var warm = warmProblem.Solve(permutation, warmStarts);
            var cold = coldProblem.Solve(permutation);

            Assert.Equal(cold.Objective, warm.Objective, Math.Abs(cold.Objective) * 1e-9);
            permutation = warm.Permutation;
        }
    }

    [Fact]
    public void Solve_CoupledGroupsWithWarmStarts_SamePermutationsAsCold()
    {
        // Two coupled groups: each sweep re-solves a group on a matrix that the other group's change moved a little.
        torch.manual_seed(30);
        using var model = new TinyMlp(10, 24, 20, 4);
        var spec = TinyMlp.Spec(model);
        using var warmProblem = new WeightMatchingProblem(spec);
        using var coldProblem = new WeightMatchingProblem(spec);
        var warmStarts = new AssignmentWarmStartSet();
        for (var step = 0; step < 4; step++)
        {
            using var targetModel = new TinyMlp(10, 24, 20, 4);
            using var sourceModel = new TinyMlp(10, 24, 20, 4);
            using var target = ParameterSet.FromModule(targetModel);
            using var source = ParameterSet.FromModule(sourceModel);
            warmProblem.AddPair(target, source);
            coldProblem.AddPair(target, source);

            var warm = warmProblem.Solve(null, warmStarts);
            var cold = coldProblem.Solve();

            Assert.Equal(cold.Permutation, warm.Permutation);
            Assert.Equal(cold.Objective, warm.Objective, Math.Abs(cold.Objective) * 1e-9);
        }

        Assert.Equal(2, warmStarts.Count);
        Assert.Equal(24, warmStarts.GetOrAdd("h1").Size);
        Assert.Equal(20, warmStarts.GetOrAdd("h2").Size);
    }

    [Fact]
    public void Solve_SolverWithoutWarmStarts_IgnoresTheSet()
    {
        var spec = SingleGroupSpec(width: 32);
        using var pair = RandomPair(spec, seed: 40);
        using var problem = new WeightMatchingProblem(spec, new WeightMatchingOptions { Solver = AssignmentSolvers.OrTools });
        problem.AddPair(pair.Target, pair.Source);
        var warmStarts = new AssignmentWarmStartSet();

        var result = problem.Solve(null, warmStarts);

        Assert.Equal(0, warmStarts.Count);
        Assert.Equal(problem.Solve().Objective, result.Objective, Math.Abs(result.Objective) * 1e-9);
    }

    [Fact]
    public void Solve_NullSet_SolvesCold()
    {
        var spec = SingleGroupSpec(width: 32);
        using var pair = RandomPair(spec, seed: 41);
        using var problem = new WeightMatchingProblem(spec);
        problem.AddPair(pair.Target, pair.Source);

        Assert.Equal(problem.Solve().Objective, problem.Solve(null, warmStarts: null).Objective);
    }

    /// <summary>A one-hidden-layer MLP's spec: w1 (width × 12) and w2 (5 × width) share the group "h".</summary>
    private static PermutationSpec SingleGroupSpec(int width) =>
        PermutationSpec.CreateBuilder().Permute("w1", "h", null).Permute("w2", null, "h").Build(
            ParameterLayout.Of(new Dictionary<string, Tensor> { ["w1"] = torch.zeros(width, 12), ["w2"] = torch.zeros(5, width) }));

    /// <summary>A random gradient-like pair for <see cref="SingleGroupSpec"/>: rank-3 weight tensors, like a small minibatch's gradients.</summary>
    private static Pair RandomPair(PermutationSpec spec, int seed)
    {
        torch.manual_seed(seed);
        var width = spec.Group("h").Size;
        ParameterSet Side() => new([
            new("w1", torch.randn(width, 3).matmul(torch.randn(3, 12))),
            new("w2", torch.randn(5, 3).matmul(torch.randn(3, width))),
        ]);
        return new Pair(Side(), Side());
    }

    private sealed record Pair(ParameterSet Target, ParameterSet Source) : IDisposable
    {
        public void Dispose()
        {
            Target.Dispose();
            Source.Dispose();
        }
    }
}
