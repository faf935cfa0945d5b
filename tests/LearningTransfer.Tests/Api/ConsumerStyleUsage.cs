// Deliberately outside the TrajectoryTransfer namespace, with a plain using: this is how a consumer project writes the
// entry point. If any namespace named "LearningTransfer" existed, C# would bind the first part of
// LearningTransfer.Transfer(...) to it and this file would not compile.
using TorchSharp;
using TrajectoryTransfer;
using TrajectoryTransfer.Trajectories;
using static TorchSharp.torch;

namespace ConsumerApp;

public static class ConsumerStyleUsage
{
    public static TransferBuilder Start(ITrajectory source, nn.Module<Tensor, Tensor> newInit) =>
        LearningTransfer.Transfer(source, newInit);
}
