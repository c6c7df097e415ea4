using System.Runtime.CompilerServices;
using Distributed.Data.Serialization;

namespace Distributed.Tests.Serialization;

public sealed class ValueCodecTests
{
    private readonly ValueCodec _codec = new();

    public sealed record Point(int X, int Y);

    public enum Colour { Red, Green }

    /// <summary>What a closure that captured a pool next to a value looks like to the codec.</summary>
    public sealed class CapturedScope(Pool? pool, int value)
    {
        public Pool? Pool { get; } = pool;
        public int Value { get; } = value;
    }

    [Fact]
    public void A_pool_captured_next_to_a_value_travels_as_nothing_and_the_value_arrives()
    {
        var pool = (Pool)RuntimeHelpers.GetUninitializedObject(typeof(Pool)); // a pool's identity, no cluster

        var copy = Assert.IsType<CapturedScope>(_codec.Decode(_codec.Encode(new CapturedScope(pool, 5))));

        Assert.Null(copy.Pool);
        Assert.Equal(5, copy.Value);
    }

    [Theory]
    [InlineData(42)]
    [InlineData(-7L)]
    [InlineData(3.25)]
    [InlineData(1.5f)]
    [InlineData(true)]
    [InlineData("héllo")]
    [InlineData(null)]
    public void Scalars_and_strings_round_trip(object? value) =>
        Assert.Equal(value, _codec.Decode(_codec.Encode(value)));

    [Fact]
    public void Numeric_arrays_round_trip_as_raw_bytes()
    {
        var doubles = Enumerable.Range(0, 1000).Select(i => i * 0.5).ToArray();
        var encoded = _codec.Encode(doubles);

        Assert.Equal(1 + doubles.Length * sizeof(double), encoded.Length);
        Assert.Equal(doubles, _codec.Decode(encoded));
        Assert.Equal(new[] { 1, 2, 3 }, _codec.Decode(_codec.Encode(new[] { 1, 2, 3 })));
        Assert.Equal(new[] { 1L, 2L }, _codec.Decode(_codec.Encode(new[] { 1L, 2L })));
        Assert.Equal(new byte[] { 9, 8 }, _codec.Decode(_codec.Encode(new byte[] { 9, 8 })));
    }

    [Fact]
    public void User_records_enums_and_collections_round_trip()
    {
        var value = new Dictionary<string, List<Point>> { ["a"] = [new Point(1, 2)], ["b"] = [] };
        var decoded = (Dictionary<string, List<Point>>)_codec.Decode(_codec.Encode(value))!;

        Assert.Equal([new Point(1, 2)], decoded["a"]);
        Assert.Empty(decoded["b"]);
        Assert.Equal(Colour.Green, _codec.Decode(_codec.Encode(Colour.Green)));
    }

    [Fact]
    public void A_closure_that_captures_a_delegate_round_trips()
    {
        var factor = 3;
        Func<int, int> triple = x => x * factor;
        Func<int, int> tripleAndOne = x => triple(x) + 1;

        var decoded = (UnaryFunction<int, int>)_codec.Decode(_codec.Encode(new UnaryFunction<int, int>(tripleAndOne)))!;

        Assert.Equal(13, decoded.Invoke([4]));
    }

    [Fact]
    public void A_value_holding_a_stream_is_refused_naming_its_type()
    {
        using var stream = new MemoryStream();
        var holder = new List<object> { stream };

        var error = Assert.Throws<UnserializableValueException>(() => _codec.Encode(holder));

        Assert.Equal(typeof(MemoryStream), error.OffendingType);
        Assert.Contains("System.IO.MemoryStream", error.Message);
    }
}
