using System.Globalization;

namespace TrajectoryTransfer.Permutations;

/// <summary>
/// What one assignment solve leaves for the next solve of a nearby matrix: the column prices (dual variables) and the
/// assignment. A solver that implements <see cref="IWarmStartAssignmentSolver"/> starts from it and replaces it with its
/// own result, so a sequence of solves of the same group (one per transfer step) does not start from zero each time.
/// </summary>
/// <remarks>
/// Price pⱼ is column j's dual: row i's profit from column j is S[i, j] − pⱼ, and an assignment σ is optimal when, under some
/// prices, every row's column σ(i) has the largest profit of its row (complementary slackness). After a solve the state
/// holds such prices for the matrix just solved (in double, as the solver's exact finish left them, so that re-solving the
/// same matrix finds every row still on a best column and makes no auction bid). The state is empty
/// until the first solve; a solve of another size ignores it and replaces it. Not safe for concurrent use: keep one per
/// group and target.
/// </remarks>
public sealed class AssignmentWarmStart
{
    private double[] _prices = [];
    private int[] _assignment = [];

    /// <summary>The problem size n of the stored solve; 0 while the state is empty.</summary>
    public int Size => _assignment.Length;

    /// <summary>Whether the state holds no solve yet.</summary>
    public bool IsEmpty => _assignment.Length == 0;

    /// <summary>The column prices pⱼ of the stored solve (n finite values; empty while the state is empty).</summary>
    public ReadOnlySpan<double> Prices => _prices;

    /// <summary>The stored assignment σ, row i to column σ[i] (a permutation of n; empty while the state is empty).</summary>
    public ReadOnlySpan<int> Assignment => _assignment;

    /// <summary>
    /// Replaces the state with given prices and assignment (copied), for example duals that another solver produced. They
    /// need not be optimal for the next matrix: the next solve is exact from any finite prices; good prices make it fast.
    /// </summary>
    /// <param name="prices">Column prices pⱼ: n finite values.</param>
    /// <param name="assignment">σ, a permutation of n.</param>
    /// <exception cref="ArgumentException">
    /// <paramref name="prices"/> is empty or its length differs from <paramref name="assignment"/>'s, a price is NaN or
    /// infinite (names the first), or <paramref name="assignment"/> is not a permutation.
    /// </exception>
    public void Set(ReadOnlySpan<double> prices, ReadOnlySpan<int> assignment)
    {
        if (prices.IsEmpty || prices.Length != assignment.Length)
        {
            throw new ArgumentException(
                string.Create(CultureInfo.InvariantCulture, $"A warm start needs one price per column and one column per row: {prices.Length} prices and {assignment.Length} assignment entries given (both must be n ≥ 1)."),
                nameof(prices));
        }

        for (var j = 0; j < prices.Length; j++)
        {
            if (!double.IsFinite(prices[j]))
            {
                throw new ArgumentException(
                    string.Create(CultureInfo.InvariantCulture, $"The price of column {j} is {prices[j]}; all prices must be finite."),
                    nameof(prices));
            }
        }

        AssignmentSolvers.ValidatePermutation(assignment, assignment.Length, nameof(assignment));
        _prices = prices.ToArray();
        _assignment = assignment.ToArray();
    }

    /// <summary>Empties the state: the next solve starts cold.</summary>
    public void Clear()
    {
        _prices = [];
        _assignment = [];
    }

    /// <summary>Whether the state holds a solve of size <paramref name="size"/>, so that a solve of that size can start from it.</summary>
    internal bool Fits(int size) => _assignment.Length == size;

    /// <summary>
    /// Stores a solver's result, taking ownership of <paramref name="prices"/> and copying <paramref name="assignment"/> (the
    /// caller returns that array to its own caller). Prices that are not all finite empty the state instead: a later solve
    /// then starts cold rather than from unusable prices.
    /// </summary>
    internal void Store(double[] prices, int[] assignment)
    {
        foreach (var p in prices)
        {
            if (!double.IsFinite(p))
            {
                Clear();
                return;
            }
        }

        _prices = prices;
        _assignment = (int[])assignment.Clone();
    }
}
