namespace TrajectoryTransfer.Permutations.Tests.Solvers;

public sealed class OrToolsAssignmentSolverTests : AssignmentSolverContractTests
{
    // Similarities are scaled to integers with a resolution of 1e-9 · max |S| per entry.
    protected override double RelativeTolerance => 1e-8;

    protected override IAssignmentSolver CreateSolver() => new OrToolsAssignmentSolver();

    [Fact]
    public void Name_IsOrTools()
    {
        Assert.Equal("or-tools", CreateSolver().Name);
    }

    [Theory]
    [InlineData(2)]
    [InlineData(2048)]
    [InlineData(4096)]
    [InlineData(8192)]
    [InlineData(65536)]
    public void ScaledCostLimit_AnySize_StaysFarBelowTheOverflowBound(int n)
    {
        var limit = OrToolsAssignmentSolver.ScaledCostLimit(n);

        Assert.InRange(limit, 1e6, OrToolsAssignmentSolver.MaxScaledCost);
        Assert.True(limit * (n + 1.0) * (n + 1.0) <= Math.Pow(2, 63) / 64);
    }

    [Fact]
    public void ScaledCostLimit_UpTo8192_IsTheMaximum()
    {
        Assert.Equal(OrToolsAssignmentSolver.MaxScaledCost, OrToolsAssignmentSolver.ScaledCostLimit(8192));
    }

    [Fact]
    public void SolveMaximum_ValuesNearFloatMax_IsOptimalNotOverflow()
    {
        const int n = 300;
        var s = AssignmentProblems.Create(ProblemKind.Uniform, n, 11).Select(v => v * 3e38f).ToArray();

        var result = CreateSolver().SolveMaximum(s, n);
        var exact = AssignmentSolvers.JonkerVolgenant.SolveMaximum(s, n);

        Assert.Equal(AssignmentSolvers.Objective(s, n, exact), AssignmentSolvers.Objective(s, n, result), AssignmentProblems.Tolerance(s, n, RelativeTolerance));
    }

    [Fact]
    public void SolveMaximum_WithStatistics_ReportsScaleFactorAndSameAssignment()
    {
        const int n = 120;
        var s = AssignmentProblems.Create(ProblemKind.Gaussian, n, 12);
        var solver = new OrToolsAssignmentSolver();

        var result = solver.SolveMaximum(s, n, default, CancellationToken.None, out var statistics);

        Assert.Equal(solver.SolveMaximum(s, n), result);
        Assert.Equal(OrToolsAssignmentSolver.ScaledCostLimit(n) / s.Max(v => Math.Abs(v)), statistics.ScaleFactor, 1e-6 * statistics.ScaleFactor);
        Assert.True(statistics.AddArcsTime >= TimeSpan.Zero && statistics.SolveTime >= TimeSpan.Zero);
    }
}
