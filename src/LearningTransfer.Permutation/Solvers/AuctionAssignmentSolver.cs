using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics.X86;

namespace TrajectoryTransfer.Permutations;

/// <summary>
/// An exact dense assignment solver in two stages: Bertsekas' forward auction with ε-scaling (Gauss–Seidel bidding, AVX2
/// best/second-best row scans over the float similarities minus double prices) finds near-optimal column prices quickly, then
/// the Jonker–Volgenant shortest augmenting paths (<see cref="JonkerVolgenantSolver"/>) finish exactly from those prices:
/// rows whose column is not an exact best under the final prices are freed and re-assigned along shortest paths, so the
/// result is optimal up to double rounding (the auction's ε is not an error bound of the result).
/// </summary>
/// <remarks>
/// Why: on real weight-matching matrices (gradient similarities, nearly low-rank, near-ties everywhere) the cold JV spends its
/// time in long Dijkstra searches from thousands of free rows; the auction settles those rows cheaply at coarse ε and leaves
/// the exact finish only a few rows with short paths. The hint is used as the starting assignment of the first auction phase.
/// Instances hold no state and may be shared between threads.
/// </remarks>
public sealed class AuctionAssignmentSolver : IAssignmentSolver
{
    private readonly bool _vectorized;
    private readonly double _startEpsilon;
    private readonly double _finalEpsilon;
    private readonly double _epsilonFactor;

    /// <summary>Creates the solver.</summary>
    public AuctionAssignmentSolver()
        : this(vectorized: true)
    {
    }

    /// <summary>Creates the solver with explicit tuning (tests and benchmarks).</summary>
    /// <param name="vectorized">Whether to use the AVX2 kernels where supported.</param>
    /// <param name="startEpsilon">The first phase's ε, relative to max |S|.</param>
    /// <param name="finalEpsilon">The last phase's ε, relative to max |S|.</param>
    /// <param name="epsilonFactor">The factor ε shrinks by between phases.</param>
    internal AuctionAssignmentSolver(bool vectorized, double startEpsilon = 0.1, double finalEpsilon = 1e-6, double epsilonFactor = 6)
    {
        _vectorized = vectorized && Avx2.IsSupported;
        _startEpsilon = startEpsilon;
        _finalEpsilon = finalEpsilon;
        _epsilonFactor = epsilonFactor;
    }

    /// <inheritdoc />
    public string Name => "auction-jv";

    /// <summary>Statistics of the last solve on this thread (benchmarks): auction bids and rows the exact finish augmented.</summary>
    [ThreadStatic]
    private static (long Bids, int Augmented) _lastStats;

    /// <summary>Statistics of the last solve on this thread (benchmarks): auction bids and rows the exact finish augmented.</summary>
    internal static (long Bids, int Augmented) LastStats => _lastStats;

    /// <inheritdoc />
    public unsafe int[] SolveMaximum(ReadOnlySpan<float> similarity, int size, ReadOnlySpan<int> hint = default, CancellationToken cancellationToken = default)
    {
        AssignmentSolvers.Validate(similarity, size, hint);
        cancellationToken.ThrowIfCancellationRequested();
        if (size == 1)
        {
            return [0];
        }

        var n = size;
        var maxAbs = (double)AssignmentSolvers.MaxAbs(similarity);
        var x = new int[n];
        if (maxAbs == 0)
        {
            for (var i = 0; i < n; i++)
            {
                x[i] = i;
            }

            return x;
        }

        var w = new double[n];
        var y = new int[n];
        Array.Fill(y, -1);
        if (hint.IsEmpty)
        {
            Array.Fill(x, -1);
        }
        else
        {
            for (var i = 0; i < n; i++)
            {
                x[i] = hint[i];
                y[hint[i]] = i;
            }
        }

        fixed (float* s = similarity)
        {
            var bids = Auction(s, n, w, x, y, maxAbs, cancellationToken);
            var (result, augmented) = JonkerVolgenantSolver.FinishFromPrices(s, n, w, x, _vectorized, cancellationToken);
            _lastStats = (bids, augmented);
            return result;
        }
    }

    /// <summary>ε-scaled forward auction in the reduced-cost form: row i bids for the column minimising w[j] − S[i, j].</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private unsafe long Auction(float* s, int n, double[] prices, int[] x, int[] y, double maxAbs, CancellationToken cancellationToken)
    {
        var queue = new int[n];
        long bids = 0;
        var finalEpsilon = _finalEpsilon * maxAbs;
        var epsilon = Math.Max(_startEpsilon * maxAbs, finalEpsilon);
        fixed (double* w = prices)
        fixed (int* q = queue)
        {
            while (true)
            {
                // Keep the rows that satisfy ε-complementary slackness for this phase's ε; free the others.
                var count = 0;
                for (var i = 0; i < n; i++)
                {
                    var j = x[i];
                    if (j >= 0)
                    {
                        var row = s + ((long)i * n);
                        Kernels.MinTwo(row, w, n, _vectorized, out var u1, out _, out _, out _);
                        if (w[j] - row[j] <= u1 + epsilon)
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
                    Kernels.MinTwo(row, w, n, _vectorized, out var u1, out var j1, out var u2, out _);

                    // Raise the price so that j1 is ε worse than the second best for row i.
                    w[j1] += u2 - u1 + epsilon;
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
                    return bids;
                }

                epsilon = Math.Max(epsilon / _epsilonFactor, finalEpsilon);
            }
        }
    }

    private static class Kernels
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static unsafe void MinTwo(float* row, double* w, int n, bool vectorized, out double u1, out int j1, out double u2, out int j2)
            => JonkerVolgenantSolver.Kernels.MinTwo(row, w, n, vectorized, out u1, out j1, out u2, out j2);
    }
}
