using Distributed.Data.Serialization;
using Microsoft.Data.Analysis;

namespace Distributed.Tests.Collections.Frames;

/// <summary>Dataframes through the value codec: every column type, nulls kept, raw-sized.</summary>
public sealed class FrameCodecTests
{
    private readonly ValueCodec _codec = new();

    private DataFrame RoundTrip(DataFrame frame) => Assert.IsType<DataFrame>(_codec.Decode(_codec.Encode(frame)));

    [Fact]
    public void Every_primitive_and_string_column_round_trips_with_its_nulls()
    {
        var frame = new DataFrame(
            new BooleanDataFrameColumn("bool", [true, null, false]),
            new ByteDataFrameColumn("byte", [1, 2, null]),
            new SByteDataFrameColumn("sbyte", [-1, null, 3]),
            new CharDataFrameColumn("char", ['a', 'b', null]),
            new Int16DataFrameColumn("short", [null, -2, 3]),
            new UInt16DataFrameColumn("ushort", [1, null, 3]),
            new Int32DataFrameColumn("int", [int.MinValue, null, int.MaxValue]),
            new UInt32DataFrameColumn("uint", [null, null, 3]),
            new Int64DataFrameColumn("long", [long.MaxValue, -5, null]),
            new UInt64DataFrameColumn("ulong", [ulong.MaxValue, null, 0]),
            new SingleDataFrameColumn("float", [1.5f, null, float.NaN]),
            new DoubleDataFrameColumn("double", [null, Math.PI, -0.0]),
            new DecimalDataFrameColumn("decimal", [1.25m, null, decimal.MaxValue]),
            new DateTimeDataFrameColumn("date", [new DateTime(2024, 2, 29, 13, 5, 0, DateTimeKind.Utc), null, DateTime.MinValue]),
            new StringDataFrameColumn("text", ["é, ü", null, ""]));

        var decoded = RoundTrip(frame);

        Assert.Equal(frame.Columns.Select(c => (c.Name, c.GetType(), c.NullCount)), decoded.Columns.Select(c => (c.Name, c.GetType(), c.NullCount)));
        Assert.Equal(FrameAssert.RowsOf(frame), FrameAssert.RowsOf(decoded));
    }

    [Fact]
    public void An_empty_frame_keeps_its_columns()
    {
        var decoded = RoundTrip(new DataFrame(new DoubleDataFrameColumn("x", 0), new StringDataFrameColumn("s", 0)));

        Assert.Equal(["x", "s"], decoded.Columns.Select(c => c.Name));
        Assert.Equal(0, decoded.Rows.Count);
    }

    [Fact]
    public void Numbers_travel_at_their_raw_size_and_decoded_columns_can_be_changed()
    {
        var values = Enumerable.Range(0, 100_000).Select(i => i * 0.5).ToArray();
        var frame = new DataFrame(new DoubleDataFrameColumn("x", values));

        var bytes = _codec.Encode(frame);
        var decoded = Assert.IsType<DataFrame>(_codec.Decode(bytes));
        decoded.Columns["x"][0] = 42.0;

        Assert.InRange(bytes.Length, values.Length * 8, values.Length * 8 + values.Length / 8 + 64);
        Assert.Equal(42.0, decoded.Columns["x"][0]);
        Assert.Equal(values[^1], decoded.Columns["x"][values.Length - 1]);
        Assert.Equal(0.0, frame.Columns["x"][0]);
    }

    [Fact]
    public void A_large_nullable_column_round_trips()
    {
        var values = Enumerable.Range(0, 70_001).Select(i => i % 7 == 0 ? (long?)null : i).ToArray();

        var decoded = RoundTrip(new DataFrame(new Int64DataFrameColumn("n", values)));

        Assert.Equal(values.Count(v => v is null), decoded.Columns["n"].NullCount);
        Assert.Equal(values, ((Int64DataFrameColumn)decoded.Columns["n"]).ToArray());
    }
}
