using TorchSharp;
using static TorchSharp.torch;

namespace TrajectoryTransfer.Permutations;

/// <summary>The outcome of a <see cref="PermutationExactness"/> check.</summary>
/// <param name="MaxOutputDifference">max |f(πθ; x) − f(θ; x)| over the inputs.</param>
/// <param name="MaxGradientDifference">max |∇f(πθ) − π∇f(θ)| over all parameters (f is a fixed random projection of the outputs).</param>
/// <param name="MaxOutputMagnitude">max |f(θ; x)|, to judge the differences.</param>
/// <param name="MaxGradientMagnitude">max |∇f(θ)|, to judge the differences.</param>
/// <param name="Tolerance">The absolute tolerance the check used.</param>
/// <param name="Permutation">The permutation that was tried.</param>
public sealed record ExactnessReport(
    double MaxOutputDifference,
    double MaxGradientDifference,
    double MaxOutputMagnitude,
    double MaxGradientMagnitude,
    double Tolerance,
    Permutation Permutation)
{
    /// <summary>Whether outputs and gradients agree within the tolerance.</summary>
    public bool IsExact => OutputsMatch && GradientsPermute;

    /// <summary>Whether the permuted model computes the same outputs.</summary>
    public bool OutputsMatch => MaxOutputDifference <= Tolerance;

    /// <summary>Whether gradients permute equivariantly.</summary>
    public bool GradientsPermute => MaxGradientDifference <= Tolerance;
}

/// <summary>
/// Checks that a spec really describes a symmetry of a model: a randomly permuted copy must compute the same outputs,
/// and its gradients must be the permuted gradients (∇f(πθ) = π∇f(θ)). Call it on your own architectures.
/// </summary>
public static class PermutationExactness
{
    /// <summary>
    /// Permutes the model randomly, compares outputs and gradients with the original on <paramref name="inputs"/>, and
    /// restores the model exactly (its parameters, buffers and gradients are as before when this returns or throws).
    /// The check runs in the model's current training mode.
    /// </summary>
    /// <param name="model">The model, taking one input tensor.</param>
    /// <param name="spec">The spec to check.</param>
    /// <param name="inputs">A batch of inputs on the model's device.</param>
    /// <param name="seed">Seeds the random permutation and the random output projection.</param>
    /// <param name="tolerance">Absolute tolerance on the differences; the default is 1e-5, right for float32 models of moderate size.</param>
    /// <exception cref="ArgumentNullException">An argument is null.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="tolerance"/> is negative.</exception>
    /// <exception cref="PermutationSpecException">The spec does not fit the model.</exception>
    public static ExactnessReport Check(nn.Module<Tensor, Tensor> model, PermutationSpec spec, Tensor inputs, int seed = 0, double tolerance = 1e-5)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(spec);
        ArgumentNullException.ThrowIfNull(inputs);
        ArgumentOutOfRangeException.ThrowIfNegative(tolerance);
        return Check(model, spec, inputs, Permutation.Random(spec, seed), seed, tolerance);
    }

    /// <summary>
    /// Like <see cref="Check(nn.Module{Tensor, Tensor}, PermutationSpec, Tensor, int, double)"/>, with a given permutation
    /// instead of a random one: permute only some groups to find which of them break the symmetry.
    /// </summary>
    /// <param name="model">The model, taking one input tensor.</param>
    /// <param name="spec">The spec to check.</param>
    /// <param name="inputs">A batch of inputs on the model's device.</param>
    /// <param name="permutation">The permutation to try; its groups must match the spec.</param>
    /// <param name="seed">Seeds the random output projection.</param>
    /// <param name="tolerance">Absolute tolerance on the differences; the default is 1e-5.</param>
    /// <exception cref="ArgumentNullException">An argument is null.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="tolerance"/> is negative.</exception>
    /// <exception cref="PermutationSpecException">The spec does not fit the model, or the permutation does not match the spec.</exception>
    public static ExactnessReport Check(nn.Module<Tensor, Tensor> model, PermutationSpec spec, Tensor inputs, Permutation permutation, int seed = 0, double tolerance = 1e-5)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(spec);
        ArgumentNullException.ThrowIfNull(inputs);
        ArgumentNullException.ThrowIfNull(permutation);
        ArgumentOutOfRangeException.ThrowIfNegative(tolerance);
        spec.Validate(model);
        permutation.Validate(spec);

        using var scope = torch.NewDisposeScope();
        using var saved = ParameterSet.FromModule(model);
        var savedGradients = SaveGradients(model); // disposed by the scope
        try
        {
            var (outputs, gradients) = OutputsAndGradients(model, inputs, seed);
            using (gradients)
            {
                saved.LoadInto(model, strict: false);
                spec.Permute(model, permutation);
                var (permutedOutputs, permutedGradients) = OutputsAndGradients(model, inputs, seed);
                using (permutedGradients)
                using (var expectedGradients = spec.Apply(permutation, gradients))
                {
                    var outputDifference = (permutedOutputs - outputs).abs().max().ToDouble();
                    var gradientDifference = 0.0;
                    var gradientMagnitude = 0.0;
                    foreach (var (name, expected) in expectedGradients)
                    {
                        gradientDifference = Math.Max(gradientDifference, (permutedGradients[name] - expected).abs().max().ToDouble());
                        gradientMagnitude = Math.Max(gradientMagnitude, expected.abs().max().ToDouble());
                    }

                    return new ExactnessReport(outputDifference, gradientDifference, outputs.abs().max().ToDouble(), gradientMagnitude, tolerance, permutation);
                }
            }
        }
        finally
        {
            saved.LoadInto(model, strict: false);
            RestoreGradients(model, savedGradients);
        }
    }

    private static (Tensor Outputs, ParameterSet Gradients) OutputsAndGradients(nn.Module<Tensor, Tensor> model, Tensor inputs, int seed)
    {
        model.zero_grad();
        var outputs = model.forward(inputs);
        using var generator = new Generator((ulong)seed + 1, outputs.device);
        var projection = torch.randn(outputs.shape, generator: generator, dtype: outputs.dtype, device: outputs.device);
        (outputs * projection).sum().backward();
        return (outputs.detach(), ParameterSet.GradientsOf(model));
    }

    private static Dictionary<string, Tensor?> SaveGradients(nn.Module model) =>
        model.named_parameters().ToDictionary(p => p.name, p => p.parameter.grad?.detach().clone());

    private static void RestoreGradients(nn.Module model, Dictionary<string, Tensor?> gradients)
    {
        using var noGrad = torch.no_grad();
        foreach (var (name, parameter) in model.named_parameters())
        {
            var saved = gradients[name];
            if (saved is null)
            {
                parameter.grad = null;
            }
            else if (parameter.grad is null)
            {
                parameter.grad = saved.detach().clone().DetachFromDisposeScope();
            }
            else
            {
                parameter.grad.copy_(saved);
            }
        }
    }
}
