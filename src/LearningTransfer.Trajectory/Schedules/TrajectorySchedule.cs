using System.Globalization;

namespace TrajectoryTransfer.Trajectories;

/// <summary>
/// A schedule λ_0, …, λ_T for walking from one point to another in T steps: point t is θ^0 + λ_t (θ^* − θ^0).
/// Every schedule gives λ_0 = 0 and λ_T = 1 exactly, finite values, and strictly increasing λ; <see cref="Lambdas"/>
/// checks this on every call.
/// </summary>
public abstract class TrajectorySchedule
{
    /// <summary>Creates a schedule with a name for messages.</summary>
    /// <param name="name">The schedule's name.</param>
    protected TrajectorySchedule(string name)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        Name = name;
    }

    /// <summary>The schedule's name, used in labels and messages.</summary>
    public string Name { get; }

    /// <summary>
    /// The most steps T a schedule gives λ for (and so the most steps of a linear or subdivided trajectory and of a
    /// transfer): 1,000,000. Far beyond any useful transfer (the paper uses 10 to 30), it keeps T + 1 values and indices
    /// within bounds.
    /// </summary>
    public const int MaxSteps = 1_000_000;

    /// <summary>The uniform schedule λ_s = s / T.</summary>
    public static TrajectorySchedule Uniform { get; } = new FunctionSchedule("uniform", static (s, steps) => (double)s / steps);

    /// <summary>
    /// The paper's cosine schedule λ_s = Σ_{t&lt;s} f(t) / Σ_{t&lt;T} f(t) with f(t) = 1 + cos(π t / T):
    /// big steps first, dense near the end.
    /// </summary>
    public static TrajectorySchedule Cosine { get; } = new CosineSchedule();

    /// <summary>A schedule computed by a function of the step s and the number of steps T.</summary>
    /// <param name="lambdaOfStepAndSteps">Returns λ_s for (s, T), s = 0 … T; it must give exactly 0 at s = 0 and exactly 1 at s = T.</param>
    /// <param name="name">A name for messages; the default is <c>"custom"</c>.</param>
    /// <exception cref="ArgumentNullException"><paramref name="lambdaOfStepAndSteps"/> is null.</exception>
    public static TrajectorySchedule FromFunction(Func<int, int, double> lambdaOfStepAndSteps, string name = "custom")
    {
        ArgumentNullException.ThrowIfNull(lambdaOfStepAndSteps);
        return new FunctionSchedule(name, lambdaOfStepAndSteps);
    }

    /// <summary>A schedule with fixed values λ_0, …, λ_T; it serves only T = <c>lambdas.Count − 1</c> steps.</summary>
    /// <param name="lambdas">The values, validated now.</param>
    /// <param name="name">A name for messages; the default is <c>"explicit"</c>.</param>
    /// <exception cref="ArgumentNullException"><paramref name="lambdas"/> is null.</exception>
    /// <exception cref="ArgumentException">The values are not a valid schedule (see <see cref="Validate(IReadOnlyList{double})"/>).</exception>
    public static TrajectorySchedule FromValues(IReadOnlyList<double> lambdas, string name = "explicit")
    {
        ArgumentNullException.ThrowIfNull(lambdas);
        var values = lambdas.ToArray();
        Validate(values, name, nameof(lambdas));
        return new ValuesSchedule(name, values);
    }

    /// <summary>Returns λ_0, …, λ_T for <paramref name="steps"/> = T steps (an array of T + 1 values).</summary>
    /// <param name="steps">The number of steps T, at least 1.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="steps"/> is less than 1 or more than <see cref="MaxSteps"/>.</exception>
    /// <exception cref="ArgumentException">The schedule gives invalid values (the message names the index and the value).</exception>
    public double[] Lambdas(int steps)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(steps);
        if (steps > MaxSteps)
        {
            throw new ArgumentOutOfRangeException(nameof(steps), steps, $"At most {MaxSteps:N0} steps are supported.");
        }

        var values = Compute(steps);
        if (values.Length != steps + 1)
        {
            throw new ArgumentException(
                $"The schedule '{Name}' gave {values.Length} values for {steps} steps; it must give {steps + 1} (λ_0 … λ_{steps}).", nameof(steps));
        }

        Validate(values, Name, nameof(steps));
        return values;
    }

    /// <summary>Computes λ_0, …, λ_T; <see cref="Lambdas"/> validates the result.</summary>
    /// <param name="steps">The number of steps T, at least 1.</param>
    protected abstract double[] Compute(int steps);

    /// <summary>
    /// Checks that <paramref name="lambdas"/> is a valid schedule: at least two values, all finite, λ_0 = 0 and λ_T = 1 exactly,
    /// strictly increasing.
    /// </summary>
    /// <param name="lambdas">The values λ_0, …, λ_T.</param>
    /// <exception cref="ArgumentNullException"><paramref name="lambdas"/> is null.</exception>
    /// <exception cref="ArgumentException">A rule is broken; the message names the offending index and value.</exception>
    public static void Validate(IReadOnlyList<double> lambdas) => Validate(lambdas, "given", nameof(lambdas));

    private static void Validate(IReadOnlyList<double> lambdas, string name, string parameterName)
    {
        ArgumentNullException.ThrowIfNull(lambdas, parameterName);
        if (lambdas.Count < 2)
        {
            throw new ArgumentException($"The {name} schedule has {lambdas.Count} value(s); it needs at least λ_0 and λ_1.", parameterName);
        }

        for (var i = 0; i < lambdas.Count; i++)
        {
            if (!double.IsFinite(lambdas[i]))
            {
                throw new ArgumentException(Invariant($"The {name} schedule has λ_{i} = {lambdas[i]}, which is not finite."), parameterName);
            }
        }

        if (lambdas[0] != 0.0)
        {
            throw new ArgumentException(Invariant($"The {name} schedule has λ_0 = {lambdas[0]:R}; it must be exactly 0."), parameterName);
        }

        var last = lambdas.Count - 1;
        if (lambdas[last] != 1.0)
        {
            throw new ArgumentException(Invariant($"The {name} schedule has λ_{last} = {lambdas[last]:R}; it must be exactly 1."), parameterName);
        }

        for (var i = 1; i < lambdas.Count; i++)
        {
            if (!(lambdas[i] > lambdas[i - 1]))
            {
                throw new ArgumentException(
                    Invariant($"The {name} schedule has λ_{i} = {lambdas[i]:R}, not greater than λ_{i - 1} = {lambdas[i - 1]:R}; λ must increase strictly."),
                    parameterName);
            }
        }
    }

    private static string Invariant(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);

    /// <inheritdoc />
    public override string ToString() => Name;

    private sealed class FunctionSchedule(string name, Func<int, int, double> lambda) : TrajectorySchedule(name)
    {
        protected override double[] Compute(int steps)
        {
            var values = new double[steps + 1];
            for (var s = 0; s <= steps; s++)
            {
                values[s] = lambda(s, steps);
            }

            return values;
        }
    }

    private sealed class CosineSchedule() : TrajectorySchedule("cosine")
    {
        protected override double[] Compute(int steps)
        {
            // Paper, Sec. 4 (linear trajectory): λ_s = Σ_{t<s} f(t) / Σ_{t<T} f(t), f(t) = 1 + cos(π t / T).
            var prefix = new double[steps + 1];
            for (var t = 0; t < steps; t++)
            {
                prefix[t + 1] = prefix[t] + 1.0 + Math.Cos(Math.PI * t / steps);
            }

            var total = prefix[steps];
            var values = new double[steps + 1];
            for (var s = 1; s < steps; s++)
            {
                values[s] = prefix[s] / total;
            }

            values[steps] = 1.0;
            return values;
        }
    }

    private sealed class ValuesSchedule(string name, double[] values) : TrajectorySchedule(name)
    {
        protected override double[] Compute(int steps)
        {
            if (steps != values.Length - 1)
            {
                throw new ArgumentException(
                    $"The schedule '{Name}' has fixed values for {values.Length - 1} steps; {steps} steps were asked for.", nameof(steps));
            }

            return (double[])values.Clone();
        }
    }
}
