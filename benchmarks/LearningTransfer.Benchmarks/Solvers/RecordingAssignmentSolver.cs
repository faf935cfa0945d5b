using System.Globalization;
using System.Runtime.InteropServices;
using TrajectoryTransfer.Permutations;

namespace TrajectoryTransfer.Benchmarks.Solvers;

/// <summary>
/// Saves every matrix it is asked to solve as <c>mNN_SIZE.bin</c> (raw float32, row-major) and its hint as <c>hNN.bin</c>
/// (int32[SIZE]) in a folder, the format <see cref="RealMatrixTiming"/> reads, then solves it with the default solver. Set
/// as <see cref="WeightMatchingOptions.Solver"/> of a real transfer, it captures the sequence of matrices a GMT or FGMT
/// run solves, in order. Not for shared use across threads.
/// </summary>
public sealed class RecordingAssignmentSolver(string directory) : IAssignmentSolver
{
    private int _count;

    /// <inheritdoc />
    public string Name => "recording";

    /// <inheritdoc />
    public int[] SolveMaximum(ReadOnlySpan<float> similarity, int size, ReadOnlySpan<int> hint = default, CancellationToken cancellationToken = default)
    {
        Directory.CreateDirectory(directory);
        var index = _count++;
        File.WriteAllBytes(Path.Combine(directory, string.Create(CultureInfo.InvariantCulture, $"m{index:00}_{size}.bin")), MemoryMarshal.AsBytes(similarity).ToArray());
        if (!hint.IsEmpty)
        {
            File.WriteAllBytes(Path.Combine(directory, string.Create(CultureInfo.InvariantCulture, $"h{index:00}.bin")), MemoryMarshal.AsBytes(hint).ToArray());
        }

        return AssignmentSolvers.Default.SolveMaximum(similarity, size, hint, cancellationToken);
    }
}
