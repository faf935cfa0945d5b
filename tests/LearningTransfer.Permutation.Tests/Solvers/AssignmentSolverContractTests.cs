namespace TrajectoryTransfer.Permutations.Tests.Solvers;

/// <summary>What every <see cref="IAssignmentSolver"/> must do; each solver's test class inherits these tests.</summary>
public abstract class AssignmentSolverContractTests
{
    /// <summary>Relative tolerance (times n · max |S|) for comparing this solver's objective with the exact one.</summary>
    protected abstract double RelativeTolerance { get; }

    protected abstract IAssignmentSolver CreateSolver();

    [Theory]
    [InlineData(ProblemKind.Uniform)]
    [InlineData(ProblemKind.Gaussian)]
    [InlineData(ProblemKind.SmallIntegers)]
    [InlineData(ProblemKind.Negative)]
    [InlineData(ProblemKind.LowRank)]
    [InlineData(ProblemKind.PlantedNoisy)]
    public void SolveMaximum_RandomSmallProblems_MatchesBruteForceObjective(ProblemKind kind)
    {
        var solver = CreateSolver();
        for (var n = 1; n <= 8; n++)
        {
            for (var seed = 0; seed < 6; seed++)
            {
                var s = AssignmentProblems.Create(kind, n, (1000 * n) + seed);
                var result = solver.SolveMaximum(s, n);

                AssignmentProblems.AssertPermutation(result, n);
                var expected = AssignmentProblems.BruteForceMaximum(s, n);
                Assert.Equal(expected, AssignmentSolvers.Objective(s, n, result), AssignmentProblems.Tolerance(s, n, RelativeTolerance));
            }
        }
    }

    [Theory]
    [InlineData(1e30)]
    [InlineData(1e-30)]
    public void SolveMaximum_ExtremeMagnitudes_MatchesBruteForceObjective(double scale)
    {
        var solver = CreateSolver();
        for (var seed = 0; seed < 5; seed++)
        {
            var s = AssignmentProblems.Create(ProblemKind.Uniform, 7, seed).Select(v => (float)(v * scale)).ToArray();
            var result = solver.SolveMaximum(s, 7);

            Assert.Equal(AssignmentProblems.BruteForceMaximum(s, 7), AssignmentSolvers.Objective(s, 7, result), AssignmentProblems.Tolerance(s, 7, RelativeTolerance));
        }
    }

    [Fact]
    public void SolveMaximum_WellSeparatedPlantedPermutation_RecoversItExactly()
    {
        var (s, planted) = AssignmentProblems.Planted(n: 150, features: 64, noise: 0.3, seed: 7);

        var result = CreateSolver().SolveMaximum(s, 150);

        Assert.Equal(planted, result);
    }

    [Fact]
    public void SolveMaximum_SizeOne_ReturnsZero()
    {
        Assert.Equal(new[] { 0 }, CreateSolver().SolveMaximum(new[] { -3.5f }, 1));
    }

    [Theory]
    [InlineData(0f)]
    [InlineData(2.5f)]
    [InlineData(-1e20f)]
    public void SolveMaximum_ConstantMatrix_ReturnsAPermutation(float value)
    {
        const int n = 50;
        var s = Enumerable.Repeat(value, n * n).ToArray();

        var result = CreateSolver().SolveMaximum(s, n);

        AssignmentProblems.AssertPermutation(result, n);
    }

    [Fact]
    public void SolveMaximum_AnyHint_ReturnsAnOptimalAssignment()
    {
        const int n = 8;
        var solver = CreateSolver();
        var rng = new Random(5);
        for (var seed = 0; seed < 10; seed++)
        {
            var s = AssignmentProblems.Create(ProblemKind.Gaussian, n, seed);
            var expected = AssignmentProblems.BruteForceMaximum(s, n);
            var hint = AssignmentProblems.RandomPermutation(rng, n);

            var result = solver.SolveMaximum(s, n, hint);

            Assert.Equal(expected, AssignmentSolvers.Objective(s, n, result), AssignmentProblems.Tolerance(s, n, RelativeTolerance));
        }
    }

    [Theory]
    [InlineData(float.NaN)]
    [InlineData(float.PositiveInfinity)]
    [InlineData(float.NegativeInfinity)]
    public void SolveMaximum_NonFiniteValue_ThrowsArgumentExceptionNamingRowAndColumn(float bad)
    {
        const int n = 12;
        var s = AssignmentProblems.Create(ProblemKind.Uniform, n, 1);
        s[(7 * n) + 10] = bad;
        s[(9 * n) + 2] = bad;

        var ex = Assert.Throws<ArgumentException>(() => CreateSolver().SolveMaximum(s, n));

        Assert.Equal("similarity", ex.ParamName);
        Assert.Contains("row 7, column 10", ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(-3)]
    public void SolveMaximum_NonPositiveSize_ThrowsArgumentOutOfRangeException(int size)
    {
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => CreateSolver().SolveMaximum(new float[4], size));

        Assert.Equal("size", ex.ParamName);
    }

    [Fact]
    public void SolveMaximum_LengthNotSizeSquared_ThrowsArgumentExceptionWithBothSizes()
    {
        var ex = Assert.Throws<ArgumentException>(() => CreateSolver().SolveMaximum(new float[10], 3));

        Assert.Equal("similarity", ex.ParamName);
        Assert.Contains("10", ex.Message, StringComparison.Ordinal);
        Assert.Contains("9", ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(new[] { 0, 1 })]
    [InlineData(new[] { 0, 1, 1 })]
    [InlineData(new[] { 0, 3, 1 })]
    [InlineData(new[] { 0, -1, 1 })]
    [InlineData(new[] { 0, 1, 2, 3 })]
    public void SolveMaximum_HintNotAPermutation_ThrowsArgumentException(int[] hint)
    {
        var ex = Assert.Throws<ArgumentException>(() => CreateSolver().SolveMaximum(new float[9], 3, hint));

        Assert.Equal("hint", ex.ParamName);
    }

    [Fact]
    public void SolveMaximum_CancelledToken_ThrowsOperationCanceledException()
    {
        var s = AssignmentProblems.Create(ProblemKind.Uniform, 20, 3);
        using var cts = new CancellationTokenSource();
        cts.Cancel();

        Assert.ThrowsAny<OperationCanceledException>(() => CreateSolver().SolveMaximum(s, 20, default, cts.Token));
    }
}

/// <summary>The contract, plus small problems solved through the solver's scalar (non-SIMD) kernels.</summary>
public abstract class VectorizedSolverContractTests : AssignmentSolverContractTests
{
    /// <summary>The solver with its SIMD kernels turned off.</summary>
    protected abstract IAssignmentSolver CreateScalarSolver();

    [Theory]
    [InlineData(ProblemKind.Uniform)]
    [InlineData(ProblemKind.SmallIntegers)]
    [InlineData(ProblemKind.LowRank)]
    [InlineData(ProblemKind.PlantedNoisy)]
    public void SolveMaximum_ScalarKernelsOnSmallProblems_MatchesBruteForceObjective(ProblemKind kind)
    {
        var solver = CreateScalarSolver();
        for (var n = 1; n <= 8; n++)
        {
            for (var seed = 0; seed < 4; seed++)
            {
                var s = AssignmentProblems.Create(kind, n, (77 * n) + seed);

                var result = solver.SolveMaximum(s, n);

                Assert.Equal(AssignmentProblems.BruteForceMaximum(s, n), AssignmentSolvers.Objective(s, n, result), AssignmentProblems.Tolerance(s, n, 1e-12));
            }
        }
    }
}
