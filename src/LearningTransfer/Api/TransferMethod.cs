namespace TrajectoryTransfer;

/// <summary>Which way to find the permutation that carries the source trajectory onto the new initialization.</summary>
public enum TransferMethod
{
    /// <summary>Gradient Matching along Trajectory: at step s, match gradients at all earlier points 0..s−1 again (T(T+1)/2 gradient pairs).</summary>
    Gmt,

    /// <summary>Fast GMT: at step s, add one new gradient pair (at point s−1) and reuse the earlier pairs as computed (T gradient pairs).</summary>
    Fgmt,

    /// <summary>Baseline: the identity permutation, θ₂⁰ + (θ₁ᵗ − θ₁⁰).</summary>
    Naive,

    /// <summary>
    /// Baseline that is not learning-free: π from weight matching of an actually trained target's update against the
    /// source's. A reference, not an upper bound: it ignores the mismatch between the two initializations, and where the
    /// initial weights are as large as the updates it can fall below Naive (see docs/concepts.md).
    /// </summary>
    Oracle,
}
