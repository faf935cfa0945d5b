using System.Buffers;
using System.Diagnostics;
using System.Numerics;
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
    private readonly Dictionary<string, Tensor> _spare = new(StringComparer.Ordinal);
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

    /// <summary>Bytes of device memory the problem holds (accumulated similarity matrices and kept tensors or factors).</summary>
    public long CachedBytes =>
        _accumulated.Values.Concat(_spare.Values).Sum(t => t.numel() * t.element_size())
        + _stored.Sum(s => s.Target.Bytes + s.Source.Bytes);

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
    public void AddPair(IReadOnlyDictionary<string, Tensor> target, IReadOnlyDictionary<string, Tensor> source, double weight = 1) =>
        AddPair(target, source, NoFactors, NoFactors, weight);

    /// <summary>
    /// Adds a pair whose tensors are given partly as <see cref="LowRankTensor"/> factors (for example minibatch gradients of
    /// Linear layers, whose rank is at most the batch size). Each name is given on each side either as a tensor or as factors.
    /// Every term is computed in the cheaper of the two forms by its count of multiply-adds: from the factors (for the
    /// paper's 784-4096-10 model and batches of 128, about 6 times fewer) or from the full tensors; results are equal to
    /// float rounding. The caller keeps ownership of everything it passes and may dispose it afterwards.
    /// </summary>
    /// <param name="target">A: tensors of the target side given in full.</param>
    /// <param name="source">B: tensors of the source side given in full.</param>
    /// <param name="targetFactors">A: tensors of the target side given as factors.</param>
    /// <param name="sourceFactors">B: tensors of the source side given as factors.</param>
    /// <param name="weight">c; the default is 1.</param>
    /// <exception cref="ArgumentNullException">An argument is null.</exception>
    /// <exception cref="ArgumentException">A name is given twice on one side or on one side only, shapes differ, they differ from earlier pairs, devices differ, the weight is not finite, or a value is NaN or infinite.</exception>
    /// <exception cref="PermutationSpecException">A tensor is not covered by the spec or does not fit it.</exception>
    public void AddPair(
        IReadOnlyDictionary<string, Tensor> target,
        IReadOnlyDictionary<string, Tensor> source,
        IReadOnlyDictionary<string, LowRankTensor> targetFactors,
        IReadOnlyDictionary<string, LowRankTensor> sourceFactors,
        double weight = 1)
    {
        ArgumentNullException.ThrowIfNull(target);
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(targetFactors);
        ArgumentNullException.ThrowIfNull(sourceFactors);
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (!double.IsFinite(weight))
        {
            throw new ArgumentException($"The pair weight must be finite; it is {weight}.", nameof(weight));
        }

        var targetLayout = SideLayout(target, targetFactors, nameof(targetFactors));
        var difference = targetLayout.FirstDifference(SideLayout(source, sourceFactors, nameof(sourceFactors)), "the target side", "the source side", ignoreDType: true);
        if (difference is not null)
        {
            throw new ArgumentException($"The target and source sides of the pair differ: {difference}.", nameof(source));
        }

        _spec.Validate(targetLayout, requireAllCovered: true, requireAllPresent: false, nameof(target));
        if (_layout is null)
        {
            _layout = targetLayout;
        }
        else if (_layout.FirstDifference(targetLayout, "this pair", "the first pair", ignoreDType: true) is { } changed)
        {
            throw new ArgumentException($"This pair's tensors differ from the first pair's: {changed}.", nameof(target));
        }

        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        foreach (var entry in targetLayout.Entries)
        {
            var name = entry.Name;
            var a = Operand.Of(name, target, targetFactors);
            var b = Operand.Of(name, source, sourceFactors);
            _device ??= a.Device;
            if (!Devices.Same(a.Device, _device) || !Devices.Same(b.Device, _device))
            {
                throw new ArgumentException($"'{name}' is on {a.Device} (target) and {b.Device} (source); all tensors of the problem must be on {_device}.", nameof(source));
            }

            if (!a.IsFinite() || !b.IsFinite())
            {
                throw new ArgumentException($"'{name}' holds NaN or infinite values ({(a.IsFinite() ? "source" : "target")} side).", nameof(target));
            }

            var c = weight;
            if (_options.Normalize)
            {
                var norms = a.Norm() * b.Norm();
                c = norms > 0 ? c / norms : 0;
            }

            var axes = _spec.AxesOf(name);
            var permuted = axes.Select((ax, i) => (ax, i)).Where(x => x.ax is not null).ToArray();
            if (permuted.Length == 0)
            {
                _constant += c * Operand.Inner(a, b);
            }
            else if (permuted.Length == 1)
            {
                var (ax, axis) = permuted[0];
                var group = _spec.Group(ax!.Value.Group);
                if (_accumulated.TryGetValue(group.Name, out var sum))
                {
                    // In place, fused into the GEMM: no n×n temporary per pair (GMT adds ~55 pairs of 4096² per transfer).
                    Operand.AddProduct(sum, a, b, axis, group.Size, ax.Value.BlockSize, c);
                }
                else if (_spare.Remove(group.Name, out var spare) && Reusable(spare, a, b))
                {
                    // A buffer kept by Clear: no fresh n² allocation to fault in.
                    Operand.AddProduct(spare.zero_(), a, b, axis, group.Size, ax.Value.BlockSize, c);
                    _accumulated[group.Name] = spare;
                }
                else
                {
                    spare?.Dispose();
                    _accumulated[group.Name] = Operand.Product(a, b, axis, group.Size, ax.Value.BlockSize).mul_(c).DetachFromDisposeScope();
                }
            }
            else
            {
                _stored.Add(new StoredTerm(name, a.Keep(), b.Keep(), c));
            }
        }

        PairCount++;
    }

    /// <summary>
    /// Removes every pair, so that the problem can be filled again from nothing, but keeps each group's n×n buffer for
    /// the next pairs on the same device. GMT fills a new problem at every step; clearing one instead saves allocating
    /// (and, on the CPU, faulting in) n² floats per group per step.
    /// </summary>
    public void Clear()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        foreach (var (group, sum) in _accumulated)
        {
            if (_spare.Remove(group, out var older))
            {
                older.Dispose();
            }

            _spare[group] = sum;
        }

        _accumulated.Clear();
        foreach (var s in _stored)
        {
            s.Target.Dispose();
            s.Source.Dispose();
        }

        _stored.Clear();
        _constant = 0;
        PairCount = 0;
        _layout = null;
        _device = null; // fixed again by the next pair; a buffer on another device is then not reused
    }

    /// <summary>Whether a kept buffer can hold the sum of this pair's term: same device, and the dtype the term is computed in.</summary>
    private static bool Reusable(Tensor spare, Operand a, Operand b) =>
        Devices.Same(spare.device, a.Device) && spare.dtype == a.DType && a.DType == b.DType;

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
            total += term.Weight * Operand.Inner(term.Target, term.Source.PermutedExcept(_spec, cache, term.Name, skipAxis: -1));
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
        foreach (var t in _accumulated.Values.Concat(_spare.Values))
        {
            t.Dispose();
        }

        _spare.Clear();
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

        // The accumulated sum is read as it is: it is copied only when stored terms must be added to it (a clone and a
        // finiteness pass over a 4096² matrix cost more than the copy to the solver's array).
        Tensor? m = _accumulated.TryGetValue(group, out var sum) ? sum : null;
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

                var b = term.Source.PermutedExcept(_spec, cache, term.Name, skipAxis: axis);
                var block = axes[axis]!.Value.BlockSize;
                if (m is null)
                {
                    m = Operand.Product(term.Target, b, axis, size, block).mul_(term.Weight);
                }
                else
                {
                    if (ReferenceEquals(m, sum))
                    {
                        m = sum.clone();
                    }

                    Operand.AddProduct(m, term.Target, b, axis, size, block, term.Weight);
                }
            }
        }

        var result = ArrayPool<float>.Shared.Rent(size * size);
        if (m is null)
        {
            Array.Clear(result, 0, size * size);
            return result;
        }

        var cpu = m.to(ScalarType.Float32).cpu().contiguous();
        var matrix = result.AsSpan(0, size * size);
        MemoryMarshal.Cast<byte, float>(cpu.bytes).CopyTo(matrix);
        if (!AllFinite(matrix))
        {
            ArrayPool<float>.Shared.Return(result);
            throw new ArgumentException($"The similarity matrix of group '{group}' holds NaN or infinite values (the pairs' values overflow float32).");
        }

        return result;
    }

    /// <summary>Whether every value is finite: x − x is 0 for finite x and NaN for ±∞ and NaN.</summary>
    private static bool AllFinite(ReadOnlySpan<float> values)
    {
        var vectors = MemoryMarshal.Cast<float, Vector<float>>(values);
        var acc = Vector<float>.Zero;
        foreach (var v in vectors)
        {
            acc += v - v;
        }

        for (var i = 0; i < Vector<float>.Count; i++)
        {
            if (acc[i] != 0)
            {
                return false;
            }
        }

        for (var i = vectors.Length * Vector<float>.Count; i < values.Length; i++)
        {
            if (!float.IsFinite(values[i]))
            {
                return false;
            }
        }

        return true;
    }

    private static readonly IReadOnlyDictionary<string, LowRankTensor> NoFactors = new Dictionary<string, LowRankTensor>();

    /// <summary>The layout of one side: its full tensors and its factored ones (a name in both is refused).</summary>
    private static ParameterLayout SideLayout(IReadOnlyDictionary<string, Tensor> dense, IReadOnlyDictionary<string, LowRankTensor> factors, string paramName)
    {
        var entries = ParameterLayout.Of(dense).Entries.ToList();
        foreach (var (name, factor) in factors)
        {
            ArgumentNullException.ThrowIfNull(factor, paramName);
            if (dense.ContainsKey(name))
            {
                throw new ArgumentException($"'{name}' is given both as a tensor and as factors.", paramName);
            }

            entries.Add(new ParameterInfo(name, factor.Shape, factor.Left.dtype));
        }

        return new ParameterLayout(entries);
    }

    private sealed record StoredTerm(string Name, Operand Target, Operand Source, double Weight);

    /// <summary>One side of one tensor of a pair: the tensor itself, or its factors; computes products in the cheaper form.</summary>
    private sealed class Operand : IDisposable
    {
        private Operand(Tensor? dense, Tensor? left, Tensor? right, long[] shape)
        {
            DenseTensor = dense;
            Left = left;
            Right = right;
            Shape = shape;
        }

        public Tensor? DenseTensor { get; }

        public Tensor? Left { get; }

        public Tensor? Right { get; }

        public long[] Shape { get; }

        public bool IsFactored => Left is not null;

        public long Rank => Left?.shape[0] ?? 0;

        public Device Device => (DenseTensor ?? Left)!.device;

        public ScalarType DType => (DenseTensor ?? Left)!.dtype;

        public long ElementCount => Shape.Aggregate(1L, (x, y) => x * y);

        public long Bytes => DenseTensor is { } d ? d.numel() * d.element_size() : (Left!.numel() * Left.element_size()) + (Right!.numel() * Right.element_size());

        /// <summary>The operand of <paramref name="name"/> on one side, in float32 at least, in the current dispose scope (not copied where it need not be).</summary>
        public static Operand Of(string name, IReadOnlyDictionary<string, Tensor> dense, IReadOnlyDictionary<string, LowRankTensor> factors)
        {
            if (dense.TryGetValue(name, out var t))
            {
                return new Operand(Working(t), null, null, t.shape);
            }

            var f = factors[name];
            return new Operand(null, Working(f.Left), Working(f.Right), [.. f.Shape]);
        }

        /// <summary>A copy that outlives the current dispose scope: the factors when they are smaller than the tensor, else the tensor.</summary>
        public Operand Keep()
        {
            if (IsFactored && (Left!.numel() + Right!.numel()) < ElementCount)
            {
                return new Operand(null, Left.clone().DetachFromDisposeScope(), Right.clone().DetachFromDisposeScope(), Shape);
            }

            return new Operand(Dense().clone().DetachFromDisposeScope(), null, null, Shape);
        }

        public Tensor Dense() => DenseTensor ?? Left!.t().matmul(Right!).reshape(Shape);

        public bool IsFinite() => IsFactored
            ? torch.isfinite(Left!).all().ToBoolean() && torch.isfinite(Right!).all().ToBoolean()
            : torch.isfinite(DenseTensor!).all().ToBoolean();

        public double Norm() => IsFactored ? Dense().norm().ToDouble() : DenseTensor!.norm().ToDouble();

        /// <summary>This operand with every permuted axis except <paramref name="skipAxis"/> reordered by the cache's permutation.</summary>
        public Operand PermutedExcept(PermutationSpec spec, PermutationSpecApplyExtensions.IndexCache cache, string name, int skipAxis)
        {
            if (!IsFactored)
            {
                return new Operand(PermutationSpecApplyExtensions.PermuteTensor(spec, cache, name, DenseTensor!, skipAxis), null, null, Shape);
            }

            var axes = spec.AxesOf(name);
            var left = Left!;
            var right = Right!;
            for (var axis = 0; axis < axes.Count; axis++)
            {
                if (axis == skipAxis || axes[axis] is not { } a)
                {
                    continue;
                }

                var index = cache.Get(a.Group, a.BlockSize, left.device);
                if (axis == 0)
                {
                    left = left.index_select(1, index);
                }
                else if (axis == 1)
                {
                    right = right.view(Rank, Shape[1], -1).index_select(1, index).reshape(Rank, -1);
                }
                else
                {
                    return new Operand(PermutationSpecApplyExtensions.PermuteTensor(spec, cache, name, Dense(), skipAxis), null, null, Shape);
                }
            }

            return new Operand(null, left, right, Shape);
        }

        /// <summary>⟨A, B⟩, from the factors when both are factored (R_A·R_B·(d₀ + rest) multiply-adds).</summary>
        public static double Inner(Operand a, Operand b)
        {
            if (a.IsFactored && b.IsFactored && a.Rank * b.Rank * (a.Shape[0] + (a.ElementCount / a.Shape[0])) < a.ElementCount * Math.Min(a.Rank, b.Rank))
            {
                using var factoredScope = torch.NewDisposeScope();
                return a.Left!.matmul(b.Left!.t()).mul_(a.Right!.matmul(b.Right!.t())).sum().ToDouble();
            }

            // Dense() is the operand's own tensor when it is not factored: leave those to their owners and the caller's scope.
            using var scope = torch.NewDisposeScope();
            return a.Dense().mul(b.Dense()).sum().ToDouble();
        }

        /// <summary>mat(A, axis) · mat(B, axis)ᵀ, the n×n term of group size n (a new tensor).</summary>
        public static Tensor Product(Operand a, Operand b, int axis, int n, int block)
        {
            if (UseFactors(a, b, axis, n, block))
            {
                return FactoredProduct(a, b, axis, n, block);
            }

            return Matricize(a.Dense(), axis, n).matmul(Matricize(b.Dense(), axis, n).t());
        }

        /// <summary><paramref name="sum"/> += c · mat(A, axis) · mat(B, axis)ᵀ, in place.</summary>
        public static void AddProduct(Tensor sum, Operand a, Operand b, int axis, int n, int block, double c)
        {
            if (UseFactors(a, b, axis, n, block))
            {
                var (left, right) = FactoredOperands(a, b, axis, n, block);
                sum.addmm_(left.to(sum.dtype), right.to(sum.dtype), beta: 1, alpha: (float)c);
                return;
            }

            sum.addmm_(Matricize(a.Dense(), axis, n).to(sum.dtype), Matricize(b.Dense(), axis, n).t().to(sum.dtype), beta: 1, alpha: (float)c);
        }

        public void Dispose()
        {
            DenseTensor?.Dispose();
            Left?.Dispose();
            Right?.Dispose();
        }

        /// <summary>Whether the term is cheaper from the factors, by multiply-adds (forming a missing full tensor counted on the other side).</summary>
        private static bool UseFactors(Operand a, Operand b, int axis, int n, int block)
        {
            if (!a.IsFactored || !b.IsFactored || axis > 1 || (axis == 0 && block != 1))
            {
                return false;
            }

            var (ra, rb) = ((double)a.Rank, (double)b.Rank);
            var elements = (double)a.ElementCount;
            var dense = ((double)n * elements) + ((ra + rb) * elements);
            var factored = axis == 0
                ? (ra * rb * (elements / n)) + (n * ra * rb) + ((double)n * n * rb)
                : (ra * rb * a.Shape[0]) + (elements / a.Shape[0] / n * ((n * ra * rb) + ((double)n * n * rb)));
            return factored < dense;
        }

        private static Tensor FactoredProduct(Operand a, Operand b, int axis, int n, int block)
        {
            var (left, right) = FactoredOperands(a, b, axis, n, block);
            return left.matmul(right);
        }

        /// <summary>
        /// Two matrices whose product is the term: along axis 0, (L_Aᵀ · R_A R_Bᵀ) and L_B; along axis 1 (with b positions
        /// per unit), P [n, b·R_B] and Q [b·R_B, n] with P[c, (s, r')] = Σ_r R_A[r, c, s] (L_A L_Bᵀ)[r, r'] and Q[(s, r'), c'] = R_B[r', c', s].
        /// </summary>
        private static (Tensor Left, Tensor Right) FactoredOperands(Operand a, Operand b, int axis, int n, int block)
        {
            if (axis == 0)
            {
                var kernel = a.Right!.matmul(b.Right!.t());
                return (a.Left!.t().matmul(kernel), b.Left!);
            }

            var positions = a.ElementCount / a.Shape[0] / n;
            var k = a.Left!.matmul(b.Left!.t());
            var p = a.Right!.view(a.Rank, n, positions).permute(1, 2, 0).matmul(k).reshape(n, positions * b.Rank);
            var q = b.Right!.view(b.Rank, n, positions).permute(2, 0, 1).reshape(positions * b.Rank, n);
            return (p, q);
        }

        /// <summary>Moves <paramref name="axis"/> to the front and flattens the rest: n × (block · rest).</summary>
        private static Tensor Matricize(Tensor t, int axis, int groupSize) => t.movedim([axis], [0]).reshape(groupSize, -1);

        /// <summary>float32 at least, so half-precision inputs do not lose the sums.</summary>
        private static Tensor Working(Tensor t)
        {
            var d = t.detach();
            return d.dtype is ScalarType.Float32 or ScalarType.Float64 ? d : d.to(ScalarType.Float32);
        }
    }
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
    /// <exception cref="ArgumentException"><paramref name="pairs"/> is empty, or a pair does not fit (see <see cref="WeightMatchingProblem.AddPair(IReadOnlyDictionary{string, Tensor}, IReadOnlyDictionary{string, Tensor}, double)"/>).</exception>
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
