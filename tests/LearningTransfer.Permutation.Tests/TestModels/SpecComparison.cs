using System.Text;

namespace TrajectoryTransfer.Permutations.Tests.TestModels;

/// <summary>Compares specs up to the names of their groups.</summary>
internal static class SpecComparison
{
    /// <summary>
    /// The spec with every group renamed g0, g1, … in the order its first axis appears (tensors in the spec's order, axes
    /// in order), one line per tensor: "name: g0, -, g1×16". Tensors left alone read "name: -" whatever their rank, since
    /// "left alone" and "no axis permuted" mean the same.
    /// </summary>
    public static string Canonical(PermutationSpec spec)
    {
        var names = new Dictionary<string, string>(StringComparer.Ordinal);
        var text = new StringBuilder();
        foreach (var parameter in spec.Parameters.Order(StringComparer.Ordinal))
        {
            var axes = spec.AxesOf(parameter);
            text.Append(parameter).Append(": ");
            if (axes.All(a => a is null))
            {
                text.Append('-').Append('\n');
                continue;
            }

            text.AppendJoin(", ", axes.Select(a =>
            {
                if (a is not { } axis)
                {
                    return "-";
                }

                if (!names.TryGetValue(axis.Group, out var canonical))
                {
                    canonical = $"g{names.Count}";
                    names[axis.Group] = canonical;
                }

                return axis.BlockSize == 1 ? canonical : $"{canonical}×{axis.BlockSize}";
            })).Append('\n');
        }

        return text.ToString();
    }

    /// <summary>Asserts that two specs permute the same axes of the same tensors with the same grouping and block sizes, whatever the groups are called.</summary>
    public static void AssertEquivalent(PermutationSpec expected, PermutationSpec actual)
    {
        Assert.Equal(Canonical(expected), Canonical(actual));
        Assert.Equal(
            expected.Groups.Select(g => g.Size).Order(),
            actual.Groups.Select(g => g.Size).Order());
    }
}
