namespace TrajectoryTransfer.Permutations.Tests.Solvers;

public sealed class AssignmentSolversTests
{
    [Fact]
    public void Default_IsAuction()
    {
        Assert.Same(AssignmentSolvers.Auction, AssignmentSolvers.Default);
        Assert.IsType<AuctionAssignmentSolver>(AssignmentSolvers.Auction);
        Assert.IsType<JonkerVolgenantSolver>(AssignmentSolvers.JonkerVolgenant);
        Assert.IsType<OrToolsAssignmentSolver>(AssignmentSolvers.OrTools);
    }

    [Fact]
    public void Objective_KnownAssignment_SumsTheChosenEntries()
    {
        float[] s = [1, 2, 3, 4, 5, 6, 7, 8, 9];

        Assert.Equal(2 + 6 + 7, AssignmentSolvers.Objective(s, 3, [1, 2, 0]));
        Assert.Equal(1 + 5 + 9, AssignmentSolvers.Objective(s, 3, [0, 1, 2]));
    }

    [Fact]
    public void Objective_LargeValues_SumsInDouble()
    {
        float[] s = [1e30f, 0, 0, 1f];

        Assert.Equal(1e30f + 1.0, AssignmentSolvers.Objective(s, 2, [0, 1]));
    }

    [Fact]
    public void Objective_AssignmentNotAPermutation_ThrowsArgumentException()
    {
        var ex = Assert.Throws<ArgumentException>(() => AssignmentSolvers.Objective(new float[4], 2, [1, 1]));

        Assert.Equal("assignment", ex.ParamName);
    }

    [Fact]
    public void Validate_FiniteMatrixAndPermutationHint_DoesNotThrow()
    {
        var s = AssignmentProblems.Create(ProblemKind.Gaussian, 17, 2);

        AssignmentSolvers.Validate(s, 17, Enumerable.Range(0, 17).Reverse().ToArray());
        AssignmentSolvers.Validate(s, 17, default);
    }

    [Fact]
    public void Validate_NaNInTail_NamesItsRowAndColumn()
    {
        var s = new float[17 * 17];
        s[(16 * 17) + 16] = float.NaN;

        var ex = Assert.Throws<ArgumentException>(() => AssignmentSolvers.Validate(s, 17, default));

        Assert.Contains("row 16, column 16", ex.Message, StringComparison.Ordinal);
    }
}
