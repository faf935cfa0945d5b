using TorchSharp;
using TrajectoryTransfer.Internal;
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

    /// <summary>
    /// The largest relative error of a single tensor's gradient, ‖∇f(πθ) − π∇f(θ)‖ / ‖π∇f(θ)‖ (L2 over the tensor), over
    /// all parameters: a measure that float32 rounding cannot inflate the way it can inflate
    /// <see cref="MaxGradientDifference"/> (a rounding difference that flips a max-pool's choice between two equal
    /// values, or a ReLU at zero, moves a few gradient entries by a visible amount, but the tensor by a fraction of a
    /// percent), while a wrong spec moves it by order one.
    /// </summary>
    public double MaxGradientRelativeError { get; init; }
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
        return CheckCore(model, spec, permutation, () => Projected(model, inputs, seed), tolerance);
    }

    /// <summary>
    /// Checks the spec against a scalar objective instead of the model's outputs: <paramref name="objective"/> (for example
    /// the loss on one training minibatch) must give the same value for the randomly permuted model, and its gradients
    /// must permute. Works for models of any input type. The model is restored exactly, as by the other overloads.
    /// </summary>
    /// <param name="model">The model.</param>
    /// <param name="spec">The spec to check.</param>
    /// <param name="objective">Runs the model and returns a scalar (it is differentiated with respect to the parameters).</param>
    /// <param name="seed">Seeds the random permutation.</param>
    /// <param name="tolerance">Absolute tolerance on the differences; the default is 1e-5.</param>
    /// <exception cref="ArgumentNullException">An argument is null.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="tolerance"/> is negative.</exception>
    /// <exception cref="ArgumentException">The objective did not return a scalar.</exception>
    /// <exception cref="PermutationSpecException">The spec does not fit the model.</exception>
    public static ExactnessReport Check(nn.Module model, PermutationSpec spec, Func<nn.Module, Tensor> objective, int seed = 0, double tolerance = 1e-5)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(spec);
        ArgumentNullException.ThrowIfNull(objective);
        ArgumentOutOfRangeException.ThrowIfNegative(tolerance);
        return Check(model, spec, objective, Permutation.Random(spec, seed), tolerance);
    }

    /// <summary>
    /// Like <see cref="Check(nn.Module, PermutationSpec, Func{nn.Module, Tensor}, int, double)"/>, with a given permutation:
    /// permute only some groups to find which of them break the symmetry.
    /// </summary>
    /// <param name="model">The model.</param>
    /// <param name="spec">The spec to check.</param>
    /// <param name="objective">Runs the model and returns a scalar.</param>
    /// <param name="permutation">The permutation to try; its groups must match the spec.</param>
    /// <param name="tolerance">Absolute tolerance on the differences; the default is 1e-5.</param>
    /// <exception cref="ArgumentNullException">An argument is null.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="tolerance"/> is negative.</exception>
    /// <exception cref="ArgumentException">The objective did not return a scalar.</exception>
    /// <exception cref="PermutationSpecException">The spec does not fit the model, or the permutation does not match the spec.</exception>
    public static ExactnessReport Check(nn.Module model, PermutationSpec spec, Func<nn.Module, Tensor> objective, Permutation permutation, double tolerance = 1e-5)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(spec);
        ArgumentNullException.ThrowIfNull(objective);
        ArgumentNullException.ThrowIfNull(permutation);
        ArgumentOutOfRangeException.ThrowIfNegative(tolerance);
        spec.Validate(model);
        permutation.Validate(spec);
        return CheckCore(model, spec, permutation, () =>
        {
            var value = objective(model);
            if (value.numel() != 1)
            {
                throw new ArgumentException($"The objective must return a scalar; it returned {ParameterLayout.FormatShape(value.shape)}.", nameof(objective));
            }

            return (value.reshape(1), value.sum());
        }, tolerance);
    }

    /// <summary>
    /// Runs <paramref name="evaluate"/> (which returns what to compare and the scalar to differentiate) on the model as it
    /// is and permuted, and compares; the model's state, gradients and modes are restored whatever happens.
    /// </summary>
    private static ExactnessReport CheckCore(nn.Module model, PermutationSpec spec, Permutation permutation, Func<(Tensor Outputs, Tensor Scalar)> evaluate, double tolerance)
    {
        using var scope = torch.NewDisposeScope();
        using var restore = ModuleStateScope.Capture(model);
        using var saved = ParameterSet.FromModule(model);
        var (outputs, gradients) = OutputsAndGradients(model, evaluate);
        using (gradients)
        {
            saved.LoadInto(model, strict: false);
            spec.Permute(model, permutation);
            var (permutedOutputs, permutedGradients) = OutputsAndGradients(model, evaluate);
            using (permutedGradients)
            {
                var outputDifference = (permutedOutputs - outputs).abs().max().ToDouble();
                var (gradientDifference, gradientMagnitude, relative) = CompareGradients(spec, permutation, gradients, permutedGradients);
                return new ExactnessReport(outputDifference, gradientDifference, outputs.abs().max().ToDouble(), gradientMagnitude, tolerance, permutation)
                {
                    MaxGradientRelativeError = relative,
                };
            }
        }
    }

    /// <summary>
    /// Compares the permuted model's gradients with the permuted gradients, one tensor at a time (a large model's
    /// gradients are not copied as a whole): the largest difference, the largest expected value, and the largest
    /// per-tensor relative L2 error.
    /// </summary>
    private static (double Difference, double Magnitude, double Relative) CompareGradients(
        PermutationSpec spec,
        Permutation permutation,
        ParameterSet gradients,
        ParameterSet permutedGradients)
    {
        var cache = new PermutationSpecApplyExtensions.IndexCache(permutation);
        foreach (var (name, gradient) in gradients)
        {
            // Index tensors are cached for the whole comparison: create them out here, not in the per-tensor scopes.
            foreach (var axis in spec.AxesOf(name))
            {
                if (axis is { } a)
                {
                    _ = cache.Get(a.Group, a.BlockSize, gradient.device);
                }
            }
        }

        var difference = 0.0;
        var magnitude = 0.0;
        var norms = new List<(double Difference, double Norm)>();
        using var noGrad = torch.no_grad();
        foreach (var (name, actual) in permutedGradients)
        {
            using var scope = torch.NewDisposeScope();
            var expected = PermutationSpecApplyExtensions.PermuteTensor(spec, cache, name, gradients[name], skipAxis: -1);
            var error = actual - expected;
            difference = Math.Max(difference, error.abs().max().ToDouble());
            magnitude = Math.Max(magnitude, expected.abs().max().ToDouble());
            norms.Add((error.norm().ToDouble(), expected.norm().ToDouble()));
        }

        // A tensor whose gradient is negligible next to the largest one is judged against that one's scale: a convolution's
        // bias before a BatchNorm has a gradient that is zero but for rounding (the norm removes it), about 1e-7 of the
        // largest in a He-initialized Conv8, and its relative error is rounding over rounding.
        var floor = 1e-4 * norms.Select(n => n.Norm).DefaultIfEmpty(0).Max();
        var relative = norms.Select(n => n.Difference == 0 ? 0 : n.Difference / Math.Max(n.Norm, floor)).DefaultIfEmpty(0).Max();
        return (difference, magnitude, relative);
    }

    private static (Tensor Outputs, ParameterSet Gradients) OutputsAndGradients(nn.Module model, Func<(Tensor Outputs, Tensor Scalar)> evaluate)
    {
        model.zero_grad();
        var (outputs, scalar) = evaluate();
        scalar.backward();
        return (outputs.detach(), ParameterSet.GradientsOf(model));
    }

    /// <summary>The outputs, and their projection on a seeded random direction (so that every output's gradient counts).</summary>
    private static (Tensor Outputs, Tensor Scalar) Projected(nn.Module<Tensor, Tensor> model, Tensor inputs, int seed)
    {
        var outputs = model.forward(inputs);
        using var generator = new Generator((ulong)seed + 1, outputs.device);
        var projection = torch.randn(outputs.shape, generator: generator, dtype: outputs.dtype, device: outputs.device);
        return (outputs, (outputs * projection).sum());
    }
}
