namespace TrajectoryTransfer.Permutations.Tests.Solvers;

public sealed class AssignmentWarmStartTests
{
    [Fact]
    public void New_IsEmpty()
    {
        var state = new AssignmentWarmStart();

        Assert.True(state.IsEmpty);
        Assert.Equal(0, state.Size);
        Assert.True(state.Prices.IsEmpty);
        Assert.True(state.Assignment.IsEmpty);
    }

    [Fact]
    public void Set_ValidValues_CopiesThem()
    {
        var prices = new[] { 1.5, -2.0, 0.0 };
        var assignment = new[] { 2, 0, 1 };
        var state = new AssignmentWarmStart();

        state.Set(prices, assignment);
        prices[0] = 99;
        assignment[0] = 1;

        Assert.False(state.IsEmpty);
        Assert.Equal(3, state.Size);
        Assert.Equal(new[] { 1.5, -2.0, 0.0 }, state.Prices.ToArray());
        Assert.Equal(new[] { 2, 0, 1 }, state.Assignment.ToArray());
    }

    [Fact]
    public void Clear_EmptiesTheState()
    {
        var state = new AssignmentWarmStart();
        state.Set([1.0, 2.0], [1, 0]);

        state.Clear();

        Assert.True(state.IsEmpty);
        Assert.True(state.Prices.IsEmpty);
    }

    [Theory]
    [InlineData(new double[0], new int[0])]
    [InlineData(new[] { 1.0, 2.0 }, new[] { 0, 1, 2 })]
    [InlineData(new[] { 1.0, 2.0, 3.0 }, new[] { 0, 1 })]
    public void Set_LengthsDifferOrEmpty_ThrowsArgumentExceptionWithBothLengths(double[] prices, int[] assignment)
    {
        var ex = Assert.Throws<ArgumentException>(() => new AssignmentWarmStart().Set(prices, assignment));

        Assert.Equal("prices", ex.ParamName);
        Assert.Contains($"{prices.Length} prices and {assignment.Length} assignment entries", ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(double.NaN)]
    [InlineData(double.PositiveInfinity)]
    [InlineData(double.NegativeInfinity)]
    public void Set_NonFinitePrice_ThrowsArgumentExceptionNamingTheColumn(double bad)
    {
        var ex = Assert.Throws<ArgumentException>(() => new AssignmentWarmStart().Set([0.0, 1.0, bad], [0, 1, 2]));

        Assert.Equal("prices", ex.ParamName);
        Assert.Contains("column 2", ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(new[] { 0, 0, 1 })]
    [InlineData(new[] { 0, 1, 3 })]
    [InlineData(new[] { -1, 1, 2 })]
    public void Set_AssignmentNotAPermutation_ThrowsArgumentException(int[] assignment)
    {
        var ex = Assert.Throws<ArgumentException>(() => new AssignmentWarmStart().Set([0.0, 1.0, 2.0], assignment));

        Assert.Equal("assignment", ex.ParamName);
    }

    [Fact]
    public void Set_Rejected_LeavesTheStateAsItWas()
    {
        var state = new AssignmentWarmStart();
        state.Set([1.0, 2.0], [1, 0]);

        Assert.Throws<ArgumentException>(() => state.Set([1.0, double.NaN], [0, 1]));

        Assert.Equal(new[] { 1.0, 2.0 }, state.Prices.ToArray());
        Assert.Equal(new[] { 1, 0 }, state.Assignment.ToArray());
    }
}
