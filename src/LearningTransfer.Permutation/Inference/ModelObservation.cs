using System.Globalization;
using System.Runtime.InteropServices;
using TorchSharp;
using static TorchSharp.torch;

namespace TrajectoryTransfer.Permutations;

/// <summary>One call of a node during the observed forward pass.</summary>
internal sealed class ObservedCall
{
    /// <summary>The layer.</summary>
    public required InferenceNode Node { get; init; }

    /// <summary>The position of the call in the forward pass (0 for the first node to run).</summary>
    public required int Order { get; init; }

    /// <summary>The input's shape.</summary>
    public required long[] InputShape { get; init; }

    /// <summary>The output's shape.</summary>
    public required long[] OutputShape { get; init; }

    /// <summary>The axis of the input that holds the units the layer reads; −1 for Embedding.</summary>
    public required int InputAxis { get; init; }

    /// <summary>The axis of the output that holds the units the layer writes.</summary>
    public required int OutputAxis { get; init; }

    /// <summary>The input's values (detached).</summary>
    public Tensor? InputValue { get; init; }

    /// <summary>A copy of the input that keeps its autograd history back to the node outputs it was computed from; null when it has none.</summary>
    public Tensor? InputRoot { get; init; }

    /// <summary>The output's values as a leaf that requires grad: what the rest of the forward pass was computed from.</summary>
    public required Tensor Leaf { get; init; }

    /// <summary>The number of units on <see cref="InputAxis"/>.</summary>
    public long InputUnits => InputAxis < 0 ? 0 : InputShape[InputAxis];

    /// <summary>The number of units on <see cref="OutputAxis"/>.</summary>
    public long OutputUnits => OutputShape[OutputAxis];

    /// <summary>"'name' (Type)", with the call number when the layer runs more than once.</summary>
    public string Display(int callsOfNode, int index) => callsOfNode > 1 ? $"{Node.Display} (call {index + 1} of {callsOfNode})" : Node.Display;
}

/// <summary>
/// Runs the model on the sample input with a forward hook on every node and records the calls. Each node's output is
/// handed on as a fresh autograd leaf, so that the history of any node's input reaches back only to the node outputs
/// it is directly computed from (through activations, pooling, reshapes, additions — the glue between layers), and
/// gradients taken from it measure exactly that glue.
/// </summary>
internal sealed class ModelObservation : IDisposable
{
    private readonly List<Tensor> _kept = [];

    private ModelObservation()
    {
    }

    /// <summary>The calls in the order they ran.</summary>
    public List<ObservedCall> Calls { get; } = [];

    /// <summary>The model's input as a leaf that requires grad; null for integer inputs.</summary>
    public Tensor? InputLeaf { get; private set; }

    /// <summary>The model's output (with its history back to node outputs and the input).</summary>
    public Tensor Output { get; private set; } = null!;

    /// <summary>How many times each node ran.</summary>
    public Dictionary<InferenceNode, int> CallCounts { get; } = [];

    /// <summary>Runs the model once in eval mode with hooks on every node.</summary>
    /// <exception cref="ArgumentException">The model rejects the input.</exception>
    public static ModelObservation Observe(nn.Module<Tensor, Tensor> model, IReadOnlyList<InferenceNode> nodes, Tensor input)
    {
        var observation = new ModelObservation();
        try
        {
            observation.Run(model, nodes, input);
            return observation;
        }
        catch
        {
            observation.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Runs the model again in eval mode with every node's output replaced by its observed output permuted as
    /// <paramref name="permute"/> says, and measures how far each node's input and the model's output are from the
    /// observed ones permuted the same way: the glue between layers must commute with the permutation.
    /// </summary>
    /// <returns>Per call (in order) the largest difference and the largest expected magnitude; then the same for the model's output.</returns>
    /// <exception cref="PermutationSpecException">The model ran a different sequence of layers than when it was observed.</exception>
    public ((double Difference, double Magnitude)[] Inputs, (double Difference, double Magnitude) Output) Replay(
        nn.Module<Tensor, Tensor> model,
        Tensor input,
        Func<ObservedCall, Tensor, bool, Tensor> permute)
    {
        var results = new (double, double)[Calls.Count];
        var next = 0;
        var removers = new List<Action>();
        string? mismatch = null;
        try
        {
            foreach (var node in CallCounts.Keys)
            {
                var remover = node.Module.register_forward_hook((_, x, y) =>
                {
                    if (next >= Calls.Count || !ReferenceEquals(Calls[next].Node, node))
                    {
                        mismatch ??= $"{node.Display} ran as layer call {next + 1}, where {(next < Calls.Count ? Calls[next].Node.Display : "no further layer")} ran before";
                        return y;
                    }

                    var call = Calls[next++];
                    if (call.InputValue is { } observedInput)
                    {
                        using var scope = torch.NewDisposeScope();
                        var expected = permute(call, observedInput, true);
                        results[call.Order] = ((x - expected).abs().max().ToDouble(), expected.abs().max().ToDouble());
                    }

                    using var leafValue = call.Leaf.detach();
                    return permute(call, leafValue, false);
                });
                removers.Add(remover.remove);
            }

            model.eval();
            using var noGrad = torch.no_grad();
            using var output = model.call(input.clone());
            if (mismatch is not null || next != Calls.Count)
            {
                throw new PermutationSpecException(
                    $"The model ran a different sequence of layers the second time ({mismatch ?? $"{next} layer calls instead of {Calls.Count}"}): spec inference needs a forward pass that does not depend on the values it computes.",
                    "model");
            }

            using var observed = Output.detach();
            return (results, ((output - observed).abs().max().ToDouble(), observed.abs().max().ToDouble()));
        }
        finally
        {
            foreach (var remove in removers)
            {
                remove();
            }
        }
    }

    /// <summary>The first non-finite value among the observed inputs and outputs of the layers and the model's output, described; null when all are finite.</summary>
    public string? FirstNonFinite()
    {
        foreach (var call in Calls)
        {
            if (call.InputValue is { } x && NonFinite.Describe(x) is { } inputProblem)
            {
                return $"the input of {call.Node.Display}, the first layer whose input is not finite, {inputProblem}: an operation of the model's forward before that layer produced it";
            }

            if (NonFinite.Describe(call.Leaf) is { } outputProblem)
            {
                return $"the output of {call.Node.Display}, the first layer whose output is not finite, {outputProblem}";
            }
        }

        return NonFinite.Describe(Output) is { } problem
            ? $"the model's output {problem}, produced by an operation of the model's forward after its last layer"
            : null;
    }

    /// <inheritdoc />
    public void Dispose()
    {
        foreach (var tensor in _kept)
        {
            tensor.Dispose();
        }

        _kept.Clear();
    }

    private void Run(nn.Module<Tensor, Tensor> model, IReadOnlyList<InferenceNode> nodes, Tensor input)
    {
        var removers = new List<Action>();
        try
        {
            foreach (var node in nodes)
            {
                CallCounts[node] = 0;
                var remover = node.Module.register_forward_hook((_, x, y) =>
                {
                    var inputAxis = node.HasInputUnits ? node.InputAxis(x.shape) : -1;
                    var leaf = Keep(y.detach().requires_grad_(y.is_floating_point()));
                    Calls.Add(new ObservedCall
                    {
                        Node = node,
                        Order = Calls.Count,
                        InputShape = x.shape,
                        OutputShape = y.shape,
                        InputAxis = inputAxis,
                        OutputAxis = node.OutputAxis(y.shape),
                        InputValue = node.HasInputUnits ? Keep(x.detach().clone()) : null,
                        InputRoot = node.HasInputUnits && x.requires_grad ? Keep(x.clone()) : null,
                        Leaf = leaf,
                    });
                    CallCounts[node]++;

                    // The rest of the forward pass runs on a copy: models add into their layers' outputs in place.
                    return leaf.requires_grad ? leaf.clone() : leaf.detach().clone();
                });
                removers.Add(remover.remove);
            }

            model.eval();
            using var enableGrad = torch.enable_grad();
            InputLeaf = input.is_floating_point() ? Keep(input.detach().clone().requires_grad_(true)) : null;
            try
            {
                Output = Keep(model.call(InputLeaf is null ? input : InputLeaf.clone()));
            }
            catch (Exception e) when (e is ArgumentException or ExternalException or InvalidOperationException or IndexOutOfRangeException)
            {
                throw new ArgumentException(
                    $"The model ({model.GetType().Name}) rejected the sample input {ParameterLayout.FormatShape(input.shape)}: {e.Message}", "sampleInput", e);
            }
        }
        finally
        {
            foreach (var remove in removers)
            {
                remove();
            }
        }
    }

    private Tensor Keep(Tensor tensor)
    {
        // Hooks run inside the model's own dispose scopes (TorchVision's forward opens one); these tensors outlive them.
        tensor.DetachFromDisposeScope();
        _kept.Add(tensor);
        return tensor;
    }
}

/// <summary>Finds and describes non-finite values.</summary>
internal static class NonFinite
{
    /// <summary>"contains N non-finite values (NaN or ±Inf) of M, the first NaN at [i, j]"; null when the tensor is finite or not floating point.</summary>
    public static string? Describe(Tensor tensor)
    {
        if (!tensor.is_floating_point())
        {
            return null;
        }

        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();

        // NaN and ±Inf survive a sum, so one reduction clears the common case without a mask as large as the tensor.
        if (double.IsFinite(tensor.detach().sum(type: ScalarType.Float64).ToDouble()))
        {
            return null;
        }

        var bad = torch.isfinite(tensor.detach()).logical_not();
        var count = bad.sum().ToInt64();
        if (count == 0)
        {
            return null;
        }

        var first = bad.reshape(-1).nonzero()[0, 0].ToInt64();
        var index = new long[tensor.dim()];
        var rest = first;
        for (var axis = index.Length - 1; axis >= 0; axis--)
        {
            index[axis] = rest % tensor.shape[axis];
            rest /= tensor.shape[axis];
        }

        var value = tensor.detach().reshape(-1)[first].ToDouble();
        return string.Create(
            CultureInfo.InvariantCulture,
            $"contains {count} non-finite value{(count == 1 ? string.Empty : "s")} (NaN or ±Inf) of {tensor.numel()}, the first {value} at {ParameterLayout.FormatShape(index)}");
    }
}
