namespace TrajectoryTransfer;

/// <summary>
/// What one transfer method does inside the engine's loop (the engine owns the loop, the evaluation and the results):
/// a one-time match before the first step, and how each step's permutation is found.
/// </summary>
internal abstract class TransferStrategy
{
    /// <summary>The method this strategy implements.</summary>
    public abstract TransferMethod Method { get; }

    /// <summary>Whether the method takes gradients, and so needs training data.</summary>
    public virtual bool TakesGradients => false;

    /// <summary>Whether the method needs the actually trained targets (it is then not learning-free).</summary>
    public virtual bool NeedsTrainedTargets => false;

    /// <summary>The strategy of <paramref name="method"/>.</summary>
    /// <exception cref="ArgumentOutOfRangeException">An unknown method.</exception>
    public static TransferStrategy For(TransferMethod method) => method switch
    {
        TransferMethod.Gmt => new GmtStrategy(),
        TransferMethod.Fgmt => new FgmtStrategy(),
        TransferMethod.Naive => new NaiveStrategy(),
        TransferMethod.Oracle => new OracleStrategy(),
        _ => throw new ArgumentOutOfRangeException(nameof(method), method, "Unknown transfer method."),
    };

    /// <summary>Work before step 1 (counted in step 1's history).</summary>
    public virtual void Prepare(TransferRun run)
    {
    }

    /// <summary>Sets every target's permutation πₛ for step <paramref name="step"/> (1..T).</summary>
    public virtual void Match(TransferRun run, int step)
    {
    }
}
