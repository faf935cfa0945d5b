using Microsoft.Extensions.Logging.Abstractions;
using TorchSharp;
using TrajectoryTransfer.Permutations;
using static TorchSharp.torch;

namespace TrajectoryTransfer.Tests.Engine;

/// <summary>
/// Once a layer's factors are verified, autograd is not asked for its full weight gradient any more: the sample must stay
/// what the full backward pass gives, and a layer that is not captured later must come back in full, never missing.
/// </summary>
public sealed class SkippedWeightGradientTests
{
    private const int Hidden = 64;

    /// <summary>Whether fc1.weight carried a gradient when the second minibatch of a sample started (autograd computed it for the first).</summary>
    private sealed class Observer
    {
        public List<bool> SawFirstLayerGradient { get; } = [];

        public Tensor Loss(nn.Module<Tensor, Tensor> model, (Tensor X, Tensor Y) batch, bool second)
        {
            if (second)
            {
                var weight = model.named_parameters().First(p => p.name == "fc1.weight").parameter;
                using var grad = weight.grad;
                SawFirstLayerGradient.Add(grad is not null && grad.abs().max().ToDouble() > 0);
            }

            return nn.functional.cross_entropy(model.call(batch.X), batch.Y);
        }
    }

    private static (Tensor X, Tensor Y)[] Batches(int rows, int seed)
    {
        using var generator = new Generator((ulong)seed);
        return
        [
            (torch.randn(rows, 784, generator: generator), torch.randint(0, 10, rows, generator: generator)),
            (torch.randn(rows, 784, generator: generator), torch.randint(0, 10, rows, generator: generator)),
        ];
    }

    private static GradientSample Gradient(Workspace workspace, Observer observer, (Tensor X, Tensor Y)[] batches, GradientCapture? capture)
    {
        var data = GradientData.Create<(Tensor X, Tensor Y)>(batches, (m, b) => observer.Loss(m, b, ReferenceEquals(b.X, batches[1].X)));
        return workspace.Gradient(data, batches.Select(b => (object)b).ToArray(), capture);
    }

    private static void AssertSameGradient(GradientSample reference, GradientSample sample)
    {
        foreach (var (name, expected) in reference.Dense)
        {
            using var scope = torch.NewDisposeScope();
            var actual = sample.Dense.TryGetValue(name, out var dense)
                ? dense
                : sample.Factors.TryGetValue(name, out var factor) ? factor.ToDense() : null;
            Assert.True(actual is not null, $"'{name}' is missing from the sample");
            var scale = expected.abs().max().ToDouble();
            Assert.True(actual.sub(expected).abs().max().ToDouble() <= 1e-5 * scale, $"'{name}' differs from the full gradient");
        }
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Gradient_AfterVerification_SkipsTheWeightGradientAndKeepsItsFactors(bool bias)
    {
        torch.manual_seed(3);
        using var model = new Mlp(784, [Hidden], 10, new MlpOptions { Bias = bias });
        var spec = model.CreatePermutationSpec();
        var batches = Batches(16, seed: 4);
        using var workspace = new Workspace(model);
        using var capture = new GradientCapture(model, spec, NullLogger.Instance);
        var observer = new Observer();

        using var reference = Gradient(workspace, observer, batches, capture: null);
        using var first = Gradient(workspace, observer, batches, capture);
        using var second = Gradient(workspace, observer, batches, capture);

        // Full backward, verification pass (still full), then the pass that skips fc1's weight gradient.
        Assert.Equal([true, true, false], observer.SawFirstLayerGradient);
        Assert.Contains("fc1.weight", second.Factors.Keys);
        Assert.DoesNotContain("fc1.weight", second.Dense.Keys);
        AssertSameGradient(reference, first);
        AssertSameGradient(reference, second);
    }

    [Fact]
    public void Gradient_VerifiedLayerNotCapturedLater_ComesBackInFull()
    {
        torch.manual_seed(5);
        using var model = new Mlp(784, [Hidden], 10);
        var spec = model.CreatePermutationSpec();
        using var workspace = new Workspace(model);
        using var capture = new GradientCapture(model, spec, NullLogger.Instance);
        var observer = new Observer();
        using (Gradient(workspace, observer, Batches(16, seed: 6), capture))
        {
        }

        // 80 rows × (64 + 784) factor values exceed the 64 × 784 gradient: this time fc1 is taken in full.
        var large = Batches(80, seed: 7);
        using var reference = Gradient(workspace, observer, large, capture: null);
        using var sample = Gradient(workspace, observer, large, capture);

        Assert.DoesNotContain("fc1.weight", sample.Factors.Keys);
        Assert.Contains("fc1.weight", sample.Dense.Keys);
        AssertSameGradient(reference, sample);
    }
}
