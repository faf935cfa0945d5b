using TorchSharp;
using static TorchSharp.torch;

namespace TrajectoryTransfer.Trajectories.Benchmarks;

/// <summary>The paper's MNIST MLP shape: 784-4096-10 (3.26 M parameters, 13.0 MB in float32).</summary>
internal sealed class Mlp : nn.Module<Tensor, Tensor>
{
    private readonly TorchSharp.Modules.Linear fc1;
    private readonly TorchSharp.Modules.Linear fc2;

    public Mlp()
        : base(nameof(Mlp))
    {
        fc1 = nn.Linear(784, 4096);
        fc2 = nn.Linear(4096, 10);
        RegisterComponents();
    }

    public override Tensor forward(Tensor input)
    {
        using var hidden = fc1.forward(input);
        using var activated = nn.functional.relu(hidden);
        return fc2.forward(activated);
    }
}
