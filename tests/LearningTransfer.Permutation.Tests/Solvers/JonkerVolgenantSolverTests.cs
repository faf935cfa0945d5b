namespace TrajectoryTransfer.Permutations.Tests.Solvers;

public sealed class JonkerVolgenantSolverTests : VectorizedSolverContractTests
{
    // Exact up to double rounding.
    protected override double RelativeTolerance => 1e-12;

    protected override IAssignmentSolver CreateSolver() => new JonkerVolgenantSolver();

    protected override IAssignmentSolver CreateScalarSolver() => new JonkerVolgenantSolver(vectorized: false);

    public static TheoryData<ProblemKind> MediumKinds => new()
    {
        ProblemKind.Uniform, ProblemKind.Gaussian, ProblemKind.SmallIntegers, ProblemKind.LowRank, ProblemKind.PlantedNoisy,
    };

    [Fact]
    public void Name_IsJonkerVolgenant()
    {
        Assert.Equal("jonker-volgenant", CreateSolver().Name);
    }

    [Theory]
    [MemberData(nameof(MediumKinds))]
    public void SolveMaximum_MediumProblems_MatchesOrToolsObjective(ProblemKind kind)
    {
        foreach (var n in new[] { 197, 200 })
        {
            var s = AssignmentProblems.Create(kind, n, 31 + n);

            var jv = CreateSolver().SolveMaximum(s, n);
            var orTools = AssignmentSolvers.OrTools.SolveMaximum(s, n);

            AssignmentProblems.AssertPermutation(jv, n);
            var jvObjective = AssignmentSolvers.Objective(s, n, jv);
            var orObjective = AssignmentSolvers.Objective(s, n, orTools);
            Assert.Equal(orObjective, jvObjective, AssignmentProblems.Tolerance(s, n, 1e-8));

            // OR-Tools solves the rounded problem; JV solves the float one exactly, so it is never worse beyond rounding.
            Assert.True(jvObjective >= orObjective - AssignmentProblems.Tolerance(s, n, 1e-12));
        }
    }

    [Theory]
    [MemberData(nameof(MediumKinds))]
    public void SolveMaximum_ScalarKernels_MatchVectorisedObjective(ProblemKind kind)
    {
        const int n = 203;
        var s = AssignmentProblems.Create(kind, n, 5);

        var vector = new JonkerVolgenantSolver(vectorized: true).SolveMaximum(s, n);
        var scalar = new JonkerVolgenantSolver(vectorized: false).SolveMaximum(s, n);

        Assert.Equal(AssignmentSolvers.Objective(s, n, vector), AssignmentSolvers.Objective(s, n, scalar), AssignmentProblems.Tolerance(s, n, 1e-12));
    }

    [Theory]
    [InlineData(ProblemKind.PlantedNoisy, true)]
    [InlineData(ProblemKind.PlantedNoisy, false)]
    [InlineData(ProblemKind.Gaussian, true)]
    [InlineData(ProblemKind.SmallIntegers, true)]
    [InlineData(ProblemKind.SmallIntegers, false)]
    [InlineData(ProblemKind.LowRank, true)]
    [InlineData(ProblemKind.Uniform, true)]
    [InlineData(ProblemKind.Uniform, false)]
    public void SolveMaximum_WithHints_SameObjectiveAsWithout(ProblemKind kind, bool vectorized)
    {
        const int n = 180;
        var solver = new JonkerVolgenantSolver(vectorized);
        var s = AssignmentProblems.Create(kind, n, 41);
        var rng = new Random(41);
        var nearby = s.Select(v => v + (float)(0.05 * (rng.NextDouble() - 0.5) * Math.Abs(v))).ToArray();
        var cold = solver.SolveMaximum(s, n);
        var expected = AssignmentSolvers.Objective(s, n, cold);
        var swapped = (int[])cold.Clone();
        for (var k = 0; k < 6; k++)
        {
            var (a, b) = (rng.Next(n), rng.Next(n));
            (swapped[a], swapped[b]) = (swapped[b], swapped[a]);
        }

        var hints = new[]
        {
            cold,
            swapped,
            solver.SolveMaximum(nearby, n),
            Enumerable.Range(0, n).ToArray(),
            AssignmentProblems.RandomPermutation(rng, n),
        };

        foreach (var hint in hints)
        {
            var result = solver.SolveMaximum(s, n, hint);

            AssignmentProblems.AssertPermutation(result, n);
            Assert.Equal(expected, AssignmentSolvers.Objective(s, n, result), AssignmentProblems.Tolerance(s, n, 1e-12));
        }
    }

    [Fact]
    public void SolveMaximum_OptimalHintWithUniqueOptimum_ReturnsTheHint()
    {
        var (s, planted) = AssignmentProblems.Planted(n: 120, features: 48, noise: 0.5, seed: 3);

        var result = CreateSolver().SolveMaximum(s, 120, planted);

        Assert.Equal(planted, result);
    }

    [Fact]
    public void SolveMaximum_HintWithPlantedPermutationAndSwappedRows_RecoversThePlanted()
    {
        var (s, planted) = AssignmentProblems.Planted(n: 120, features: 48, noise: 0.5, seed: 4);
        var hint = (int[])planted.Clone();
        (hint[3], hint[50]) = (hint[50], hint[3]);
        (hint[7], hint[8]) = (hint[8], hint[7]);

        var result = CreateSolver().SolveMaximum(s, 120, hint);

        Assert.Equal(planted, result);
    }
}
