namespace TrajectoryTransfer.Permutations.Tests.Solvers;

/// <summary>What every <see cref="IWarmStartAssignmentSolver"/> must do: a warm solve is as optimal as a cold one, whatever the state holds.</summary>
public abstract class WarmStartSolverContractTests
{
    // Exact up to double rounding, like the cold solves of these solvers.
    private const double RelativeTolerance = 1e-12;

    public static TheoryData<ProblemKind> Kinds => new()
    {
        ProblemKind.Uniform, ProblemKind.Gaussian, ProblemKind.SmallIntegers, ProblemKind.LowRank, ProblemKind.PlantedNoisy,
    };

    protected abstract IWarmStartAssignmentSolver CreateSolver();

    [Theory]
    [MemberData(nameof(Kinds))]
    public void SolveMaximum_SequenceOfChangingMatrices_WarmObjectiveEqualsCold(ProblemKind kind)
    {
        foreach (var n in new[] { 120, 300 })
        {
            var solver = CreateSolver();
            var state = new AssignmentWarmStart();
            foreach (var (step, s) in Sequence(kind, n, seed: n + (int)kind))
            {
                var cold = solver.SolveMaximum(s, n);
                var warm = solver.SolveMaximum(s, n, default, state);

                AssignmentProblems.AssertPermutation(warm, n);
                Assert.True(
                    Math.Abs(AssignmentSolvers.Objective(s, n, cold) - AssignmentSolvers.Objective(s, n, warm)) <= AssignmentProblems.Tolerance(s, n, RelativeTolerance),
                    $"n = {n}, step {step}: warm {AssignmentSolvers.Objective(s, n, warm):R}, cold {AssignmentSolvers.Objective(s, n, cold):R}");
                Assert.Equal(warm, state.Assignment.ToArray());
            }
        }
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public void SolveMaximum_SequencesOfSmallMatrices_MatchesBruteForce(ProblemKind kind)
    {
        for (var n = 2; n <= 8; n++)
        {
            var solver = CreateSolver();
            var state = new AssignmentWarmStart();
            foreach (var (_, s) in Sequence(kind, n, seed: (100 * n) + (int)kind))
            {
                var warm = solver.SolveMaximum(s, n, default, state);

                AssignmentProblems.AssertPermutation(warm, n);
                Assert.Equal(AssignmentProblems.BruteForceMaximum(s, n), AssignmentSolvers.Objective(s, n, warm), AssignmentProblems.Tolerance(s, n, RelativeTolerance));
            }
        }
    }

    [Fact]
    public void SolveMaximum_AfterSolve_StateHoldsOptimalDualsForTheMatrix()
    {
        const int n = 150;
        var s = AssignmentProblems.Create(ProblemKind.PlantedNoisy, n, 3);
        var state = new AssignmentWarmStart();

        var result = CreateSolver().SolveMaximum(s, n, default, state);

        // Complementary slackness: every row's column has the largest profit S[i, j] − pⱼ of its row (up to rounding).
        Assert.Equal(n, state.Size);
        Assert.Equal(n, state.Prices.Length);
        var scale = s.Max(v => Math.Abs((double)v));
        for (var i = 0; i < n; i++)
        {
            var best = double.NegativeInfinity;
            for (var j = 0; j < n; j++)
            {
                best = Math.Max(best, s[(i * n) + j] - state.Prices[j]);
            }

            Assert.True(s[(i * n) + result[i]] - state.Prices[result[i]] >= best - (1e-9 * scale), $"row {i} is not on a best column");
        }
    }

    [Fact]
    public void SolveMaximum_ReturnedArray_IsNotTheStatesOwn()
    {
        const int n = 30;
        var s = AssignmentProblems.Create(ProblemKind.Uniform, n, 4);
        var state = new AssignmentWarmStart();

        var result = CreateSolver().SolveMaximum(s, n, default, state);
        var stored = state.Assignment.ToArray();
        result[0] = -7;

        Assert.Equal(stored, state.Assignment.ToArray());
    }

    [Fact]
    public void SolveMaximum_StateOfAnotherSize_SolvesColdAndReplacesIt()
    {
        var solver = CreateSolver();
        var state = new AssignmentWarmStart();
        solver.SolveMaximum(AssignmentProblems.Create(ProblemKind.Gaussian, 40, 5), 40, default, state);
        var s = AssignmentProblems.Create(ProblemKind.Gaussian, 8, 6);

        var result = solver.SolveMaximum(s, 8, default, state);

        Assert.Equal(AssignmentProblems.BruteForceMaximum(s, 8), AssignmentSolvers.Objective(s, 8, result), AssignmentProblems.Tolerance(s, 8, RelativeTolerance));
        Assert.Equal(8, state.Size);
        Assert.Equal(result, state.Assignment.ToArray());
    }

    [Theory]
    [InlineData("huge spread")]
    [InlineData("wrong prices")]
    [InlineData("equal prices")]
    [InlineData("large constant")]
    public void SolveMaximum_ArbitraryFinitePricesSetByCaller_StillOptimal(string what)
    {
        const int n = 8;
        var solver = CreateSolver();
        var rng = new Random(7);
        for (var seed = 0; seed < 8; seed++)
        {
            var s = AssignmentProblems.Create(ProblemKind.Gaussian, n, 50 + seed);
            var scale = s.Max(v => Math.Abs((double)v));
            var prices = what switch
            {
                "huge spread" => Enumerable.Range(0, n).Select(_ => rng.NextDouble() * 1e6 * scale).ToArray(),
                "wrong prices" => Enumerable.Range(0, n).Select(_ => (rng.NextDouble() - 0.5) * 3 * scale).ToArray(),
                "equal prices" => new double[n],
                _ => Enumerable.Range(0, n).Select(_ => 1e12 + rng.NextDouble()).ToArray(),
            };
            var state = new AssignmentWarmStart();
            state.Set(prices, AssignmentProblems.RandomPermutation(rng, n));

            var result = solver.SolveMaximum(s, n, default, state);

            Assert.Equal(AssignmentProblems.BruteForceMaximum(s, n), AssignmentSolvers.Objective(s, n, result), AssignmentProblems.Tolerance(s, n, RelativeTolerance));
        }
    }

    [Theory]
    [InlineData(1e35)]
    [InlineData(1e-35)]
    public void SolveMaximum_ExtremeMagnitudeSequence_WarmObjectiveMatchesBruteForce(double scale)
    {
        const int n = 7;
        var solver = CreateSolver();
        var state = new AssignmentWarmStart();
        foreach (var (_, unscaled) in Sequence(ProblemKind.Gaussian, n, seed: 8))
        {
            var s = unscaled.Select(v => (float)(v * scale / 1000)).ToArray();

            var result = solver.SolveMaximum(s, n, default, state);

            Assert.Equal(AssignmentProblems.BruteForceMaximum(s, n), AssignmentSolvers.Objective(s, n, result), AssignmentProblems.Tolerance(s, n, RelativeTolerance));
            Assert.True(state.Prices.ToArray().All(double.IsFinite));
        }
    }

    [Fact]
    public void SolveMaximum_SizeOne_StoresTheTrivialSolve()
    {
        var state = new AssignmentWarmStart();

        var result = CreateSolver().SolveMaximum(new[] { 4f }, 1, default, state);

        Assert.Equal(new[] { 0 }, result);
        Assert.Equal(new[] { 0 }, state.Assignment.ToArray());
        Assert.Equal(1, state.Prices.Length);
    }

    [Fact]
    public void SolveMaximum_HintWithEmptyState_IsValidatedAndTheResultOptimal()
    {
        const int n = 8;
        var s = AssignmentProblems.Create(ProblemKind.Uniform, n, 9);
        var state = new AssignmentWarmStart();

        var result = CreateSolver().SolveMaximum(s, n, AssignmentProblems.RandomPermutation(new Random(9), n), state);

        Assert.Equal(AssignmentProblems.BruteForceMaximum(s, n), AssignmentSolvers.Objective(s, n, result), AssignmentProblems.Tolerance(s, n, RelativeTolerance));
        Assert.Equal("hint", Assert.Throws<ArgumentException>(() => CreateSolver().SolveMaximum(s, n, new[] { 0, 0, 1, 2, 3, 4, 5, 6 }, state)).ParamName);
    }

    [Fact]
    public void SolveMaximum_NullState_ThrowsArgumentNullException()
    {
        var ex = Assert.Throws<ArgumentNullException>(() => CreateSolver().SolveMaximum(new float[4], 2, default, null!));

        Assert.Equal("warmStart", ex.ParamName);
    }

    [Fact]
    public void SolveMaximum_InvalidMatrix_ThrowsAndLeavesTheStateAsItWas()
    {
        const int n = 10;
        var solver = CreateSolver();
        var state = new AssignmentWarmStart();
        solver.SolveMaximum(AssignmentProblems.Create(ProblemKind.Uniform, n, 10), n, default, state);
        var prices = state.Prices.ToArray();
        var assignment = state.Assignment.ToArray();
        var bad = AssignmentProblems.Create(ProblemKind.Uniform, n, 11);
        bad[13] = float.NaN;

        Assert.Throws<ArgumentException>(() => solver.SolveMaximum(bad, n, default, state));

        Assert.Equal(prices, state.Prices.ToArray());
        Assert.Equal(assignment, state.Assignment.ToArray());
    }

    [Fact]
    public void SolveMaximum_Cancelled_ThrowsAndLeavesTheStateAsItWas()
    {
        const int n = 20;
        var solver = CreateSolver();
        var state = new AssignmentWarmStart();
        solver.SolveMaximum(AssignmentProblems.Create(ProblemKind.Uniform, n, 12), n, default, state);
        var prices = state.Prices.ToArray();
        using var cts = new CancellationTokenSource();
        cts.Cancel();

        Assert.ThrowsAny<OperationCanceledException>(() => solver.SolveMaximum(AssignmentProblems.Create(ProblemKind.Uniform, n, 13), n, default, state, cts.Token));

        Assert.Equal(prices, state.Prices.ToArray());
    }

    /// <summary>
    /// M; M + a small change; M + a large change; the same with rows and columns permuted; plus a new low-rank term (an FGMT
    /// step); an unrelated matrix; the first matrix again.
    /// </summary>
    internal static IEnumerable<(int Step, float[] Matrix)> Sequence(ProblemKind kind, int n, int seed)
    {
        var rng = new Random(seed);
        var m = AssignmentProblems.Create(kind, n, seed);
        var scale = m.Max(v => Math.Abs(v));
        yield return (0, m);

        var small = m.Select(v => v + (float)(1e-3 * scale * (rng.NextDouble() - 0.5))).ToArray();
        yield return (1, small);

        var other = AssignmentProblems.Create(kind, n, seed + 1);
        var large = small.Zip(other, (a, b) => a + (0.5f * b)).ToArray();
        yield return (2, large);

        var rows = AssignmentProblems.RandomPermutation(rng, n);
        var columns = AssignmentProblems.RandomPermutation(rng, n);
        var permuted = new float[n * n];
        for (var i = 0; i < n; i++)
        {
            for (var j = 0; j < n; j++)
            {
                permuted[(i * n) + j] = large[(rows[i] * n) + columns[j]];
            }
        }

        yield return (3, permuted);

        var u = Enumerable.Range(0, n).Select(_ => rng.NextDouble() - 0.5).ToArray();
        var v = Enumerable.Range(0, n).Select(_ => rng.NextDouble() - 0.5).ToArray();
        var accumulated = new float[n * n];
        for (var i = 0; i < n; i++)
        {
            for (var j = 0; j < n; j++)
            {
                accumulated[(i * n) + j] = permuted[(i * n) + j] + (float)(0.3 * scale * u[i] * v[j]);
            }
        }

        yield return (4, accumulated);
        yield return (5, AssignmentProblems.Create(kind, n, seed + 2));
        yield return (6, m);
    }
}

public sealed class AuctionWarmStartTests : WarmStartSolverContractTests
{
    protected override IWarmStartAssignmentSolver CreateSolver() => new AuctionAssignmentSolver();

    [Fact]
    public void SolveMaximum_SameMatrixAgain_MakesNoBid()
    {
        const int n = 200;
        var s = AssignmentProblems.Create(ProblemKind.PlantedNoisy, n, 14);
        var solver = new AuctionAssignmentSolver();
        var state = new AssignmentWarmStart();
        var first = solver.SolveMaximum(s, n, default, state, CancellationToken.None, out var cold);

        var again = solver.SolveMaximum(s, n, default, state, CancellationToken.None, out var warm);

        Assert.False(cold.WarmStarted);
        Assert.True(cold.Bids > 0);
        Assert.True(warm.WarmStarted);
        Assert.Equal(0, warm.Bids);
        Assert.Equal(1, warm.Phases);
        Assert.Equal(1e-4, warm.StartEpsilon, 1e-9);
        Assert.Equal(AssignmentSolvers.Objective(s, n, first), AssignmentSolvers.Objective(s, n, again), AssignmentProblems.Tolerance(s, n, 1e-12));
    }

    [Fact]
    public void SolveMaximum_SmallChange_SkipsPhasesAndBidsLessThanCold()
    {
        const int n = 300;
        var sequence = Sequence(ProblemKind.PlantedNoisy, n, 15).Take(2).Select(x => x.Matrix).ToArray();
        var solver = new AuctionAssignmentSolver();
        var state = new AssignmentWarmStart();
        solver.SolveMaximum(sequence[0], n, default, state);

        solver.SolveMaximum(sequence[1], n, default, CancellationToken.None, out var cold);
        solver.SolveMaximum(sequence[1], n, default, state, CancellationToken.None, out var warm);

        Assert.True(warm.WarmStarted);
        Assert.True(warm.Phases < cold.Phases, $"warm {warm.Phases} phases, cold {cold.Phases}");
        Assert.True(warm.Bids < cold.Bids, $"warm {warm.Bids} bids, cold {cold.Bids}");
        Assert.True(warm.StartEpsilon < cold.StartEpsilon);
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public void SolveMaximum_Sequence_EitherSkipsTwoPhasesOrRunsTheWholeColdSchedule(ProblemKind kind)
    {
        const int n = 300;
        var solver = new AuctionAssignmentSolver();
        var state = new AssignmentWarmStart();
        foreach (var (step, s) in Sequence(kind, n, seed: 19 + (int)kind))
        {
            solver.SolveMaximum(s, n, default, CancellationToken.None, out var cold);
            solver.SolveMaximum(s, n, default, state, CancellationToken.None, out var warm);

            if (warm.WarmStarted)
            {
                Assert.True(warm.Phases <= cold.Phases - 2, $"step {step}: a warm start ran {warm.Phases} of the cold {cold.Phases} phases");
            }
            else
            {
                Assert.Equal(cold.Phases, warm.Phases);
                Assert.Equal(cold.StartEpsilon, warm.StartEpsilon);
            }
        }
    }

    [Fact]
    public void SolveMaximum_UnrelatedMatrix_RunsCold()
    {
        const int n = 300;
        var solver = new AuctionAssignmentSolver();
        var state = new AssignmentWarmStart();
        solver.SolveMaximum(AssignmentProblems.Create(ProblemKind.Uniform, n, 16), n, default, state);

        solver.SolveMaximum(AssignmentProblems.Create(ProblemKind.Uniform, n, 17), n, default, state, CancellationToken.None, out var statistics);

        // Prices of another matrix would save no phase: the solve is cold, over the whole ε schedule.
        Assert.False(statistics.WarmStarted);
        Assert.Equal(0.1, statistics.StartEpsilon, 1e-6);
        Assert.Equal(5, statistics.Phases);
    }

    [Fact]
    public void SolveMaximum_ExtremeMagnitude_JonkerVolgenantAloneStartsFromTheState()
    {
        const int n = 30;
        var s = AssignmentProblems.Create(ProblemKind.Uniform, n, 18).Select(v => v * 1e35f).ToArray();
        var solver = new AuctionAssignmentSolver();
        var state = new AssignmentWarmStart();
        solver.SolveMaximum(s, n, default, state);

        solver.SolveMaximum(s, n, default, state, CancellationToken.None, out var statistics);

        Assert.True(statistics.AuctionSkipped);
        Assert.True(statistics.WarmStarted);
    }
}

public sealed class AuctionScalarWarmStartTests : WarmStartSolverContractTests
{
    protected override IWarmStartAssignmentSolver CreateSolver() => new AuctionAssignmentSolver(vectorized: false);
}

public sealed class JonkerVolgenantWarmStartTests : WarmStartSolverContractTests
{
    protected override IWarmStartAssignmentSolver CreateSolver() => new JonkerVolgenantSolver();
}
