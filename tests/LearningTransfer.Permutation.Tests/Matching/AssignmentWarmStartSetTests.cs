namespace TrajectoryTransfer.Permutations.Tests.Matching;

public sealed class AssignmentWarmStartSetTests
{
    [Fact]
    public void GetOrAdd_SameGroup_ReturnsTheSameEmptyStateOnce()
    {
        var set = new AssignmentWarmStartSet();

        var first = set.GetOrAdd("h1");
        var again = set.GetOrAdd("h1");
        var other = set.GetOrAdd("h2");

        Assert.Same(first, again);
        Assert.NotSame(first, other);
        Assert.True(first.IsEmpty);
        Assert.Equal(2, set.Count);
    }

    [Fact]
    public void TryGetValue_KnownAndUnknownGroups_ReportsWhichHaveAState()
    {
        var set = new AssignmentWarmStartSet();
        var state = set.GetOrAdd("h");

        Assert.True(set.TryGetValue("h", out var found));
        Assert.Same(state, found);
        Assert.False(set.TryGetValue("H", out var missing));
        Assert.Null(missing);
    }

    [Fact]
    public void Clear_ForgetsEveryState()
    {
        var set = new AssignmentWarmStartSet();
        set.GetOrAdd("a").Set([0.0], [0]);

        set.Clear();

        Assert.Equal(0, set.Count);
        Assert.True(set.GetOrAdd("a").IsEmpty);
    }

    [Fact]
    public void Methods_NullGroup_ThrowArgumentNullException()
    {
        var set = new AssignmentWarmStartSet();

        Assert.Equal("group", Assert.Throws<ArgumentNullException>(() => set.GetOrAdd(null!)).ParamName);
        Assert.Equal("group", Assert.Throws<ArgumentNullException>(() => set.TryGetValue(null!, out _)).ParamName);
    }
}
