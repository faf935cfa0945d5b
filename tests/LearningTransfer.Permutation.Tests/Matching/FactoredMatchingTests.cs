using TorchSharp;
using static TorchSharp.torch;

namespace TrajectoryTransfer.Permutations.Tests.Matching;

/// <summary>Pairs given as low-rank factors give the same problem as the full tensors (to float rounding).</summary>
public sealed class FactoredMatchingTests
{
    private const int Rank = 6;

    // h1 = 40 (w1 rows, w2 columns), h2 = 36 (w2 rows, w3 columns in blocks of 4 after a flatten), c = 12 (a conv's outputs).
    private static readonly (string Name, long[] Shape)[] Tensors =
    [
        ("w1", [40, 30]),
        ("b1", [40]),
        ("w2", [36, 40]),
        ("w3", [20, 144]),
        ("conv", [12, 6, 3, 3]),
        ("head", [3, 12]),
    ];

    private static PermutationSpec Spec() => PermutationSpec.CreateBuilder()
        .Permute("w1", "h1", null).Permute("b1", "h1")
        .Permute("w2", "h2", "h1")
        .Permute("w3", null, new AxisPermutation("h2", 4))
        .Permute("conv", "c", null, null, null)
        .Permute("head", null, "c")
        .Build(new ParameterLayout(Tensors.Select(t => new ParameterInfo(t.Name, t.Shape, ScalarType.Float32))));

    /// <summary>One side of a pair: the matrices as factors of rank 6, the bias in full; and the same side with every tensor in full.</summary>
    private static (Dictionary<string, Tensor> Dense, Dictionary<string, LowRankTensor> Factors, Dictionary<string, Tensor> AllDense) Side(Generator generator)
    {
        var dense = new Dictionary<string, Tensor>();
        var factors = new Dictionary<string, LowRankTensor>();
        var all = new Dictionary<string, Tensor>();
        foreach (var (name, shape) in Tensors)
        {
            if (shape.Length == 1)
            {
                dense[name] = all[name] = torch.randn(shape, generator: generator);
                continue;
            }

            var rest = shape.Skip(1).Aggregate(1L, (a, b) => a * b);
            var factor = new LowRankTensor(torch.randn([Rank, shape[0]], generator: generator), torch.randn([Rank, rest], generator: generator), shape);
            factors[name] = factor;
            all[name] = factor.ToDense();
        }

        return (dense, factors, all);
    }

    [Fact]
    public void AddPair_Factors_GiveTheSameObjectiveAsFullTensors_AtAnyPermutation()
    {
        using var scope = torch.NewDisposeScope();
        var spec = Spec();
        using var generator = new Generator(21);
        using var withFactors = new WeightMatchingProblem(spec);
        using var withTensors = new WeightMatchingProblem(spec);
        for (var pair = 0; pair < 3; pair++)
        {
            var target = Side(generator);
            var source = Side(generator);
            withFactors.AddPair(target.Dense, source.Dense, target.Factors, source.Factors, weight: 0.5 + pair);
            withTensors.AddPair(target.AllDense, source.AllDense, weight: 0.5 + pair);
        }

        foreach (var seed in new[] { 1, 2, 3 })
        {
            var permutation = Permutation.Random(spec, seed);
            var expected = withTensors.Objective(permutation);
            var actual = withFactors.Objective(permutation);
            Assert.True(Math.Abs(expected - actual) <= 1e-4 * Math.Abs(expected), $"seed {seed}: factors {actual}, tensors {expected}");
        }
    }

    [Fact]
    public void Solve_Factors_FindTheSamePermutationAndObjective()
    {
        using var scope = torch.NewDisposeScope();
        var spec = Spec();
        using var generator = new Generator(22);
        using var withFactors = new WeightMatchingProblem(spec);
        using var withTensors = new WeightMatchingProblem(spec);
        var target = Side(generator);
        var source = Side(generator);
        withFactors.AddPair(target.Dense, source.Dense, target.Factors, source.Factors);
        withTensors.AddPair(target.AllDense, source.AllDense);

        var expected = withTensors.Solve();
        var actual = withFactors.Solve();

        Assert.Equal(expected.Permutation, actual.Permutation);
        Assert.Equal(expected.Objective, actual.Objective, 1e-4 * Math.Abs(expected.Objective));
    }

    [Fact]
    public void AddPair_FactoredHiddenToHiddenTerm_KeepsTheSmallerFactors()
    {
        using var scope = torch.NewDisposeScope();
        var spec = Spec();
        using var generator = new Generator(23);
        using var withFactors = new WeightMatchingProblem(spec);
        using var withTensors = new WeightMatchingProblem(spec);
        var target = Side(generator);
        var source = Side(generator);

        withFactors.AddPair(target.Dense, source.Dense, target.Factors, source.Factors);
        withTensors.AddPair(target.AllDense, source.AllDense);

        // w2 (36×40, two permuted axes) is kept for the solves: as 6×(36+40) factors instead of 36×40 values, per side.
        Assert.Equal(2 * 4 * 6 * (36 + 40), withFactors.CachedBytes - (withTensors.CachedBytes - (2 * 4 * 36 * 40)));
    }

    [Fact]
    public void AddPair_NameAsTensorAndAsFactors_Throws()
    {
        using var scope = torch.NewDisposeScope();
        var spec = Spec();
        using var generator = new Generator(24);
        using var problem = new WeightMatchingProblem(spec);
        var target = Side(generator);
        var source = Side(generator);
        target.Dense["w1"] = target.AllDense["w1"];

        var ex = Assert.Throws<ArgumentException>(() => problem.AddPair(target.Dense, source.Dense, target.Factors, source.Factors));

        Assert.Contains("'w1' is given both as a tensor and as factors", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void LowRankTensor_FactorsThatDoNotFitTheShape_SaysWhatItExpected()
    {
        using var left = torch.zeros(4, 5);
        using var right = torch.zeros(4, 7);

        var ex = Assert.Throws<ArgumentException>(() => new LowRankTensor(left, right, [5, 8]));

        Assert.Contains("expected [R, 5] and [R, 8]", ex.Message, StringComparison.Ordinal);
    }
}
