using System.Runtime.InteropServices;
using Distributed.Protocol;
using Microsoft.Data.Analysis;

namespace Distributed.Data.Serialization;

/// <summary>
/// Encodes a Microsoft.Data.Analysis <see cref="DataFrame"/> column by column: primitive columns as
/// their raw values and a validity bitmap, string columns as length-prefixed UTF-8. Dataframe
/// partitions are the bulk of what a dataframe graph moves, and Hyperion would walk them value by
/// value through the column's buffer objects.
/// </summary>
internal static class FrameCodec
{
    private enum Kind : byte
    {
        Boolean = 1, Byte, SByte, Char, Int16, UInt16, Int32, UInt32, Int64, UInt64, Single, Double, Decimal, DateTime, String,
    }

    private static readonly Dictionary<Type, Kind> Kinds = new()
    {
        [typeof(bool)] = Kind.Boolean, [typeof(byte)] = Kind.Byte, [typeof(sbyte)] = Kind.SByte, [typeof(char)] = Kind.Char,
        [typeof(short)] = Kind.Int16, [typeof(ushort)] = Kind.UInt16, [typeof(int)] = Kind.Int32, [typeof(uint)] = Kind.UInt32,
        [typeof(long)] = Kind.Int64, [typeof(ulong)] = Kind.UInt64, [typeof(float)] = Kind.Single, [typeof(double)] = Kind.Double,
        [typeof(decimal)] = Kind.Decimal, [typeof(DateTime)] = Kind.DateTime, [typeof(string)] = Kind.String,
    };

    private static readonly HashSet<Type> ColumnClasses =
    [
        typeof(BooleanDataFrameColumn), typeof(ByteDataFrameColumn), typeof(SByteDataFrameColumn), typeof(CharDataFrameColumn),
        typeof(Int16DataFrameColumn), typeof(UInt16DataFrameColumn), typeof(Int32DataFrameColumn), typeof(UInt32DataFrameColumn),
        typeof(Int64DataFrameColumn), typeof(UInt64DataFrameColumn), typeof(SingleDataFrameColumn), typeof(DoubleDataFrameColumn),
        typeof(DecimalDataFrameColumn), typeof(DateTimeDataFrameColumn), typeof(StringDataFrameColumn),
    ];

    /// <summary>Whether every column is one this codec writes (the typed primitive columns and strings); others go through Hyperion.</summary>
    public static bool CanEncode(DataFrame frame) => frame.Columns.All(c => ColumnClasses.Contains(c.GetType()));

    public static void Write(BinaryWriter writer, DataFrame frame)
    {
        writer.Write(frame.Columns.Count);
        foreach (var column in frame.Columns)
        {
            writer.Write(column.Name);
            writer.Write((byte)Kinds[column.DataType]);
            writer.Write(checked((int)column.Length));
            writer.Write(checked((int)column.NullCount));
            WriteValidity(writer, column);
            switch (column)
            {
                case StringDataFrameColumn text:
                    for (long i = 0; i < text.Length; i++)
                        if (text[i] is { } value) writer.Write(value);
                    break;
                case PrimitiveDataFrameColumn<bool> c: WriteValues(writer, c); break;
                case PrimitiveDataFrameColumn<byte> c: WriteValues(writer, c); break;
                case PrimitiveDataFrameColumn<sbyte> c: WriteValues(writer, c); break;
                case PrimitiveDataFrameColumn<char> c: WriteValues(writer, c); break;
                case PrimitiveDataFrameColumn<short> c: WriteValues(writer, c); break;
                case PrimitiveDataFrameColumn<ushort> c: WriteValues(writer, c); break;
                case PrimitiveDataFrameColumn<int> c: WriteValues(writer, c); break;
                case PrimitiveDataFrameColumn<uint> c: WriteValues(writer, c); break;
                case PrimitiveDataFrameColumn<long> c: WriteValues(writer, c); break;
                case PrimitiveDataFrameColumn<ulong> c: WriteValues(writer, c); break;
                case PrimitiveDataFrameColumn<float> c: WriteValues(writer, c); break;
                case PrimitiveDataFrameColumn<double> c: WriteValues(writer, c); break;
                case PrimitiveDataFrameColumn<decimal> c: WriteValues(writer, c); break;
                case PrimitiveDataFrameColumn<DateTime> c: WriteValues(writer, c); break;
                default: throw new NotSupportedException($"Column '{column.Name}' of {column.GetType().Name} cannot be encoded.");
            }
        }
    }

    /// <summary>Reads a frame written by <see cref="Write"/>; every count and length is checked against what the bytes can hold.</summary>
    public static DataFrame Read(WireReader reader)
    {
        var count = reader.ReadCount("columns", minItemBytes: 10);
        var columns = new List<DataFrameColumn>(count);
        for (var c = 0; c < count; c++)
        {
            var name = reader.ReadString("a column's name");
            var kind = (Kind)reader.ReadByte("a column's kind");
            var length = reader.ReadCount($"the rows of column '{name}'", minItemBytes: 0);
            var nullCount = reader.ReadInt32($"the null count of column '{name}'");
            if (nullCount < 0 || nullCount > length)
                throw new WireFormatException($"Column '{name}' claims {nullCount} nulls in {length} rows.");
            var validity = reader.ReadBytes((length + 7) / 8, $"the validity of column '{name}'");
            columns.Add(kind switch
            {
                Kind.String => ReadText(reader, name, length, validity),
                Kind.Boolean => new BooleanDataFrameColumn(name, Values<bool>(reader, name, length), validity, length, nullCount),
                Kind.Byte => new ByteDataFrameColumn(name, Values<byte>(reader, name, length), validity, length, nullCount),
                Kind.SByte => new SByteDataFrameColumn(name, Values<sbyte>(reader, name, length), validity, length, nullCount),
                Kind.Char => new CharDataFrameColumn(name, Values<char>(reader, name, length), validity, length, nullCount),
                Kind.Int16 => new Int16DataFrameColumn(name, Values<short>(reader, name, length), validity, length, nullCount),
                Kind.UInt16 => new UInt16DataFrameColumn(name, Values<ushort>(reader, name, length), validity, length, nullCount),
                Kind.Int32 => new Int32DataFrameColumn(name, Values<int>(reader, name, length), validity, length, nullCount),
                Kind.UInt32 => new UInt32DataFrameColumn(name, Values<uint>(reader, name, length), validity, length, nullCount),
                Kind.Int64 => new Int64DataFrameColumn(name, Values<long>(reader, name, length), validity, length, nullCount),
                Kind.UInt64 => new UInt64DataFrameColumn(name, Values<ulong>(reader, name, length), validity, length, nullCount),
                Kind.Single => new SingleDataFrameColumn(name, Values<float>(reader, name, length), validity, length, nullCount),
                Kind.Double => new DoubleDataFrameColumn(name, Values<double>(reader, name, length), validity, length, nullCount),
                Kind.Decimal => new DecimalDataFrameColumn(name, Values<decimal>(reader, name, length), validity, length, nullCount),
                Kind.DateTime => new DateTimeDataFrameColumn(name, Values<DateTime>(reader, name, length), validity, length, nullCount),
                _ => throw new WireFormatException($"Unknown column kind {(byte)kind} in an encoded frame."),
            });
        }
        return new DataFrame(columns);
    }

    // The bitmap of the column's own layout (bit i set: row i has a value), the one its buffer constructor takes.
    private static void WriteValidity(BinaryWriter writer, DataFrameColumn column)
    {
        var bitmap = new byte[(column.Length + 7) / 8];
        if (column.NullCount == 0) bitmap.AsSpan().Fill(0xFF);
        else
            for (long i = 0; i < column.Length; i++)
                if (column.IsValid(i)) bitmap[i >> 3] |= (byte)(1 << (int)(i & 7));
        writer.Write(bitmap);
    }

    private static void WriteValues<T>(BinaryWriter writer, PrimitiveDataFrameColumn<T> column) where T : unmanaged
    {
        foreach (var buffer in column.GetReadOnlyDataBuffers()) writer.Write(MemoryMarshal.AsBytes(buffer.Span));
    }

    private static byte[] Values<T>(WireReader reader, string name, int length) where T : unmanaged =>
        reader.ReadBytes((int)Math.Min(int.MaxValue, (long)length * System.Runtime.CompilerServices.Unsafe.SizeOf<T>()), $"the values of column '{name}'");

    private static StringDataFrameColumn ReadText(WireReader reader, string name, int length, byte[] validity)
    {
        var values = new string?[length];
        for (var i = 0; i < length; i++)
            if ((validity[i >> 3] & (1 << (i & 7))) != 0) values[i] = reader.ReadString($"a value of column '{name}'");
        return new StringDataFrameColumn(name, values);
    }
}
