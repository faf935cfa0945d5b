namespace TrajectoryTransfer.Permutations;

/// <summary>
/// A permutation π of a network's hidden units: for every group of a <see cref="PermutationSpec"/>, an index vector.
/// Applying π reorders each permuted axis so that <c>out[.., i, ..] = in[.., π[group][i], ..]</c>. Immutable.
/// </summary>
public sealed class Permutation : IEquatable<Permutation>
{
    private readonly string[] _groups;
    private readonly Dictionary<string, int[]> _indices;

    private Permutation(IEnumerable<KeyValuePair<string, int[]>> indices)
    {
        _indices = new Dictionary<string, int[]>(StringComparer.Ordinal);
        var order = new List<string>();
        foreach (var (group, index) in indices)
        {
            _indices[group] = index;
            order.Add(group);
        }

        _groups = order.ToArray();
    }

    /// <summary>The group names, in order.</summary>
    public IReadOnlyList<string> Groups => _groups;

    /// <summary>The index vector of <paramref name="group"/>.</summary>
    /// <param name="group">A group name.</param>
    /// <exception cref="KeyNotFoundException">The permutation has no such group.</exception>
    public IReadOnlyList<int> this[string group] => Indices(group);

    /// <summary>Whether every group is the identity.</summary>
    public bool IsIdentity => _indices.Values.All(IsIdentityVector);

    /// <summary>The identity permutation for every group of <paramref name="spec"/>.</summary>
    /// <param name="spec">The spec.</param>
    /// <exception cref="ArgumentNullException"><paramref name="spec"/> is null.</exception>
    public static Permutation Identity(PermutationSpec spec)
    {
        ArgumentNullException.ThrowIfNull(spec);
        return new Permutation(spec.Groups.Select(g => new KeyValuePair<string, int[]>(g.Name, Enumerable.Range(0, g.Size).ToArray())));
    }

    /// <summary>A uniformly random permutation of every group (Fisher–Yates), reproducible from <paramref name="seed"/>.</summary>
    /// <param name="spec">The spec.</param>
    /// <param name="seed">The seed.</param>
    /// <exception cref="ArgumentNullException"><paramref name="spec"/> is null.</exception>
    public static Permutation Random(PermutationSpec spec, int seed)
    {
        ArgumentNullException.ThrowIfNull(spec);
        var random = new Random(seed);
        return new Permutation(spec.Groups.Select(g =>
        {
            var index = Enumerable.Range(0, g.Size).ToArray();
            random.Shuffle(index);
            return new KeyValuePair<string, int[]>(g.Name, index);
        }));
    }

    /// <summary>A permutation from explicit index vectors (copied and checked).</summary>
    /// <param name="indices">For each group, a permutation of 0..n−1.</param>
    /// <exception cref="ArgumentNullException"><paramref name="indices"/> is null.</exception>
    /// <exception cref="ArgumentException">A vector is not a permutation of 0..n−1.</exception>
    public static Permutation FromIndices(IEnumerable<KeyValuePair<string, int[]>> indices)
    {
        ArgumentNullException.ThrowIfNull(indices);
        var copies = indices.Select(kv => new KeyValuePair<string, int[]>(kv.Key, CheckedCopy(kv.Key, kv.Value))).ToList();
        return new Permutation(copies);
    }

    /// <summary>A copy of the index vector of <paramref name="group"/>.</summary>
    /// <param name="group">A group name.</param>
    /// <exception cref="KeyNotFoundException">The permutation has no such group.</exception>
    public int[] ToArray(string group) => (int[])Indices(group).Clone();

    /// <summary>Returns a permutation equal to this one except that <paramref name="group"/> uses <paramref name="indices"/>.</summary>
    /// <param name="group">A group of this permutation.</param>
    /// <param name="indices">The new index vector, a permutation of the same size.</param>
    /// <exception cref="KeyNotFoundException">The permutation has no such group.</exception>
    /// <exception cref="ArgumentException">The vector is not a permutation of the group's size.</exception>
    public Permutation With(string group, int[] indices)
    {
        var old = Indices(group);
        var copy = CheckedCopy(group, indices);
        if (copy.Length != old.Length)
        {
            throw new ArgumentException($"Group '{group}' has size {old.Length}; the new index vector has length {copy.Length}.", nameof(indices));
        }

        return new Permutation(_groups.Select(g => new KeyValuePair<string, int[]>(g, g == group ? copy : _indices[g])));
    }

    /// <summary>The inverse π⁻¹, so that applying π then π⁻¹ restores the original tensors.</summary>
    public Permutation Inverse() => new(_groups.Select(g =>
    {
        var p = _indices[g];
        var inverse = new int[p.Length];
        for (var i = 0; i < p.Length; i++)
        {
            inverse[p[i]] = i;
        }

        return new KeyValuePair<string, int[]>(g, inverse);
    }));

    /// <summary>The permutation that applies this one first and then <paramref name="next"/>.</summary>
    /// <param name="next">Applied second; must have the same groups and sizes.</param>
    /// <exception cref="ArgumentNullException"><paramref name="next"/> is null.</exception>
    /// <exception cref="ArgumentException">The groups or sizes differ.</exception>
    public Permutation Then(Permutation next)
    {
        ArgumentNullException.ThrowIfNull(next);
        CheckSameShape(next, nameof(next));

        // next(this(x))[i] = this(x)[next[i]] = x[this[next[i]]]
        return new Permutation(_groups.Select(g =>
        {
            var first = _indices[g];
            var second = next._indices[g];
            return new KeyValuePair<string, int[]>(g, second.Select(i => first[i]).ToArray());
        }));
    }

    /// <summary>The fraction of units, over all groups, that this permutation and <paramref name="other"/> map identically.</summary>
    /// <param name="other">A permutation with the same groups and sizes.</param>
    /// <exception cref="ArgumentNullException"><paramref name="other"/> is null.</exception>
    /// <exception cref="ArgumentException">The groups or sizes differ.</exception>
    public double AgreementWith(Permutation other)
    {
        ArgumentNullException.ThrowIfNull(other);
        CheckSameShape(other, nameof(other));
        long same = 0, total = 0;
        foreach (var g in _groups)
        {
            var a = _indices[g];
            var b = other._indices[g];
            for (var i = 0; i < a.Length; i++)
            {
                same += a[i] == b[i] ? 1 : 0;
            }

            total += a.Length;
        }

        return total == 0 ? 1 : (double)same / total;
    }

    /// <summary>Checks that this permutation has exactly the groups and sizes of <paramref name="spec"/>.</summary>
    /// <param name="spec">The spec.</param>
    /// <exception cref="ArgumentNullException"><paramref name="spec"/> is null.</exception>
    /// <exception cref="PermutationSpecException">A group is missing, extra, or of the wrong size.</exception>
    public void Validate(PermutationSpec spec)
    {
        ArgumentNullException.ThrowIfNull(spec);
        foreach (var g in spec.Groups)
        {
            if (!_indices.TryGetValue(g.Name, out var index))
            {
                throw new PermutationSpecException($"The permutation has no group '{g.Name}' required by the spec.", nameof(spec));
            }

            if (index.Length != g.Size)
            {
                throw new PermutationSpecException($"The permutation of group '{g.Name}' has length {index.Length}; the spec expects {g.Size}.", nameof(spec));
            }
        }

        foreach (var g in _groups)
        {
            _ = spec.Group(g);
        }
    }

    /// <inheritdoc />
    public bool Equals(Permutation? other) =>
        other is not null && _groups.Length == other._groups.Length
        && _groups.All(g => other._indices.TryGetValue(g, out var o) && o.AsSpan().SequenceEqual(_indices[g]));

    /// <inheritdoc />
    public override bool Equals(object? obj) => Equals(obj as Permutation);

    /// <inheritdoc />
    public override int GetHashCode()
    {
        var hash = new HashCode();
        foreach (var g in _groups)
        {
            hash.Add(g);
            foreach (var i in _indices[g])
            {
                hash.Add(i);
            }
        }

        return hash.ToHashCode();
    }

    /// <inheritdoc />
    public override string ToString() =>
        string.Join("; ", _groups.Select(g => $"{g}: [{string.Join(", ", _indices[g].Take(8))}{(_indices[g].Length > 8 ? ", …" : string.Empty)}]"));

    internal int[] Indices(string group) =>
        _indices.TryGetValue(group, out var index)
            ? index
            : throw new KeyNotFoundException($"The permutation has no group '{group}'. It has: {ParameterSet.Describe(_groups)}.");

    internal static bool IsIdentityVector(int[] index)
    {
        for (var i = 0; i < index.Length; i++)
        {
            if (index[i] != i)
            {
                return false;
            }
        }

        return true;
    }

    private static int[] CheckedCopy(string group, int[] index)
    {
        ArgumentNullException.ThrowIfNull(index, $"indices[{group}]");
        var seen = new bool[index.Length];
        foreach (var i in index)
        {
            if (i < 0 || i >= index.Length || seen[i])
            {
                throw new ArgumentException($"The index vector of group '{group}' is not a permutation of 0..{index.Length - 1} (bad or repeated entry {i}).", nameof(index));
            }

            seen[i] = true;
        }

        return (int[])index.Clone();
    }

    private void CheckSameShape(Permutation other, string paramName)
    {
        if (_groups.Length != other._groups.Length || _groups.Any(g => !other._indices.TryGetValue(g, out var o) || o.Length != _indices[g].Length))
        {
            throw new ArgumentException("The two permutations have different groups or group sizes.", paramName);
        }
    }
}
