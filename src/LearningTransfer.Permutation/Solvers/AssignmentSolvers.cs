namespace TrajectoryTransfer.Permutations;

/// <summary>The assignment solvers that ship with the library.</summary>
public static class AssignmentSolvers
{
    /// <summary>The solver used when none is configured.</summary>
    public static IAssignmentSolver Default { get; } = new TemporaryHungarianSolver();

    private sealed class TemporaryHungarianSolver : IAssignmentSolver
    {
        public string Name => "hungarian";

        public int[] SolveMaximum(ReadOnlySpan<float> similarity, int size, ReadOnlySpan<int> hint = default, CancellationToken cancellationToken = default)
        {
            // Shortest augmenting path with potentials (Kuhn–Munkres, O(n³)); minimises −S.
            var n = size;
            var u = new double[n + 1];
            var v = new double[n + 1];
            var p = new int[n + 1];
            var way = new int[n + 1];
            for (var i = 1; i <= n; i++)
            {
                p[0] = i;
                var j0 = 0;
                var minv = new double[n + 1];
                var used = new bool[n + 1];
                Array.Fill(minv, double.PositiveInfinity);
                do
                {
                    used[j0] = true;
                    int i0 = p[j0], j1 = 0;
                    var delta = double.PositiveInfinity;
                    for (var j = 1; j <= n; j++)
                    {
                        if (!used[j])
                        {
                            var cur = -similarity[((i0 - 1) * n) + j - 1] - u[i0] - v[j];
                            if (cur < minv[j])
                            {
                                minv[j] = cur;
                                way[j] = j0;
                            }

                            if (minv[j] < delta)
                            {
                                delta = minv[j];
                                j1 = j;
                            }
                        }
                    }

                    for (var j = 0; j <= n; j++)
                    {
                        if (used[j])
                        {
                            u[p[j]] += delta;
                            v[j] -= delta;
                        }
                        else
                        {
                            minv[j] -= delta;
                        }
                    }

                    j0 = j1;
                }
                while (p[j0] != 0);
                do
                {
                    var j1 = way[j0];
                    p[j0] = p[j1];
                    j0 = j1;
                }
                while (j0 != 0);
            }

            var result = new int[n];
            for (var j = 1; j <= n; j++)
            {
                result[p[j] - 1] = j - 1;
            }

            return result;
        }
    }
}
