using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace TrajectoryTransfer.Permutations.Tests.TestModels;

/// <summary>Shared steps of the architecture, spec and inference tests.</summary>
internal static class ModelTesting
{
    /// <summary>Gives every normalization non-trivial affine parameters and every PReLU distinct slopes, so that permuting them wrongly shows.</summary>
    public static void RandomizeNorms(nn.Module model)
    {
        using var noGrad = torch.no_grad();
        foreach (var (_, module) in model.named_modules())
        {
            var (weight, bias) = module switch
            {
                NormBase bn => (bn.weight, bn.bias),
                LayerNorm ln => (ln.weight, ln.bias),
                GroupNorm gn => (gn.weight, gn.bias),
                PReLU prelu => (prelu.weight, null),
                _ => (null, null),
            };
            weight?.uniform_(0.5, 1.5);
            bias?.normal_(0, 0.5);
        }
    }

    /// <summary>Runs a few training-mode forward passes so that BatchNorm running statistics are non-trivial; restores the mode.</summary>
    public static void WarmUpRunningStatistics(nn.Module<Tensor, Tensor> model, Tensor input, int passes = 3)
    {
        var training = model.training;
        model.train();
        using (torch.no_grad())
        {
            for (var i = 0; i < passes; i++)
            {
                using var shifted = (input * (1 + (0.3 * i))) + i;
                using var output = model.forward(shifted);
            }
        }

        model.train(training);
    }

    /// <summary>Asserts that the spec is an exact symmetry of the model (≤ 1e-5 in outputs and gradients), in its current mode, and that the check was not vacuous.</summary>
    public static void AssertExact(nn.Module<Tensor, Tensor> model, PermutationSpec spec, Tensor input, int seed = 1)
    {
        var report = PermutationExactness.Check(model, spec, input, seed, tolerance: 1e-5);

        Assert.True(
            report.IsExact,
            $"{(model.training ? "train" : "eval")} mode: outputs differ by {report.MaxOutputDifference} (max {report.MaxOutputMagnitude}), gradients by {report.MaxGradientDifference} (max {report.MaxGradientMagnitude})");
        Assert.True(report.MaxOutputMagnitude > 1e-3, $"outputs are all near zero ({report.MaxOutputMagnitude})");
        Assert.True(report.MaxGradientMagnitude > 1e-3, $"gradients are all near zero ({report.MaxGradientMagnitude})");
        Assert.False(report.Permutation.IsIdentity);
    }

    /// <summary>
    /// Asserts exactness in train mode and in eval mode (after giving the norms non-trivial parameters and running
    /// statistics); restores the mode. With <paramref name="trainInFloat64"/> the train-mode check runs on a float64 copy.
    /// </summary>
    /// <remarks>
    /// Why float64 for deep BatchNorm networks in train mode: normalizing by batch statistics amplifies float32 rounding
    /// (the order of the channel sums changes with the permutation) to about 1e-6 of the gradients' magnitude, and a
    /// ResNet's gradients reach 10–70, so an absolute 1e-5 is then about one float32 ulp. Eval mode stays float32.
    /// </remarks>
    public static void AssertExactInTrainAndEval(nn.Module<Tensor, Tensor> model, PermutationSpec spec, Tensor input, bool trainInFloat64 = false)
    {
        var training = model.training;
        RandomizeNorms(model);
        WarmUpRunningStatistics(model, input);
        model.eval();
        AssertExact(model, spec, input);
        model.train();
        if (trainInFloat64)
        {
            model.to(ScalarType.Float64);
            using var wide = input.to(ScalarType.Float64);
            AssertExact(model, spec, wide);
            model.to(ScalarType.Float32);
        }
        else
        {
            AssertExact(model, spec, input);
        }

        model.train(training);
    }

    /// <summary>Makes <paramref name="target"/> = π(<paramref name="source"/>) (parameters and buffers) and asserts that weight matching finds π.</summary>
    public static void AssertMatchingRecoversPlantedPermutation(PermutationSpec spec, nn.Module source, nn.Module target, int seed)
    {
        var planted = Permutation.Random(spec, seed);
        using (var weights = ParameterSet.FromModule(source))
        using (var permuted = spec.Apply(planted, weights))
        {
            permuted.LoadInto(target);
        }

        var result = WeightMatching.Match(spec, target, source);

        Assert.False(planted.IsIdentity);
        Assert.Equal(1.0, result.Permutation.AgreementWith(planted));
        Assert.Equal(planted, result.Permutation);
        Assert.True(result.Objective >= result.InitialObjective);
    }

    /// <summary>
    /// Asserts exactness on a float64 copy of the model's parameters (converted in place and back), in eval mode and
    /// optionally train mode, after giving the norms non-trivial parameters and running statistics: float64 leaves no
    /// room for rounding, so any difference above 10⁻⁷ of the largest value is a wrong spec.
    /// </summary>
    public static void AssertExactInFloat64(nn.Module<Tensor, Tensor> model, PermutationSpec spec, Tensor input, bool trainMode)
    {
        var training = model.training;
        RandomizeNorms(model);
        WarmUpRunningStatistics(model, input);
        model.to(ScalarType.Float64);
        try
        {
            using var wide = input.is_floating_point() ? input.to(ScalarType.Float64) : input.alias();
            foreach (var mode in trainMode ? new[] { false, true } : [false])
            {
                model.train(mode);
                var report = PermutationExactness.Check(model, spec, wide, seed: 1);
                var where = mode ? "train" : "eval";
                Assert.True(
                    report.MaxOutputDifference <= 1e-7 * Math.Max(1, report.MaxOutputMagnitude),
                    $"{where} mode: outputs differ by {report.MaxOutputDifference} (max {report.MaxOutputMagnitude})");
                Assert.True(
                    report.MaxGradientDifference <= 1e-7 * Math.Max(1, report.MaxGradientMagnitude),
                    $"{where} mode: gradients differ by {report.MaxGradientDifference} (max {report.MaxGradientMagnitude})");
                Assert.True(report.MaxOutputMagnitude > 1e-3, $"outputs are all near zero ({report.MaxOutputMagnitude})");
                Assert.True(report.MaxGradientMagnitude > 1e-3, $"gradients are all near zero ({report.MaxGradientMagnitude})");
                Assert.False(report.Permutation.IsIdentity);
            }
        }
        finally
        {
            model.to(ScalarType.Float32);
            model.train(training);
        }
    }

    /// <summary>Asserts that the spec permutes no axis of the tensor.</summary>
    public static void AssertLeftAlone(PermutationSpec spec, string tensor) =>
        Assert.True(spec.AxesOf(tensor).All(a => a is null), $"'{tensor}' is permuted: {string.Join(", ", spec.AxesOf(tensor))}");

    /// <summary>Whether every tensor of the two modules is equal.</summary>
    public static bool SameState(nn.Module a, nn.Module b)
    {
        var sa = a.state_dict();
        var sb = b.state_dict();
        return sa.Count == sb.Count && sa.All(kv => sb.TryGetValue(kv.Key, out var t) && kv.Value.shape.SequenceEqual(t.shape) && kv.Value.eq(t).all().ToBoolean());
    }
}
