using TorchSharp;
using TrajectoryTransfer.Permutations.Tests.TestModels;
using static TorchSharp.torch;

namespace TrajectoryTransfer.Permutations.Tests.Specs;

public sealed class PermutationSpecTests
{
    [Fact]
    public void Build_AgainstModel_InfersGroupSizesAndCoupling()
    {
        using var model = new TinyMlp(6, 5, 4, 3);
        var spec = TinyMlp.Spec(model);

        Assert.Equal(5, spec.Group("h1").Size);
        Assert.Equal(4, spec.Group("h2").Size);
        Assert.Equal(["h2"], spec.CoupledGroups("h1"));
        Assert.Equal(["h1"], spec.CoupledGroups("h2"));
    }

    [Fact]
    public void Build_UncoveredParameter_ThrowsNamingIt()
    {
        using var model = new TinyMlp();
        var builder = PermutationSpec.CreateBuilder()
            .Permute("fc1.weight", "h1", null).Permute("fc1.bias", "h1")
            .Permute("fc2.weight", "h2", "h1").Permute("fc2.bias", "h2")
            .Permute("fc3.weight", null, "h2");

        var ex = Assert.Throws<PermutationSpecException>(() => builder.Build(model));
        Assert.Contains("'fc3.bias'", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Build_MissingParameter_ThrowsNamingIt()
    {
        using var model = new TinyMlp();
        var builder = PermutationSpec.CreateBuilder().Permute("fc9.weight", "h1", null);

        var ex = Assert.Throws<PermutationSpecException>(() => builder.Build(model));
        Assert.Contains("'fc9.weight'", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Build_InconsistentAxisSizes_ThrowsWithSizes()
    {
        using var model = new TinyMlp(6, 5, 4, 3);

        // fc2's input axis has size 5, fc3's input axis has size 4: they cannot share a group.
        var builder = PermutationSpec.CreateBuilder()
            .Permute("fc1.weight", "h1", null).Permute("fc1.bias", "h1")
            .Permute("fc2.weight", "h2", "h1").Permute("fc2.bias", "h2")
            .Permute("fc3.weight", null, "h1").LeaveAlone("fc3.bias");

        var ex = Assert.Throws<PermutationSpecException>(() => builder.Build(model));
        Assert.Contains("'fc3.weight' axis 1 has size 4", ex.Message, StringComparison.Ordinal);
        Assert.Contains("expects 5", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Apply_TensorNotInSpec_Throws()
    {
        using var model = new TinyMlp();
        var spec = TinyMlp.Spec(model);
        using var set = new ParameterSet([new("other.weight", torch.zeros(2, 2))]);

        var ex = Assert.Throws<PermutationSpecException>(() => spec.Apply(Permutation.Identity(spec), set));
        Assert.Contains("'other.weight'", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Apply_WrongShape_ThrowsWithShapes()
    {
        using var model = new TinyMlp(6, 5, 4, 3);
        var spec = TinyMlp.Spec(model);
        using var set = new ParameterSet([new("fc1.weight", torch.zeros(7, 6))]);

        var ex = Assert.Throws<PermutationSpecException>(() => spec.Apply(Permutation.Identity(spec), set));
        Assert.Contains("'fc1.weight' axis 0 has size 7", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_LayoutWithWrongBlockAxis_NamesParameterAxisAndSizes()
    {
        var spec = PermutationSpec.CreateBuilder()
            .Permute("conv.weight", "c", null, null, null)
            .Permute("fc.weight", null, new AxisPermutation("c", 4))
            .Group("c", 3)
            .Build();
        var layout = new ParameterLayout([
            new ParameterInfo("conv.weight", [3, 1, 3, 3], ScalarType.Float32),
            new ParameterInfo("fc.weight", [2, 10], ScalarType.Float32),
        ]);

        var ex = Assert.Throws<PermutationSpecException>(() => spec.Validate(layout));
        Assert.Contains("'fc.weight' axis 1 has size 10 [2, 10]", ex.Message, StringComparison.Ordinal);
        Assert.Contains("group 'c' expects 12 (group size 3 × block 4)", ex.Message, StringComparison.Ordinal);
        Assert.Equal("layout", ex.ParamName);
    }

    [Fact]
    public void Validate_LayoutMissingNamedParameter_NamesIt()
    {
        var spec = PermutationSpec.CreateBuilder().Permute("a", "g").Permute("b", "g").Group("g", 2).Build();
        var layout = new ParameterLayout([new ParameterInfo("a", [2], ScalarType.Float32)]);

        var ex = Assert.Throws<PermutationSpecException>(() => spec.Validate(layout));
        Assert.Contains("names 'b', which the model does not have", ex.Message, StringComparison.Ordinal);

        spec.Validate(layout, requireAllPresent: false);
    }

    [Fact]
    public void Exceptions_OfThePackage_ShareOneRoot()
    {
        Assert.IsAssignableFrom<PermutationException>(new PermutationSpecException("spec", "model"));
        Assert.IsAssignableFrom<PermutationException>(new AssignmentSolverException("solver"));
        Assert.Equal("model", new PermutationSpecException("spec", "model").ParamName);
    }
}
