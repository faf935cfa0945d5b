using System.Globalization;
using System.Runtime.InteropServices;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace TrajectoryTransfer.Permutations;

/// <summary>
/// Infers the permutation spec of a model from its own forward pass — chains, residual networks, shared layers,
/// depthwise and grouped convolutions, concatenations — and verifies it before returning it.
/// </summary>
/// <remarks>
/// <para>
/// Supported layers: Linear; Conv1d/2d/3d, including grouped and depthwise ones (a group's inputs and outputs move
/// together); Embedding as an input layer; BatchNorm, InstanceNorm, GroupNorm (whole groups move together), LayerNorm
/// and per-channel PReLU; and between them any operation without parameters: activations, pooling, dropout, padding,
/// flatten and reshapes (a Linear after a flatten reads each channel as a block of H·W inputs), additions (which tie
/// the units they add: a residual stream is one group) and concatenations. A module with parameters of any other kind
/// is refused with its name.
/// </para>
/// <para>
/// How the model is observed: one forward pass in eval mode with a forward hook on every supported layer, which hands
/// the layer's output on as a fresh autograd leaf. The autograd history of each layer's input then reaches back only to
/// the layer outputs it is directly computed from, and two gradient probes through that glue say which outputs feed it
/// and whether each output unit feeds one unit (or one block of units) of the input, in order. Units fed that way are
/// one group; units fed from the model's input, or by a concatenation along the unit axis, are left unpermuted (one
/// group per axis cannot describe the concatenated parts); the model's outputs are never permuted.
/// </para>
/// <para>
/// How it is verified: the model runs again with every layer's output replaced by its observed output permuted as the
/// spec says, and every layer's input must come out permuted the same way (this names the first layer whose input does
/// not); then <see cref="PermutationExactness"/> permutes the model's parameters and compares outputs and gradients, in
/// eval mode and, when the model is deterministic in train mode and every BatchNorm sees at least 16 values per channel
/// (fewer make batch statistics too ill-conditioned for a float32 comparison), in train mode.
/// </para>
/// <para>
/// TorchSharp runs hooks only for submodules invoked with <c>call()</c> (TorchVision's models do), not
/// <c>forward()</c>. When a layer the output depends on was not seen by its hook, the layers are assumed to form a chain
/// in the order they were registered, and that spec is returned only if the exactness check confirms it.
/// </para>
/// </remarks>
public static class PermutationSpecInference
{
    /// <summary>What to do when no spec can be inferred.</summary>
    internal const string Advice =
        "Build a spec with PermutationSpec.CreateBuilder(), or take one from PermutationSpecs (Mlp, Vgg, ResNet, Chain), and check it with PermutationExactness.Check.";

    private const int SyntheticBatch = 16;

    /// <summary>Per-tensor relative L2 error allowed in the gradients (see <see cref="ExactnessReport.MaxGradientRelativeError"/>).</summary>
    private const double GradientTolerance = 0.05;

    /// <summary>
    /// The fewest values per channel a BatchNorm may normalize for the train-mode check: with fewer (a batch of 2 at 1×1
    /// resolution), batch statistics amplify float32 rounding into output differences of a percent, so only eval mode is
    /// checked.
    /// </summary>
    private const long MinimumValuesPerChannel = 16;

    /// <summary>
    /// How much looser the train-mode check is on outputs (10×) and gradients (2×): batch statistics amplify float32
    /// rounding (measured on a randomly initialised ResNet-50 with 16–32 examples of 32×32: outputs 0.5–1·10⁻⁴ of the
    /// largest, gradients 1.5–2.5 %), while a wrong spec changes both by order one.
    /// </summary>
    private static readonly (double Outputs, double Gradients) TrainModeSlack = (10, 2);

    private static readonly Type[] RandomLayers =
    [
        typeof(Dropout), typeof(Dropout1d), typeof(Dropout2d), typeof(Dropout3d), typeof(AlphaDropout), typeof(FeatureAlphaDropout), typeof(RReLU),
    ];

    /// <summary>Infers the spec of a model from its forward pass and verifies it; the model is left as it was (parameters, buffers, gradients and training mode).</summary>
    /// <param name="model">The model, on its device.</param>
    /// <param name="sampleInput">
    /// A batch the model accepts, on the model's device, with finite values; a training batch is a good choice (enough
    /// examples that every BatchNorm sees 16 values per channel let train mode be checked too). It may be omitted when
    /// the first registered layer is a Linear: a random batch [16, in_features] is used.
    /// </param>
    /// <param name="tolerance">
    /// The verification's tolerance on outputs and layer inputs, relative to the largest value (at least 1); the default
    /// is 1e-4, far above float32 rounding and far below what a wrong spec changes. Gradients must agree within 5 % per
    /// tensor (relative L2, see <see cref="ExactnessReport.MaxGradientRelativeError"/>); in train mode both bounds are
    /// looser (10× and 2×), because batch statistics amplify rounding.
    /// </param>
    /// <param name="seed">Seeds the synthetic input, the probes and the random permutations of the verification.</param>
    /// <returns>The verified spec, covering every parameter and buffer of the model.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="model"/> is null.</exception>
    /// <exception cref="ArgumentException">
    /// A sample input is needed and was not given, the model rejects it, or it holds NaN or infinite values (named as
    /// such: the sample input, a parameter or buffer of the model, or the first layer whose input or output is not
    /// finite).
    /// </exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="tolerance"/> is negative or not finite.</exception>
    /// <exception cref="PermutationSpecException">
    /// A module is not supported (the message names it and its type), or no spec describes the model: the message names
    /// the smallest part that breaks (the layer whose input does not follow a permutation of the layers feeding it, with
    /// the axis and the sizes, or the permutation groups that break the exactness check alone, with their layers).
    /// </exception>
    public static PermutationSpec Infer(nn.Module<Tensor, Tensor> model, Tensor? sampleInput = null, double tolerance = 1e-4, int seed = 0)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentOutOfRangeException.ThrowIfNegative(tolerance);
        if (!double.IsFinite(tolerance))
        {
            throw new ArgumentOutOfRangeException(nameof(tolerance), tolerance, "The tolerance must be finite.");
        }

        var leaves = Leaves(model);
        var nodes = leaves.Select(l => InferenceNode.Classify(l.Name, l.Module)).ToArray();
        if (!nodes.Any(n => n?.Kind is NodeKind.Linear or NodeKind.Convolution or NodeKind.Embedding))
        {
            throw new PermutationSpecException($"The model ({model.GetType().Name}) has no Linear, convolution or Embedding layer, so there is nothing to permute. {Advice}", nameof(model));
        }

        var modes = SaveTrainingModes(model);
        using var scope = torch.NewDisposeScope();
        try
        {
            var input = sampleInput ?? SyntheticInput(model, nodes, seed);
            CheckFinite(model, input);
            var present = nodes.OfType<InferenceNode>().ToArray();
            using var observation = ModelObservation.Observe(model, present, input);
            if (observation.FirstNonFinite() is { } problem)
            {
                throw new ArgumentException(
                    $"On the sample input {ParameterLayout.FormatShape(input.shape)}, {problem}. Spec inference compares values, which NaN and infinity make impossible; check the model's parameters and forward, or pass another input.",
                    nameof(model));
            }

            var trainCheck = !leaves.Any(l => RandomLayers.Any(t => t.IsInstanceOfType(l.Module))) && observation.Calls.All(WellConditionedInTrainMode);
            var unseen = UsedButUnseen(model, input, present.Where(n => observation.CallCounts[n] == 0).ToList());
            if (unseen.Count > 0)
            {
                return FromChain(model, input, leaves, nodes, unseen, trainCheck, tolerance, seed);
            }

            var flows = new DataflowAnalysis(observation, Describe(model), seed).AnalyzeAll();
            var assembly = SpecAssembly.Build(model, observation, flows);
            CheckReplay(model, input, observation, flows, assembly, tolerance, seed);
            Verify(model, assembly.Spec, input, trainCheck, tolerance, seed, chainNote: null);
            return assembly.Spec;
        }
        finally
        {
            RestoreTrainingModes(modes);
        }
    }

    /// <summary>The modules without submodules, with their full names; the model itself when it has none.</summary>
    /// <exception cref="PermutationSpecException">A module with submodules holds parameters of its own.</exception>
    private static List<(string Name, nn.Module Module)> Leaves(nn.Module model)
    {
        var leaves = new List<(string, nn.Module)>();
        void Walk(nn.Module module, string name)
        {
            var children = module.named_children().ToList();
            if (children.Count == 0)
            {
                leaves.Add((name, module));
                return;
            }

            if (module.named_parameters(recurse: false).FirstOrDefault() is { name: { } own })
            {
                throw InferenceNode.Unsupported(
                    name,
                    module,
                    $"it holds the parameter '{(name.Length == 0 ? own : $"{name}.{own}")}' itself and uses it in its own forward, where spec inference cannot see how it meets the hidden units; move it into a supported layer");
            }

            foreach (var (childName, child) in children)
            {
                Walk(child, name.Length == 0 ? childName : $"{name}.{childName}");
            }
        }

        Walk(model, string.Empty);
        return leaves;
    }

    private static Tensor SyntheticInput(nn.Module model, InferenceNode?[] nodes, int seed)
    {
        var first = nodes.First(n => n?.Kind is NodeKind.Linear or NodeKind.Convolution or NodeKind.Embedding)!;
        if (first.Module is not Linear linear)
        {
            throw new ArgumentException(
                $"Pass a sample input to infer the spec of {Describe(model)}: its first layer {first.Display} does not tell the shape of its input (for images, for example torch.randn(4, C, H, W)).",
                "sampleInput");
        }

        var weight = linear.weight!;
        using var generator = new Generator((ulong)seed, weight.device);
        return torch.randn([SyntheticBatch, linear.in_features], generator: generator, dtype: weight.dtype, device: weight.device);
    }

    /// <exception cref="ArgumentException">The input, or a parameter or buffer of the model, is not finite.</exception>
    private static void CheckFinite(nn.Module model, Tensor input)
    {
        if (NonFinite.Describe(input) is { } inputProblem)
        {
            throw new ArgumentException(
                $"The sample input {ParameterLayout.FormatShape(input.shape)} {inputProblem}. Spec inference compares the model's outputs, which NaN and infinity make impossible; pass a finite batch.",
                "sampleInput");
        }

        foreach (var (name, tensor) in model.state_dict())
        {
            if (NonFinite.Describe(tensor) is { } problem)
            {
                throw new ArgumentException(
                    $"The model's tensor '{name}' {ParameterLayout.FormatShape(tensor.shape)} {problem}. Spec inference compares the model's outputs, which NaN and infinity make impossible; check how the model was trained or loaded.",
                    nameof(model));
            }
        }
    }

    /// <summary>The nodes whose hooks never ran although the model's output depends on their parameters.</summary>
    private static List<InferenceNode> UsedButUnseen(nn.Module<Tensor, Tensor> model, Tensor input, List<InferenceNode> notCalled)
    {
        var withParameters = notCalled.Where(n => n.Module.parameters().Any()).ToList();
        if (withParameters.Count == 0)
        {
            return [];
        }

        model.eval();
        using var noGrad = torch.no_grad();
        using var baseline = model.call(input);
        bool Changes(IEnumerable<InferenceNode> nodes)
        {
            using var scope = torch.NewDisposeScope();
            var parameters = nodes.SelectMany(n => n.Module.parameters()).ToList();
            var saved = parameters.Select(p => p.detach().clone()).ToList();
            try
            {
                foreach (var p in parameters)
                {
                    p.add_(torch.randn_like(p) * (p.abs().max() + 1));
                }

                return !model.call(input).allclose(baseline, rtol: 0, atol: 0);
            }
            finally
            {
                for (var i = 0; i < parameters.Count; i++)
                {
                    parameters[i].copy_(saved[i]);
                }
            }
        }

        return Changes(withParameters) ? withParameters.Where(n => Changes([n])).ToList() : [];
    }

    private static PermutationSpec FromChain(
        nn.Module<Tensor, Tensor> model,
        Tensor input,
        List<(string Name, nn.Module Module)> leaves,
        InferenceNode?[] nodes,
        List<InferenceNode> unseen,
        bool trainCheck,
        double tolerance,
        int seed)
    {
        var note =
            $"Forward hooks never saw {string.Join(", ", unseen.Select(n => n.Display))} run, although the model's output depends on {(unseen.Count == 1 ? "its" : "their")} parameters: TorchSharp runs hooks only for modules invoked with call(), not forward(). Invoke every layer with call() so that inference can follow the model's data flow. Assuming instead that the layers form a chain in the order they were registered,";
        var (spec, problem) = ChainFallback.Build(model, leaves, nodes);
        if (spec is null)
        {
            throw new PermutationSpecException($"{note} {problem}. {Advice}", nameof(model));
        }

        Verify(model, spec, input, trainCheck, tolerance, seed, note);
        return spec;
    }

    /// <exception cref="PermutationSpecException">A layer's input, or the model's output, does not follow the permutation of the layers feeding it.</exception>
    private static void CheckReplay(
        nn.Module<Tensor, Tensor> model,
        Tensor input,
        ModelObservation observation,
        List<ConsumerFlow> flows,
        SpecAssembly assembly,
        double tolerance,
        int seed)
    {
        var permutation = Permutation.Random(assembly.Spec, seed);
        var indexCache = new Dictionary<(string Group, long Factor), Tensor>();
        Tensor Permute(ObservedCall call, Tensor value, bool isInput)
        {
            var atom = isInput ? call.Node.InAtom : call.Node.OutAtom;
            var axis = isInput ? call.InputAxis : call.OutputAxis;
            if (assembly.AxisOf(atom) is not { } a)
            {
                return value.clone();
            }

            if (!indexCache.TryGetValue((a.Group, a.BlockSize), out var index))
            {
                var group = permutation.Indices(a.Group);
                var full = new long[(long)group.Length * a.BlockSize];
                for (var i = 0; i < full.Length; i++)
                {
                    full[i] = ((long)group[i / a.BlockSize] * a.BlockSize) + (i % a.BlockSize);
                }

                index = torch.tensor(full, device: value.device).DetachFromDisposeScope();
                indexCache[(a.Group, a.BlockSize)] = index;
            }

            return value.index_select(axis, index);
        }

        try
        {
            var (inputs, output) = observation.Replay(model, input, Permute);
            foreach (var flow in flows)
            {
                var (difference, magnitude) = flow.Consumer is { } consumer ? inputs[consumer.Order] : output;
                if (difference <= tolerance * Math.Max(1, magnitude))
                {
                    continue;
                }

                var producers = flow.Producers.Count == 0
                    ? "no layer"
                    : string.Join(", ", flow.Producers.Select(p => p?.Node.Display ?? "the model's input"));
                var what = flow.Consumer is { } c
                    ? $"the input of {c.Node.Display} (axis {c.InputAxis} of {ParameterLayout.FormatShape(c.InputShape)}, {c.InputUnits} units, computed from {producers})"
                    : $"the model's output (computed from {producers})";
                var permuted = flow.Producers.Where(p => p is not null && assembly.AxisOf(p.Node.OutAtom) is not null).Select(p => p!.Node.Display).ToList();
                throw new PermutationSpecException(
                    string.Create(
                        CultureInfo.InvariantCulture,
                        $"No permutation spec describes {Describe(model)}: {what} does not follow when {(permuted.Count == 0 ? "the layers feeding it are left alone and others are permuted" : $"the units of {string.Join(", ", permuted)} are permuted")}: it changed by up to {difference:G3} (largest value {magnitude:G3}) beyond the permutation expected. An operation between them treats units differently (a constant or a tensor added per unit, a slice or a selection of units, a reduction that mixes them). {Advice}"),
                    nameof(model));
            }
        }
        finally
        {
            foreach (var index in indexCache.Values)
            {
                index.Dispose();
            }
        }
    }

    /// <summary>Whether a normalization call would see enough values per channel in train mode for a float32 comparison.</summary>
    private static bool WellConditionedInTrainMode(ObservedCall call)
    {
        if (call.Node.Kind != NodeKind.ChannelNorm)
        {
            return true;
        }

        var values = call.InputShape.Aggregate(1L, (a, b) => a * b) / call.InputUnits;
        if (call.Node.Module is InstanceNorm)
        {
            values /= call.InputShape[0];
        }

        return values >= MinimumValuesPerChannel;
    }

    private static void Verify(nn.Module<Tensor, Tensor> model, PermutationSpec spec, Tensor input, bool trainCheck, double tolerance, int seed, string? chainNote)
    {
        var trainMode = trainCheck && input.dim() > 0 && input.shape[0] > 1 && IsDeterministicInTrainMode(model, input);
        foreach (var training in trainMode ? new[] { false, true } : [false])
        {
            model.train(training);
            var slack = training ? TrainModeSlack : (1, 1);
            var report = PermutationExactness.Check(model, spec, input, seed);
            if (Passes(report, tolerance, slack))
            {
                continue;
            }

            // Each try permutes the whole model; a few groups name the problem well enough.
            var breaking = spec.GroupNames.Where(group => !Passes(PermutationExactness.Check(model, spec, input, SingleGroup(spec, group, seed), seed), tolerance, slack)).Take(3).ToList();
            var groups = breaking.Count == 0
                ? "No single group breaks it alone."
                : $"{(breaking.Count == 1 ? "The first group that breaks it alone" : "The first groups that break it alone")}: {string.Join("; ", breaking.Select(g => $"'{g}' (layers {ParameterSet.Describe(LayersOf(spec, g))})"))}.";
            var inferred = chainNote is null ? "the inferred spec" : $"{chainNote} the chain's spec";
            throw new PermutationSpecException(
                string.Create(
                    CultureInfo.InvariantCulture,
                    $"No permutation spec describes {Describe(model)}: {inferred} is not a symmetry of the model: in {(training ? "train" : "eval")} mode a random permutation changed the outputs by up to {report.MaxOutputDifference:G3} (largest output {report.MaxOutputMagnitude:G3}) and a parameter's gradient by {report.MaxGradientRelativeError:P1} (relative L2). {groups} {Advice}"),
                nameof(model));
        }
    }

    /// <summary>Whether two forward passes in train mode agree (no dropout or other randomness); the model's state, training mode and the global random state are restored.</summary>
    private static bool IsDeterministicInTrainMode(nn.Module<Tensor, Tensor> model, Tensor input)
    {
        var training = model.training;
        using var scope = torch.NewDisposeScope();
        using var state = ParameterSet.FromModule(model);
        var rng = torch.random.get_rng_state();
        try
        {
            model.train();
            using var noGrad = torch.no_grad();
            var first = model.call(input);
            var second = model.call(input);
            return first.allclose(second, rtol: 0, atol: 0);
        }
        catch (ExternalException)
        {
            // Train mode fails on this input (BatchNorm with a single value per channel): check eval mode only.
            return false;
        }
        finally
        {
            state.LoadInto(model, strict: false);
            torch.random.set_rng_state(rng);
            model.train(training);
        }
    }

    private static IEnumerable<string> LayersOf(PermutationSpec spec, string group) =>
        spec.Group(group).Members.Select(m => m.Parameter.Contains('.', StringComparison.Ordinal) ? m.Parameter[..m.Parameter.LastIndexOf('.')] : "(the model itself)").Distinct();

    private static bool Passes(ExactnessReport report, double tolerance, (double Outputs, double Gradients) slack) =>
        report.MaxOutputDifference <= slack.Outputs * tolerance * Math.Max(1, report.MaxOutputMagnitude)
        && report.MaxGradientRelativeError <= slack.Gradients * GradientTolerance;

    /// <summary>The identity, except a random non-identity reordering of <paramref name="group"/> (where its size allows).</summary>
    private static Permutation SingleGroup(PermutationSpec spec, string group, int seed)
    {
        var indices = Permutation.Random(spec, seed).ToArray(group);
        if (indices.Length > 1 && Permutation.IsIdentityVector(indices))
        {
            (indices[0], indices[1]) = (indices[1], indices[0]);
        }

        return Permutation.Identity(spec).With(group, indices);
    }

    private static List<(nn.Module Module, int Depth, bool Training)> SaveTrainingModes(nn.Module model) =>
        [(model, 0, model.training), .. model.named_modules().Select(m => (m.module, m.name.Count(c => c == '.') + 1, m.module.training))];

    private static void RestoreTrainingModes(List<(nn.Module Module, int Depth, bool Training)> modes)
    {
        // train() recurses into submodules, so set parents before children.
        foreach (var (module, _, training) in modes.OrderBy(m => m.Depth))
        {
            module.train(training);
        }
    }

    private static string Describe(nn.Module model) => $"the model ({model.GetType().Name})";
}
