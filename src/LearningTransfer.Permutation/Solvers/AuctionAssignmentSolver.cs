using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace TrajectoryTransfer.Permutations;

/// <summary>
/// An exact dense assignment solver in two stages. First Bertsekas' forward auction with ε-scaling (Gauss–Seidel bidding;
/// each bid is one AVX2 best/second-best scan of the float row against float prices) finds near-optimal column prices and a
/// near-optimal assignment: ε goes from 0.1 · max |S| down by a factor 6 per phase to 10⁻⁴ · max |S|, and each phase keeps
/// the rows that still satisfy ε-complementary slackness. Then the Jonker–Volgenant shortest augmenting paths
/// (<see cref="JonkerVolgenantSolver"/>) finish exactly from those prices (in double): every row whose column is not an
/// exact minimiser of w[j] − S[i, j] is freed and re-assigned along a shortest path. The finish is exact from any prices, so
/// the result is optimal up to double rounding, like <see cref="JonkerVolgenantSolver"/>; the auction's ε and its float
/// prices only decide how much work the finish has left. It reads S in place (no copy) and needs O(n) extra memory.
/// </summary>
/// <remarks>
/// Why: on real weight-matching matrices (gradient similarities, nearly low-rank, near-ties everywhere) the plain JV spends
/// its time in long Dijkstra searches from thousands of free rows; the auction prices make those searches short (measured on
/// 4096² matrices: about 2 000 rows augmented in under 0.15 s after about 70 000 bids). The hint is the starting assignment of
/// the first auction phase (rows that satisfy its ε-slackness keep their column); it changes little, since prices start at
/// zero. Measured in benchmarks/results/AssignmentSolverBenchmarks.md, "Real weight-matching matrices".
/// <para>
/// A warm start (<see cref="IWarmStartAssignmentSolver"/>, <see cref="AssignmentWarmStart"/>) starts from an earlier solve's
/// optimal prices and assignment instead: rows whose column is still within ε of their best keep it, and the ε phases start
/// where the violations of complementary slackness under those prices (their mean, estimated on every 16th row) call for (see
/// <see cref="WarmStartEpsilon"/>), so a nearby matrix skips the first phases. The result is exact as for a cold solve:
/// the auction is correct from any finite prices, it ends at the same final ε, and the exact finish follows. It never runs
/// more phases than a cold solve: when the violations call for skipping fewer than two phases, or the stored prices are
/// spread wider than 4 max |S| (never the case for optimal prices of a matrix of this magnitude), the prices are dropped and
/// the solve runs cold from the stored assignment. Measured on the steps of real FGMT transfers at n = 512…4096: 40–75 %
/// fewer bids and 30–45 % less time per solve; on GMT's steps, whose matrices change more, it runs cold.
/// </para>
/// Float prices hold about 2n · max |S|; when max |S| lies outside about 10⁻²⁹ … 10²⁹ (a finite matrix near
/// <see cref="float.MaxValue"/> would overflow them and make the bids NaN), the Jonker–Volgenant solver, which works in
/// double, solves the problem alone, and so it does if a price ever stops being finite. Instances hold no state and may be
/// shared between threads.
/// </remarks>
public sealed class AuctionAssignmentSolver : IWarmStartAssignmentSolver
{
    /// <summary>
    /// The range of max |S| the float auction prices safely: prices reach about 2n · max |S| (2¹⁷ · max |S| for the largest
    /// n a span holds), which must stay below float's 2¹²⁸, and the last ε (10⁻⁹ · max |S| at the smallest allowed) must stay
    /// a float above 0. Outside it the Jonker–Volgenant solver, which works in double, solves the problem alone.
    /// </summary>
    private static readonly double MinAuctionMagnitude = Math.ScaleB(1.0, -96);
    private static readonly double MaxAuctionMagnitude = Math.ScaleB(1.0, 96);

    /// <summary>
    /// The fewest rows sampled (every 16th row, evenly spaced) to estimate a warm start's mean violation: a relative error of
    /// about 1 / √64 where the choice is between points of the ε schedule a factor 6 apart.
    /// </summary>
    private const int WarmStartMinSampleRows = 64;

    private readonly bool _vectorized;
    private readonly double _startEpsilon;
    private readonly double _finalEpsilon;
    private readonly double _epsilonFactor;

    /// <summary>Creates the solver with the default tuning (<see cref="AuctionAssignmentSolverOptions"/>).</summary>
    public AuctionAssignmentSolver()
        : this(AuctionAssignmentSolverOptions.Default)
    {
    }

    /// <summary>Creates the solver with explicit ε-scaling (for tuning on one's own matrices; the result is exact either way).</summary>
    /// <param name="options">The ε schedule.</param>
    /// <exception cref="ArgumentNullException"><paramref name="options"/> is null.</exception>
    /// <exception cref="ArgumentOutOfRangeException">An option is outside its documented range.</exception>
    public AuctionAssignmentSolver(AuctionAssignmentSolverOptions options)
        : this(options, vectorized: true)
    {
    }

    /// <summary>Creates the solver, optionally with the scalar kernels only (tests cover both paths).</summary>
    internal AuctionAssignmentSolver(bool vectorized)
        : this(AuctionAssignmentSolverOptions.Default, vectorized)
    {
    }

    private AuctionAssignmentSolver(AuctionAssignmentSolverOptions options, bool vectorized)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        _vectorized = vectorized && Avx2.IsSupported;
        _startEpsilon = options.StartEpsilon;
        _finalEpsilon = options.FinalEpsilon;
        _epsilonFactor = options.EpsilonFactor;
    }

    /// <inheritdoc />
    public string Name => "auction-jv";

    /// <inheritdoc />
    public int[] SolveMaximum(ReadOnlySpan<float> similarity, int size, ReadOnlySpan<int> hint = default, CancellationToken cancellationToken = default)
        => Solve(similarity, size, hint, null, cancellationToken, out _);

    /// <summary>As <see cref="SolveMaximum(ReadOnlySpan{float}, int, ReadOnlySpan{int}, CancellationToken)"/>, also reporting what the solve did.</summary>
    /// <param name="similarity">The n×n similarity matrix, row-major. Must be finite.</param>
    /// <param name="size">n, at least 1.</param>
    /// <param name="hint">An optional starting assignment; empty for none.</param>
    /// <param name="cancellationToken">Cancels the solve (checked every 1024 bids and between augmentations).</param>
    /// <param name="statistics">The bids, augmented rows and times of this solve.</param>
    /// <returns>σ, with row i assigned to column σ[i].</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="size"/> is not positive.</exception>
    /// <exception cref="ArgumentException">The matrix length is not size², it holds NaN or infinity, or the hint is not a permutation of that size.</exception>
    /// <exception cref="OperationCanceledException">The solve was canceled.</exception>
    public int[] SolveMaximum(ReadOnlySpan<float> similarity, int size, ReadOnlySpan<int> hint, CancellationToken cancellationToken, out AuctionSolveStatistics statistics)
        => Solve(similarity, size, hint, null, cancellationToken, out statistics);

    /// <inheritdoc />
    public int[] SolveMaximum(ReadOnlySpan<float> similarity, int size, ReadOnlySpan<int> hint, AssignmentWarmStart warmStart, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(warmStart);
        return Solve(similarity, size, hint, warmStart, cancellationToken, out _);
    }

    /// <summary>
    /// As <see cref="SolveMaximum(ReadOnlySpan{float}, int, ReadOnlySpan{int}, AssignmentWarmStart, CancellationToken)"/>
    /// (a solve that starts from the warm start and updates it), also reporting what the solve did.
    /// </summary>
    /// <param name="similarity">The n×n similarity matrix, row-major. Must be finite.</param>
    /// <param name="size">n, at least 1.</param>
    /// <param name="hint">An optional starting assignment, used only when <paramref name="warmStart"/> does not hold a solve of this size; empty for none.</param>
    /// <param name="warmStart">The state to start from and to update.</param>
    /// <param name="cancellationToken">Cancels the solve (checked every 1024 bids and between augmentations); the state is then left as it was.</param>
    /// <param name="statistics">The bids, phases, starting ε, augmented rows and times of this solve.</param>
    /// <returns>σ, with row i assigned to column σ[i].</returns>
    /// <exception cref="ArgumentNullException"><paramref name="warmStart"/> is null.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="size"/> is not positive.</exception>
    /// <exception cref="ArgumentException">The matrix length is not size², it holds NaN or infinity, or the hint is not a permutation of that size.</exception>
    /// <exception cref="OperationCanceledException">The solve was canceled.</exception>
    public int[] SolveMaximum(ReadOnlySpan<float> similarity, int size, ReadOnlySpan<int> hint, AssignmentWarmStart warmStart, CancellationToken cancellationToken, out AuctionSolveStatistics statistics)
    {
        ArgumentNullException.ThrowIfNull(warmStart);
        return Solve(similarity, size, hint, warmStart, cancellationToken, out statistics);
    }

    private unsafe int[] Solve(ReadOnlySpan<float> similarity, int size, ReadOnlySpan<int> hint, AssignmentWarmStart? warmStart, CancellationToken cancellationToken, out AuctionSolveStatistics statistics)
    {
        AssignmentSolvers.Validate(similarity, size, hint);
        cancellationToken.ThrowIfCancellationRequested();
        statistics = default;
        if (size == 1)
        {
            warmStart?.Store([0.0], [0]);
            return [0];
        }

        var n = size;
        var maxAbs = (double)AssignmentSolvers.MaxAbs(similarity);
        if (maxAbs == 0)
        {
            // Every assignment is optimal, with all prices 0.
            int[] identity = [.. Enumerable.Range(0, n)];
            warmStart?.Store(new double[n], identity);
            return identity;
        }

        fixed (float* s = similarity)
        {
            var start = Stopwatch.GetTimestamp();
            if (maxAbs < MinAuctionMagnitude || maxAbs > MaxAuctionMagnitude)
            {
                var warmAlone = false;
                var alone = warmStart is null
                    ? JonkerVolgenantSolver.Solve(s, n, hint, _vectorized, cancellationToken)
                    : JonkerVolgenantSolver.Solve(s, n, hint, warmStart, _vectorized, cancellationToken, out warmAlone);
                statistics = new AuctionSolveStatistics(0, n, TimeSpan.Zero, Stopwatch.GetElapsedTime(start), AuctionSkipped: true) { WarmStarted = warmAlone };
                return alone;
            }

            var w = new double[n];
            var x = new int[n];
            var y = new int[n];
            Array.Fill(y, -1);
            var fits = warmStart is not null && warmStart.Fits(n);
            var warm = fits && UsablePrices(warmStart!.Prices, maxAbs, w);
            var first = fits ? warmStart!.Assignment : hint;

            if (first.IsEmpty)
            {
                Array.Fill(x, -1);
            }
            else
            {
                for (var i = 0; i < n; i++)
                {
                    x[i] = first[i];
                    y[first[i]] = i;
                }
            }

            var bids = Auction(s, n, w, x, y, maxAbs, ref warm, cancellationToken, out var phases, out var startEpsilon);
            var auctionTime = Stopwatch.GetElapsedTime(start);
            start = Stopwatch.GetTimestamp();
            if (bids < 0)
            {
                // A price left the float range (not expected inside the magnitude window; kept as a guard so that no input
                // can make the auction bid forever on infinite or NaN prices): solve without the auction's prices.
                var fallback = JonkerVolgenantSolver.Solve(s, n, hint, _vectorized, cancellationToken, out var fallbackPrices);
                warmStart?.Store(fallbackPrices, fallback);
                statistics = new AuctionSolveStatistics(-bids, n, auctionTime, Stopwatch.GetElapsedTime(start), AuctionSkipped: true) { WarmStarted = warm, Phases = phases, StartEpsilon = startEpsilon };
                return fallback;
            }

            var (result, augmented) = JonkerVolgenantSolver.FinishFromPrices(s, n, w, x, _vectorized, cancellationToken);
            warmStart?.Store(w, result);
            statistics = new AuctionSolveStatistics(bids, augmented, auctionTime, Stopwatch.GetElapsedTime(start), AuctionSkipped: false) { WarmStarted = warm, Phases = phases, StartEpsilon = startEpsilon };
            return result;
        }
    }

    /// <summary>
    /// Whether stored prices can start this matrix's auction, and if so copies them into <paramref name="copy"/>. Optimal
    /// prices of any matrix S have a spread (largest minus smallest) of at most max S − min S ≤ 2 max |S| (the owner i of
    /// column j prefers it to column k, so pⱼ − pₖ ≤ S[i, j] − S[i, k]); prices spread wider than twice that are not near any
    /// optimum of this matrix, and they could make the bids crawl (raising the cheap columns to the dear ones a little per
    /// bid). Such prices are not used: the solve starts cold, from zero prices.
    /// </summary>
    private static bool UsablePrices(ReadOnlySpan<double> prices, double maxAbs, double[] copy)
    {
        double min = double.PositiveInfinity, max = double.NegativeInfinity;
        foreach (var p in prices)
        {
            min = Math.Min(min, p);
            max = Math.Max(max, p);
        }

        if (!(max - min <= 4 * maxAbs))
        {
            return false;
        }

        prices.CopyTo(copy);
        return true;
    }

    /// <summary>
    /// The first ε of a warm start: the smallest ε of the cold schedule (start, start / factor, …, final) that is at least
    /// <paramref name="target"/>, the mean violation of complementary slackness divided by the factor; the warm start skips
    /// the phases above it. A cold phase starts with every row within factor · ε of complementary slackness (the previous
    /// phase's ε); the warm start's first phase starts with the rows that close on average. Measured on real FGMT and GMT
    /// matrices at n = 512…4096, dividing by 4, 6 (the default factor) and 8 gave bids within 7 % of each other
    /// (benchmarks/results/AssignmentWarmStartBenchmarks.md).
    /// </summary>
    internal static float WarmStartEpsilon(float target, float finalEpsilon, float coldStart, float factor)
    {
        var epsilon = coldStart;
        while (epsilon > finalEpsilon)
        {
            var next = NextEpsilon(epsilon, finalEpsilon, factor);
            if (next < target)
            {
                break;
            }

            epsilon = next;
        }

        return epsilon;
    }

    /// <summary>The ε of the phase after one with <paramref name="epsilon"/>.</summary>
    private static float NextEpsilon(float epsilon, float finalEpsilon, float factor) => Math.Max(epsilon / factor, finalEpsilon);

    /// <summary>
    /// ε-scaled forward auction in the reduced-cost form: row i bids for the column minimising w[j] − S[i, j]. Prices are float
    /// (8 columns per AVX2 step); they only need to be good, not exact, as the finish is exact from any prices. Returns the
    /// number of bids, or its negation when a price stopped being finite (the prices are then useless).
    /// </summary>
    /// <remarks>
    /// Cold: prices start at 0 and ε at <see cref="AuctionAssignmentSolverOptions.StartEpsilon"/> · max |S|. Warm
    /// (<paramref name="warm"/>): <paramref name="prices"/> and the complete assignment x come from an earlier solve. The mean
    /// of the rows' violations vᵢ = (w[x(i)] − S[i, x(i)]) − minⱼ (w[j] − S[i, j]) ≥ 0 is estimated on a sample of rows and
    /// picks the first ε (<see cref="WarmStartEpsilon"/>). When that would skip fewer than
    /// two phases of the cold schedule, the prices are dropped (zero), ε starts cold and <paramref name="warm"/> is set to
    /// false. Otherwise the phases start there, and like every phase the first one frees exactly the rows that violate its
    /// ε, so every assigned row is ε-complementary-slack, the invariant bidding needs. Columns that receive no bid keep their
    /// double price, so rows whose column is still exactly best stay exactly tight for the finish, and an unchanged matrix
    /// costs one phase's scan and no bid.
    /// </remarks>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private unsafe long Auction(float* s, int n, double[] prices, int[] x, int[] y, double maxAbs, ref bool warm, CancellationToken cancellationToken, out int phases, out double startEpsilon)
    {
        var queue = new int[n];
        var floatPrices = new float[n];
        var initialPrices = new float[n];
        long bids = 0;
        phases = 0;
        var finalEpsilon = (float)(_finalEpsilon * maxAbs);
        var epsilon = (float)Math.Max(_startEpsilon * maxAbs, finalEpsilon);
        var factor = (float)_epsilonFactor;
        // Float prices relative to the smallest stored one (0 for a cold start), so that their resolution follows max |S|
        // whatever constant the stored prices carry.
        var offset = warm ? prices.Min() : 0.0;
        fixed (float* w = floatPrices)
        fixed (int* q = queue)
        {
            for (var j = 0; j < n; j++)
            {
                w[j] = (float)(prices[j] - offset);
            }

            if (warm)
            {
                // vᵢ = (w[x(i)] − S[i, x(i)]) − minⱼ (w[j] − S[i, j]) ≥ 0: row i's violation of complementary slackness. Its mean
                // is estimated on every 16th row (at least 64 rows), so that prices too far off to use cost a sixteenth of
                // one scan of S, not a whole one.
                var stride = Math.Max(1, n / Math.Max(WarmStartMinSampleRows, n / 16));
                var sampled = 0;
                var totalViolation = 0.0;
                for (var i = 0; i < n; i += stride)
                {
                    var row = s + ((long)i * n);
                    totalViolation += Math.Max(0f, (w[x[i]] - row[x[i]]) - FloatKernels.Min(row, w, n, _vectorized));
                    sampled++;
                }

                var coldStart = epsilon;
                epsilon = WarmStartEpsilon((float)(totalViolation / sampled / factor), finalEpsilon, coldStart, factor);
                if (epsilon > NextEpsilon(NextEpsilon(coldStart, finalEpsilon, factor), finalEpsilon, factor))
                {
                    // The prices are too far off to skip two phases or more. Measured on GMT's steps: skipping one made 0–20 %
                    // more bids than cold, and the full schedule from these prices 5–14 % more than from zero prices. Solve
                    // cold, with the stored assignment as the first one.
                    warm = false;
                    epsilon = coldStart;
                    offset = 0;
                    Array.Clear(prices);
                    Array.Clear(floatPrices);
                }
            }

            startEpsilon = epsilon / maxAbs;
            new ReadOnlySpan<float>(w, n).CopyTo(initialPrices);
            while (true)
            {
                phases++;

                // Keep the rows that satisfy ε-complementary slackness for this phase's ε; free the others.
                var count = 0;
                for (var i = 0; i < n; i++)
                {
                    var j = x[i];
                    if (j >= 0)
                    {
                        var row = s + ((long)i * n);
                        if (w[j] - row[j] <= FloatKernels.Min(row, w, n, _vectorized) + epsilon)
                        {
                            continue;
                        }

                        x[i] = -1;
                        y[j] = -1;
                    }

                    q[count++] = i;
                }

                cancellationToken.ThrowIfCancellationRequested();
                var head = 0;
                while (count > 0)
                {
                    var i = q[head];
                    head = head + 1 == n ? 0 : head + 1;
                    count--;
                    var row = s + ((long)i * n);
                    FloatKernels.BestTwo(row, w, n, _vectorized, out var u1, out var j1, out var u2);

                    // Raise the price so that j1 is ε worse than the second best for row i (at least one ulp, so it always rises).
                    var old = w[j1];
                    var raised = old + ((u2 - u1) + epsilon);
                    raised = raised > old ? raised : MathF.BitIncrement(old);
                    if (!float.IsFinite(raised))
                    {
                        return -(bids + 1);
                    }

                    w[j1] = raised;
                    var previous = y[j1];
                    y[j1] = i;
                    x[i] = j1;
                    if (previous >= 0)
                    {
                        x[previous] = -1;
                        var tail = head + count;
                        q[tail >= n ? tail - n : tail] = previous;
                        count++;
                    }

                    if ((++bids & 1023) == 0)
                    {
                        cancellationToken.ThrowIfCancellationRequested();
                    }
                }

                if (epsilon <= finalEpsilon)
                {
                    break;
                }

                epsilon = NextEpsilon(epsilon, finalEpsilon, factor);
            }

            for (var j = 0; j < n; j++)
            {
                // A column no row bid for keeps its exact (double) price.
                if (w[j] != initialPrices[j])
                {
                    prices[j] = w[j] + offset;
                }
            }

            return bids;
        }
    }

    /// <summary>Row scans over float prices: 8 columns per AVX2 step, scalar reference paths.</summary>
    internal static unsafe class FloatKernels
    {
        /// <summary>The smallest w[j] − row[j].</summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public static float Min(float* row, float* w, int n, bool vectorized)
        {
            var min = float.PositiveInfinity;
            var j = 0;
            if (vectorized && n >= 32)
            {
                var inf = Vector256.Create(float.PositiveInfinity);
                Vector256<float> a = inf, b = inf, c = inf, e = inf;
                for (; j <= n - 32; j += 32)
                {
                    a = Avx.Min(a, Avx.Subtract(Avx.LoadVector256(w + j), Avx.LoadVector256(row + j)));
                    b = Avx.Min(b, Avx.Subtract(Avx.LoadVector256(w + j + 8), Avx.LoadVector256(row + j + 8)));
                    c = Avx.Min(c, Avx.Subtract(Avx.LoadVector256(w + j + 16), Avx.LoadVector256(row + j + 16)));
                    e = Avx.Min(e, Avx.Subtract(Avx.LoadVector256(w + j + 24), Avx.LoadVector256(row + j + 24)));
                }

                var m = Avx.Min(Avx.Min(a, b), Avx.Min(c, e));
                for (var lane = 0; lane < 8; lane++)
                {
                    min = MathF.Min(min, m.GetElement(lane));
                }
            }

            for (; j < n; j++)
            {
                min = MathF.Min(min, w[j] - row[j]);
            }

            return min;
        }

        /// <summary>The smallest w[j] − row[j] with a column attaining it, and the second smallest (equal to it on a tie).</summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public static void BestTwo(float* row, float* w, int n, bool vectorized, out float u1, out int j1, out float u2)
        {
            u1 = float.PositiveInfinity;
            u2 = float.PositiveInfinity;
            j1 = -1;
            var j = 0;
            if (vectorized && n >= 16)
            {
                var inf = Vector256.Create(float.PositiveInfinity);
                Vector256<float> a1 = inf, a2 = inf, b1 = inf, b2 = inf;
                var none = Vector256.Create(-1).AsSingle();
                Vector256<float> ai = none, bi = none;
                var ja = Vector256.Create(0, 1, 2, 3, 4, 5, 6, 7);
                var jb = Vector256.Create(8, 9, 10, 11, 12, 13, 14, 15);
                var step = Vector256.Create(16);
                for (; j <= n - 16; j += 16)
                {
                    var ra = Avx.Subtract(Avx.LoadVector256(w + j), Avx.LoadVector256(row + j));
                    var rb = Avx.Subtract(Avx.LoadVector256(w + j + 8), Avx.LoadVector256(row + j + 8));
                    a2 = Avx.Min(a2, Avx.Max(a1, ra));
                    b2 = Avx.Min(b2, Avx.Max(b1, rb));
                    ai = Avx.BlendVariable(ai, ja.AsSingle(), Avx.CompareLessThan(ra, a1));
                    bi = Avx.BlendVariable(bi, jb.AsSingle(), Avx.CompareLessThan(rb, b1));
                    a1 = Avx.Min(a1, ra);
                    b1 = Avx.Min(b1, rb);
                    ja = Avx2.Add(ja, step);
                    jb = Avx2.Add(jb, step);
                }

                // The best lane gives u1 and j1; u2 is the best of its second and every other lane's first.
                var best = -1;
                for (var lane = 0; lane < 16; lane++)
                {
                    var v = lane < 8 ? a1.GetElement(lane) : b1.GetElement(lane - 8);
                    if (best < 0 || v < u1)
                    {
                        u1 = v;
                        best = lane;
                    }
                }

                for (var lane = 0; lane < 16; lane++)
                {
                    var other = lane == best ? (lane < 8 ? a2.GetElement(lane) : b2.GetElement(lane - 8)) : (lane < 8 ? a1.GetElement(lane) : b1.GetElement(lane - 8));
                    u2 = MathF.Min(u2, other);
                }

                j1 = best < 8 ? ai.AsInt32().GetElement(best) : bi.AsInt32().GetElement(best - 8);
            }

            for (; j < n; j++)
            {
                var r = w[j] - row[j];
                if (j1 < 0 || r < u1)
                {
                    u2 = u1;
                    u1 = r;
                    j1 = j;
                }
                else if (r < u2)
                {
                    u2 = r;
                }
            }
        }
    }
}
