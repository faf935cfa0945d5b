namespace TrajectoryTransfer.Permutations.Tests.Solvers;

public sealed class AuctionAssignmentSolverTests : VectorizedSolverContractTests
{
    // Exact up to double rounding: the Jonker–Volgenant finish removes the auction's ε.
    protected override double RelativeTolerance => 1e-12;

    protected override IAssignmentSolver CreateSolver() => new AuctionAssignmentSolver();

    protected override IAssignmentSolver CreateScalarSolver() => new AuctionAssignmentSolver(vectorized: false);

    public static TheoryData<ProblemKind> MediumKinds => new()
    {
        ProblemKind.Uniform, ProblemKind.Gaussian, ProblemKind.SmallIntegers, ProblemKind.Negative, ProblemKind.LowRank, ProblemKind.PlantedNoisy,
    };

    [Fact]
    public void Name_IsAuctionJv()
    {
        Assert.Equal("auction-jv", CreateSolver().Name);
    }

    [Theory]
    [MemberData(nameof(MediumKinds))]
    public void SolveMaximum_MediumProblems_MatchesJonkerVolgenantObjective(ProblemKind kind)
    {
        foreach (var n in new[] { 197, 200 })
        {
            var s = AssignmentProblems.Create(kind, n, 31 + n);

            var auction = CreateSolver().SolveMaximum(s, n);
            var jv = AssignmentSolvers.JonkerVolgenant.SolveMaximum(s, n);
            var orTools = AssignmentSolvers.OrTools.SolveMaximum(s, n);

            AssignmentProblems.AssertPermutation(auction, n);
            var objective = AssignmentSolvers.Objective(s, n, auction);
            Assert.Equal(AssignmentSolvers.Objective(s, n, jv), objective, AssignmentProblems.Tolerance(s, n, 1e-12));
            Assert.Equal(AssignmentSolvers.Objective(s, n, orTools), objective, AssignmentProblems.Tolerance(s, n, 1e-8));
        }
    }

    [Theory]
    [InlineData(ProblemKind.PlantedNoisy, true)]
    [InlineData(ProblemKind.PlantedNoisy, false)]
    [InlineData(ProblemKind.Gaussian, true)]
    [InlineData(ProblemKind.SmallIntegers, true)]
    [InlineData(ProblemKind.LowRank, true)]
    [InlineData(ProblemKind.Uniform, false)]
    public void SolveMaximum_WithHints_SameObjectiveAsWithout(ProblemKind kind, bool vectorized)
    {
        const int n = 180;
        var solver = new AuctionAssignmentSolver(vectorized);
        var s = AssignmentProblems.Create(kind, n, 41);
        var rng = new Random(41);
        var cold = solver.SolveMaximum(s, n);
        var expected = AssignmentSolvers.Objective(s, n, cold);
        var swapped = (int[])cold.Clone();
        (swapped[3], swapped[50]) = (swapped[50], swapped[3]);

        foreach (var hint in new[] { cold, swapped, Enumerable.Range(0, n).ToArray(), AssignmentProblems.RandomPermutation(rng, n) })
        {
            var result = solver.SolveMaximum(s, n, hint);

            AssignmentProblems.AssertPermutation(result, n);
            Assert.Equal(expected, AssignmentSolvers.Objective(s, n, result), AssignmentProblems.Tolerance(s, n, 1e-12));
        }
    }

    [Fact]
    public void SolveMaximum_NearlyLowRankDegenerateMatrix_MatchesJonkerVolgenantObjective()
    {
        // Like the real weight-matching matrices: a sum of a few rank-2 products, so near-ties everywhere.
        const int n = 256;
        const int rank = 6;
        var rng = new Random(9);
        var a = Enumerable.Range(0, n * rank).Select(_ => (float)(rng.NextDouble() - 0.5)).ToArray();
        var b = Enumerable.Range(0, n * rank).Select(_ => (float)(rng.NextDouble() - 0.5)).ToArray();
        var s = new float[n * n];
        for (var i = 0; i < n; i++)
        {
            for (var j = 0; j < n; j++)
            {
                var sum = 0f;
                for (var k = 0; k < rank; k++)
                {
                    sum += a[(i * rank) + k] * b[(j * rank) + k];
                }

                s[(i * n) + j] = sum * 1e-3f;
            }
        }

        var auction = CreateSolver().SolveMaximum(s, n);
        var jv = AssignmentSolvers.JonkerVolgenant.SolveMaximum(s, n);

        Assert.Equal(AssignmentSolvers.Objective(s, n, jv), AssignmentSolvers.Objective(s, n, auction), AssignmentProblems.Tolerance(s, n, 1e-12));
    }

    [Theory]
    [InlineData(0.5, 1e-3, 3.0)]
    [InlineData(0.01, 0.01, 2.0)]
    [InlineData(1.0, 1e-9, 1000)]
    [InlineData(0.1, 1e-9, 6.0)]
    public void SolveMaximum_PublicOptions_SameObjectiveAsDefault(double start, double final, double factor)
    {
        const int n = 150;
        var s = AssignmentProblems.Create(ProblemKind.PlantedNoisy, n, 8);
        var tuned = new AuctionAssignmentSolver(new AuctionAssignmentSolverOptions { StartEpsilon = start, FinalEpsilon = final, EpsilonFactor = factor });

        var result = tuned.SolveMaximum(s, n, default, CancellationToken.None, out var statistics);

        Assert.False(statistics.AuctionSkipped);
        Assert.True(statistics.Bids > 0);
        Assert.Equal(
            AssignmentSolvers.Objective(s, n, AssignmentSolvers.JonkerVolgenant.SolveMaximum(s, n)),
            AssignmentSolvers.Objective(s, n, result),
            AssignmentProblems.Tolerance(s, n, 1e-12));
    }

    [Theory]
    [InlineData(0.0, 1e-4, 6.0, "StartEpsilon")]
    [InlineData(double.NaN, 1e-4, 6.0, "StartEpsilon")]
    [InlineData(0.1, 1e-12, 6.0, "FinalEpsilon")]
    [InlineData(0.1, 0.2, 6.0, "FinalEpsilon")]
    [InlineData(0.1, 1e-4, 1.0, "EpsilonFactor")]
    [InlineData(0.1, 1e-4, double.PositiveInfinity, "EpsilonFactor")]
    [InlineData(2.0, 1e-4, 6.0, "StartEpsilon")]
    [InlineData(0.1, 1e-4, 2000.0, "EpsilonFactor")]
    public void Constructor_OptionOutOfRange_ThrowsNamingIt(double start, double final, double factor, string name)
    {
        var options = new AuctionAssignmentSolverOptions { StartEpsilon = start, FinalEpsilon = final, EpsilonFactor = factor };

        var error = Assert.Throws<ArgumentOutOfRangeException>(() => new AuctionAssignmentSolver(options));

        Assert.Equal(name, error.ParamName);
    }
}
