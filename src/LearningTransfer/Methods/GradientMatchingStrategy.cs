namespace TrajectoryTransfer;

/// <summary>
/// GMT and FGMT: at each step, add gradient pairs at some trajectory points to a matching problem and solve it for πₛ,
/// starting from πₛ₋₁. The two differ in which points a step adds and whether the problem is kept across steps.
/// </summary>
internal abstract class GradientMatchingStrategy : TransferStrategy
{
    /// <inheritdoc />
    public override bool TakesGradients => true;

    /// <summary>Whether the problem's pairs persist across steps (pairs computed earlier are reused as they were); otherwise every step clears it.</summary>
    protected abstract bool KeepsProblem { get; }

    /// <summary>The first trajectory point whose gradient pair step <paramref name="step"/> adds; it adds points up to step − 1.</summary>
    protected abstract int FirstPoint(int step);

    /// <summary>Whether later steps match the same points again (so their minibatches and source gradients are worth keeping).</summary>
    protected abstract bool RevisitsPoints { get; }

    /// <inheritdoc />
    public override void Match(TransferRun run, int step)
    {
        var targets = run.Targets;
        // GMT fills its problem afresh at every step: clearing it keeps the n×n buffers of its groups for the next step.
        var problems = targets.Select(t => t.Problem ??= run.NewProblem()).ToArray();
        if (!KeepsProblem)
        {
            foreach (var problem in problems)
            {
                problem.Clear();
            }
        }

        for (var point = FirstPoint(step); point < step; point++)
        {
            run.Pairs.Add(point, step, problems, RevisitsPoints);
        }

        for (var j = 0; j < targets.Count; j++)
        {
            run.CancellationToken.ThrowIfCancellationRequested();
            var target = targets[j];
            target.Adopt(problems[j].Solve(target.Permutation, target.WarmStarts, run.MatchingProgress(step, j), run.CancellationToken));
        }
    }
}

/// <summary>
/// GMT: every step re-computes the target gradients at all earlier points 0..s−1 under πₛ₋₁ and solves a problem of those pairs alone.
/// Each point keeps the minibatches it was first matched on, so its source gradient is computed once.
/// </summary>
internal sealed class GmtStrategy : GradientMatchingStrategy
{
    /// <inheritdoc />
    public override TransferMethod Method => TransferMethod.Gmt;

    /// <inheritdoc />
    protected override bool KeepsProblem => false;

    /// <inheritdoc />
    protected override int FirstPoint(int step) => 0;

    /// <inheritdoc />
    protected override bool RevisitsPoints => true;
}

/// <summary>FGMT: every step adds one new gradient pair, at point s−1, to a problem kept across steps.</summary>
internal sealed class FgmtStrategy : GradientMatchingStrategy
{
    /// <inheritdoc />
    public override TransferMethod Method => TransferMethod.Fgmt;

    /// <inheritdoc />
    protected override bool KeepsProblem => true;

    /// <inheritdoc />
    protected override int FirstPoint(int step) => step - 1;

    /// <inheritdoc />
    protected override bool RevisitsPoints => false;
}
