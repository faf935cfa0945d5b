using TorchSharp;
using TrajectoryTransfer.Internal;
using TrajectoryTransfer.Permutations;
using static TorchSharp.torch;

namespace TrajectoryTransfer;

/// <summary>
/// Before a transfer starts, checks that a given spec is a symmetry of the model on one training minibatch: the loss of a
/// randomly permuted model must equal the model's, and its gradients must be the permuted gradients. A spec that is not a
/// symmetry (for example a bias put in a group of its own) would otherwise run to the end and return meaningless results.
/// </summary>
internal static class SpecCheck
{
    // Outputs to float32 rounding; gradients by 5 % per tensor (relative L2), the limit inference uses: float32 rounding
    // stays far below it, and a wrong spec changes some gradient by its own size.
    private const double LossTolerance = 1e-4;
    private const double GradientTolerance = 0.05;

    public static void Verify(nn.Module<Tensor, Tensor> model, PermutationSpec spec, GradientData data, object batch, int seed)
    {
        using var scope = torch.NewDisposeScope();
        using var modes = ModuleStateScope.Capture(model, ModuleParts.Modes);
        model.eval();
        var report = PermutationExactness.Check(model, spec, m => data.Loss(model, batch), seed);
        var loss = Math.Abs(report.MaxOutputMagnitude);
        if (!double.IsFinite(report.MaxOutputMagnitude) || !double.IsFinite(report.MaxOutputDifference))
        {
            throw new ArgumentException(
                "The loss on the first training batch is NaN or infinite at the new initialization, before any transfer step: check the inputs and labels of the data (WithData) for NaN or infinite values.",
                "data");
        }

        if (Passes(report, loss))
        {
            return;
        }

        var breaking = spec.GroupNames
            .Where(group => !Passes(PermutationExactness.Check(model, spec, m => data.Loss(model, batch), SingleGroup(spec, group, seed)), loss))
            .ToList();
        throw new PermutationSpecException(
            $"The spec is not a symmetry of the model: with a random permutation of its groups, the loss on a training batch changed by {report.MaxOutputDifference:G3} (loss {loss:G4}) and a parameter's gradient by {report.MaxGradientRelativeError:P1} (relative L2), where a symmetry changes neither. "
            + (breaking.Count == 0 ? "No single group breaks it alone. " : $"Groups that break it alone: {string.Join(", ", breaking.Select(g => $"'{g}'"))}. ")
            + "Check those groups' members (PermutationSpec.ToString() lists them), let the library infer the spec (omit WithSpec), or turn this check off with WithSpec(spec, verify: false).",
            "spec");
    }

    private static bool Passes(ExactnessReport report, double loss) =>
        report.MaxOutputDifference <= LossTolerance * Math.Max(1, loss) && report.MaxGradientRelativeError <= GradientTolerance;

    /// <summary>A permutation that moves only <paramref name="group"/> (randomly) and leaves every other group as it is.</summary>
    private static Permutation SingleGroup(PermutationSpec spec, string group, int seed)
    {
        var random = Permutation.Random(spec, seed);
        var result = Permutation.Identity(spec);
        return result.With(group, random.ToArray(group));
    }
}
