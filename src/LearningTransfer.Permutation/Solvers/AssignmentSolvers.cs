using System.Globalization;
using System.Runtime.Intrinsics;

namespace TrajectoryTransfer.Permutations;

/// <summary>The ready-made assignment solvers and the helpers they share (validation, objective).</summary>
public static class AssignmentSolvers
{
    /// <summary>
    /// The solver used when none is named: <see cref="Auction"/> (auction prices, exact Jonker–Volgenant finish). On the real
    /// weight-matching matrices (gradient similarities of a 784-4096-10 MLP: nearly low-rank, near-ties everywhere) it is
    /// exact like the others (bit-identical objectives on all ten measured 4096² matrices), 0.35–0.5 s per solve on a loaded
    /// 2-core Zen 3, 8–12× faster than <see cref="OrTools"/> and 22–45× faster than the plain
    /// <see cref="JonkerVolgenant"/>, whose shortest-path searches grow long on such degenerate matrices; on the synthetic
    /// benchmark matrices it is close to JV (benchmarks/results/AssignmentSolverBenchmarks.md, "Real weight-matching matrices").
    /// </summary>
    public static IAssignmentSolver Default => Auction;

    /// <summary>OR-Tools' <c>LinearSumAssignment</c> (cost scaling on int64 costs scaled from the floats).</summary>
    public static IAssignmentSolver OrTools { get; } = new OrToolsAssignmentSolver();

    /// <summary>The managed dense Jonker–Volgenant solver, exact on the float similarities without scaling.</summary>
    public static IAssignmentSolver JonkerVolgenant { get; } = new JonkerVolgenantSolver();

    /// <summary>Auction with ε-scaling for prices, then the exact Jonker–Volgenant shortest augmenting paths (<see cref="AuctionAssignmentSolver"/>).</summary>
    public static IAssignmentSolver Auction { get; } = new AuctionAssignmentSolver();

    /// <summary>The objective Σᵢ S[i, σ(i)] of an assignment, summed in double.</summary>
    /// <param name="similarity">The n×n similarity matrix, row-major.</param>
    /// <param name="size">n, at least 1.</param>
    /// <param name="assignment">σ, with row i assigned to column σ[i].</param>
    /// <returns>The total similarity.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="size"/> is not positive.</exception>
    /// <exception cref="ArgumentException">The matrix length is not size², or the assignment is not a permutation of that size.</exception>
    public static double Objective(ReadOnlySpan<float> similarity, int size, ReadOnlySpan<int> assignment)
    {
        ValidateShape(similarity, size);
        ValidatePermutation(assignment, size, nameof(assignment));
        var total = 0.0;
        for (var i = 0; i < size; i++)
        {
            total += similarity[(i * size) + assignment[i]];
        }

        return total;
    }

    /// <summary>
    /// Checks an assignment problem as <see cref="IAssignmentSolver.SolveMaximum"/> requires it: a positive size, a matrix of
    /// size² finite values, and a hint that is empty or a permutation of that size. Solvers call it first.
    /// </summary>
    /// <param name="similarity">The n×n similarity matrix, row-major.</param>
    /// <param name="size">n.</param>
    /// <param name="hint">The optional hint; empty for none.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="size"/> is not positive.</exception>
    /// <exception cref="ArgumentException">
    /// The matrix length is not size² (names <c>similarity</c>), a value is NaN or infinite (names the first such row and column),
    /// or the hint is not a permutation of that size (names <c>hint</c>).
    /// </exception>
    public static void Validate(ReadOnlySpan<float> similarity, int size, ReadOnlySpan<int> hint)
    {
        ValidateShape(similarity, size);
        ValidateFinite(similarity, size);
        if (!hint.IsEmpty)
        {
            ValidatePermutation(hint, size, nameof(hint));
        }
    }

    /// <summary>The largest absolute value of the matrix (0 for an all-zero matrix).</summary>
    internal static float MaxAbs(ReadOnlySpan<float> values)
    {
        var i = 0;
        var max = 0f;
        if (Vector256.IsHardwareAccelerated && values.Length >= Vector256<float>.Count)
        {
            var acc = Vector256<float>.Zero;
            for (; i <= values.Length - Vector256<float>.Count; i += Vector256<float>.Count)
            {
                acc = Vector256.Max(acc, Vector256.Abs(Vector256.Create(values.Slice(i, Vector256<float>.Count))));
            }

            for (var k = 0; k < Vector256<float>.Count; k++)
            {
                max = MathF.Max(max, acc.GetElement(k));
            }
        }

        for (; i < values.Length; i++)
        {
            max = MathF.Max(max, MathF.Abs(values[i]));
        }

        return max;
    }

    private static void ValidateShape(ReadOnlySpan<float> similarity, int size)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(size);
        if ((long)similarity.Length != (long)size * size)
        {
            throw new ArgumentException(
                string.Create(CultureInfo.InvariantCulture, $"The similarity matrix has {similarity.Length} values; size {size} needs {(long)size * size} (size²)."),
                nameof(similarity));
        }
    }

    private static void ValidateFinite(ReadOnlySpan<float> similarity, int size)
    {
        // NaN and ±Inf are exactly the floats whose exponent bits are all ones.
        const int exponentMask = 0x7F800000;
        var bits = System.Runtime.InteropServices.MemoryMarshal.Cast<float, int>(similarity);
        var i = 0;
        if (Vector256.IsHardwareAccelerated)
        {
            var mask = Vector256.Create(exponentMask);
            for (; i <= bits.Length - Vector256<int>.Count; i += Vector256<int>.Count)
            {
                var v = Vector256.Create(bits.Slice(i, Vector256<int>.Count)) & mask;
                if (Vector256.EqualsAny(v, mask))
                {
                    break;
                }
            }
        }

        for (; i < bits.Length; i++)
        {
            if ((bits[i] & exponentMask) == exponentMask)
            {
                throw new ArgumentException(
                    string.Create(CultureInfo.InvariantCulture, $"The similarity matrix holds {similarity[i]} at row {i / size}, column {i % size}; all values must be finite."),
                    nameof(similarity));
            }
        }
    }

    internal static void ValidatePermutation(ReadOnlySpan<int> permutation, int size, string parameterName)
    {
        if (permutation.Length != size)
        {
            throw new ArgumentException(
                string.Create(CultureInfo.InvariantCulture, $"The permutation has {permutation.Length} entries; size {size} needs {size}."),
                parameterName);
        }

        var seen = new bool[size];
        for (var i = 0; i < size; i++)
        {
            var j = permutation[i];
            if ((uint)j >= (uint)size)
            {
                throw new ArgumentException(
                    string.Create(CultureInfo.InvariantCulture, $"The permutation maps row {i} to {j}, outside [0, {size})."),
                    parameterName);
            }

            if (seen[j])
            {
                throw new ArgumentException(
                    string.Create(CultureInfo.InvariantCulture, $"The permutation maps row {i} to column {j}, which an earlier row already has."),
                    parameterName);
            }

            seen[j] = true;
        }
    }
}
