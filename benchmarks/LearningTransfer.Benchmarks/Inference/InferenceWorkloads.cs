using TorchSharp;
using TrajectoryTransfer.Permutations;
using static TorchSharp.torch;

namespace TrajectoryTransfer.Benchmarks.Inference;

/// <summary>The models whose spec inference is timed, each with the sample input it is inferred from (32×32 images, batch 2).</summary>
public static class InferenceWorkloads
{
    /// <summary>Model name → (factory, sample input shape).</summary>
    public static readonly IReadOnlyDictionary<string, (Func<nn.Module<Tensor, Tensor>> Create, long[] Input)> All =
        new Dictionary<string, (Func<nn.Module<Tensor, Tensor>>, long[])>
        {
            ["resnet18"] = (() => torchvision.models.resnet18(num_classes: 10), [2, 3, 32, 32]),
            ["resnet50"] = (() => torchvision.models.resnet50(num_classes: 10), [2, 3, 32, 32]),
            ["mobilenet_v2"] = (() => torchvision.models.mobilenet_v2(num_classes: 10), [2, 3, 32, 32]),
            ["vgg11_bn"] = (() => torchvision.models.vgg11_bn(num_classes: 10), [2, 3, 32, 32]),
            ["residual MLP"] = (() => new ResidualMlp(784, 512, 1024, 4, 10), [16, 784]),
            ["Mlp 784-512-512-10"] = (() => new Mlp(784, [512, 512], 10), [16, 784]),
            ["VggNet.Conv8"] = (() => VggNet.Conv8(3, 32, 10), [2, 3, 32, 32]),
            ["ResNet.ResNet18"] = (() => ResNet.ResNet18(), [2, 3, 32, 32]),
        };

    /// <summary>
    /// A pre-norm residual MLP written as a user would: h = embed(x); h = h + down(gelu(up(norm(h)))) per block;
    /// head(norm(h)).
    /// </summary>
    public sealed class ResidualMlp : nn.Module<Tensor, Tensor>
    {
        private readonly nn.Module<Tensor, Tensor> embed;
        private readonly TorchSharp.Modules.ModuleList<nn.Module<Tensor, Tensor>> norms = new();
        private readonly TorchSharp.Modules.ModuleList<nn.Module<Tensor, Tensor>> ups = new();
        private readonly TorchSharp.Modules.ModuleList<nn.Module<Tensor, Tensor>> downs = new();
        private readonly nn.Module<Tensor, Tensor> finalNorm;
        private readonly nn.Module<Tensor, Tensor> head;

        public ResidualMlp(int inputs, int width, int hidden, int blocks, int outputs)
            : base(nameof(ResidualMlp))
        {
            embed = nn.Linear(inputs, width);
            for (var i = 0; i < blocks; i++)
            {
                norms.Add(nn.LayerNorm(width));
                ups.Add(nn.Linear(width, hidden));
                downs.Add(nn.Linear(hidden, width));
            }

            finalNorm = nn.LayerNorm(width);
            head = nn.Linear(width, outputs);
            RegisterComponents();
        }

        public override Tensor forward(Tensor input)
        {
            var h = embed.call(input);
            for (var i = 0; i < norms.Count; i++)
            {
                h = h + downs[i].call(nn.functional.gelu(ups[i].call(norms[i].call(h))));
            }

            return head.call(finalNorm.call(h));
        }
    }
}
