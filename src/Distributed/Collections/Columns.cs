using Microsoft.Data.Analysis;

namespace Distributed.Collections;

/// <summary>The name and value type of one column of a <see cref="DistributedFrame"/>.</summary>
/// <example>
/// <code>
/// var schema = new FrameSchema([new FrameColumn("id", typeof(long)), new FrameColumn("price", typeof(double))]);
/// foreach (var column in schema.Columns) Console.WriteLine($"{column.Name}: {column.DataType.Name}");
/// </code>
/// </example>
/// <param name="Name">The column's name, as in the CSV header.</param>
/// <param name="DataType">The type of its values: long, double, bool, string or DateTime (a CSV's), or any a <see cref="DataFrame"/> holds.</param>
public sealed record FrameColumn(string Name, Type DataType);

/// <summary>The columns of a <see cref="DistributedFrame"/>, in order: what every partition holds.</summary>
/// <example>
/// <code>
/// var frame = DataFrames.ReadCsv("/data/sales.csv");
/// Console.WriteLine(frame.Schema); // e.g. id: Int64, region: String, amount: Double
/// if (frame.Schema.IsNumeric("amount")) Console.WriteLine(frame["amount"].Describe().Compute());
/// </code>
/// </example>
public sealed class FrameSchema
{
    private readonly Dictionary<string, int> _index;

    /// <summary>A schema of <paramref name="columns"/>; names must be distinct.</summary>
    /// <example>
    /// <code>
    /// var schema = new FrameSchema([new FrameColumn("city", typeof(string)), new FrameColumn("population", typeof(long))]);
    /// Console.WriteLine(schema.IndexOf("population")); // 1
    /// </code>
    /// </example>
    public FrameSchema(IEnumerable<FrameColumn> columns)
    {
        Columns = columns.ToList();
        _index = new Dictionary<string, int>(StringComparer.Ordinal);
        for (var i = 0; i < Columns.Count; i++)
            if (!_index.TryAdd(Columns[i].Name, i))
                throw new ArgumentException($"The column name '{Columns[i].Name}' appears twice.", nameof(columns));
    }

    /// <summary>The schema of <paramref name="frame"/>'s columns.</summary>
    /// <example>
    /// <code>
    /// var table = new DataFrame(new Int64DataFrameColumn("id", [1, 2]), new StringDataFrameColumn("name", ["a", "b"]));
    /// FrameSchema schema = FrameSchema.Of(table); // id: Int64, name: String
    /// </code>
    /// </example>
    public static FrameSchema Of(DataFrame frame) => new(frame.Columns.Select(c => new FrameColumn(c.Name, c.DataType)));

    /// <summary>The columns, in order.</summary>
    /// <example>
    /// <code>
    /// var schema = DataFrames.ReadCsv("/data/sales.csv").Schema;
    /// var dates = schema.Columns.Where(c => c.DataType == typeof(DateTime)).Select(c => c.Name);
    /// </code>
    /// </example>
    public IReadOnlyList<FrameColumn> Columns { get; }

    /// <summary>The column names, in order.</summary>
    /// <example>
    /// <code>
    /// var schema = DataFrames.ReadCsv("/data/sales.csv").Schema;
    /// Console.WriteLine(string.Join(",", schema.Names)); // the header, in order
    /// </code>
    /// </example>
    public IReadOnlyList<string> Names => Columns.Select(c => c.Name).ToList();

    /// <summary>Whether a column is named <paramref name="name"/>.</summary>
    /// <example>
    /// <code>
    /// var frame = DataFrames.ReadCsv("/data/sales.csv");
    /// var amounts = frame.Schema.Contains("amount") ? frame["amount"] : frame[frame.Columns[0]];
    /// </code>
    /// </example>
    public bool Contains(string name) => _index.ContainsKey(name);

    /// <summary>The value type of column <paramref name="name"/>.</summary>
    /// <example>
    /// <code>
    /// var schema = DataFrames.ReadCsv("/data/sales.csv").Schema;
    /// if (schema.TypeOf("when") == typeof(DateTime)) Console.WriteLine("dates were inferred");
    /// </code>
    /// </example>
    public Type TypeOf(string name) => Columns[IndexOf(name)].DataType;

    /// <summary>The position of column <paramref name="name"/>; throws a message listing the columns when there is none.</summary>
    /// <example>
    /// <code>
    /// var schema = DataFrames.ReadCsv("/data/sales.csv").Schema;
    /// int at = schema.IndexOf("amount"); // throws, listing the columns, when there is none
    /// </code>
    /// </example>
    public int IndexOf(string name) => _index.TryGetValue(name, out var at)
        ? at
        : throw new ArgumentException($"No column '{name}'; the columns are {string.Join(", ", Columns.Select(c => c.Name))}.", nameof(name));

    /// <summary>Whether column <paramref name="name"/> holds numbers (what Describe and Sum/Mean/Std/Var read).</summary>
    /// <example>
    /// <code>
    /// var frame = DataFrames.ReadCsv("/data/sales.csv");
    /// var numeric = frame.Columns.Where(frame.Schema.IsNumeric).ToArray();
    /// var summary = frame.Select(numeric).Describe().Compute();
    /// </code>
    /// </example>
    public bool IsNumeric(string name) => Frames.IsNumeric(TypeOf(name));

    /// <summary>The columns as <c>name: Type</c>, in order, e.g. <c>id: Int64, amount: Double</c>.</summary>
    /// <example>
    /// <code>
    /// Console.WriteLine(DataFrames.ReadCsv("/data/sales.csv").Schema); // id: Int64, region: String, amount: Double
    /// </code>
    /// </example>
    public override string ToString() => string.Join(", ", Columns.Select(c => $"{c.Name}: {c.DataType.Name}"));
}

/// <summary>Column and frame helpers shared by the partition tasks.</summary>
internal static class Frames
{
    public static bool IsNumeric(Type type) =>
        type == typeof(double) || type == typeof(long) || type == typeof(int) || type == typeof(float)
        || type == typeof(short) || type == typeof(byte) || type == typeof(sbyte) || type == typeof(ushort)
        || type == typeof(uint) || type == typeof(ulong) || type == typeof(decimal);

    /// <summary>An empty (all null) column of <paramref name="type"/>, of <paramref name="length"/> rows.</summary>
    public static DataFrameColumn NewColumn(Type type, string name, long length) => type switch
    {
        _ when type == typeof(string) => new StringDataFrameColumn(name, length),
        _ when type == typeof(long) => new Int64DataFrameColumn(name, length),
        _ when type == typeof(double) => new DoubleDataFrameColumn(name, length),
        _ when type == typeof(bool) => new BooleanDataFrameColumn(name, length),
        _ when type == typeof(DateTime) => new DateTimeDataFrameColumn(name, length),
        _ when type == typeof(int) => new Int32DataFrameColumn(name, length),
        _ when type == typeof(float) => new SingleDataFrameColumn(name, length),
        _ when type == typeof(decimal) => new DecimalDataFrameColumn(name, length),
        _ when type == typeof(short) => new Int16DataFrameColumn(name, length),
        _ when type == typeof(byte) => new ByteDataFrameColumn(name, length),
        _ when type == typeof(sbyte) => new SByteDataFrameColumn(name, length),
        _ when type == typeof(ushort) => new UInt16DataFrameColumn(name, length),
        _ when type == typeof(uint) => new UInt32DataFrameColumn(name, length),
        _ when type == typeof(ulong) => new UInt64DataFrameColumn(name, length),
        _ when type == typeof(char) => new CharDataFrameColumn(name, length),
        _ => throw new NotSupportedException($"Columns of {type.Name} are not supported; use a primitive type, DateTime or string."),
    };

    /// <summary>The values of a numeric column as doubles, missing values as NaN (as pandas counts them).</summary>
    public static double[] ToDoubles(DataFrameColumn column)
    {
        var values = new double[column.Length];
        switch (column)
        {
            case PrimitiveDataFrameColumn<double> doubles: Copy(doubles, values, v => v); break;
            case PrimitiveDataFrameColumn<long> longs: Copy(longs, values, v => v); break;
            case PrimitiveDataFrameColumn<int> ints: Copy(ints, values, v => v); break;
            case PrimitiveDataFrameColumn<float> floats: Copy(floats, values, v => v); break;
            default:
                for (long i = 0; i < values.Length; i++)
                    values[i] = column[i] is { } value ? Convert.ToDouble(value, System.Globalization.CultureInfo.InvariantCulture) : double.NaN;
                break;
        }
        return values;
    }

    // Reads the column's buffers directly: its indexer costs a buffer lookup and a null check per value.
    private static void Copy<T>(PrimitiveDataFrameColumn<T> column, double[] target, Func<T, double> convert) where T : unmanaged
    {
        var at = 0;
        foreach (var buffer in column.GetReadOnlyDataBuffers())
        {
            var span = buffer.Span;
            for (var i = 0; i < span.Length; i++) target[at + i] = convert(span[i]);
            at += span.Length;
        }
        if (column.NullCount == 0) return;
        for (long i = 0; i < target.Length; i++)
            if (!column.IsValid(i)) target[i] = double.NaN;
    }

    /// <summary>The partitions one after another, as one frame (a new frame; the partitions are left as they are).</summary>
    public static DataFrame Concat(IReadOnlyList<DataFrame> parts, FrameSchema? schema = null)
    {
        if (parts.Count == 0)
            return new DataFrame((schema?.Columns ?? []).Select(c => NewColumn(c.DataType, c.Name, 0)));
        if (parts.Count == 1) return parts[0].Clone();
        var first = parts[0];
        var total = parts.Sum(p => p.Rows.Count);
        var columns = new List<DataFrameColumn>();
        for (var c = 0; c < first.Columns.Count; c++)
        {
            var name = first.Columns[c].Name;
            var column = NewColumn(first.Columns[c].DataType, name, total);
            long at = 0;
            foreach (var part in parts)
            {
                var source = part.Columns[name];
                for (long i = 0; i < source.Length; i++) column[at + i] = source[i];
                at += source.Length;
            }
            columns.Add(column);
        }
        return new DataFrame(columns);
    }

    /// <summary>The rows of <paramref name="frame"/> where <paramref name="keep"/> is true.</summary>
    public static DataFrame Filter(DataFrame frame, bool[] keep)
    {
        var mask = new BooleanDataFrameColumn("keep", keep);
        return frame.Filter(mask);
    }

    /// <summary>The first <paramref name="rows"/> rows.</summary>
    public static DataFrame Take(DataFrame frame, long rows)
    {
        var keep = new bool[frame.Rows.Count];
        Array.Fill(keep, true, 0, (int)Math.Min(rows, keep.Length));
        return Filter(frame, keep);
    }
}
