using TrajectoryTransfer.Tests.RealData;
using TrajectoryTransfer.Tests.Support;
using TrajectoryTransfer.Trajectories;

namespace TrajectoryTransfer.Tests.Api;

public sealed class ConsumerStyleTests(SourceRunFixture source) : IClassFixture<SourceRunFixture>
{
    [Fact]
    public void Transfer_WrittenAsAConsumerWould_BuildsABuilder()
    {
        using var trajectory = new LinearTrajectory(source.SourceInit, source.SourceFinal, 2, TrajectorySchedule.Uniform);
        using var target = new SmallMlp(SourceRunFixture.Hidden, 3);

        var transferer = ConsumerApp.ConsumerStyleUsage.Start(trajectory, target).UseNaive().Build();

        Assert.Equal(2, transferer.Steps);
        Assert.Equal(TransferMethod.Naive, transferer.Options.Method);
    }
}
