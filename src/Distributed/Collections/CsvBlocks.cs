using System.Globalization;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text;
using Microsoft.Data.Analysis;
using nietras.SeparatedValues;

namespace Distributed.Collections;

/// <summary>How <see cref="DataFrames.ReadCsv"/> reads its files.</summary>
/// <example>
/// <code>
/// var options = new CsvOptions { Separator = ';', SampleRows = 10_000, ColumnTypes = new Dictionary&lt;string, Type&gt; { ["zip"] = typeof(string) } };
/// var frame = DataFrames.ReadCsv("/data/export-*.csv", options: options);
/// </code>
/// </example>
public sealed record CsvOptions
{
    /// <summary>The field separator (comma by default).</summary>
    /// <example>
    /// <code>
    /// var frame = DataFrames.ReadCsv("/data/table.tsv", options: new CsvOptions { Separator = '\t' });
    /// </code>
    /// </example>
    public char Separator { get; init; } = ',';

    /// <summary>How many rows at the start of the first file decide the column types.</summary>
    /// <example>
    /// <code>
    /// var frame = DataFrames.ReadCsv("/data/sparse.csv", options: new CsvOptions { SampleRows = 100_000 }); // a column empty at first
    /// </code>
    /// </example>
    public int SampleRows { get; init; } = 1_000;

    /// <summary>Whether a column whose sampled values all read as dates becomes a DateTime column (otherwise a string one).</summary>
    /// <example>
    /// <code>
    /// var frame = DataFrames.ReadCsv("/data/events.csv", options: new CsvOptions { InferDates = false }); // dates stay strings
    /// </code>
    /// </example>
    public bool InferDates { get; init; } = true;

    /// <summary>Types that override inference, by column name: long, double, bool, string or DateTime.</summary>
    /// <example>
    /// <code>
    /// var options = new CsvOptions { ColumnTypes = new Dictionary&lt;string, Type&gt; { ["id"] = typeof(string), ["score"] = typeof(double) } };
    /// var frame = DataFrames.ReadCsv("/data/scores.csv", options: options); // ids with leading zeros stay as written
    /// </code>
    /// </example>
    public IReadOnlyDictionary<string, Type>? ColumnTypes { get; init; }
}

/// <summary>A CSV file that cannot be read as the dataframe's blocks.</summary>
/// <example>
/// <code>
/// try { DataFrames.ReadCsv("/data/parts-*.csv"); }
/// catch (CsvFormatException e) { Console.WriteLine(e.Message); } // e.g. two files whose headers differ
/// </code>
/// </example>
public sealed class CsvFormatException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>
/// One partition of a CSV file: the rows that start in the byte range [<see cref="Start"/>,
/// <see cref="End"/>), parsed into the columns at <see cref="Indexes"/> of the header.
/// </summary>
internal sealed record CsvBlockRead(string Path, long Start, long End, long HeaderEnd, char Separator, int FieldCount,
    int[] Indexes, string[] Names, string[] Types);

/// <summary>
/// Splitting CSV files in byte blocks and parsing one block. A row belongs to the block its first
/// byte is in, so every block finds its first row after the first line break at or after its start
/// (minus one byte) and reads on past its end to finish its last row. A quoted field that holds a
/// line break would be cut in two by that search: such files are not supported.
/// </summary>
internal static class CsvBlocks
{
    private const int SampleBytes = 1 << 20;
    private static readonly Type[] Readable = [typeof(long), typeof(double), typeof(bool), typeof(string), typeof(DateTime)];

    /// <summary>The files a path or a glob in its file name (<c>data/part-*.csv</c>) names, in name order.</summary>
    public static IReadOnlyList<string> Files(string pathOrGlob)
    {
        var name = Path.GetFileName(pathOrGlob);
        if (name.IndexOfAny(['*', '?']) < 0)
            return File.Exists(pathOrGlob) ? [pathOrGlob] : throw new FileNotFoundException($"No CSV file at {pathOrGlob}.", pathOrGlob);
        var directory = Path.GetDirectoryName(pathOrGlob) is { Length: > 0 } d ? d : ".";
        var files = Directory.Exists(directory) ? Directory.GetFiles(directory, name).Order(StringComparer.Ordinal).ToList() : [];
        return files.Count > 0 ? files : throw new FileNotFoundException($"No CSV file matches {pathOrGlob}.", pathOrGlob);
    }

    /// <summary>The header of <paramref name="path"/> and the byte offset just past it.</summary>
    public static (string[] Names, long End) Header(string path, char separator)
    {
        using var stream = File.OpenRead(path);
        var end = LineEndAfter(stream, 0);
        if (end == 0) throw new CsvFormatException($"{path} is empty: a CSV file starts with a header line.");
        stream.Position = 0;
        var bytes = new byte[end];
        stream.ReadExactly(bytes);
        var line = Encoding.UTF8.GetString(bytes).TrimEnd('\r', '\n');
        using var reader = Sep.Reader(o => o with { Sep = new Sep(separator), HasHeader = true, Unescape = true }).FromText(line);
        return (reader.Header.ColNames.ToArray(), end);
    }

    /// <summary>The column types, from the first rows of <paramref name="path"/>: long, double, bool, DateTime, else string.</summary>
    public static Type[] InferTypes(string path, string[] header, CsvOptions options)
    {
        var types = new Type?[header.Length];
        var seen = new bool[header.Length];
        string text;
        using (var stream = File.OpenRead(path))
        {
            var bytes = new byte[(int)Math.Min(stream.Length, SampleBytes)];
            stream.ReadExactly(bytes);
            var length = bytes.Length;
            if (length < stream.Length) length = Array.LastIndexOf(bytes, (byte)'\n') + 1; // whole rows only
            text = Encoding.UTF8.GetString(bytes, 0, length);
        }
        using (var reader = Sep.Reader(o => o with { Sep = new Sep(options.Separator), HasHeader = true, Unescape = true, DisableColCountCheck = true }).FromText(text))
        {
            var rows = 0;
            foreach (var row in reader)
            {
                if (rows++ >= options.SampleRows) break;
                if (row.ColCount != header.Length) continue; // the block that holds it reports it
                for (var c = 0; c < header.Length; c++)
                {
                    var field = row[c].Span;
                    if (field.IsEmpty) continue;
                    seen[c] = true;
                    types[c] = Widen(types[c], field, options.InferDates);
                }
            }
        }
        var result = new Type[header.Length];
        for (var c = 0; c < header.Length; c++)
        {
            result[c] = seen[c] ? types[c]! : typeof(string);
            if (options.ColumnTypes?.TryGetValue(header[c], out var chosen) == true)
                result[c] = Readable.Contains(chosen) ? chosen : throw new ArgumentException($"Column '{header[c]}' cannot be read as {chosen.Name}; use long, double, bool, string or DateTime.");
        }
        return result;
    }

    // The narrowest type that reads every value so far: a long column becomes double when a value
    // has a fraction; anything that no type reads makes the column a string one.
    private static Type Widen(Type? current, ReadOnlySpan<char> field, bool dates)
    {
        bool IsLong(ReadOnlySpan<char> f) => long.TryParse(f, NumberStyles.Integer, CultureInfo.InvariantCulture, out _);
        bool IsDouble(ReadOnlySpan<char> f) => double.TryParse(f, NumberStyles.Float, CultureInfo.InvariantCulture, out _);
        bool IsBool(ReadOnlySpan<char> f) => bool.TryParse(f, out _);
        bool IsDate(ReadOnlySpan<char> f) => dates && f.Length >= 8 && f.IndexOfAny('-', ':') >= 0
            && DateTime.TryParse(f, CultureInfo.InvariantCulture, DateTimeStyles.RoundtripKind, out _);
        if (current == typeof(string)) return current;
        if (current is null) return IsLong(field) ? typeof(long) : IsDouble(field) ? typeof(double) : IsBool(field) ? typeof(bool) : IsDate(field) ? typeof(DateTime) : typeof(string);
        if (current == typeof(long)) return IsLong(field) ? current : IsDouble(field) ? typeof(double) : typeof(string);
        if (current == typeof(double)) return IsDouble(field) ? current : typeof(string);
        if (current == typeof(bool)) return IsBool(field) ? current : typeof(string);
        return IsDate(field) ? current : typeof(string);
    }

    /// <summary>The offset just past the first line break at or after <paramref name="position"/> (the end of the file if there is none).</summary>
    private static long LineEndAfter(Stream stream, long position)
    {
        stream.Position = position;
        var buffer = new byte[64 * 1024];
        while (true)
        {
            var read = stream.Read(buffer);
            if (read == 0) return stream.Length;
            var at = buffer.AsSpan(0, read).IndexOf((byte)'\n');
            if (at >= 0) return position + at + 1;
            position += read;
        }
    }

    /// <summary>Parses the rows that start in the block.</summary>
    public static DataFrame Read(CsvBlockRead block)
    {
        var builders = Parse(block, (type, _, rows) => ColumnBuilder.For(type, rows));
        return new DataFrame(builders.Select((b, c) => b.Build(block.Names[c])));
    }

    /// <summary>Parses the rows that start in the block into builders made by <paramref name="make"/> (type, column name, rows expected).</summary>
    // Optimized from the first call: a worker runs this few times, each a loop over a million rows.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static ColumnBuilder[] Parse(CsvBlockRead block, Func<Type, string, int, ColumnBuilder> make)
    {
        // Buffered: Sep's reader asks for small pieces, and unbuffered each was a system call that also
        // made Sep refill and shift its own buffer far more often (about half the parse time).
        using var stream = new FileStream(block.Path, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 1 << 16);
        var begin = block.Start == 0 ? block.HeaderEnd : Math.Max(block.HeaderEnd, LineEndAfter(stream, block.Start - 1));
        var stop = block.End >= stream.Length ? stream.Length : Math.Max(block.HeaderEnd, LineEndAfter(stream, block.End - 1));
        var rows = stop > begin ? EstimateRows(stream, begin, stop) : 0;
        var builders = block.Types.Select((t, c) => make(Type.GetType(t, throwOnError: true)!, block.Names[c], rows)).ToArray();
        if (stop > begin)
        {
            // Sep reads the byte range through its own small buffer: no block-sized array to allocate.
            stream.Position = begin;
            using var range = new RangeStream(stream, stop - begin);
            using var reader = Sep.Reader(o => o with { Sep = new Sep(block.Separator), HasHeader = false, Unescape = true, DisableColCountCheck = true })
                .From(range);
            var line = 0;
            var indexes = block.Indexes;
            foreach (var row in reader)
            {
                line++;
                if (row.ColCount != block.FieldCount)
                {
                    if (row.ColCount == 1 && row[0].Span.IsEmpty) continue; // a blank line
                    throw new CsvFormatException(
                        $"{block.Path}: row {line} of the block at byte {begin} has {row.ColCount} fields, the header {block.FieldCount}. " +
                        "Rows are split at line breaks, so quoted fields that contain line breaks are not supported.");
                }
                for (var c = 0; c < builders.Length; c++)
                {
                    try { builders[c].Add(row[indexes[c]]); }
                    catch (FormatException e)
                    {
                        throw new CsvFormatException(
                            $"{block.Path}: '{row[indexes[c]].ToString()}' in column '{block.Names[c]}' (row {line} of the block at byte {begin}) " +
                            $"is not a {block.Types[c]}; the type was inferred from the first rows, set CsvOptions.ColumnTypes to choose it.", e);
                    }
                }
            }
        }
        return builders;
    }

    // Rows in [begin, stop), guessed from the line breaks in its first 64 KiB (a little over, so the
    // builders rarely grow): growing column buffers by doubling copies them and leaves large garbage.
    private static int EstimateRows(FileStream stream, long begin, long stop)
    {
        var sample = new byte[(int)Math.Min(stop - begin, 64 * 1024)];
        stream.Position = begin;
        stream.ReadExactly(sample);
        var lines = Math.Max(1, sample.AsSpan().Count((byte)'\n'));
        return (int)Math.Min(int.MaxValue / 16, (stop - begin) * lines / sample.Length * 11 / 10 + 16);
    }

    /// <summary>The next <c>length</c> bytes of a stream, read-only (the stream is left open).</summary>
    private sealed class RangeStream(Stream inner, long length) : Stream
    {
        private long _left = length;

        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

        public override int Read(Span<byte> buffer)
        {
            if (_left <= 0) return 0;
            var read = inner.Read(buffer[..(int)Math.Min(buffer.Length, _left)]);
            _left -= read;
            return read;
        }

        public override void Flush() { }
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}

/// <summary>Collects the parsed values of one column of a block; empty fields become nulls.</summary>
internal abstract class ColumnBuilder
{
    /// <summary>A builder for values of <paramref name="type"/>, with room for about <paramref name="rows"/> values.</summary>
    public static ColumnBuilder For(Type type, int rows = 0) => type switch
    {
        _ when type == typeof(long) => new Primitive<long>(rows, f => long.Parse(f.Span, NumberStyles.Integer, CultureInfo.InvariantCulture), (n, v, b, l, z) => new Int64DataFrameColumn(n, v, b, l, z)),
        _ when type == typeof(double) => new Primitive<double>(rows, f => f.Parse<double>(), (n, v, b, l, z) => new DoubleDataFrameColumn(n, v, b, l, z)),
        _ when type == typeof(bool) => new Primitive<bool>(rows, f => bool.Parse(f.Span), (n, v, b, l, z) => new BooleanDataFrameColumn(n, v, b, l, z)),
        _ when type == typeof(DateTime) => new Primitive<DateTime>(rows, f => DateTime.Parse(f.Span, CultureInfo.InvariantCulture, DateTimeStyles.RoundtripKind), (n, v, b, l, z) => new DateTimeDataFrameColumn(n, v, b, l, z)),
        _ => new Text(rows),
    };

    public abstract void Add(SepReader.Col field);

    public abstract DataFrameColumn Build(string name);

    // Sep's own double parser is several times faster than double.Parse.
    private delegate T Parse<T>(SepReader.Col field);

    private delegate DataFrameColumn Create(string name, ReadOnlyMemory<byte> values, ReadOnlyMemory<byte> validity, int length, int nullCount);

    /// <summary>Values straight into the byte layout the column's buffer constructor takes: no second copy, no per-value append.</summary>
    private sealed class Primitive<T>(int rows, Parse<T> parse, Create create) : ColumnBuilder where T : unmanaged
    {
        // Capacity in whole validity bytes: 8 values per byte.
        private byte[] _values = new byte[Math.Max(4096, (rows + 7) & ~7) * Unsafe.SizeOf<T>()];
        private byte[] _validity = new byte[Math.Max(512, (rows + 7) / 8)];
        private int _count;
        private int _nulls;

        public override void Add(SepReader.Col field)
        {
            if (_count == _validity.Length * 8)
            {
                Array.Resize(ref _values, _values.Length * 2);
                Array.Resize(ref _validity, _validity.Length * 2);
            }
            if (field.Span.IsEmpty) _nulls++;
            else
            {
                MemoryMarshal.Cast<byte, T>(_values.AsSpan())[_count] = parse(field);
                _validity[_count >> 3] |= (byte)(1 << (_count & 7));
            }
            _count++;
        }

        public override DataFrameColumn Build(string name) =>
            create(name, _values.AsMemory(0, _count * Unsafe.SizeOf<T>()), _validity.AsMemory(0, (_count + 7) / 8), _count, _nulls);
    }

    private sealed class Text(int rows) : ColumnBuilder
    {
        // Columns such as categories repeat a few values: one string per distinct value, while there are few.
        private const int MaxDistinct = 4_096;
        private readonly HashSet<string> _distinct = new(StringComparer.Ordinal);
        private string?[] _values = new string?[Math.Max(16, rows)];
        private int _count;
        private HashSet<string>.AlternateLookup<ReadOnlySpan<char>> _lookup;
        private bool _hasLookup;

        public override void Add(SepReader.Col column)
        {
            if (_count == _values.Length) Array.Resize(ref _values, _values.Length * 2);
            var field = column.Span;
            if (field.IsEmpty) { _values[_count++] = null; return; }
            if (!_hasLookup) { _lookup = _distinct.GetAlternateLookup<ReadOnlySpan<char>>(); _hasLookup = true; } // once, not per value
            if (!_lookup.TryGetValue(field, out var value))
            {
                value = field.ToString();
                if (_distinct.Count < MaxDistinct) _distinct.Add(value);
            }
            _values[_count++] = value;
        }

        public override DataFrameColumn Build(string name) => new StringDataFrameColumn(name, new ArraySegment<string?>(_values, 0, _count)!);
    }

    /// <summary>
    /// A string key column as group numbers, for the group-by that reads a block straight into partial
    /// states: each row gets the number of its value in order of first appearance (-1 when empty), as
    /// grouping the parsed column would, and <see cref="Build"/> gives one row per distinct value.
    /// </summary>
    internal sealed class GroupCodes(int rows) : ColumnBuilder
    {
        private readonly Dictionary<string, int> _groups = new(StringComparer.Ordinal);
        private readonly List<string> _keys = [];
        private int[] _codes = new int[Math.Max(16, rows)];
        private Dictionary<string, int>.AlternateLookup<ReadOnlySpan<char>> _lookup;
        private bool _hasLookup;

        /// <summary>How many rows were added.</summary>
        public int Count { get; private set; }

        /// <summary>The group of each row (the array may be longer than <see cref="Count"/>).</summary>
        public int[] Codes => _codes;

        /// <summary>How many distinct values were seen.</summary>
        public int Groups => _keys.Count;

        public override void Add(SepReader.Col column)
        {
            if (Count == _codes.Length) Array.Resize(ref _codes, _codes.Length * 2);
            var field = column.Span;
            if (field.IsEmpty) { _codes[Count++] = -1; return; }
            if (!_hasLookup) { _lookup = _groups.GetAlternateLookup<ReadOnlySpan<char>>(); _hasLookup = true; }
            if (!_lookup.TryGetValue(field, out var group))
            {
                var key = field.ToString();
                group = _keys.Count;
                _groups.Add(key, group);
                _keys.Add(key);
            }
            _codes[Count++] = group;
        }

        public override DataFrameColumn Build(string name) => new StringDataFrameColumn(name, _keys);
    }
}
