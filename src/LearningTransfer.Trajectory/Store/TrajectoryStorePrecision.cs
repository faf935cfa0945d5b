namespace TrajectoryTransfer.Trajectories;

/// <summary>How a <see cref="TrajectoryStore"/> stores floating-point tensors.</summary>
/// <remarks>
/// Only float32 and float64 tensors are narrowed; integer buffers and tensors that already are 16-bit are stored as they
/// are. Reading converts back to the architecture's element type. <see cref="TrajectoryStore.MaxRoundingError"/> gives
/// the bound on the reconstruction error of each value.
/// </remarks>
public enum TrajectoryStorePrecision
{
    /// <summary>Every tensor as it is: reading gives back the same bits.</summary>
    Full = 0,

    /// <summary>
    /// IEEE float16 (half the bytes of float32). Round to nearest: |x̂ − x| ≤ 2^-11·|x| + 2^-25 (relative 2^-11 in the normal
    /// range |x| ≥ 2^-14, absolute 2^-25 below it). Values with |x| &gt; 65504 cannot be stored and are rejected.
    /// </summary>
    Float16 = 1,

    /// <summary>
    /// bfloat16 (half the bytes of float32, float32's range). Round to nearest: |x̂ − x| ≤ 2^-8·|x| + 2^-133.
    /// </summary>
    BFloat16 = 2,
}
