using TorchSharp;
using static TorchSharp.torch;

namespace TrajectoryTransfer.Permutations.Tests.Native;

/// <summary>Proves the native TorchSharp shim loads on this host (the GLIBCXX_3.4.32 fix, where needed, was applied by the build).</summary>
public sealed class TorchSharpLoadingTests
{
    [Fact]
    public void TensorOperation_OnCpu_ComputesExpectedValue()
    {
        using var a = arange(6, dtype: ScalarType.Float32).reshape(2, 3);
        using var b = a.matmul(a.t());

        Assert.Equal(new float[] { 5, 14, 14, 50 }, b.data<float>().ToArray());
    }

    [Fact]
    public void Autograd_OnCpu_ComputesGradient()
    {
        using var x = tensor(new float[] { 1, 2, 3 }, requires_grad: true);
        using var y = (x * x).sum();
        y.backward();

        using var grad = x.grad!;
        Assert.Equal(new float[] { 2, 4, 6 }, grad.data<float>().ToArray());
    }
}
