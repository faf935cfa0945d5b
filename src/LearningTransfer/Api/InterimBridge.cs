namespace TrajectoryTransfer;
internal static class PermutationSpecInferenceBridge
{
    public static TrajectoryTransfer.Permutations.PermutationSpec Infer(TorchSharp.torch.nn.Module<TorchSharp.torch.Tensor, TorchSharp.torch.Tensor> model, TorchSharp.torch.Tensor? sample) =>
        throw new InvalidOperationException("interim");
}
