using TorchSharp;
using TrajectoryTransfer.Permutations.Tests.TestModels;
using static TorchSharp.torch;

namespace TrajectoryTransfer.Permutations.Tests.Exactness;

public sealed class PermutationExactnessTests
{
    [Fact]
    public void Check_CorrectSpec_IsExactAndRestoresModel()
    {
        torch.manual_seed(5);
        using var model = new TinyMlp();
        var spec = TinyMlp.Spec(model);
        using var before = ParameterSet.FromModule(model);
        using var x = torch.randn(16, 6);

        var report = PermutationExactness.Check(model, spec, x, seed: 1);

        Assert.True(report.IsExact, $"outputs {report.MaxOutputDifference}, gradients {report.MaxGradientDifference}");
        Assert.True(report.MaxOutputMagnitude > 1e-3);
        Assert.True(report.MaxGradientMagnitude > 1e-3);
        using var after = ParameterSet.FromModule(model);
        foreach (var (name, tensor) in before)
        {
            Assert.True(tensor.eq(after[name]).all().ToBoolean(), name);
        }
    }

    [Fact]
    public void Check_WrongSpec_ReportsNotExact()
    {
        torch.manual_seed(6);
        using var model = new TinyMlp(6, 5, 5, 3);

        // Forgets that fc2's input axis follows h1: a wrong spec that still fits every shape.
        var spec = PermutationSpec.CreateBuilder()
            .Permute("fc1.weight", "h1", null).Permute("fc1.bias", "h1")
            .Permute("fc2.weight", "h2", null).Permute("fc2.bias", "h2")
            .Permute("fc3.weight", null, "h2").LeaveAlone("fc3.bias")
            .Build(model);
        using var x = torch.randn(16, 6);

        var report = PermutationExactness.Check(model, spec, x, seed: 2);

        Assert.False(report.OutputsMatch);
        Assert.True(report.MaxOutputDifference > 1e-3);
    }

    [Fact]
    public void Check_GivenPermutationOfOneGroup_ShowsWhichGroupIsWrong()
    {
        torch.manual_seed(7);
        using var model = new TinyMlp(6, 5, 5, 3);

        // h1 forgets fc2's input axis; h2 is right.
        var spec = PermutationSpec.CreateBuilder()
            .Permute("fc1.weight", "h1", null).Permute("fc1.bias", "h1")
            .Permute("fc2.weight", "h2", null).Permute("fc2.bias", "h2")
            .Permute("fc3.weight", null, "h2").LeaveAlone("fc3.bias")
            .Build(model);
        using var x = torch.randn(16, 6);
        var random = Permutation.Random(spec, 3);
        var identity = Permutation.Identity(spec);

        var onlyH1 = PermutationExactness.Check(model, spec, x, identity.With("h1", random.ToArray("h1")));
        var onlyH2 = PermutationExactness.Check(model, spec, x, identity.With("h2", random.ToArray("h2")));

        Assert.False(onlyH1.IsExact);
        Assert.True(onlyH2.IsExact, $"outputs {onlyH2.MaxOutputDifference}, gradients {onlyH2.MaxGradientDifference}");
        Assert.Equal(identity.With("h2", random.ToArray("h2")), onlyH2.Permutation);
    }
}
