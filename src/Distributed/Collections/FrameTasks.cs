using System.Globalization;
using Microsoft.Data.Analysis;

namespace Distributed.Collections;

/// <summary>Column names as one task argument (a bare string argument of a graph task could be read as a key).</summary>
internal sealed record ColumnNames(string[] Names);

/// <summary>
/// A read-only view of one row of a partition, for <see cref="DistributedFrame.Where(Func{FrameRow, bool})"/>.
/// Valid only during the call it is given to.
/// </summary>
/// <example>
/// <code>
/// var frame = DataFrames.ReadCsv("/data/sales.csv");
/// var big = frame.Where(row => !row.IsNull("amount") &amp;&amp; row.Get&lt;double&gt;("amount") &gt; 1_000 * row.Get&lt;long&gt;("quantity"));
/// </code>
/// </example>
public readonly struct FrameRow
{
    private readonly DataFrame _frame;

    internal FrameRow(DataFrame frame, long index)
    {
        _frame = frame;
        Index = index;
    }

    /// <summary>The row's position in its partition.</summary>
    /// <example>
    /// <code>
    /// var frame = DataFrames.ReadCsv("/data/sales.csv");
    /// var everyTenth = frame.Where(row => row.Index % 10 == 0); // a sample: position within each partition
    /// </code>
    /// </example>
    public long Index { get; }

    /// <summary>The value in column <paramref name="column"/>, null when missing.</summary>
    /// <example>
    /// <code>
    /// var frame = DataFrames.ReadCsv("/data/sales.csv");
    /// var tagged = frame.Where(row => row["region"] is string region &amp;&amp; region.StartsWith('E'));
    /// </code>
    /// </example>
    public object? this[string column] => _frame.Columns[column][Index];

    /// <summary>Whether column <paramref name="column"/> has no value in this row.</summary>
    /// <example>
    /// <code>
    /// var frame = DataFrames.ReadCsv("/data/sales.csv");
    /// long missing = frame.Where(row => row.IsNull("amount")).Count().Compute();
    /// </code>
    /// </example>
    public bool IsNull(string column) => !_frame.Columns[column].IsValid(Index);

    /// <summary>The value in column <paramref name="column"/> as <typeparamref name="T"/> (numbers convert); throws when it is missing.</summary>
    /// <example>
    /// <code>
    /// var frame = DataFrames.ReadCsv("/data/sales.csv");
    /// var late = frame.Where(row => row.Get&lt;DateTime&gt;("shipped") &gt; row.Get&lt;DateTime&gt;("promised"));
    /// </code>
    /// </example>
    public T Get<T>(string column) => this[column] is { } value
        ? FrameTasks.As<T>(value)
        : throw new InvalidOperationException($"Column '{column}' has no value in row {Index}.");
}

/// <summary>The functions the partition tasks run: static, so that a graph ships only the user's own delegates.</summary>
internal static class FrameTasks
{
    public static readonly Func<CsvBlockRead, DataFrame> ReadBlock = CsvBlocks.Read;

    public static readonly Func<DataFrame, DataFrame> Partition = static frame => frame;

    public static readonly Func<DataFrame, ColumnNames, DataFrame> Project = static (frame, columns) =>
        new DataFrame(columns.Names.Select(n => frame.Columns[n]));

    public static readonly Func<DataFrame, Delegate, DataFrame> WhereRow = static (frame, predicate) =>
    {
        var test = (Func<FrameRow, bool>)predicate;
        var keep = new bool[frame.Rows.Count];
        for (var i = 0; i < keep.Length; i++) keep[i] = test(new FrameRow(frame, i));
        return Frames.Filter(frame, keep);
    };

    public static readonly Func<DataFrame, long> CountRows = static frame => frame.Rows.Count;

    public static readonly Func<object[], long> SumCounts = static counts => counts.Sum(c => Convert.ToInt64(c, CultureInfo.InvariantCulture));

    public static readonly Func<DataFrame, long, DataFrame> Take = static (frame, rows) => Frames.Take(frame, rows);

    /// <summary><paramref name="value"/> as <typeparamref name="T"/>: as it is, or converted between number types.</summary>
    public static T As<T>(object value)
    {
        if (value is T typed) return typed;
        var target = Nullable.GetUnderlyingType(typeof(T)) ?? typeof(T);
        return (T)Convert.ChangeType(value, target, CultureInfo.InvariantCulture);
    }

    /// <summary>The column's value in row <paramref name="row"/> as <typeparamref name="T"/>, or false when missing.</summary>
    private static bool TryRead<T>(DataFrameColumn column, long row, out T value)
    {
        if (column[row] is { } raw) { value = As<T>(raw); return true; }
        value = default!;
        return false;
    }

    /// <summary>The frame with column <paramref name="name"/> set to <paramref name="column"/>: in place of a column of that name, else last.</summary>
    private static DataFrame WithColumn(DataFrame frame, string name, DataFrameColumn column)
    {
        var columns = frame.Columns.ToList();
        var at = columns.FindIndex(c => c.Name == name);
        if (at >= 0) columns[at] = column;
        else columns.Add(column);
        return new DataFrame(columns);
    }

    /// <summary>The column type a function returning <typeparamref name="T"/> fills (<c>double?</c> fills a double column).</summary>
    public static Type ColumnTypeOf<T>() => Nullable.GetUnderlyingType(typeof(T)) ?? typeof(T);

    /// <summary>Tasks typed by the values they read.</summary>
    internal static class Typed<T>
    {
        public static readonly Func<DataFrame, ColumnNames, Delegate, DataFrame> Where = static (frame, column, predicate) =>
        {
            var test = (Func<T, bool>)predicate;
            var source = frame.Columns[column.Names[0]];
            var keep = new bool[frame.Rows.Count];
            for (var i = 0; i < keep.Length; i++) keep[i] = TryRead<T>(source, i, out var value) && test(value);
            return Frames.Filter(frame, keep);
        };

    }

    internal static class Mapped<TIn, TOut>
    {
        /// <summary>Names: the new column, then its input; a missing input leaves the new value missing.</summary>
        public static readonly Func<DataFrame, ColumnNames, Delegate, DataFrame> Compute = static (frame, names, function) =>
        {
            var map = (Func<TIn, TOut>)function;
            var source = frame.Columns[names.Names[1]];
            var result = Frames.NewColumn(ColumnTypeOf<TOut>(), names.Names[0], frame.Rows.Count);
            for (long i = 0; i < result.Length; i++)
                if (TryRead<TIn>(source, i, out var value)) result[i] = map(value);
            return WithColumn(frame, names.Names[0], result);
        };
    }

    internal static class Mapped<TA, TB, TOut>
    {
        /// <summary>Names: the new column, then its two inputs; a missing input leaves the new value missing.</summary>
        public static readonly Func<DataFrame, ColumnNames, Delegate, DataFrame> Compute = static (frame, names, function) =>
        {
            var map = (Func<TA, TB, TOut>)function;
            var first = frame.Columns[names.Names[1]];
            var second = frame.Columns[names.Names[2]];
            var result = Frames.NewColumn(ColumnTypeOf<TOut>(), names.Names[0], frame.Rows.Count);
            for (long i = 0; i < result.Length; i++)
                if (TryRead<TA>(first, i, out var a) && TryRead<TB>(second, i, out var b)) result[i] = map(a, b);
            return WithColumn(frame, names.Names[0], result);
        };
    }
}
