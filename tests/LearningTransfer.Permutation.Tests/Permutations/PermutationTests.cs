using TorchSharp;
using TrajectoryTransfer.Permutations.Tests.TestModels;
using static TorchSharp.torch;

namespace TrajectoryTransfer.Permutations.Tests.Permutations;

public sealed class PermutationTests
{
    [Fact]
    public void Apply_IdentityPermutation_LeavesWeightsUnchanged()
    {
        torch.manual_seed(1);
        using var model = new TinyMlp();
        var spec = TinyMlp.Spec(model);
        using var weights = ParameterSet.FromModule(model);
        using var permuted = spec.Apply(Permutation.Identity(spec), weights);

        foreach (var (name, tensor) in weights)
        {
            Assert.True(tensor.eq(permuted[name]).all().ToBoolean(), name);
        }
    }

    [Fact]
    public void Apply_RandomThenInverse_RestoresWeightsExactly()
    {
        torch.manual_seed(2);
        using var model = new TinyMlp();
        var spec = TinyMlp.Spec(model);
        var pi = Permutation.Random(spec, seed: 7);
        using var weights = ParameterSet.FromModule(model);
        using var once = spec.Apply(pi, weights);
        using var back = spec.Apply(pi.Inverse(), once);

        Assert.False(pi.IsIdentity);
        Assert.Contains(weights, kv => !kv.Value.eq(once[kv.Key]).all().ToBoolean());
        foreach (var (name, tensor) in weights)
        {
            Assert.True(tensor.eq(back[name]).all().ToBoolean(), name);
        }
    }

    [Fact]
    public void Apply_RowPermutation_MovesRowsAsDocumented()
    {
        var spec = PermutationSpec.CreateBuilder().Permute("w", "g", null).Group("g", 3).Build();
        var pi = Permutation.FromIndices([new("g", [2, 0, 1])]);
        using var w = torch.tensor(new float[] { 10, 11, 20, 21, 30, 31 }).reshape(3, 2);
        using var set = new ParameterSet([new("w", w.clone())]);
        using var result = spec.Apply(pi, set);

        // out[i] = in[π[i]]
        Assert.Equal(new float[] { 30, 31, 10, 11, 20, 21 }, result["w"].data<float>().ToArray());
    }

    [Fact]
    public void Apply_BlockAxis_MovesWholeBlocks()
    {
        var spec = PermutationSpec.CreateBuilder().Permute("w", null, new AxisPermutation("c", 2)).Group("c", 2).Build();
        var pi = Permutation.FromIndices([new("c", [1, 0])]);
        using var set = new ParameterSet([new("w", torch.tensor(new float[] { 1, 2, 3, 4 }).reshape(1, 4))]);
        using var result = spec.Apply(pi, set);

        Assert.Equal(new float[] { 3, 4, 1, 2 }, result["w"].data<float>().ToArray());
    }

    [Fact]
    public void Then_ComposedPermutation_EqualsApplyingBothInOrder()
    {
        torch.manual_seed(3);
        using var model = new TinyMlp();
        var spec = TinyMlp.Spec(model);
        var first = Permutation.Random(spec, 1);
        var second = Permutation.Random(spec, 2);
        using var weights = ParameterSet.FromModule(model);
        using var a = spec.Apply(first, weights);
        using var twice = spec.Apply(second, a);
        using var composed = spec.Apply(first.Then(second), weights);

        foreach (var (name, tensor) in twice)
        {
            Assert.True(tensor.eq(composed[name]).all().ToBoolean(), name);
        }

        Assert.True(first.Then(first.Inverse()).IsIdentity);
    }

    [Fact]
    public void FromIndices_NotAPermutation_Throws()
    {
        var ex = Assert.Throws<ArgumentException>(() => Permutation.FromIndices([new("g", [0, 0, 1])]));
        Assert.Contains("'g'", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Permute_ModuleInPlace_KeepsOutputs()
    {
        torch.manual_seed(4);
        using var model = new TinyMlp();
        var spec = TinyMlp.Spec(model);
        using var x = torch.randn(8, 6);
        using var before = model.forward(x).detach();
        spec.Permute(model, Permutation.Random(spec, 3));
        using var after = model.forward(x).detach();

        Assert.True((before - after).abs().max().ToDouble() < 1e-5);
    }
}
