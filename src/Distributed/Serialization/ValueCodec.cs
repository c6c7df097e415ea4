using System.Runtime.InteropServices;
using System.Text;
using Hyperion;

namespace Distributed.Serialization;

/// <summary>
/// Encodes user values (arguments and results) as bytes. Arrays of primitive numbers and strings are
/// copied raw, since they are the bulk of the data and Hyperion would walk them element by element;
/// everything else goes through Hyperion with reference preservation (closures are cyclic graphs).
/// </summary>
public sealed class ValueCodec
{
    private enum Format : byte { Hyperion = 0, Doubles = 1, Singles = 2, Int32s = 3, Int64s = 4, Bytes = 5, Text = 6, Null = 7 }

    private readonly Serializer _serializer = new(SerializerOptions.Default.WithVersionTolerance(true).WithPreserveObjectReferences(true));

    /// <summary>Encodes <paramref name="value"/>; throws <see cref="UnserializableValueException"/> for values that cannot travel.</summary>
    public byte[] Encode(object? value)
    {
        switch (value)
        {
            case null: return [(byte)Format.Null];
            case double[] d: return Raw(Format.Doubles, MemoryMarshal.AsBytes(d.AsSpan()));
            case float[] f: return Raw(Format.Singles, MemoryMarshal.AsBytes(f.AsSpan()));
            case int[] i: return Raw(Format.Int32s, MemoryMarshal.AsBytes(i.AsSpan()));
            case long[] l: return Raw(Format.Int64s, MemoryMarshal.AsBytes(l.AsSpan()));
            case byte[] b: return Raw(Format.Bytes, b);
            case string s:
                {
                    var bytes = new byte[1 + Encoding.UTF8.GetByteCount(s)];
                    bytes[0] = (byte)Format.Text;
                    Encoding.UTF8.GetBytes(s, bytes.AsSpan(1));
                    return bytes;
                }
        }
        SerializabilityGuard.Check(value);
        using var stream = new MemoryStream();
        stream.WriteByte((byte)Format.Hyperion);
        try
        {
            _serializer.Serialize(value, stream);
        }
        catch (Exception e) when (e is not UnserializableValueException)
        {
            throw new UnserializableValueException(value.GetType(), e.Message, e);
        }
        return stream.ToArray();
    }

    /// <summary>Decodes bytes made by <see cref="Encode"/>.</summary>
    public object? Decode(ReadOnlySpan<byte> bytes)
    {
        if (bytes.Length == 0) throw new InvalidDataException("An encoded value is empty.");
        var payload = bytes[1..];
        switch ((Format)bytes[0])
        {
            case Format.Null: return null;
            case Format.Doubles: return MemoryMarshal.Cast<byte, double>(payload).ToArray();
            case Format.Singles: return MemoryMarshal.Cast<byte, float>(payload).ToArray();
            case Format.Int32s: return MemoryMarshal.Cast<byte, int>(payload).ToArray();
            case Format.Int64s: return MemoryMarshal.Cast<byte, long>(payload).ToArray();
            case Format.Bytes: return payload.ToArray();
            case Format.Text: return Encoding.UTF8.GetString(payload);
            case Format.Hyperion:
                {
                    using var stream = new MemoryStream(payload.ToArray(), writable: false);
                    return _serializer.Deserialize(stream);
                }
            default: throw new InvalidDataException($"Unknown value format {bytes[0]}.");
        }
    }

    /// <summary>Decodes a value held in a byte array without copying the array first.</summary>
    public object? Decode(byte[] bytes)
    {
        if (bytes.Length > 0 && bytes[0] == (byte)Format.Hyperion)
        {
            using var stream = new MemoryStream(bytes, 1, bytes.Length - 1, writable: false);
            return _serializer.Deserialize(stream);
        }
        return Decode((ReadOnlySpan<byte>)bytes);
    }

    private static byte[] Raw(Format format, ReadOnlySpan<byte> data)
    {
        var bytes = GC.AllocateUninitializedArray<byte>(data.Length + 1);
        bytes[0] = (byte)format;
        data.CopyTo(bytes.AsSpan(1));
        return bytes;
    }
}

/// <summary>A value (a captured variable, an argument or a result) that cannot be sent to another process.</summary>
public sealed class UnserializableValueException(Type type, string reason, Exception? inner = null)
    : Exception($"A value of type {type.FullName} cannot be serialized: {reason}", inner)
{
    /// <summary>The type that cannot travel.</summary>
    public Type OffendingType { get; } = type;
}
