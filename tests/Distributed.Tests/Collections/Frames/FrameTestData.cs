using System.Globalization;
using System.Text;
using Distributed.Collections;
using Microsoft.Data.Analysis;

namespace Distributed.Tests.Collections.Frames;

/// <summary>One row of the test data, as LINQ computes the expected results from it.</summary>
public sealed record Sale(long Id, string? Region, double? Amount, bool Paid, DateTime Day);

/// <summary>Deterministic test data, as rows, as a Microsoft.Data.Analysis frame and as CSV files in a temp directory.</summary>
public sealed class FrameTestData : IDisposable
{
    public static readonly string[] Regions = ["north", "south", "east", "west", "centre"];

    public FrameTestData(int rows = 500, int seed = 7)
    {
        var random = new Random(seed);
        Rows = Enumerable.Range(0, rows).Select(i => new Sale(
            i,
            i % 37 == 5 ? null : Regions[random.Next(Regions.Length)],
            i % 11 == 3 ? null : Math.Round(random.NextDouble() * 1000 - 200, 3),
            random.Next(3) == 0,
            new DateTime(2024, 1, 1).AddDays(random.Next(300)))).ToList();
        Directory.CreateDirectory(Folder);
    }

    public List<Sale> Rows { get; }

    public string Folder { get; } = Path.Combine(Path.GetTempPath(), "frames-" + Guid.NewGuid().ToString("N"));

    /// <summary>The rows as a frame with the types ReadCsv infers.</summary>
    public DataFrame Frame() => new(
        new Int64DataFrameColumn("id", Rows.Select(r => r.Id)),
        new StringDataFrameColumn("region", Rows.Select(r => r.Region)),
        new DoubleDataFrameColumn("amount", Rows.Select(r => r.Amount)),
        new BooleanDataFrameColumn("paid", Rows.Select(r => r.Paid)),
        new DateTimeDataFrameColumn("day", Rows.Select(r => (DateTime?)r.Day)));

    /// <summary>Writes <paramref name="rows"/> (all by default) as a CSV file and returns its path.</summary>
    public string WriteCsv(string name = "sales.csv", IEnumerable<Sale>? rows = null, string newline = "\n")
    {
        var text = new StringBuilder("id,region,amount,paid,day").Append(newline);
        foreach (var r in rows ?? Rows)
            text.Append(CultureInfo.InvariantCulture, $"{r.Id},{r.Region},{r.Amount?.ToString(CultureInfo.InvariantCulture)},{(r.Paid ? "true" : "false")},{r.Day:yyyy-MM-dd}").Append(newline);
        var path = Path.Combine(Folder, name);
        File.WriteAllText(path, text.ToString());
        return path;
    }

    public void Dispose()
    {
        try { Directory.Delete(Folder, recursive: true); } catch (IOException) { }
    }
}

/// <summary>Reading frames back as rows for comparisons.</summary>
public static class FrameAssert
{
    public static List<object?[]> RowsOf(DataFrame frame)
    {
        var rows = new List<object?[]>();
        for (long i = 0; i < frame.Rows.Count; i++) rows.Add(frame.Columns.Select(c => c[i]).ToArray());
        return rows;
    }

    /// <summary>Asserts the frame has exactly <paramref name="expected"/> rows, doubles compared to 1e-9 relative.</summary>
    public static void Equal(IReadOnlyList<object?[]> expected, DataFrame actual)
    {
        var rows = RowsOf(actual);
        Assert.Equal(expected.Count, rows.Count);
        for (var r = 0; r < rows.Count; r++)
        {
            Assert.Equal(expected[r].Length, rows[r].Length);
            for (var c = 0; c < rows[r].Length; c++)
            {
                var (want, got) = (expected[r][c], rows[r][c]);
                if (want is double w && got is double g)
                    Assert.True(Math.Abs(w - g) <= 1e-9 * Math.Max(1, Math.Abs(w)), $"row {r} column {c}: expected {w}, got {g}");
                else
                    Assert.True(Equals(want, got), $"row {r} column {c}: expected {want ?? "null"}, got {got ?? "null"}");
            }
        }
    }

    public static double? Std(IEnumerable<double> values) => Var(values) is { } v ? Math.Sqrt(v) : null;

    public static double? Var(IEnumerable<double> values)
    {
        var list = values.ToList();
        if (list.Count < 2) return null;
        var mean = list.Average();
        return list.Sum(x => (x - mean) * (x - mean)) / (list.Count - 1);
    }

    /// <summary>The read blocks of a frame's graph: what each parses.</summary>
    public static List<string[]> ParsedColumns(Distributed.Dask.LayeredGraph graph) =>
        graph.ToGraph().Select(kv => kv.Value).OfType<Distributed.Dask.TaskNode>()
            .SelectMany(t => t.Arguments).OfType<CsvBlockRead>().Select(b => b.Names).ToList();
}
