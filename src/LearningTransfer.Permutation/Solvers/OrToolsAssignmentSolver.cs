using System.Diagnostics;
using System.Globalization;
using Google.OrTools.Graph;

namespace TrajectoryTransfer.Permutations;

/// <summary>
/// Solves assignment problems with OR-Tools' <c>LinearSumAssignment</c> (Goldberg–Kennedy cost scaling on int64 costs).
/// Similarities are scaled to integers by a factor chosen from max |S| and n, so the solution is optimal for the rounded
/// costs: within about n · max |S| / 10⁹ of the float optimum. The hint is ignored, and cancellation is only checked
/// before the native solve starts. Instances hold no state and may be shared between threads.
/// </summary>
public sealed class OrToolsAssignmentSolver : IAssignmentSolver
{
    /// <summary>The largest integer cost magnitude used for n ≤ 8192 (a resolution of 10⁻⁹ · max |S| per entry).</summary>
    public const double MaxScaledCost = 1e9;

    /// <inheritdoc />
    public string Name => "or-tools";

    /// <inheritdoc />
    public int[] SolveMaximum(ReadOnlySpan<float> similarity, int size, ReadOnlySpan<int> hint = default, CancellationToken cancellationToken = default)
        => SolveMaximum(similarity, size, hint, cancellationToken, out _);

    /// <summary>As <see cref="SolveMaximum(ReadOnlySpan{float}, int, ReadOnlySpan{int}, CancellationToken)"/>, also reporting where the time went.</summary>
    /// <param name="similarity">The n×n similarity matrix, row-major. Must be finite.</param>
    /// <param name="size">n, at least 1.</param>
    /// <param name="hint">Ignored (OR-Tools takes no starting assignment); validated like the other solvers do.</param>
    /// <param name="cancellationToken">Checked before the native solve starts.</param>
    /// <param name="statistics">The times of adding the arcs and of the solve, and the cost scale factor.</param>
    /// <returns>σ, with row i assigned to column σ[i].</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="size"/> is not positive.</exception>
    /// <exception cref="ArgumentException">The matrix length is not size², it holds NaN or infinity, or the hint is not a permutation of that size.</exception>
    /// <exception cref="AssignmentSolverException">OR-Tools did not report an optimal solution.</exception>
    /// <exception cref="OperationCanceledException">The solve was canceled before it started.</exception>
    public int[] SolveMaximum(ReadOnlySpan<float> similarity, int size, ReadOnlySpan<int> hint, CancellationToken cancellationToken, out OrToolsSolveStatistics statistics)
    {
        AssignmentSolvers.Validate(similarity, size, hint);
        statistics = default;
        cancellationToken.ThrowIfCancellationRequested();
        if (size == 1)
        {
            return [0];
        }

        var maxAbs = AssignmentSolvers.MaxAbs(similarity);
        var factor = maxAbs > 0f ? ScaledCostLimit(size) / maxAbs : 1.0;

        var start = Stopwatch.GetTimestamp();
        using var assignment = new LinearSumAssignment();
        for (var i = 0; i < size; i++)
        {
            var row = similarity.Slice(i * size, size);
            for (var j = 0; j < size; j++)
            {
                // Maximisation as minimisation of the negated, scaled similarity.
                assignment.AddArcWithCost(i, j, -(long)Math.Round(row[j] * factor));
            }
        }

        var addArcsTime = Stopwatch.GetElapsedTime(start);
        cancellationToken.ThrowIfCancellationRequested();
        start = Stopwatch.GetTimestamp();
        var status = assignment.Solve();
        statistics = new OrToolsSolveStatistics(addArcsTime, Stopwatch.GetElapsedTime(start), factor);
        if (status != LinearSumAssignment.Status.OPTIMAL)
        {
            throw new AssignmentSolverException(string.Create(
                CultureInfo.InvariantCulture,
                $"OR-Tools LinearSumAssignment returned {status} for n = {size}, max |S| = {maxAbs:G9} (scale factor {factor:G6})."));
        }

        var result = new int[size];
        for (var i = 0; i < size; i++)
        {
            result[i] = assignment.RightMate(i);
        }

        return result;
    }

    /// <summary>
    /// The largest cost magnitude to scale to. OR-Tools multiplies costs by (n + 1) and its prices reach about n times more:
    /// here costs up to 10¹² overflowed at n = 2048 while 10¹¹ was fine at n = 4096, so stay a factor 64 below 2⁶³ / (n + 1)²,
    /// and at most <see cref="MaxScaledCost"/>.
    /// </summary>
    internal static double ScaledCostLimit(int size)
    {
        var n1 = size + 1.0;
        return Math.Floor(Math.Min(MaxScaledCost, Math.Pow(2, 63) / (n1 * n1) / 64));
    }
}
