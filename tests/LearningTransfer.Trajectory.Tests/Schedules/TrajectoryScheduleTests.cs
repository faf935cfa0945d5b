namespace TrajectoryTransfer.Trajectories.Tests.Schedules;

public sealed class TrajectoryScheduleTests
{
    [Fact]
    public void Cosine_TenSteps_MatchesPaperFormula()
    {
        const int T = 10;
        // λ_s = Σ_{t<s} (1 + cos(π t / T)) / Σ_{t<T} (1 + cos(π t / T)), written out independently of the library.
        var total = Enumerable.Range(0, T).Sum(t => 1 + Math.Cos(Math.PI * t / T));
        var expected = Enumerable.Range(0, T + 1).Select(s => Enumerable.Range(0, s).Sum(t => 1 + Math.Cos(Math.PI * t / T)) / total).ToArray();

        var lambdas = TrajectorySchedule.Cosine.Lambdas(T);

        Assert.Equal(T + 1, lambdas.Length);
        for (var s = 0; s <= T; s++)
        {
            Assert.Equal(expected[s], lambdas[s], 1e-14);
        }

        // Spot values: λ_1 = 2 / Σ f, and the total for T = 10 is exactly 10 + Σ cos = 11 (the cosines cancel except cos 0).
        Assert.Equal(11.0, total, 1e-12);
        Assert.Equal(2.0 / 11.0, lambdas[1], 1e-14);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(10)]
    [InlineData(37)]
    [InlineData(1000)]
    public void Cosine_AnySteps_EndpointsExactAndStrictlyIncreasing(int steps)
    {
        var lambdas = TrajectorySchedule.Cosine.Lambdas(steps);

        Assert.Equal(0.0, lambdas[0]);
        Assert.Equal(1.0, lambdas[steps]);
        for (var s = 1; s <= steps; s++)
        {
            Assert.True(lambdas[s] > lambdas[s - 1], $"λ_{s} = {lambdas[s]} is not above λ_{s - 1} = {lambdas[s - 1]}");
        }
    }

    [Fact]
    public void Cosine_TenSteps_TakesBigStepsFirst()
    {
        var lambdas = TrajectorySchedule.Cosine.Lambdas(10);

        Assert.True(lambdas[1] - lambdas[0] > lambdas[10] - lambdas[9]);
        Assert.True(lambdas[5] > 0.5);
    }

    [Fact]
    public void Uniform_FourSteps_IsStepOverSteps()
    {
        Assert.Equal([0.0, 0.25, 0.5, 0.75, 1.0], TrajectorySchedule.Uniform.Lambdas(4));
    }

    [Fact]
    public void FromFunction_ValidFunction_GivesItsValues()
    {
        var squared = TrajectorySchedule.FromFunction((s, steps) => (double)s * s / ((double)steps * steps), "squared");

        Assert.Equal([0.0, 1.0 / 9, 4.0 / 9, 1.0], squared.Lambdas(3));
        Assert.Equal("squared", squared.Name);
    }

    [Fact]
    public void FromFunction_NotIncreasing_ThrowsNamingIndexAndValue()
    {
        var bad = TrajectorySchedule.FromFunction((s, steps) => s == 3 ? 0.1 : (double)s / steps);

        var error = Assert.Throws<ArgumentException>(() => bad.Lambdas(5));

        Assert.Contains("λ_3 = 0.1", error.Message, StringComparison.Ordinal);
        Assert.Contains("increase strictly", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void FromFunction_EndNotExactlyOne_Throws()
    {
        var bad = TrajectorySchedule.FromFunction((s, steps) => s * 0.999 / steps);

        var error = Assert.Throws<ArgumentException>(() => bad.Lambdas(4));

        Assert.Contains("λ_4", error.Message, StringComparison.Ordinal);
        Assert.Contains("exactly 1", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void FromFunction_NaN_Throws()
    {
        var bad = TrajectorySchedule.FromFunction((s, steps) => s == 2 ? double.NaN : (double)s / steps);

        var error = Assert.Throws<ArgumentException>(() => bad.Lambdas(4));

        Assert.Contains("not finite", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void FromValues_StartNotZero_Throws()
    {
        var error = Assert.Throws<ArgumentException>(() => TrajectorySchedule.FromValues([0.1, 0.5, 1.0]));

        Assert.Contains("λ_0", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void FromValues_OtherStepCount_Throws()
    {
        var schedule = TrajectorySchedule.FromValues([0.0, 0.3, 1.0]);

        Assert.Equal([0.0, 0.3, 1.0], schedule.Lambdas(2));
        Assert.Throws<ArgumentException>(() => schedule.Lambdas(3));
    }

    [Fact]
    public void Lambdas_ZeroSteps_Throws()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => TrajectorySchedule.Uniform.Lambdas(0));
    }
}
