using System.Diagnostics.CodeAnalysis;

namespace TrajectoryTransfer.Permutations;

/// <summary>
/// One <see cref="AssignmentWarmStart"/> per permutation group, by group name: what weight matching carries from one solve
/// of a group to the next. Keep one set per target network for a whole transfer and pass it to every
/// <see cref="WeightMatchingProblem.Solve(Permutation?, AssignmentWarmStartSet?, IProgress{WeightMatchingProgress}?, CancellationToken)"/>
/// of that target, whether the problem is kept across steps (FGMT) or built anew at each step (GMT). Not safe for
/// concurrent use.
/// </summary>
public sealed class AssignmentWarmStartSet
{
    private readonly Dictionary<string, AssignmentWarmStart> _states = new(StringComparer.Ordinal);

    /// <summary>The number of groups that have a state.</summary>
    public int Count => _states.Count;

    /// <summary>The state of <paramref name="group"/>, created empty the first time it is asked for.</summary>
    /// <param name="group">The group name, as in the <see cref="PermutationSpec"/>.</param>
    /// <returns>The group's state.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="group"/> is null.</exception>
    public AssignmentWarmStart GetOrAdd(string group)
    {
        ArgumentNullException.ThrowIfNull(group);
        if (!_states.TryGetValue(group, out var state))
        {
            state = new AssignmentWarmStart();
            _states.Add(group, state);
        }

        return state;
    }

    /// <summary>Gets the state of <paramref name="group"/> if it has one.</summary>
    /// <param name="group">The group name.</param>
    /// <param name="warmStart">The group's state, or null.</param>
    /// <returns>Whether the group has a state.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="group"/> is null.</exception>
    public bool TryGetValue(string group, [MaybeNullWhen(false)] out AssignmentWarmStart warmStart)
    {
        ArgumentNullException.ThrowIfNull(group);
        return _states.TryGetValue(group, out warmStart);
    }

    /// <summary>Forgets every state: the next solve of each group starts cold.</summary>
    public void Clear() => _states.Clear();
}
