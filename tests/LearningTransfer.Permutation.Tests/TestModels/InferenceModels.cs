using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace TrajectoryTransfer.Permutations.Tests.TestModels;

/// <summary>A model written the way a user writes one: named layers and a forward of its own, given as a delegate.</summary>
internal sealed class LambdaModel : nn.Module<Tensor, Tensor>
{
    private readonly Dictionary<string, nn.Module> _layers = new(StringComparer.Ordinal);
    private readonly Func<LambdaModel, Tensor, Tensor> _forward;

    public LambdaModel(IEnumerable<(string Name, nn.Module Layer)> layers, Func<LambdaModel, Tensor, Tensor> forward)
        : base(nameof(LambdaModel))
    {
        foreach (var (name, layer) in layers)
        {
            _layers[name] = layer;
            register_module(name, layer);
        }

        _forward = forward;
    }

    /// <summary>Runs a layer with <c>call()</c>, so that forward hooks see it.</summary>
    public Tensor Call(string layer, Tensor input) => ((nn.Module<Tensor, Tensor>)_layers[layer]).call(input);

    /// <summary>Runs a layer with <c>forward()</c>, which TorchSharp runs without hooks.</summary>
    public Tensor Forward(string layer, Tensor input) => ((nn.Module<Tensor, Tensor>)_layers[layer]).forward(input);

    public override Tensor forward(Tensor input) => _forward(this, input);
}

/// <summary>
/// A pre-norm residual MLP as a user would write it: h = embed(x); h = h + down(gelu(up(norm(h)))) per block;
/// head(norm(h)). Every block adds into the same stream, so embed, every down and every norm share one group.
/// </summary>
internal sealed class ResidualMlp : nn.Module<Tensor, Tensor>
{
    private readonly nn.Module<Tensor, Tensor> embed;
    private readonly ModuleList<nn.Module<Tensor, Tensor>> norms = new();
    private readonly ModuleList<nn.Module<Tensor, Tensor>> ups = new();
    private readonly ModuleList<nn.Module<Tensor, Tensor>> downs = new();
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
