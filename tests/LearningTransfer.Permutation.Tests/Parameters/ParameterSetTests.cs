using TorchSharp;
using TrajectoryTransfer.Permutations.Tests.TestModels;
using static TorchSharp.torch;

namespace TrajectoryTransfer.Permutations.Tests.Parameters;

public sealed class ParameterSetTests
{
    private static long Live => DisposeScopeManager.Statistics.TensorStatistics.ThreadTotalLiveCount;

    [Fact]
    public void Copies_OutsideAnyDisposeScope_LeaveNoTensorBehindOnceDisposed()
    {
        torch.manual_seed(1);
        using var model = VggNet.Small(1, 8, 10, batchNorm: true);
        using (var input = torch.randn(2, 1, 8, 8))
        {
            model.call(input).sum().backward();
        }

        var before = Live;
        using (var snapshot = ParameterSet.FromModule(model))
        using (var parameters = ParameterSet.FromModule(model, includeBuffers: false))
        using (var gradients = ParameterSet.GradientsOf(model))
        using (var clone = snapshot.Clone())
        using (var moved = snapshot.To(torch.CPU))
        using (var subset = snapshot.Where(name => name.EndsWith(".weight", StringComparison.Ordinal)))
        {
            Assert.Equal(model.state_dict().Count, snapshot.Count);
        }

        Assert.Equal(before, Live);
    }

    [Fact]
    public void FromModule_InsideADisposeScope_CopiesSurviveWhenMovedOut()
    {
        torch.manual_seed(1);
        using var model = new TinyMlp();
        ParameterSet snapshot;
        using (var scope = torch.NewDisposeScope())
        {
            snapshot = ParameterSet.FromModule(model).MoveToOuterDisposeScope();
        }

        using (snapshot)
        {
            foreach (var (name, parameter) in model.named_parameters())
            {
                Assert.True(snapshot[name].allclose(parameter, rtol: 0, atol: 0), name);
            }
        }
    }
}
