using System.Buffers;
using System.Diagnostics;
using System.Runtime.InteropServices;
using TorchSharp;
using TrajectoryTransfer.Internal;
using static TorchSharp.torch;

namespace TrajectoryTransfer.Permutations;

/// <summary>
/// A weight matching problem: maximise Σₖ cₖ ⟨Aₖ, π(Bₖ)⟩ over permutations π, for pairs (Aₖ target side, Bₖ source side)
/// of named tensors added one at a time. Reusable: add more pairs and solve again (FGMT does exactly that).
/// </summary>
/// <remarks>
/// <para>
/// Terms of tensors with a single permuted axis do not depend on π except through that axis's own group, so their
/// contribution to the group's similarity matrix is accumulated once, when the pair is added, and the pair's tensors
/// are not kept. Only tensors with two or more permuted axes (hidden-to-hidden weights) are kept, because their
/// similarity depends on the other groups' current permutations. For a one-hidden-layer MLP this makes memory O(n²)
/// whatever the number of pairs.
/// </para>
/// <para>
/// Solving is coordinate descent over groups in a seeded random order (Ainsworth et al., Git Re-Basin). A group is solved
/// again only when a group it shares a tensor with has changed since its last solve, so a single-group problem costs one
/// assignment solve per call.
/// </para>
/// Everything runs on the tensors' device; only the n×n similarity matrices are copied to the CPU for the solver.
/// </remarks>
public sealed class WeightMatchingProblem : IDisposable
{
    private readonly PermutationSpec _spec;
    private readonly WeightMatchingOptions _options;
    private readonly IAssignmentSolver _solver;
    private readonly Dictionary<string, Tensor> _accumulated = new(StringComparer.Ordinal);
    private readonly List<StoredTerm> _stored = [];
    private double _constant;
    private Device? _device;
    private ParameterLayout? _layout;
    private bool _disposed;

    /// <summary>Creates an empty problem.</summary>
    /// <param name="spec">The spec whose groups are matched.</param>
    /// <param name="options">Settings; the default is <see cref="WeightMatchingOptions.Default"/>.</param>
    /// <exception cref="ArgumentNullException"><paramref name="spec"/> is null.</exception>
    /// <exception cref="ArgumentOutOfRangeException">An option is out of range.</exception>
    public WeightMatchingProblem(PermutationSpec spec, WeightMatchingOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(spec);
        _options = options ?? WeightMatchingOptions.Default;
        _options.Validate();
        _spec = spec;
        _solver = _options.Solver ?? AssignmentSolvers.Default;
    }

    /// <summary>The number of pairs added.</summary>
    public int PairCount { get; private set; }

    /// <summary>Bytes of device memory the problem holds (accumulated similarity matrices and kept tensors).</summary>
    public long CachedBytes =>
        _accumulated.Values.Sum(t => t.numel() * t.element_size())
        + _stored.Sum(s => (s.Target.numel() * s.Target.element_size()) + (s.Source.numel() * s.Source.element_size()));

    /// <summary>
    /// Adds a pair (A target side, B source side) with weight c. The tensors are read now and not referenced afterwards
    /// (copies are kept where needed), so the caller may dispose them.
    /// </summary>
    /// <param name="target">A: named tensors of the target side (for GMT, the target's gradient).</param>
    /// <param name="source">B: named tensors of the source side, with the same names and shapes.</param>
    /// <param name="weight">c; the default is 1.</param>
    /// <exception cref="ArgumentNullException">An argument is null.</exception>
    /// <exception cref="ArgumentException">Names or shapes of the two sides differ, they differ from earlier pairs, they are on different devices, the weight is not finite, or a value is NaN or infinite.</exception>
    /// <exception cref="PermutationSpecException">A tensor is not covered by the spec or does not fit it.</exception>
    public void AddPair(IReadOnlyDictionary<string, Tensor> target, IReadOnlyDictionary<string, Tensor> source, double weight = 1)
    {
        ArgumentNullException.ThrowIfNull(target);
        ArgumentNullException.ThrowIfNull(source);
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (!double.IsFinite(weight))
        {
            throw new ArgumentException($"The pair weight must be finite; it is {weight}.", nameof(weight));
        }

        var targetLayout = ParameterLayout.Of(target);
        var difference = targetLayout.FirstDifference(ParameterLayout.Of(source), ignoreDType: true);
        if (difference is not null)
        {
            throw new ArgumentException($"The target and source sides of the pair differ: {difference}.", nameof(source));
        }

        _spec.Validate(targetLayout, requireAllCovered: true, requireAllPresent: false, nameof(target));
        if (_layout is null)
        {
            _layout = targetLayout;
        }
        else if (_layout.FirstDifference(targetLayout, ignoreDType: true) is { } changed)
        {
            throw new ArgumentException($"This pair's tensors differ from the first pair's: {changed}.", nameof(target));
        }

        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        foreach (var (name, a0) in target)
        {
            var b0 = source[name];
            _device ??= a0.device;
            if (!Devices.Same(a0.device, _device) || !Devices.Same(b0.device, _device))
            {
                throw new ArgumentException($"'{name}' is on {a0.device} (target) and {b0.device} (source); all tensors of the problem must be on {_device}.", nameof(source));
            }

            var a = Working(a0);
            var b = Working(b0);
            if (!torch.isfinite(a).all().ToBoolean() || !torch.isfinite(b).all().ToBoolean())
            {
                throw new ArgumentException($"'{name}' holds NaN or infinite values ({(torch.isfinite(a).all().ToBoolean() ? "source" : "target")} side).", nameof(target));
            }

            var c = weight;
            if (_options.Normalize)
            {
                var norms = a.norm().ToDouble() * b.norm().ToDouble();
                c = norms > 0 ? c / norms : 0;
            }

            var axes = _spec.AxesOf(name);
            var permuted = axes.Select((ax, i) => (ax, i)).Where(x => x.ax is not null).ToArray();
            if (permuted.Length == 0)
            {
                _constant += c * (a * b).sum().ToDouble();
            }
            else if (permuted.Length == 1)
            {
                var (ax, axis) = permuted[0];
                var group = _spec.Group(ax!.Value.Group);
                var left = Matricize(a, axis, group.Size);
                var right = Matricize(b, axis, group.Size).t();
                if (_accumulated.TryGetValue(group.Name, out var sum))
                {
                    // In place, fused into the GEMM: no n×n temporary per pair (GMT adds ~55 pairs of 4096² per transfer).
                    sum.addmm_(left.to(sum.dtype), right.to(sum.dtype), beta: 1, alpha: (float)c);
                }
                else
                {
                    _accumulated[group.Name] = left.matmul(right).mul_(c).DetachFromDisposeScope();
                }
            }
            else
            {
                _stored.Add(new StoredTerm(name, a.clone().DetachFromDisposeScope(), b.clone().DetachFromDisposeScope(), c));
            }
        }

        PairCount++;
    }

    /// <summary>Finds a permutation that maximises the objective by coordinate descent over the groups.</summary>
    /// <param name="start">Where to start; the default is the identity.</param>
    /// <param name="progress">Receives an event after each sweep.</param>
    /// <param name="cancellationToken">Checked before each assignment solve.</param>
    /// <exception cref="InvalidOperationException">No pair was added.</exception>
    /// <exception cref="PermutationSpecException"><paramref name="start"/> does not match the spec.</exception>
    /// <exception cref="OperationCanceledException">Cancelled.</exception>
    public WeightMatchingResult Solve(Permutation? start = null, IProgress<WeightMatchingProgress>? progress = null, CancellationToken cancellationToken = default)
        => Solve(start, warmStarts: null, progress, cancellationToken);

    /// <summary>
    /// As <see cref="Solve(Permutation?, IProgress{WeightMatchingProgress}?, CancellationToken)"/>, with each group's
    /// assignment solves starting from, and updating, that group's state in <paramref name="warmStarts"/> when the solver
    /// can use one (<see cref="IWarmStartAssignmentSolver"/>; other solvers ignore the set). Pass the same set to every
    /// solve of a sequence (one set per target network of a transfer, across steps, whether this problem is kept or
    /// rebuilt): every assignment is as optimal as a cold solve's (a tie may pick another optimal one), found faster when the
    /// matrices change little between solves.
    /// </summary>
    /// <param name="start">Where to start; the default is the identity.</param>
    /// <param name="warmStarts">The warm starts by group name; null for cold solves.</param>
    /// <param name="progress">Receives an event after each sweep.</param>
    /// <param name="cancellationToken">Checked before each assignment solve.</param>
    /// <exception cref="InvalidOperationException">No pair was added.</exception>
    /// <exception cref="PermutationSpecException"><paramref name="start"/> does not match the spec.</exception>
    /// <exception cref="OperationCanceledException">Cancelled.</exception>
    public WeightMatchingResult Solve(Permutation? start, AssignmentWarmStartSet? warmStarts, IProgress<WeightMatchingProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (PairCount == 0)
        {
            throw new InvalidOperationException("Add at least one pair before solving.");
        }

        var permutation = start ?? Permutation.Identity(_spec);
        permutation.Validate(_spec);

        var clock = Stopwatch.StartNew();
        var similarityTime = TimeSpan.Zero;
        var assignmentTime = TimeSpan.Zero;
        var random = new Random(_options.Seed);
        var groups = _spec.GroupNames.Where(IsInvolved).ToArray();
        var dirty = new HashSet<string>(groups, StringComparer.Ordinal);
        var objectives = new List<double>();
        var solves = 0;
        var initial = Objective(permutation);

        for (var sweep = 1; sweep <= _options.MaxSweeps && dirty.Count > 0; sweep++)
        {
            var order = (string[])groups.Clone();
            random.Shuffle(order);
            int solved = 0, changed = 0;
            foreach (var group in order)
            {
                if (!dirty.Remove(group))
                {
                    continue;
                }

                cancellationToken.ThrowIfCancellationRequested();
                var size = _spec.Group(group).Size;
                var started = clock.Elapsed;
                // Rented: an FGMT run at n = 4096 would otherwise allocate a fresh 64 MB array per solve.
                var rented = SimilarityOnCpu(group, permutation);
                var current = permutation.Indices(group);
                int[] assignment;
                double oldScore = 0, newScore = 0;
                try
                {
                    var matrix = rented.AsSpan(0, size * size);
                    similarityTime += clock.Elapsed - started;

                    started = clock.Elapsed;
                    assignment = warmStarts is not null && _solver is IWarmStartAssignmentSolver warm
                        ? warm.SolveMaximum(matrix, size, current, warmStarts.GetOrAdd(group), cancellationToken)
                        : _solver.SolveMaximum(matrix, size, current, cancellationToken);
                    assignmentTime += clock.Elapsed - started;
                    solves++;
                    solved++;

                    for (var i = 0; i < size; i++)
                    {
                        oldScore += matrix[(i * size) + current[i]];
                        newScore += matrix[(i * size) + assignment[i]];
                    }
                }
                finally
                {
                    ArrayPool<float>.Shared.Return(rented);
                }

                var scale = Math.Max(Math.Abs(oldScore), Math.Abs(newScore));
                if (newScore - oldScore > _options.Tolerance * scale && !assignment.AsSpan().SequenceEqual(current))
                {
                    permutation = permutation.With(group, assignment);
                    changed++;
                    foreach (var coupled in _spec.CoupledGroups(group))
                    {
                        if (IsInvolved(coupled))
                        {
                            dirty.Add(coupled);
                        }
                    }
                }
            }

            var objective = Objective(permutation);
            objectives.Add(objective);
            progress?.Report(new WeightMatchingProgress(sweep, _options.MaxSweeps, objective, solved, changed, clock.Elapsed));
        }

        return new WeightMatchingResult(permutation, initial, objectives, solves, similarityTime, assignmentTime);
    }

    /// <summary>The objective Σₖ cₖ ⟨Aₖ, π(Bₖ)⟩ at <paramref name="permutation"/>.</summary>
    /// <param name="permutation">A permutation matching the spec.</param>
    /// <exception cref="ArgumentNullException"><paramref name="permutation"/> is null.</exception>
    /// <exception cref="PermutationSpecException"><paramref name="permutation"/> does not match the spec.</exception>
    public double Objective(Permutation permutation)
    {
        ArgumentNullException.ThrowIfNull(permutation);
        ObjectDisposedException.ThrowIf(_disposed, this);
        permutation.Validate(_spec);
        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        var total = _constant;
        var cache = new PermutationSpecApplyExtensions.IndexCache(permutation);
        foreach (var (group, sum) in _accumulated)
        {
            var index = cache.Get(group, 1, sum.device);
            total += sum.gather(1, index.unsqueeze(1)).sum().ToDouble();
        }

        foreach (var term in _stored)
        {
            var permuted = PermutationSpecApplyExtensions.PermuteTensor(_spec, cache, term.Name, term.Source, skipAxis: -1);
            total += term.Weight * (term.Target * permuted).sum().ToDouble();
        }

        return total;
    }

    /// <summary>Releases the accumulated matrices and kept tensors.</summary>
    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        foreach (var t in _accumulated.Values)
        {
            t.Dispose();
        }

        foreach (var s in _stored)
        {
            s.Target.Dispose();
            s.Source.Dispose();
        }

        _accumulated.Clear();
        _stored.Clear();
    }

    private bool IsInvolved(string group) =>
        _accumulated.ContainsKey(group) || _stored.Any(s => _spec.AxesOf(s.Name).Any(a => a?.Group == group));

    /// <summary>The group's n×n similarity in the first n² elements of an array rented from <see cref="ArrayPool{T}.Shared"/>; the caller returns it.</summary>
    private float[] SimilarityOnCpu(string group, Permutation permutation)
    {
        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        var size = _spec.Group(group).Size;
        if ((long)size * size > Array.MaxLength)
        {
            throw new NotSupportedException($"Group '{group}' has {size} units; its {size}×{size} similarity matrix exceeds the largest array .NET can hold for the assignment solver.");
        }

        Tensor? m = _accumulated.TryGetValue(group, out var sum) ? sum.clone() : null;
        var cache = new PermutationSpecApplyExtensions.IndexCache(permutation);
        foreach (var term in _stored)
        {
            var axes = _spec.AxesOf(term.Name);
            for (var axis = 0; axis < axes.Count; axis++)
            {
                if (axes[axis]?.Group != group)
                {
                    continue;
                }

                var b = PermutationSpecApplyExtensions.PermuteTensor(_spec, cache, term.Name, term.Source, skipAxis: axis);
                var left = Matricize(term.Target, axis, size);
                var right = Matricize(b, axis, size).t();
                if (m is null)
                {
                    m = left.matmul(right).mul_(term.Weight);
                }
                else
                {
                    m.addmm_(left.to(m.dtype), right.to(m.dtype), beta: 1, alpha: (float)term.Weight);
                }
            }
        }

        if (m is null)
        {
            var zeros = ArrayPool<float>.Shared.Rent(size * size);
            Array.Clear(zeros, 0, size * size);
            return zeros;
        }

        if (!torch.isfinite(m).all().ToBoolean())
        {
            throw new ArgumentException($"The similarity matrix of group '{group}' holds NaN or infinite values (the pairs' values overflow float32).");
        }

        var cpu = m.to(ScalarType.Float32).cpu().contiguous();
        var result = ArrayPool<float>.Shared.Rent(size * size);
        MemoryMarshal.Cast<byte, float>(cpu.bytes).CopyTo(result);
        return result;
    }

    /// <summary>Moves <paramref name="axis"/> to the front and flattens the rest: n × (block · rest).</summary>
    private static Tensor Matricize(Tensor t, int axis, int groupSize) => t.movedim([axis], [0]).reshape(groupSize, -1);

    /// <summary>float32 at least, so half-precision inputs do not lose the sums.</summary>
    private static Tensor Working(Tensor t)
    {
        var d = t.detach();
        return d.dtype is ScalarType.Float32 or ScalarType.Float64 ? d : d.to(ScalarType.Float32);
    }

    private sealed record StoredTerm(string Name, Tensor Target, Tensor Source, double Weight);
}

/// <summary>One-call weight matching over a list of pairs.</summary>
public static class WeightMatching
{
    /// <summary>Matches <paramref name="pairs"/> (A target side, B source side, weight c): finds π maximising Σₖ cₖ ⟨Aₖ, π(Bₖ)⟩.</summary>
    /// <param name="spec">The spec.</param>
    /// <param name="pairs">The pairs; at least one.</param>
    /// <param name="options">Settings; the default is <see cref="WeightMatchingOptions.Default"/>.</param>
    /// <param name="start">Where to start; the default is the identity.</param>
    /// <param name="progress">Receives an event after each sweep.</param>
    /// <param name="cancellationToken">Checked before each assignment solve.</param>
    /// <exception cref="ArgumentNullException"><paramref name="spec"/> or <paramref name="pairs"/> is null.</exception>
    /// <exception cref="ArgumentException"><paramref name="pairs"/> is empty, or a pair does not fit (see <see cref="WeightMatchingProblem.AddPair"/>).</exception>
    public static WeightMatchingResult Match(
        PermutationSpec spec,
        IEnumerable<MatchingPair> pairs,
        WeightMatchingOptions? options = null,
        Permutation? start = null,
        IProgress<WeightMatchingProgress>? progress = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(spec);
        ArgumentNullException.ThrowIfNull(pairs);
        using var problem = new WeightMatchingProblem(spec, options);
        foreach (var pair in pairs)
        {
            ArgumentNullException.ThrowIfNull(pair, nameof(pairs));
            problem.AddPair(pair.Target, pair.Source, pair.Weight);
        }

        if (problem.PairCount == 0)
        {
            throw new ArgumentException("At least one pair is required.", nameof(pairs));
        }

        return problem.Solve(start, progress, cancellationToken);
    }

    /// <summary>Matches the weights of two models (A = the target model, B = the source model): the π that makes π(B) closest to A.</summary>
    /// <param name="spec">The spec.</param>
    /// <param name="target">The model to align to.</param>
    /// <param name="source">The model to permute.</param>
    /// <param name="options">Settings.</param>
    /// <exception cref="ArgumentNullException">An argument is null.</exception>
    public static WeightMatchingResult Match(PermutationSpec spec, nn.Module target, nn.Module source, WeightMatchingOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(spec);
        ArgumentNullException.ThrowIfNull(target);
        ArgumentNullException.ThrowIfNull(source);
        using var a = ParameterSet.FromModule(target, includeBuffers: false);
        using var b = ParameterSet.FromModule(source, includeBuffers: false);
        return Match(spec, [new MatchingPair(a, b)], options);
    }
}

/// <summary>One term of a weight matching objective: c·⟨A, π(B)⟩.</summary>
/// <param name="Target">A, the target side.</param>
/// <param name="Source">B, the source side (the one π permutes).</param>
/// <param name="Weight">c.</param>
public sealed record MatchingPair(IReadOnlyDictionary<string, Tensor> Target, IReadOnlyDictionary<string, Tensor> Source, double Weight = 1);
