using TorchSharp;
using static TorchSharp.torch;

namespace TrajectoryTransfer.Permutations.Tests.TestModels;

/// <summary>A small two-hidden-layer MLP with a hand-written spec, for tests of the core types.</summary>
internal sealed class TinyMlp : nn.Module<Tensor, Tensor>
{
    private readonly nn.Module<Tensor, Tensor> fc1;
    private readonly nn.Module<Tensor, Tensor> fc2;
    private readonly nn.Module<Tensor, Tensor> fc3;

    public TinyMlp(int inputs = 6, int hidden1 = 5, int hidden2 = 4, int outputs = 3)
        : base(nameof(TinyMlp))
    {
        fc1 = nn.Linear(inputs, hidden1);
        fc2 = nn.Linear(hidden1, hidden2);
        fc3 = nn.Linear(hidden2, outputs);
        RegisterComponents();
    }

    public override Tensor forward(Tensor input) =>
        fc3.forward(nn.functional.relu(fc2.forward(nn.functional.relu(fc1.forward(input)))));

    public static PermutationSpec Spec(nn.Module model) => PermutationSpec.CreateBuilder()
        .Permute("fc1.weight", "h1", null).Permute("fc1.bias", "h1")
        .Permute("fc2.weight", "h2", "h1").Permute("fc2.bias", "h2")
        .Permute("fc3.weight", null, "h2").LeaveAlone("fc3.bias")
        .Build(model);
}
