using System.Runtime.CompilerServices;
using Microsoft.Data.Analysis;

namespace Distributed.Collections;

/// <summary>An aggregation of a column per group (missing values are skipped, as pandas does).</summary>
/// <example>
/// <code>
/// var stats = DataFrames.ReadCsv("/data/sales.csv")
///     .GroupBy("region").Agg(("amount", Agg.Sum), ("amount", Agg.Mean), ("amount", Agg.Std), ("id", Agg.Count))
///     .Compute(); // columns region, amount_sum, amount_mean, amount_std, id_count
/// </code>
/// </example>
public enum Agg
{
    /// <summary>The sum of the values (0 for a group without values).</summary>
    Sum,
    /// <summary>The mean of the values.</summary>
    Mean,
    /// <summary>How many values are present.</summary>
    Count,
    /// <summary>The smallest value.</summary>
    Min,
    /// <summary>The largest value.</summary>
    Max,
    /// <summary>The sample standard deviation (divides by count - 1).</summary>
    Std,
    /// <summary>The sample variance (divides by count - 1).</summary>
    Var,
}

/// <summary>What the aggregation tasks need: the key columns and the value columns whose partial states they keep.</summary>
internal sealed record AggregationSpec(string[] Keys, string[] Columns);

/// <summary>The aggregations asked for: which column, which aggregation, under which output name.</summary>
internal sealed record AggregationOutputs(string[] Columns, Agg[] Aggregations, string[] Names);

/// <summary>
/// Group-by aggregation in three steps: each partition reduces its rows to one row per group holding
/// partial states (count, sum, sum of squared deviations M2, min, max per value column); partial
/// frames combine in a tree, 16 at a time, merging states (M2 by Chan et al.'s pairwise formula, so
/// variances are exact without a second pass over the data); the root turns states into the results.
/// States are frames, so they travel between workers as columns.
/// </summary>
internal static class Aggregation
{
    public const int CombineWidth = 16;

    private const string Count = "#count", Sum = "#sum", M2 = "#m2", Min = "#min", Max = "#max";

    public static readonly Func<DataFrame, AggregationSpec, DataFrame> Partial = static (frame, spec) => PartialOf(frame, spec);

    public static readonly Func<object[], AggregationSpec, DataFrame> Combine = static (parts, spec) => CombineOf(parts.Cast<DataFrame>().ToList(), spec);

    public static readonly Func<DataFrame, AggregationSpec, AggregationOutputs, DataFrame> Finish = static (states, spec, outputs) => FinishOf(states, spec, outputs);

    public static readonly Func<DataFrame, AggregationSpec, DataFrame> FinishDescribe = static (states, spec) => DescribeOf(states, spec);

    /// <summary>The group of each row (-1 when a key is missing: such rows are dropped, as pandas does) and the first row of each group.</summary>
    private static int[] GroupRows(DataFrame frame, string[] keys, out List<long> firstRows)
    {
        var rows = frame.Rows.Count;
        var groups = new int[rows];
        firstRows = [];
        if (keys.Length == 0)
        {
            firstRows.Add(0); // one group, even without rows: a global aggregate always has a row
            return groups;
        }
        if (keys.Length == 1 && frame.Columns[keys[0]] is StringDataFrameColumn text)
        {
            var index = new Dictionary<string, int>(StringComparer.Ordinal);
            // CSV blocks hold one string object per distinct value, so most rows are found by reference,
            // without hashing their characters; the enumerator also skips the indexer's chunk arithmetic.
            var byReference = new Dictionary<string, int>(ReferenceEqualityComparer.Instance);
            var i = 0;
            foreach (var value in text)
            {
                if (value is null) groups[i] = -1;
                else if (byReference.TryGetValue(value, out var known)) groups[i] = known;
                else
                {
                    if (!index.TryGetValue(value, out var group)) { group = index.Count; index[value] = group; firstRows.Add(i); }
                    if (byReference.Count < 4_096) byReference[value] = group;
                    groups[i] = group;
                }
                i++;
            }
            return groups;
        }
        var columns = keys.Select(k => frame.Columns[k]).ToArray();
        var byKey = new Dictionary<object[], int>(RowKeyComparer.Instance);
        for (long i = 0; i < rows; i++)
        {
            var key = new object[columns.Length];
            var missing = false;
            for (var c = 0; c < columns.Length && !missing; c++)
            {
                if (columns[c][i] is { } value) key[c] = value;
                else missing = true;
            }
            if (missing) { groups[i] = -1; continue; }
            if (!byKey.TryGetValue(key, out var group)) { group = byKey.Count; byKey[key] = group; firstRows.Add(i); }
            groups[i] = group;
        }
        return groups;
    }

    private static List<DataFrameColumn> KeyColumns(DataFrame frame, string[] keys, List<long> firstRows)
    {
        var columns = new List<DataFrameColumn>();
        foreach (var key in keys)
        {
            var source = frame.Columns[key];
            var column = Frames.NewColumn(source.DataType, key, firstRows.Count);
            for (var g = 0; g < firstRows.Count; g++) column[g] = source[firstRows[g]];
            columns.Add(column);
        }
        return columns;
    }

    private static DataFrame PartialOf(DataFrame frame, AggregationSpec spec)
    {
        var groupOf = GroupRows(frame, spec.Keys, out var firstRows);
        var columns = KeyColumns(frame, spec.Keys, firstRows);
        return States(groupOf, groupOf.Length, firstRows.Count, columns, spec, name =>
        {
            var source = frame.Columns[name];
            // A column that is not numeric is only counted: its values stand in as 1, missing ones as NaN.
            return Frames.IsNumeric(source.DataType) ? Frames.ToDoubles(source) : Presence(source);
        });
    }

    /// <summary>
    /// A CSV block's partial states in one task. With one string key and numeric value columns the
    /// block is parsed straight into group numbers and value arrays: no string column, no dataframe,
    /// which cost several times the parsing itself. The states are those of <see cref="Partial"/> on
    /// the parsed block (same groups in the same order, same arithmetic in the same row order).
    /// </summary>
    public static readonly Func<CsvBlockRead, AggregationSpec, DataFrame> ReadPartial = static (block, spec) => ReadPartialOf(block, spec);

    private static DataFrame ReadPartialOf(CsvBlockRead block, AggregationSpec spec)
    {
        var types = block.Types.Select(t => Type.GetType(t, throwOnError: true)!).ToArray();
        var key = spec.Keys.Length == 1 ? Array.IndexOf(block.Names, spec.Keys[0]) : -1;
        var direct = key >= 0 && types[key] == typeof(string)
            && spec.Columns.All(c => Array.IndexOf(block.Names, c) is var at && at >= 0 && Frames.IsNumeric(types[at]));
        if (!direct) return PartialOf(CsvBlocks.Read(block), spec);
        var builders = CsvBlocks.Parse(block, (type, name, rows) => name == spec.Keys[0] ? new ColumnBuilder.GroupCodes(rows) : ColumnBuilder.For(type, rows));
        var codes = (ColumnBuilder.GroupCodes)builders[key];
        var columns = new List<DataFrameColumn> { codes.Build(spec.Keys[0]) };
        return States(codes.Codes, codes.Count, codes.Groups, columns, spec,
            name => Frames.ToDoubles(builders[Array.IndexOf(block.Names, name)].Build(name)));
    }

    /// <summary>Partial states per group from the group of each row and each value column as doubles (NaN: missing).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // see CsvBlocks.Parse
    private static DataFrame States(int[] groupOf, int rows, int groups, List<DataFrameColumn> columns, AggregationSpec spec, Func<string, double[]> valuesOf)
    {
        foreach (var name in spec.Columns)
        {
            var values = valuesOf(name);
            var count = new long[groups];
            var sum = new double[groups];
            var min = new double[groups];
            var max = new double[groups];
            Array.Fill(min, double.PositiveInfinity);
            Array.Fill(max, double.NegativeInfinity);
            for (var i = 0; i < rows; i++)
            {
                var g = groupOf[i];
                var x = values[i];
                if (g < 0 || double.IsNaN(x)) continue;
                count[g]++;
                sum[g] += x;
                if (x < min[g]) min[g] = x;
                if (x > max[g]) max[g] = x;
            }
            // A second pass around each group's mean keeps M2 exact where sum of squares would cancel.
            var m2 = new double[groups];
            for (var i = 0; i < rows; i++)
            {
                var g = groupOf[i];
                var x = values[i];
                if (g < 0 || double.IsNaN(x)) continue;
                var deviation = x - sum[g] / count[g];
                m2[g] += deviation * deviation;
            }
            columns.AddRange(StateColumns(name, count, sum, m2, min, max));
        }
        return new DataFrame(columns);
    }

    private static double[] Presence(DataFrameColumn column)
    {
        var values = new double[column.Length];
        for (long i = 0; i < values.Length; i++) values[i] = column.IsValid(i) ? 1 : double.NaN;
        return values;
    }

    private static IEnumerable<DataFrameColumn> StateColumns(string name, long[] count, double[] sum, double[] m2, double[] min, double[] max) =>
    [
        new Int64DataFrameColumn(name + Count, count), new DoubleDataFrameColumn(name + Sum, sum), new DoubleDataFrameColumn(name + M2, m2),
        new DoubleDataFrameColumn(name + Min, min), new DoubleDataFrameColumn(name + Max, max),
    ];

    private static DataFrame CombineOf(IReadOnlyList<DataFrame> parts, AggregationSpec spec)
    {
        var all = Frames.Concat(parts);
        var groupOf = GroupRows(all, spec.Keys, out var firstRows);
        var groups = spec.Keys.Length == 0 ? 1 : firstRows.Count;
        if (spec.Keys.Length == 0) firstRows = [0];
        var columns = spec.Keys.Length == 0 ? [] : KeyColumns(all, spec.Keys, firstRows);
        foreach (var name in spec.Columns)
        {
            var count = new long[groups];
            var sum = new double[groups];
            var m2 = new double[groups];
            var min = new double[groups];
            var max = new double[groups];
            Array.Fill(min, double.PositiveInfinity);
            Array.Fill(max, double.NegativeInfinity);
            var counts = (PrimitiveDataFrameColumn<long>)all.Columns[name + Count];
            var sums = Frames.ToDoubles(all.Columns[name + Sum]);
            var m2s = Frames.ToDoubles(all.Columns[name + M2]);
            var mins = Frames.ToDoubles(all.Columns[name + Min]);
            var maxs = Frames.ToDoubles(all.Columns[name + Max]);
            for (var row = 0; row < groupOf.Length; row++)
            {
                var g = groupOf[row];
                var n = counts[row] ?? 0;
                if (g < 0 || n == 0) continue;
                if (count[g] > 0)
                {
                    var delta = sums[row] / n - sum[g] / count[g];
                    m2[g] += m2s[row] + delta * delta * count[g] * n / (count[g] + n);
                }
                else m2[g] = m2s[row];
                count[g] += n;
                sum[g] += sums[row];
                min[g] = Math.Min(min[g], mins[row]);
                max[g] = Math.Max(max[g], maxs[row]);
            }
            columns.AddRange(StateColumns(name, count, sum, m2, min, max));
        }
        return new DataFrame(columns);
    }

    /// <summary>The result of aggregation <paramref name="aggregation"/> for one group's state; null where it is undefined.</summary>
    private static double? Result(Agg aggregation, long count, double sum, double m2, double min, double max) => aggregation switch
    {
        Agg.Sum => sum,
        Agg.Count => count,
        Agg.Mean => count > 0 ? sum / count : null,
        Agg.Min => count > 0 ? min : null,
        Agg.Max => count > 0 ? max : null,
        Agg.Var => count > 1 ? m2 / (count - 1) : null,
        Agg.Std => count > 1 ? Math.Sqrt(m2 / (count - 1)) : null,
        _ => throw new ArgumentOutOfRangeException(nameof(aggregation), aggregation, null),
    };

    private static DataFrame FinishOf(DataFrame states, AggregationSpec spec, AggregationOutputs outputs)
    {
        // Groups come out sorted by key, so that results do not depend on how rows were partitioned.
        var rows = (int)states.Rows.Count;
        var keyColumns = spec.Keys.Select(k => states.Columns[k]).ToArray();
        var order = Enumerable.Range(0, rows).ToArray();
        Array.Sort(order, (a, b) =>
        {
            foreach (var column in keyColumns)
            {
                var compared = Comparer<object>.Default.Compare(column[a]!, column[b]!);
                if (compared != 0) return compared;
            }
            return 0;
        });
        var columns = new List<DataFrameColumn>();
        foreach (var key in keyColumns)
        {
            var column = Frames.NewColumn(key.DataType, key.Name, rows);
            for (var r = 0; r < rows; r++) column[r] = key[order[r]];
            columns.Add(column);
        }
        for (var o = 0; o < outputs.Columns.Length; o++)
        {
            var name = outputs.Columns[o];
            var counts = (PrimitiveDataFrameColumn<long>)states.Columns[name + Count];
            var sums = Frames.ToDoubles(states.Columns[name + Sum]);
            var m2s = Frames.ToDoubles(states.Columns[name + M2]);
            var mins = Frames.ToDoubles(states.Columns[name + Min]);
            var maxs = Frames.ToDoubles(states.Columns[name + Max]);
            DataFrameColumn column = outputs.Aggregations[o] == Agg.Count
                ? new Int64DataFrameColumn(outputs.Names[o], rows)
                : new DoubleDataFrameColumn(outputs.Names[o], rows);
            for (var r = 0; r < rows; r++)
            {
                var s = order[r];
                var value = Result(outputs.Aggregations[o], counts[s] ?? 0, sums[s], m2s[s], mins[s], maxs[s]);
                column[r] = outputs.Aggregations[o] == Agg.Count ? (object?)(long?)value : value;
            }
            columns.Add(column);
        }
        return new DataFrame(columns);
    }

    /// <summary>Describe's table: a statistic column (count, mean, std, min, max), then one column per numeric column.</summary>
    private static DataFrame DescribeOf(DataFrame states, AggregationSpec spec)
    {
        Agg[] statistics = [Agg.Count, Agg.Mean, Agg.Std, Agg.Min, Agg.Max];
        var columns = new List<DataFrameColumn> { new StringDataFrameColumn("statistic", statistics.Select(s => s.ToString().ToLowerInvariant())) };
        foreach (var name in spec.Columns)
        {
            var count = ((PrimitiveDataFrameColumn<long>)states.Columns[name + Count])[0] ?? 0;
            double Read(string state) => Frames.ToDoubles(states.Columns[name + state])[0];
            columns.Add(new DoubleDataFrameColumn(name, statistics.Select(s => Result(s, count, Read(Sum), Read(M2), Read(Min), Read(Max)))));
        }
        return new DataFrame(columns);
    }

    /// <summary>Compares group keys made of several columns by value.</summary>
    private sealed class RowKeyComparer : IEqualityComparer<object[]>
    {
        public static RowKeyComparer Instance { get; } = new();

        public bool Equals(object[]? x, object[]? y) => x is not null && y is not null && x.AsSpan().SequenceEqual(y);

        public int GetHashCode(object[] key)
        {
            var hash = new HashCode();
            foreach (var part in key) hash.Add(part);
            return hash.ToHashCode();
        }
    }
}
