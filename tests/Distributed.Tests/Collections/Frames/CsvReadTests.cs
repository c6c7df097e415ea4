using Distributed.Collections;
using Distributed.Dask;
using Microsoft.Data.Analysis;

namespace Distributed.Tests.Collections.Frames;

/// <summary>ReadCsv on a local scheduler: blocks, types, nulls, globs and column pruning.</summary>
public sealed class CsvReadTests : IDisposable
{
    private readonly FrameTestData _data = new(rows: 300);

    public void Dispose() => _data.Dispose();

    private static List<object?[]> Expected(IEnumerable<Sale> rows) =>
        rows.Select(r => new object?[] { r.Id, r.Region, r.Amount, r.Paid, r.Day }).ToList();

    [Theory]
    [InlineData(1)]
    [InlineData(7)]
    [InlineData(100)]
    [InlineData(1 << 20)]
    public void Every_row_is_read_once_whatever_the_block_size(int blockSize)
    {
        var path = _data.WriteCsv();

        var frame = DataFrames.ReadCsv(path, blockSize);

        Assert.Equal((int)Math.Max(1, (new FileInfo(path).Length + blockSize - 1) / blockSize), frame.Partitions);
        FrameAssert.Equal(Expected(_data.Rows), frame.Compute(Scheduler.Synchronous));
    }

    [Fact]
    public void Blocks_that_start_mid_row_and_windows_line_ends_give_the_same_rows()
    {
        var path = _data.WriteCsv(newline: "\r\n");

        var frame = DataFrames.ReadCsv(path, blockSize: 37);

        FrameAssert.Equal(Expected(_data.Rows), frame.Compute());
    }

    [Fact]
    public void Types_are_inferred_and_empty_fields_are_missing_values()
    {
        var path = _data.WriteCsv();

        var frame = DataFrames.ReadCsv(path, blockSize: 512);
        var result = frame.Compute();

        Assert.Equal([typeof(long), typeof(string), typeof(double), typeof(bool), typeof(DateTime)], frame.Schema.Columns.Select(c => c.DataType));
        Assert.Equal(["id", "region", "amount", "paid", "day"], frame.Columns);
        Assert.Equal(_data.Rows.Count(r => r.Amount is null), result.Columns["amount"].NullCount);
        Assert.Equal(_data.Rows.Count(r => r.Region is null), result.Columns["region"].NullCount);
        Assert.IsType<Int64DataFrameColumn>(result.Columns["id"]);
    }

    [Fact]
    public void A_column_with_a_fraction_after_integers_is_double_and_types_can_be_chosen()
    {
        var path = Path.Combine(_data.Folder, "mixed.csv");
        File.WriteAllText(path, "a,b,c\n1,x,5\n2,,6\n2.5,z,7\n");

        var inferred = DataFrames.ReadCsv(path);
        var chosen = DataFrames.ReadCsv(path, options: new CsvOptions { ColumnTypes = new Dictionary<string, Type> { ["c"] = typeof(double) } });

        Assert.Equal([typeof(double), typeof(string), typeof(long)], inferred.Schema.Columns.Select(c => c.DataType));
        Assert.Equal(typeof(double), chosen.Schema.TypeOf("c"));
        FrameAssert.Equal([[1.0, "x", 5.0], [2.0, null, 6.0], [2.5, "z", 7.0]], chosen.Compute());
    }

    [Fact]
    public void A_glob_reads_every_matching_file_in_name_order()
    {
        _data.WriteCsv("part-2.csv", _data.Rows.Skip(200));
        _data.WriteCsv("part-0.csv", _data.Rows.Take(100));
        _data.WriteCsv("part-1.csv", _data.Rows.Skip(100).Take(100));
        _data.WriteCsv("other.csv", _data.Rows.Take(5));

        var frame = DataFrames.ReadCsv(Path.Combine(_data.Folder, "part-*.csv"), blockSize: 1000);

        FrameAssert.Equal(Expected(_data.Rows), frame.Compute());
        Assert.True(frame.Partitions >= 3);
    }

    [Fact]
    public void Quoted_fields_keep_their_separators()
    {
        var path = Path.Combine(_data.Folder, "quoted.csv");
        File.WriteAllText(path, "name,n\n\"Smith, Ann\",1\n\"say \"\"hi\"\"\",2\n");

        FrameAssert.Equal([["Smith, Ann", 1L], ["say \"hi\"", 2L]], DataFrames.ReadCsv(path, blockSize: 5).Compute());
    }

    [Fact]
    public void A_row_with_the_wrong_number_of_fields_names_the_limit_on_line_breaks_in_quotes()
    {
        var path = Path.Combine(_data.Folder, "broken.csv");
        File.WriteAllText(path, "a,b\n1,2\n3\n");

        var error = Assert.Throws<GraphTaskException>(() => DataFrames.ReadCsv(path).Compute(Scheduler.Synchronous));
        Assert.Contains("quoted fields that contain line breaks are not supported", Assert.IsType<CsvFormatException>(error.InnerException).Message);
    }

    [Fact]
    public void Later_steps_make_the_reader_parse_only_the_columns_they_use()
    {
        var path = _data.WriteCsv();
        var frame = DataFrames.ReadCsv(path, blockSize: 1000);

        var grouped = frame.GroupBy("region").Agg(("amount", Agg.Sum));
        var computed = frame.WithColumn("unused", "id", (long id) => id * 2).Where<double>("amount", a => a > 0).Select("region");

        Assert.All(FrameAssert.ParsedColumns(frame.Graph), names => Assert.Equal(["id", "region", "amount", "paid", "day"], names));
        Assert.All(FrameAssert.ParsedColumns(grouped.Graph), names => Assert.Equal(["region", "amount"], names));
        Assert.All(FrameAssert.ParsedColumns(computed.Graph), names => Assert.Equal(["region", "amount"], names));
        Assert.All(FrameAssert.ParsedColumns(frame.Count().Graph), names => Assert.Equal(["id"], names));
    }

    [Fact]
    public void A_bad_value_in_a_column_nobody_reads_does_not_fail()
    {
        var path = Path.Combine(_data.Folder, "bad.csv");
        File.WriteAllText(path, "n,v\n" + string.Concat(Enumerable.Range(0, 20).Select(i => $"{i},{i}.5\n")) + "oops,1.5\n");
        var frame = DataFrames.ReadCsv(path, options: new CsvOptions { SampleRows = 5 });

        Assert.Equal(21, frame["v"].Compute().Rows.Count);
        var error = Assert.Throws<GraphTaskException>(() => frame.Compute(Scheduler.Synchronous));
        Assert.Contains("'oops' in column 'n'", error.InnerException!.Message);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(500)]
    [InlineData(1 << 20)]
    public void GroupBy_straight_from_CSV_gives_exactly_what_grouping_the_parsed_blocks_gives(int blockSize)
    {
        var path = _data.WriteCsv();
        var frame = DataFrames.ReadCsv(path, blockSize);
        (string, Agg)[] aggregations = [("amount", Agg.Sum), ("amount", Agg.Mean), ("amount", Agg.Std), ("amount", Agg.Min), ("id", Agg.Max), ("id", Agg.Count)];

        // Select in between makes the group-by read parsed partitions instead of the blocks themselves.
        var direct = frame.GroupBy("region").Agg(aggregations).Compute(Scheduler.Synchronous);
        var parsed = frame.Select("id", "region", "amount").GroupBy("region").Agg(aggregations).Compute(Scheduler.Synchronous);

        Assert.Equal(FrameAssert.RowsOf(parsed), FrameAssert.RowsOf(direct));
        Assert.Equal(FrameTestData.Regions.Length, direct.Rows.Count);
    }

    [Fact]
    public void GroupBy_straight_from_CSV_reports_a_bad_value_as_reading_does()
    {
        var path = Path.Combine(_data.Folder, "bad-group.csv");
        File.WriteAllText(path, "k,v\n" + string.Concat(Enumerable.Range(0, 20).Select(i => $"k{i % 3},{i}.5\n")) + "k1,oops\n");
        var frame = DataFrames.ReadCsv(path, options: new CsvOptions { SampleRows = 5 });

        var error = Assert.Throws<GraphTaskException>(() => frame.GroupBy("k").Agg(("v", Agg.Sum)).Compute(Scheduler.Synchronous));
        var read = Assert.Throws<GraphTaskException>(() => frame.Compute(Scheduler.Synchronous));
        Assert.Equal(read.InnerException!.GetType(), error.InnerException!.GetType());
        Assert.Equal(read.InnerException.Message, error.InnerException.Message);
    }
}
