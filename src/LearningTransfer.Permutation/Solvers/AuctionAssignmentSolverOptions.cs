using System.Globalization;

namespace TrajectoryTransfer.Permutations;

/// <summary>
/// The ε schedule of <see cref="AuctionAssignmentSolver"/>: ε starts at <see cref="StartEpsilon"/> · max |S| and shrinks by
/// <see cref="EpsilonFactor"/> per phase down to <see cref="FinalEpsilon"/> · max |S|. It only changes how much work the
/// exact finish has left, never the result's optimality.
/// </summary>
public sealed class AuctionAssignmentSolverOptions
{
    /// <summary>The options <see cref="AssignmentSolvers.Auction"/> uses.</summary>
    public static AuctionAssignmentSolverOptions Default { get; } = new();

    /// <summary>The first phase's ε, relative to max |S|; in (0, 1].</summary>
    /// <value>The default is 0.1.</value>
    public double StartEpsilon { get; init; } = 0.1;

    /// <summary>The last phase's ε, relative to max |S|; in [10⁻⁹, <see cref="StartEpsilon"/>].</summary>
    /// <value>The default is 10⁻⁴.</value>
    public double FinalEpsilon { get; init; } = 1e-4;

    /// <summary>The factor ε shrinks by between phases; in (1, 1000].</summary>
    /// <value>The default is 6.</value>
    public double EpsilonFactor { get; init; } = 6;

    /// <summary>
    /// Throws when an option is outside its range. Outside them the solve stays exact but can crawl: a start ε of 1000 with a
    /// factor of 10⁶ inflated the first prices so far that later bids rose by one float ulp each (5 s instead of 5 ms at
    /// n = 150), and a final ε below 10⁻⁹ can underflow float.
    /// </summary>
    internal void Validate()
    {
        if (!(StartEpsilon > 0 && StartEpsilon <= 1))
        {
            throw new ArgumentOutOfRangeException(nameof(StartEpsilon), StartEpsilon, Message(nameof(StartEpsilon), "in (0, 1]"));
        }

        if (!(FinalEpsilon >= 1e-9 && FinalEpsilon <= StartEpsilon))
        {
            throw new ArgumentOutOfRangeException(nameof(FinalEpsilon), FinalEpsilon, Message(nameof(FinalEpsilon), $"in [1e-9, {nameof(StartEpsilon)} = {StartEpsilon.ToString(CultureInfo.InvariantCulture)}]"));
        }

        if (!(EpsilonFactor > 1 && EpsilonFactor <= 1000))
        {
            throw new ArgumentOutOfRangeException(nameof(EpsilonFactor), EpsilonFactor, Message(nameof(EpsilonFactor), "in (1, 1000]"));
        }
    }

    private static string Message(string name, string range) => $"{nameof(AuctionAssignmentSolverOptions)}.{name} must be {range}.";
}
