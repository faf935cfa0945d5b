namespace TrajectoryTransfer.Permutations.Tests.Inference;

public sealed class UnitSpacesTests
{
    [Fact]
    public void Tie_SameSizes_JoinsOneGroupWithBlockOne()
    {
        var spaces = new UnitSpaces();
        var a = spaces.Add(8);
        var b = spaces.Add(8);

        spaces.Tie(a, 1, b, 1);

        Assert.Equal(spaces.Resolve(a).Root, spaces.Resolve(b).Root);
        Assert.Equal((1L, 1L, 8L), (spaces.Resolve(a).Factor, spaces.Resolve(b).Factor, spaces.Resolve(a).GroupSize));
    }

    [Fact]
    public void Tie_FlattenedBlocks_KeepsTheChannelsAsTheGroup()
    {
        // A Linear reading 4 channels × 9 positions: its 36 input units move in blocks of 9.
        var spaces = new UnitSpaces();
        var channels = spaces.Add(4);
        var linearInputs = spaces.Add(36);

        spaces.Tie(linearInputs, 9, channels, 1);

        Assert.Equal((4L, 1L), (spaces.Resolve(channels).GroupSize, spaces.Resolve(channels).Factor));
        Assert.Equal(9L, spaces.Resolve(linearInputs).Factor);
    }

    [Fact]
    public void Coarsen_ThenTie_CoarsensTheWholeGroup()
    {
        // A GroupNorm of 2 groups over 8 channels: the channels' producer can only move whole groups of 4.
        var spaces = new UnitSpaces();
        var conv = spaces.Add(8);
        var norm = spaces.Add(8);
        spaces.Coarsen(norm, 4);

        spaces.Tie(norm, 1, conv, 1);

        Assert.Equal((2L, 4L, 4L), (spaces.Resolve(conv).GroupSize, spaces.Resolve(conv).Factor, spaces.Resolve(norm).Factor));
    }

    [Fact]
    public void Tie_GroupedConvolution_TiesBlocksOfDifferentSizes()
    {
        // groups = 2, 6 inputs and 4 outputs: input block of 3 ↔ output block of 2.
        var spaces = new UnitSpaces();
        var input = spaces.Add(6);
        var output = spaces.Add(4);

        spaces.Tie(input, 3, output, 2);

        Assert.Equal(spaces.Resolve(input).Root, spaces.Resolve(output).Root);
        Assert.Equal((2L, 3L, 2L), (spaces.Resolve(input).GroupSize, spaces.Resolve(input).Factor, spaces.Resolve(output).Factor));
    }

    [Fact]
    public void Fix_PropagatesThroughLaterTies()
    {
        var spaces = new UnitSpaces();
        var a = spaces.Add(5);
        var b = spaces.Add(5);
        var c = spaces.Add(5);
        spaces.Tie(a, 1, b, 1);
        spaces.Fix(c);

        spaces.Tie(b, 1, c, 1);

        Assert.True(spaces.Resolve(a).Fixed);
    }

    [Fact]
    public void Tie_DifferentNumbersOfBlocks_Throws()
    {
        var spaces = new UnitSpaces();
        var a = spaces.Add(6);
        var b = spaces.Add(4);

        var ex = Assert.Throws<InvalidOperationException>(() => spaces.Tie(a, 1, b, 1));
        Assert.Contains("numbers of blocks differ", ex.Message, StringComparison.Ordinal);
    }
}
