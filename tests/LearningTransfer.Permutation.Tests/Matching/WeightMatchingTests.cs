using TorchSharp;
using TrajectoryTransfer.Permutations.Tests.TestModels;
using static TorchSharp.torch;

namespace TrajectoryTransfer.Permutations.Tests.Matching;

public sealed class WeightMatchingTests
{
    [Fact]
    public void Match_PlantedPermutationOfMlp_RecoversItExactly()
    {
        torch.manual_seed(8);
        using var source = new TinyMlp(20, 32, 24, 5);
        using var target = new TinyMlp(20, 32, 24, 5);
        var spec = TinyMlp.Spec(source);
        var planted = Permutation.Random(spec, 11);
        using (var weights = ParameterSet.FromModule(source))
        using (var permuted = spec.Apply(planted, weights))
        {
            permuted.LoadInto(target);
        }

        var result = WeightMatching.Match(spec, target, source);

        Assert.Equal(planted, result.Permutation);
        Assert.True(result.Objective >= result.InitialObjective);
    }

    [Fact]
    public void Solve_SingleGroup_SolvesOnce()
    {
        var spec = PermutationSpec.CreateBuilder().Permute("w1", "h", null).Permute("w2", null, "h").Build(
            ParameterLayout.Of(new Dictionary<string, Tensor> { ["w1"] = torch.zeros(16, 8), ["w2"] = torch.zeros(3, 16) }));
        torch.manual_seed(9);
        using var a = new ParameterSet([new("w1", torch.randn(16, 8)), new("w2", torch.randn(3, 16))]);
        using var b = new ParameterSet([new("w1", torch.randn(16, 8)), new("w2", torch.randn(3, 16))]);
        using var problem = new WeightMatchingProblem(spec);
        problem.AddPair(a, b);

        var result = problem.Solve();

        Assert.Equal(1, result.Solves);
        Assert.Equal(1, result.Sweeps);
        using var moved = spec.Apply(result.Permutation, b);
        var direct = (a["w1"] * moved["w1"]).sum().ToDouble() + (a["w2"] * moved["w2"]).sum().ToDouble();
        Assert.Equal(direct, result.Objective, 4);
    }

    [Fact]
    public void Solve_Objective_NeverDecreasesAcrossSweeps()
    {
        torch.manual_seed(10);
        using var m1 = new TinyMlp(10, 12, 12, 4);
        using var m2 = new TinyMlp(10, 12, 12, 4);
        var spec = TinyMlp.Spec(m1);

        var result = WeightMatching.Match(spec, m1, m2, new WeightMatchingOptions { Seed = 3 });

        var previous = result.InitialObjective;
        foreach (var objective in result.ObjectiveBySweep)
        {
            Assert.True(objective >= previous - 1e-4, $"{objective} < {previous}");
            previous = objective;
        }
    }

    [Fact]
    public void AddPair_NaN_ThrowsNamingTensor()
    {
        var spec = PermutationSpec.CreateBuilder().Permute("w", "h", null).Group("h", 3).Build();
        using var problem = new WeightMatchingProblem(spec);
        using var a = new ParameterSet([new("w", torch.tensor(new float[] { 1, float.NaN, 3, 4, 5, 6 }).reshape(3, 2))]);
        using var b = new ParameterSet([new("w", torch.ones(3, 2))]);

        var ex = Assert.Throws<ArgumentException>(() => problem.AddPair(a, b));
        Assert.Contains("'w'", ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(17)]
    [InlineData(36)] // the last row holds the element after the last whole vector of the finiteness scan
    public void Solve_SimilarityOverflowingFloat32_ThrowsNamingGroup(int hugeRow)
    {
        const int n = 37;
        var spec = PermutationSpec.CreateBuilder().Permute("w", "h", null).Group("h", n).Build();
        using var problem = new WeightMatchingProblem(spec);
        var values = Enumerable.Repeat(1f, n).ToArray();
        values[hugeRow] = 1e20f;
        using var a = new ParameterSet([new("w", torch.tensor(values).reshape(n, 1))]);
        using var b = new ParameterSet([new("w", torch.full(n, 1, 1e20f))]);
        problem.AddPair(a, b); // each value is finite; their products (1e40) are not

        var ex = Assert.Throws<ArgumentException>(() => problem.Solve());
        Assert.Contains("group 'h'", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Solve_Twice_LeavesTheAccumulatedSumAsItWas()
    {
        // Group h1 has an accumulated term (w1) and a stored one (w2 is permuted on both axes): the stored term must be
        // added to a copy, or the second solve would see it twice.
        var spec = PermutationSpec.CreateBuilder().Permute("w1", "h1", null).Permute("w2", "h2", "h1").Permute("w3", null, "h2").Group("h1", 6).Group("h2", 5).Build();
        torch.manual_seed(5);
        using var a = new ParameterSet([new("w1", torch.randn(6, 3)), new("w2", torch.randn(5, 6)), new("w3", torch.randn(2, 5))]);
        using var b = new ParameterSet([new("w1", torch.randn(6, 3)), new("w2", torch.randn(5, 6)), new("w3", torch.randn(2, 5))]);
        using var problem = new WeightMatchingProblem(spec);
        problem.AddPair(a, b);

        var first = problem.Solve();
        var second = problem.Solve();

        Assert.Equal(first.Objective, second.Objective, 6);
        Assert.Equal(first.Permutation.Indices("h1").ToArray(), second.Permutation.Indices("h1").ToArray());
        Assert.Equal(problem.Objective(first.Permutation), first.Objective, 4);
    }

    [Theory]
    [InlineData(ScalarType.Float32)]
    [InlineData(ScalarType.Float64)] // after float32 pairs: the kept float32 buffer must not be reused
    public void Clear_ThenNewPairs_SolvesAsAFreshProblemWould(ScalarType secondType)
    {
        var spec = PermutationSpec.CreateBuilder().Permute("w1", "h1", null).Permute("w2", "h2", "h1").Permute("w3", null, "h2").Group("h1", 6).Group("h2", 5).Build();
        ParameterSet Random(int seed, ScalarType type)
        {
            torch.manual_seed(seed);
            return new ParameterSet([new("w1", torch.randn(6, 3, dtype: type)), new("w2", torch.randn(5, 6, dtype: type)), new("w3", torch.randn(2, 5, dtype: type))]);
        }

        using var a1 = Random(1, ScalarType.Float32);
        using var b1 = Random(2, ScalarType.Float32);
        using var a2 = Random(3, secondType);
        using var b2 = Random(4, secondType);
        using var cleared = new WeightMatchingProblem(spec);
        cleared.AddPair(a1, b1);
        cleared.Solve();
        var bytesBefore = cleared.CachedBytes;

        cleared.Clear();
        Assert.Equal(0, cleared.PairCount);
        Assert.Throws<InvalidOperationException>(() => cleared.Solve());
        Assert.Equal(((6 * 6) + (5 * 5)) * sizeof(float), cleared.CachedBytes); // the n×n buffers of h1 and h2 are kept, w2's stored pair is not
        Assert.True(bytesBefore > cleared.CachedBytes);
        cleared.AddPair(a2, b2);
        using var fresh = new WeightMatchingProblem(spec);
        fresh.AddPair(a2, b2);

        var expected = fresh.Solve();
        var actual = cleared.Solve();
        Assert.Equal(expected.Objective, actual.Objective, secondType == ScalarType.Float64 ? 12 : 5);
        Assert.Equal(expected.Permutation.Indices("h1").ToArray(), actual.Permutation.Indices("h1").ToArray());
        Assert.Equal(expected.Permutation.Indices("h2").ToArray(), actual.Permutation.Indices("h2").ToArray());
    }

    [Fact]
    public void AddPair_MismatchedShapes_ThrowsWithShapes()
    {
        var spec = PermutationSpec.CreateBuilder().Permute("w", "h", null).Group("h", 3).Build();
        using var problem = new WeightMatchingProblem(spec);
        using var a = new ParameterSet([new("w", torch.ones(3, 2))]);
        using var b = new ParameterSet([new("w", torch.ones(3, 4))]);

        var ex = Assert.Throws<ArgumentException>(() => problem.AddPair(a, b));
        Assert.Contains("[3, 2]", ex.Message, StringComparison.Ordinal);
        Assert.Contains("[3, 4]", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Match_ModelsWithBatchNorm_MatchesParametersOnlyWithSpecCoveringBuffers()
    {
        torch.manual_seed(12);
        using var source = VggNet.Small(imageSize: 8, batchNorm: true);
        using var target = VggNet.Small(imageSize: 8, batchNorm: true);
        var spec = source.CreatePermutationSpec();
        Assert.True(spec.Covers("bn1.running_mean"));
        var planted = Permutation.Random(spec, 13);
        using (var weights = ParameterSet.FromModule(source))
        using (var permuted = spec.Apply(planted, weights))
        {
            permuted.LoadInto(target);
        }

        // Running statistics that disagree with the parameters must not matter: only parameters are matched.
        using (torch.no_grad())
        {
            foreach (var (name, buffer) in target.named_buffers())
            {
                if (name.EndsWith("running_mean", StringComparison.Ordinal))
                {
                    buffer.normal_(0, 100);
                }
            }
        }

        var result = WeightMatching.Match(spec, target, source);

        Assert.Equal(planted, result.Permutation);
        using var a = ParameterSet.FromModule(target, includeBuffers: false);
        using var b = ParameterSet.FromModule(source, includeBuffers: false);
        using var moved = spec.Apply(result.Permutation, b);
        var parametersOnly = a.Sum(kv => (kv.Value * moved[kv.Key]).sum().ToDouble());
        Assert.Equal(parametersOnly, result.Objective, parametersOnly * 1e-5);
    }
}
