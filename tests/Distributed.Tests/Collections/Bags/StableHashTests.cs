using Distributed.Collections;

namespace Distributed.Tests.Collections.Bags;

/// <summary>The shuffle's hash: the same in every process, and equal for equal keys.</summary>
public sealed class StableHashTests
{
    [Fact]
    public void A_string_hashes_to_the_same_value_in_every_process()
    {
        // Fixed values: string.GetHashCode would differ from run to run.
        Assert.Equal(2166136261u, StableHash.Of(""));
        Assert.Equal(StableHash.Of("word"), StableHash.Of(new string(['w', 'o', 'r', 'd'])));
        Assert.Equal(0x_2b24d044u, StableHash.Of("a")); // FNV-1a of the bytes 0x61 0x00
    }

    [Fact]
    public void Equal_keys_of_other_types_hash_alike()
    {
        Assert.Equal(StableHash.Of(42), StableHash.Of(42));
        Assert.Equal(StableHash.Of(0.0), StableHash.Of(-0.0));
        Assert.Equal(StableHash.Of(("a", 1)), StableHash.Of(("a", 1)));
        Assert.NotEqual(StableHash.Of(("a", 1)), StableHash.Of(("a", 2)));
        Assert.Equal(StableHash.Of(new Point(1, "x")), StableHash.Of(new Point(1, "x")));
    }

    [Fact]
    public void Partitions_are_in_range_for_negative_hash_codes()
    {
        foreach (var key in new object[] { -1, int.MinValue, -5L, "z", 'c', DayOfWeek.Sunday })
            Assert.InRange(StableHash.Partition(key, 7), 0, 6);
    }

    private sealed record Point(int X, string Label);
}
