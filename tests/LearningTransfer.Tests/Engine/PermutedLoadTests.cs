using TorchSharp;
using TrajectoryTransfer.Permutations;
using static TorchSharp.torch;

namespace TrajectoryTransfer.Tests.Engine;

/// <summary>Loading θ₂⁰ + π(Δ) in place must give exactly what building the permuted sum and loading it gives.</summary>
public sealed class PermutedLoadTests
{
    public static TheoryData<string> Models => ["mlp", "conv8-bn"];

    private static nn.Module<Tensor, Tensor> Create(string model, int seed)
    {
        torch.manual_seed(seed);
        return model == "mlp" ? new Mlp(20, [16, 12], 5) : new Conv8(1, 10, 0.125, batchNorm: true);
    }

    private static PermutationSpec Spec(nn.Module<Tensor, Tensor> module) =>
        module is Mlp mlp ? mlp.CreatePermutationSpec() : ((Conv8)module).CreatePermutationSpec();

    [Theory]
    [MemberData(nameof(Models))]
    public void LoadPermutedSum_EqualsTheBuiltSumBitForBit(string model)
    {
        using var module = Create(model, 1);
        var spec = Spec(module);
        using var init = ParameterSet.FromModule(Create(model, 2));
        using var generator = new Generator(3);
        // Every floating entry moves, buffers included (BatchNorm running statistics); integer buffers stay.
        using var displacement = new ParameterSet(init.Where(kv => kv.Value.is_floating_point())
            .Select(kv => new KeyValuePair<string, Tensor>(kv.Key, torch.randn(kv.Value.shape, generator: generator))));
        var permutation = Permutation.Random(spec, seed: 4);
        Assert.Contains(spec.Groups, g => !permutation[g.Name].SequenceEqual(Enumerable.Range(0, g.Size)));

        using var moved = spec.Apply(permutation, displacement);
        using var expected = SourceView.Combine(init, moved);
        using var workspace = new Workspace(module);
        workspace.LoadPermutedSum(init, spec, permutation, displacement);
        using var actual = ParameterSet.FromModule(module);

        Assert.Equal(expected.Names.Order(), actual.Names.Order());
        foreach (var name in expected.Names)
        {
            Assert.True(expected[name].equal(actual[name]).all().ToBoolean(), $"'{name}' differs");
        }
    }
}
