using System.Globalization;
using TorchSharp;
using static TorchSharp.torch;

namespace TrajectoryTransfer.Permutations;

/// <summary>How a layer's input units relate to the node outputs it is computed from.</summary>
internal enum Dataflow
{
    /// <summary>Each producer's unit u is the block [u·B, (u+1)·B) of the consumer's units: they are tied.</summary>
    Tied,

    /// <summary>
    /// The units cannot be permuted: they come from the model's input, from no layer at all, or from a concatenation
    /// (or another reordering) of several producers' units along the unit axis, which one group per axis cannot express.
    /// </summary>
    Fixed,

    /// <summary>
    /// The glue mixes units (a functional normalization, a softmax over units), yet the sizes allow a tie; it is kept
    /// only if the replay shows the glue commutes with the permutation.
    /// </summary>
    TiedIfEquivariant,
}

/// <summary>What the probes found about one consumer (a layer's input, or the model's output when <see cref="Consumer"/> is null).</summary>
/// <param name="Consumer">The layer call whose input this is; null for the model's output.</param>
/// <param name="Producers">The node calls the input is directly computed from; a null entry is the model's input.</param>
/// <param name="Blocks">For each producer, consumer units per producer unit (when the sizes allow; otherwise 0).</param>
/// <param name="Kind">The relation found.</param>
internal sealed record ConsumerFlow(ObservedCall? Consumer, IReadOnlyList<ObservedCall?> Producers, IReadOnlyList<long> Blocks, Dataflow Kind);

/// <summary>
/// Measures, with gradients through the glue between layers, which node outputs each layer input is computed from and
/// how their units line up. Two projections per consumer: R = n (random) finds the producers; R = n·a[block] with a
/// random code per block of consumer units tests the block hypothesis, because if every producer unit u feeds only
/// consumer block b(u), the two gradients on u differ exactly by the factor a[b(u)], whatever the glue's values.
/// </summary>
internal sealed class DataflowAnalysis(ModelObservation observation, string model, int seed)
{
    private const double BlockTolerance = 1e-3;
    private const double DecodeTolerance = 0.05;

    /// <summary>Analyses every layer input and the model's output.</summary>
    /// <exception cref="PermutationSpecException">A layer's input depends on a producer in a way no spec can describe; the message names both.</exception>
    public List<ConsumerFlow> AnalyzeAll()
    {
        var flows = new List<ConsumerFlow>();
        using var generator = new Generator((ulong)seed + 17, observation.Output.device);
        foreach (var call in observation.Calls)
        {
            if (call.Node.HasInputUnits)
            {
                flows.Add(Analyze(call, generator));
            }
        }

        flows.Add(AnalyzeOutput(generator));
        return flows;
    }

    private ConsumerFlow AnalyzeOutput(Generator generator)
    {
        var producers = new List<ObservedCall?>();
        if (observation.Output.requires_grad)
        {
            using var scope = torch.NewDisposeScope();
            var candidates = Candidates(observation.Calls.Count);
            var noise = torch.randn(observation.Output.shape, generator: generator, dtype: observation.Output.dtype, device: observation.Output.device);
            var grads = Gradients(observation.Output, noise, candidates.Select(c => c.Leaf).ToList());
            producers.AddRange(candidates.Where((_, i) => IsNonZero(grads[i])).Select(c => c.Call));
        }

        return new ConsumerFlow(null, producers, producers.Select(_ => 0L).ToArray(), Dataflow.Fixed);
    }

    private ConsumerFlow Analyze(ObservedCall consumer, Generator generator)
    {
        if (consumer.InputRoot is not { } root)
        {
            return new ConsumerFlow(consumer, [], [], Dataflow.Fixed); // computed from constants only
        }

        using var scope = torch.NewDisposeScope();
        var candidates = Candidates(consumer.Order);
        var leaves = candidates.Select(c => c.Leaf).ToList();
        var noise = torch.randn(root.shape, generator: generator, dtype: root.dtype, device: root.device);
        var plain = Gradients(root, noise, leaves);
        var found = Enumerable.Range(0, candidates.Count).Where(i => IsNonZero(plain[i])).ToList();
        var producers = found.Select(i => candidates[i].Call).ToList();
        if (producers.Count == 0)
        {
            return new ConsumerFlow(consumer, [], [], Dataflow.Fixed); // computed from constants only
        }

        var units = consumer.InputUnits;
        var blocks = producers.Select(p => p is not null && units % p.OutputUnits == 0 ? units / p.OutputUnits : 0L).ToArray();
        if (producers.Contains(null))
        {
            return new ConsumerFlow(consumer, producers, blocks, Dataflow.Fixed); // the model's input is never permuted
        }

        if (blocks.All(b => b > 0))
        {
            var common = blocks.Aggregate(1L, Lcm);
            var codes = torch.rand([units / common], generator: generator, dtype: root.dtype, device: root.device) + 1;
            var coded = noise * AlongAxis(codes.repeat_interleave(common), consumer.InputAxis, root.dim());
            var grads = Gradients(root, coded, found.Select(i => leaves[i]).ToList());
            var consistent = true;
            for (var p = 0; p < producers.Count && consistent; p++)
            {
                var producer = producers[p]!;
                var block = blocks[p];
                var unitBlock = torch.tensor(Enumerable.Range(0, checked((int)producer.OutputUnits)).Select(u => u * block / common).ToArray(), device: root.device);
                var expected = AlongAxis(codes.index_select(0, unitBlock), producer.OutputAxis, producer.Leaf.dim()) * plain[found[p]]!;
                var scale = expected.abs().max().ToDouble();
                consistent = (grads[p]! - expected).abs().max().ToDouble() <= BlockTolerance * scale;
            }

            if (consistent)
            {
                return new ConsumerFlow(consumer, producers, blocks, Dataflow.Tied);
            }
        }

        // Not a block copy: is each producer position read by exactly one consumer unit (a concatenation, a reordering)?
        var indexCode = AlongAxis(torch.arange(1, units + 1, dtype: root.dtype, device: root.device), consumer.InputAxis, root.dim());
        var decoded = Gradients(root, noise * indexCode, found.Select(i => leaves[i]).ToList());
        for (var p = 0; p < producers.Count; p++)
        {
            if (!FeedsOneUnitEach(decoded[p]!, plain[found[p]]!, units))
            {
                if (blocks.All(b => b > 0))
                {
                    return new ConsumerFlow(consumer, producers, blocks, Dataflow.TiedIfEquivariant);
                }

                var producer = producers[p]!;
                throw new PermutationSpecException(
                    string.Create(
                        CultureInfo.InvariantCulture,
                        $"No permutation spec describes {model}: the input of {consumer.Node.Display} (axis {consumer.InputAxis} of {ParameterLayout.FormatShape(consumer.InputShape)}, {units} units) is computed from the output of {producer.Node.Display} (axis {producer.OutputAxis} of {ParameterLayout.FormatShape(producer.OutputShape)}, {producer.OutputUnits} units) in a way that is neither a copy of its units in order (one input unit, or one block of them, per output unit) nor a concatenation: some of its values each feed several input units. Some operation between them mixes units (a matrix product, attention, a transpose that interleaves them). {PermutationSpecInference.Advice}"),
                    "model");
            }
        }

        // A concatenation along the unit axis, or a reordering: one group per axis cannot describe the parts.
        return new ConsumerFlow(consumer, producers, blocks, Dataflow.Fixed);
    }

    /// <summary>Whether every value of the producer that reaches the consumer reaches exactly one input unit (its gradient coded by unit index is a whole multiple of the plain one).</summary>
    private static bool FeedsOneUnitEach(Tensor coded, Tensor plain, long units)
    {
        using var scope = torch.NewDisposeScope();
        var magnitude = plain.abs();
        var significant = magnitude > 1e-4 * magnitude.max();
        var ratio = coded.masked_select(significant) / plain.masked_select(significant);
        var nearest = ratio.round();
        return (ratio - nearest).abs().max().ToDouble() <= DecodeTolerance && nearest.min().ToDouble() >= 1 && nearest.max().ToDouble() <= units;
    }

    private List<(ObservedCall? Call, Tensor Leaf)> Candidates(int before)
    {
        var candidates = new List<(ObservedCall?, Tensor)>();
        if (observation.InputLeaf is { } input)
        {
            candidates.Add((null, input));
        }

        candidates.AddRange(observation.Calls.Take(before).Where(c => c.Leaf.requires_grad).Select(c => ((ObservedCall?)c, c.Leaf)));
        return candidates;
    }

    /// <summary>
    /// The gradient of Σ root·projection with respect to each leaf, null for leaves it does not reach. backward() with
    /// explicit inputs rather than autograd.grad(allow_unused): TorchSharp 0.107 counts the undefined tensors that the
    /// latter returns for unreached leaves as live forever.
    /// </summary>
    private static Tensor?[] Gradients(Tensor root, Tensor projection, IList<Tensor> leaves)
    {
        if (leaves.Count == 0)
        {
            return [];
        }

        using (var objective = (root * projection).sum())
        {
            objective.backward(retain_graph: true, inputs: leaves);
        }

        var gradients = new Tensor?[leaves.Count];
        for (var i = 0; i < leaves.Count; i++)
        {
            gradients[i] = leaves[i].grad; // a new handle, owned by the caller's dispose scope
            leaves[i].grad = null;
        }

        return gradients;
    }

    private static bool IsNonZero(Tensor? gradient) => gradient is not null && gradient.abs().max().ToDouble() > 0;

    private static Tensor AlongAxis(Tensor vector, int axis, long dims)
    {
        var shape = Enumerable.Repeat(1L, (int)dims).ToArray();
        shape[axis] = vector.shape[0];
        return vector.reshape(shape);
    }

    private static long Lcm(long a, long b)
    {
        long x = a, y = b;
        while (y != 0)
        {
            (x, y) = (y, x % y);
        }

        return a / x * b;
    }
}
