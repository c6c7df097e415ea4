using Microsoft.Data.Analysis;

namespace Distributed.Collections;

/// <summary>The name and value type of one column of a <see cref="DistributedFrame"/>.</summary>
public sealed record FrameColumn(string Name, Type DataType);

/// <summary>The columns of a <see cref="DistributedFrame"/>, in order: what every partition holds.</summary>
public sealed class FrameSchema
{
    private readonly Dictionary<string, int> _index;

    /// <summary>A schema of <paramref name="columns"/>; names must be distinct.</summary>
    public FrameSchema(IEnumerable<FrameColumn> columns)
    {
        Columns = columns.ToList();
        _index = new Dictionary<string, int>(StringComparer.Ordinal);
        for (var i = 0; i < Columns.Count; i++)
            if (!_index.TryAdd(Columns[i].Name, i))
                throw new ArgumentException($"The column name '{Columns[i].Name}' appears twice.", nameof(columns));
    }

    /// <summary>The schema of <paramref name="frame"/>'s columns.</summary>
    public static FrameSchema Of(DataFrame frame) => new(frame.Columns.Select(c => new FrameColumn(c.Name, c.DataType)));

    /// <summary>The columns, in order.</summary>
    public IReadOnlyList<FrameColumn> Columns { get; }

    /// <summary>The column names, in order.</summary>
    public IReadOnlyList<string> Names => Columns.Select(c => c.Name).ToList();

    /// <summary>Whether a column is named <paramref name="name"/>.</summary>
    public bool Contains(string name) => _index.ContainsKey(name);

    /// <summary>The value type of column <paramref name="name"/>.</summary>
    public Type TypeOf(string name) => Columns[IndexOf(name)].DataType;

    /// <summary>The position of column <paramref name="name"/>; throws a message listing the columns when there is none.</summary>
    public int IndexOf(string name) => _index.TryGetValue(name, out var at)
        ? at
        : throw new ArgumentException($"No column '{name}'; the columns are {string.Join(", ", Columns.Select(c => c.Name))}.", nameof(name));

    /// <summary>Whether column <paramref name="name"/> holds numbers (what Describe and Sum/Mean/Std/Var read).</summary>
    public bool IsNumeric(string name) => Frames.IsNumeric(TypeOf(name));

    /// <inheritdoc />
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
