using TorchSharp;
using TrajectoryTransfer.Permutations;
using static TorchSharp.torch;

namespace TrajectoryTransfer.Tests.Support;

/// <summary>784-h-10 ReLU MLP with biases, and its spec.</summary>
public sealed class SmallMlp : nn.Module<Tensor, Tensor>
{
    private readonly nn.Module<Tensor, Tensor> fc1;
    private readonly nn.Module<Tensor, Tensor> fc2;

    public SmallMlp(int hidden, int seed)
        : base(nameof(SmallMlp))
    {
        torch.manual_seed(seed);
        fc1 = nn.Linear(784, hidden);
        fc2 = nn.Linear(hidden, 10);
        RegisterComponents();
    }

    public override Tensor forward(Tensor input) => fc2.forward(nn.functional.relu(fc1.forward(input.flatten(1))));

    public static PermutationSpec Spec(nn.Module model) => PermutationSpec.CreateBuilder()
        .Permute("fc1.weight", "h", null).Permute("fc1.bias", "h")
        .Permute("fc2.weight", null, "h").LeaveAlone("fc2.bias")
        .Build(model);
}
