using Distributed.Collections;
using Distributed.Dask;

namespace Distributed.Tests.Collections.Frames;

/// <summary>Each operation against the same computation in LINQ on the same rows, on local schedulers.</summary>
public sealed class FrameOperationTests : IDisposable
{
    private readonly FrameTestData _data = new(rows: 600);

    public void Dispose() => _data.Dispose();

    private DistributedFrame Frame(int partitions = 7) => DataFrames.FromFrame(_data.Frame(), partitions);

    [Fact]
    public void FromFrame_and_Compute_give_back_the_frame()
    {
        var frame = Frame();

        var result = frame.Compute(Scheduler.Synchronous);

        Assert.Equal(7, frame.Partitions);
        FrameAssert.Equal(FrameAssert.RowsOf(_data.Frame()), result);
        Assert.Equal(frame.Columns, result.Columns.Select(c => c.Name));
    }

    [Fact]
    public void Select_and_the_indexer_keep_the_columns_asked_for_in_that_order()
    {
        var frame = Frame();

        FrameAssert.Equal(_data.Rows.Select(r => new object?[] { r.Amount, r.Id }).ToList(), frame.Select("amount", "id").Compute());
        FrameAssert.Equal(_data.Rows.Select(r => new object?[] { r.Region }).ToList(), frame["region"].Compute());
        Assert.Throws<ArgumentException>(() => frame.Select("nope"));
    }

    [Fact]
    public void Where_on_a_column_keeps_the_rows_whose_value_passes_and_drops_missing_ones()
    {
        var result = Frame().Where<double>("amount", a => a > 100).Where<string>("region", r => r != "east").Compute();

        var expected = _data.Rows.Where(r => r.Amount > 100 && r.Region is not null && r.Region != "east").Select(r => r.Id).ToList();
        Assert.Equal(expected, FrameAssert.RowsOf(result).Select(row => (long)row[0]!).ToList());
    }

    [Fact]
    public void Where_on_a_row_view_reads_several_columns()
    {
        var result = Frame().Where(row => row.Get<bool>("paid") && !row.IsNull("region") && row.Get<long>("id") % 2 == 0).Compute();

        var expected = _data.Rows.Where(r => r.Paid && r.Region is not null && r.Id % 2 == 0).Select(r => r.Id).ToList();
        Assert.Equal(expected, FrameAssert.RowsOf(result).Select(row => (long)row[0]!).ToList());
    }

    [Fact]
    public void WithColumn_computes_from_one_or_two_columns_and_keeps_missing_inputs_missing()
    {
        var frame = Frame()
            .WithColumn("double_amount", "amount", (double a) => a * 2)
            .WithColumn("label", "region", "id", (string region, long id) => $"{region}-{id}")
            .WithColumn("id", "id", (long id) => id + 1000); // replaces in place

        var result = frame.Compute();

        Assert.Equal(["id", "region", "amount", "paid", "day", "double_amount", "label"], frame.Columns);
        Assert.Equal(typeof(double), frame.Schema.TypeOf("double_amount"));
        var expected = _data.Rows.Select(r => new object?[] { r.Id + 1000, r.Region, r.Amount, r.Paid, r.Day, r.Amount * 2, r.Region is null ? null : $"{r.Region}-{r.Id}" }).ToList();
        FrameAssert.Equal(expected, result);
    }

    public static TheoryData<int> PartitionCounts => [1, 7, 40];

    [Theory]
    [MemberData(nameof(PartitionCounts))]
    public void GroupBy_Agg_matches_LINQ_for_every_aggregation(int partitions)
    {
        var result = DataFrames.FromFrame(_data.Frame(), partitions).GroupBy("region").Agg(
            ("amount", Agg.Sum), ("amount", Agg.Mean), ("amount", Agg.Count), ("amount", Agg.Min),
            ("amount", Agg.Max), ("amount", Agg.Std), ("amount", Agg.Var), ("id", Agg.Sum)).Compute(Scheduler.Synchronous);

        var expected = _data.Rows.Where(r => r.Region is not null).GroupBy(r => r.Region!).OrderBy(g => g.Key, StringComparer.Ordinal).Select(g =>
        {
            var amounts = g.Where(r => r.Amount is not null).Select(r => r.Amount!.Value).ToList();
            return new object?[] { g.Key, amounts.Sum(), amounts.Average(), (long)amounts.Count, amounts.Min(), amounts.Max(), FrameAssert.Std(amounts), FrameAssert.Var(amounts), (double)g.Sum(r => r.Id) };
        }).ToList();
        Assert.Equal(["region", "amount_sum", "amount_mean", "amount_count", "amount_min", "amount_max", "amount_std", "amount_var", "id_sum"], result.Columns.Select(c => c.Name));
        FrameAssert.Equal(expected, result);
    }

    [Fact]
    public void GroupBy_on_two_keys_matches_LINQ()
    {
        var result = Frame().GroupBy("region", "paid").Agg(("amount", Agg.Mean), ("id", Agg.Count)).Compute();

        var expected = _data.Rows.Where(r => r.Region is not null).GroupBy(r => (r.Region!, r.Paid))
            .OrderBy(g => g.Key.Item1, StringComparer.Ordinal).ThenBy(g => g.Key.Paid)
            .Select(g => new object?[] { g.Key.Item1, g.Key.Paid, g.Where(r => r.Amount is not null).Average(r => r.Amount!.Value), (long)g.Count() }).ToList();
        FrameAssert.Equal(expected, result);
    }

    [Fact]
    public void Count_is_the_number_of_rows_after_filters()
    {
        var frame = Frame();

        Assert.Equal(600L, frame.Count().Compute());
        Assert.Equal(_data.Rows.LongCount(r => r.Paid), frame.Where<bool>("paid", p => p).Count().Compute(Scheduler.Synchronous));
    }

    [Fact]
    public void Head_computes_only_the_first_partitions_it_needs()
    {
        var seen = new System.Collections.Concurrent.ConcurrentBag<long>();
        var frame = DataFrames.FromFrame(_data.Frame(), 6).Where<long>("id", id => { seen.Add(id); return id % 3 == 0; });

        var head = frame.Head(40, Scheduler.Synchronous);

        // Partitions hold 100 rows, 34 of which pass: the head needs the first two partitions only.
        Assert.Equal(_data.Rows.Where(r => r.Id % 3 == 0).Take(40).Select(r => r.Id), FrameAssert.RowsOf(head).Select(row => (long)row[0]!));
        Assert.Equal(200, seen.Count);
        Assert.Equal(5, Frame().Head().Rows.Count);
    }

    [Fact]
    public void Describe_gives_count_mean_std_min_and_max_of_numeric_columns()
    {
        var result = Frame().Describe().Compute();

        var amounts = _data.Rows.Where(r => r.Amount is not null).Select(r => r.Amount!.Value).ToList();
        var ids = _data.Rows.Select(r => (double)r.Id).ToList();
        FrameAssert.Equal(
        [
            ["count", (double)ids.Count, (double)amounts.Count],
            ["mean", ids.Average(), amounts.Average()],
            ["std", FrameAssert.Std(ids), FrameAssert.Std(amounts)],
            ["min", ids.Min(), amounts.Min()],
            ["max", ids.Max(), amounts.Max()],
        ], result);
        Assert.Equal(["statistic", "id", "amount"], result.Columns.Select(c => c.Name));
    }

    [Fact]
    public void Persist_keeps_the_partitions_so_later_steps_do_not_read_the_file_again()
    {
        var path = _data.WriteCsv();
        var persisted = DataFrames.ReadCsv(path, blockSize: 2000).Where<double>("amount", a => a > 0).Persist();
        File.Delete(path);

        var result = persisted.GroupBy("paid").Agg(("amount", Agg.Count)).Compute();

        var expected = _data.Rows.Where(r => r.Amount > 0).GroupBy(r => r.Paid).OrderBy(g => g.Key).Select(g => new object?[] { g.Key, (long)g.Count() }).ToList();
        FrameAssert.Equal(expected, result);
    }

    [Fact]
    public void A_text_column_can_be_counted_but_not_summed()
    {
        var error = Assert.Throws<ArgumentException>(() => Frame().GroupBy("paid").Agg(("region", Agg.Sum)));
        Assert.Contains("numeric", error.Message);
        var counted = Frame().GroupBy("paid").Agg(("region", Agg.Count)).Compute();
        FrameAssert.Equal(_data.Rows.GroupBy(r => r.Paid).OrderBy(g => g.Key).Select(g => new object?[] { g.Key, (long)g.Count(r => r.Region is not null) }).ToList(), counted);
    }
}
