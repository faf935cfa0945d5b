namespace TrajectoryTransfer.Permutations.Tests.Solvers;

/// <summary>The kinds of random assignment problems the solver tests use.</summary>
public enum ProblemKind
{
    /// <summary>Uniform in [−1, 1).</summary>
    Uniform,

    /// <summary>Standard normal times 1000.</summary>
    Gaussian,

    /// <summary>Integers 0..3: many ties.</summary>
    SmallIntegers,

    /// <summary>Uniform in [−5, −1): all negative.</summary>
    Negative,

    /// <summary>A rank-3 product U·Vᵀ: many near-ties.</summary>
    LowRank,

    /// <summary>A·Bᵀ with A = P·B + noise (B is n×32 normal, noise std 2), like weight matching.</summary>
    PlantedNoisy,
}

/// <summary>Seeded random assignment problems and a brute-force reference.</summary>
internal static class AssignmentProblems
{
    public static float[] Create(ProblemKind kind, int n, int seed)
    {
        var rng = new Random(seed);
        var s = new float[n * n];
        switch (kind)
        {
            case ProblemKind.Uniform:
                Fill(s, () => (float)((rng.NextDouble() * 2) - 1));
                break;
            case ProblemKind.Gaussian:
                Fill(s, () => (float)(1000 * Normal(rng)));
                break;
            case ProblemKind.SmallIntegers:
                Fill(s, () => rng.Next(4));
                break;
            case ProblemKind.Negative:
                Fill(s, () => (float)(-1 - (4 * rng.NextDouble())));
                break;
            case ProblemKind.LowRank:
                {
                    var u = Matrix(rng, n, 3, 1.0);
                    var v = Matrix(rng, n, 3, 1.0);
                    Product(s, u, v, n, 3);
                    break;
                }

            case ProblemKind.PlantedNoisy:
                {
                    const int features = 32;
                    var b = Matrix(rng, n, features, 1.0);
                    var perm = RandomPermutation(rng, n);
                    var a = Matrix(rng, n, features, 2.0);
                    for (var i = 0; i < n; i++)
                    {
                        for (var f = 0; f < features; f++)
                        {
                            a[(i * features) + f] += b[(perm[i] * features) + f];
                        }
                    }

                    Product(s, a, b, n, features);
                    break;
                }

            default:
                throw new ArgumentOutOfRangeException(nameof(kind), kind, null);
        }

        return s;
    }

    /// <summary>A·Bᵀ with B n×features normal and A = P·B + noise; returns the matrix and P (row i's planted column).</summary>
    public static (float[] Similarity, int[] Planted) Planted(int n, int features, double noise, int seed)
    {
        var rng = new Random(seed);
        var b = Matrix(rng, n, features, 1.0);
        var perm = RandomPermutation(rng, n);
        var a = Matrix(rng, n, features, noise);
        for (var i = 0; i < n; i++)
        {
            for (var f = 0; f < features; f++)
            {
                a[(i * features) + f] += b[(perm[i] * features) + f];
            }
        }

        var s = new float[n * n];
        Product(s, a, b, n, features);
        return (s, perm);
    }

    public static int[] RandomPermutation(Random rng, int n)
    {
        var p = Enumerable.Range(0, n).ToArray();
        rng.Shuffle(p);
        return p;
    }

    /// <summary>The best objective over all n! permutations, summed in double.</summary>
    public static double BruteForceMaximum(float[] s, int n)
    {
        var perm = Enumerable.Range(0, n).ToArray();
        var used = new bool[n];
        var best = double.NegativeInfinity;
        Search(0, 0.0);
        return best;

        void Search(int row, double total)
        {
            if (row == n)
            {
                best = Math.Max(best, total);
                return;
            }

            for (var j = 0; j < n; j++)
            {
                if (!used[j])
                {
                    used[j] = true;
                    Search(row + 1, total + s[(row * n) + j]);
                    used[j] = false;
                }
            }
        }
    }

    public static void AssertPermutation(int[] p, int n)
    {
        Assert.Equal(n, p.Length);
        Assert.Equal(Enumerable.Range(0, n), p.Order());
    }

    /// <summary>A tolerance for comparing objectives: <paramref name="relative"/> times n · max |S| (at least a tiny absolute floor).</summary>
    public static double Tolerance(float[] s, int n, double relative) =>
        Math.Max(1e-12, relative * n * s.Max(v => Math.Abs((double)v)));

    private static double Normal(Random rng) =>
        Math.Sqrt(-2 * Math.Log(1 - rng.NextDouble())) * Math.Cos(2 * Math.PI * rng.NextDouble());

    private static void Fill(float[] s, Func<float> next)
    {
        for (var k = 0; k < s.Length; k++)
        {
            s[k] = next();
        }
    }

    private static double[] Matrix(Random rng, int rows, int cols, double scale)
    {
        var m = new double[rows * cols];
        for (var k = 0; k < m.Length; k++)
        {
            m[k] = scale * Normal(rng);
        }

        return m;
    }

    private static void Product(float[] s, double[] a, double[] b, int n, int features)
    {
        for (var i = 0; i < n; i++)
        {
            for (var j = 0; j < n; j++)
            {
                var dot = 0.0;
                for (var f = 0; f < features; f++)
                {
                    dot += a[(i * features) + f] * b[(j * features) + f];
                }

                s[(i * n) + j] = (float)dot;
            }
        }
    }
}
