namespace TrajectoryTransfer.Permutations;

/// <summary>
/// Union–find over axes of hidden units ("atoms": a layer's outputs, a layer's inputs, a normalization's channels),
/// with coarsening. Tying two axes makes them one permutation group; coarsening lets a group permute only whole blocks
/// of consecutive units (a grouped convolution's groups, a GroupNorm's groups, a Linear input read in blocks after a
/// Flatten). Fixing an axis forbids permuting it (the model's input and output, concatenated parts).
/// </summary>
/// <remarks>
/// Each atom keeps φ, the number of its units in one unit of its root group, so that an axis bound to an atom with
/// block size k is permuted by the root group in blocks of k·φ. All ties are between positions in order (unit i of one
/// view is unit i of the other), so two views that meet in one root always agree.
/// </remarks>
internal sealed class UnitSpaces
{
    private readonly List<int> _parent = [];
    private readonly List<long> _atomSize = [];
    private readonly List<long> _factor = [];
    private readonly List<long> _rootSize = [];
    private readonly List<bool> _fixed = [];
    private readonly List<List<int>> _members = [];

    /// <summary>The number of atoms.</summary>
    public int Count => _parent.Count;

    /// <summary>Adds an atom of <paramref name="size"/> units, its own group.</summary>
    public int Add(long size)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(size);
        var id = _parent.Count;
        _parent.Add(id);
        _atomSize.Add(size);
        _factor.Add(1);
        _rootSize.Add(size);
        _fixed.Add(false);
        _members.Add([id]);
        return id;
    }

    /// <summary>The units of the atom.</summary>
    public long SizeOf(int atom) => _atomSize[atom];

    /// <summary>The atom's group: its root, the atom's units per group unit, whether the group is fixed, and the group's size.</summary>
    public (int Root, long Factor, bool Fixed, long GroupSize) Resolve(int atom)
    {
        var root = Root(atom);
        return (root, _factor[atom], _fixed[root], _rootSize[root]);
    }

    /// <summary>Forbids permuting the atom's group (and everything tied to it, now or later).</summary>
    public void Fix(int atom) => _fixed[Root(atom)] = true;

    /// <summary>Restricts the atom's group to permutations that move whole blocks of <paramref name="units"/> consecutive units of the atom.</summary>
    public void Coarsen(int atom, long units)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(units);
        if (_atomSize[atom] % units != 0)
        {
            throw new InvalidOperationException($"An axis of {_atomSize[atom]} units cannot be split into blocks of {units}.");
        }

        var factor = _factor[atom];
        var wanted = Lcm(factor, units);
        if (wanted != factor)
        {
            CoarsenRoot(Root(atom), wanted / factor);
        }
    }

    /// <summary>
    /// Ties the view of <paramref name="a"/> in blocks of <paramref name="blockA"/> units to the view of
    /// <paramref name="b"/> in blocks of <paramref name="blockB"/>: block i of one is block i of the other, so both are
    /// permuted together. The two views must have the same number of blocks.
    /// </summary>
    public void Tie(int a, long blockA, int b, long blockB)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(blockA);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(blockB);
        if (_atomSize[a] % blockA != 0 || _atomSize[b] % blockB != 0 || _atomSize[a] / blockA != _atomSize[b] / blockB)
        {
            throw new InvalidOperationException(
                $"Cannot tie {_atomSize[a]} units in blocks of {blockA} to {_atomSize[b]} units in blocks of {blockB}: the numbers of blocks differ.");
        }

        var rootA = Root(a);
        var rootB = Root(b);
        if (_fixed[rootA] || _fixed[rootB])
        {
            _fixed[rootA] = true;
            _fixed[rootB] = true;
            Union(rootA, rootB);
            return;
        }

        Coarsen(a, blockA);
        Coarsen(b, blockB);

        // Views per group unit on each side; the common group unit covers the least common multiple of both.
        var viewA = _factor[a] / blockA;
        var viewB = _factor[b] / blockB;
        if (rootA == rootB)
        {
            // Same group, same number of blocks: group size × views per unit is that number on both sides.
            return;
        }

        var common = Lcm(viewA, viewB);
        if (common != viewA)
        {
            CoarsenRoot(rootA, common / viewA);
        }

        if (common != viewB)
        {
            CoarsenRoot(rootB, common / viewB);
        }

        Union(rootA, rootB);
    }

    private int Root(int atom)
    {
        while (_parent[atom] != atom)
        {
            _parent[atom] = _parent[_parent[atom]];
            atom = _parent[atom];
        }

        return atom;
    }

    private void CoarsenRoot(int root, long by)
    {
        if (_fixed[root] || by == 1)
        {
            return;
        }

        if (_rootSize[root] % by != 0)
        {
            throw new InvalidOperationException($"A group of {_rootSize[root]} units cannot be split into blocks of {by}.");
        }

        _rootSize[root] /= by;
        foreach (var member in _members[root])
        {
            _factor[member] *= by;
        }
    }

    private void Union(int rootA, int rootB)
    {
        if (rootA == rootB)
        {
            return;
        }

        if (!_fixed[rootA] && _rootSize[rootA] != _rootSize[rootB])
        {
            throw new InvalidOperationException($"Cannot join groups of {_rootSize[rootA]} and {_rootSize[rootB]} units.");
        }

        var (keep, drop) = _members[rootA].Count >= _members[rootB].Count ? (rootA, rootB) : (rootB, rootA);
        _parent[drop] = keep;
        _members[keep].AddRange(_members[drop]);
        _members[drop].Clear();
        _fixed[keep] |= _fixed[drop];
    }

    private static long Lcm(long a, long b) => a / Gcd(a, b) * b;

    private static long Gcd(long a, long b)
    {
        while (b != 0)
        {
            (a, b) = (b, a % b);
        }

        return a;
    }
}
