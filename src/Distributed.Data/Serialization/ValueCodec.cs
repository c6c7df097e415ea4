using System.Runtime.InteropServices;
using System.Text;
using Distributed.Protocol;
using Hyperion;

namespace Distributed.Data.Serialization;

/// <summary>
/// Encodes user values (arguments and results) as bytes. Arrays of primitive numbers and strings are
/// copied raw, since they are the bulk of the data and Hyperion would walk them element by element;
/// so are Microsoft.Data.Analysis dataframes of such columns (<see cref="FrameCodec"/>);
/// everything else goes through Hyperion with reference preservation (closures are cyclic graphs).
/// </summary>
public sealed class ValueCodec
{
    private enum Format : byte
    {
        Hyperion = 0, Doubles = 1, Singles = 2, Int32s = 3, Int64s = 4, Bytes = 5, Text = 6, Null = 7,
        Int32 = 8, Int64 = 9, Double = 10, Single = 11, Boolean = 12, Frame = 13,
    }

    private readonly Serializer _serializer = new(SerializerOptions.Default
        .WithVersionTolerance(true)
        .WithPreserveObjectReferences(true)
        // C# puts every captured variable of a scope in one closure object, so a lambda that does not
        // use the pool may still capture it: it travels as nothing rather than failing the task.
        .WithSurrogates([Surrogate.Create<IProcessLocal, DetachedPool>(_ => DetachedPool.Instance, _ => null!)]));

    /// <summary>Encodes <paramref name="value"/>; throws <see cref="UnserializableValueException"/> for values that cannot travel.</summary>
    public byte[] Encode(object? value)
    {
        switch (value)
        {
            case null: return [(byte)Format.Null];
            // Scalars are the arguments and results of most small tasks: a tag and the raw bytes.
            case int v: return Scalar(Format.Int32, v);
            case long v: return Scalar(Format.Int64, v);
            case double v: return Scalar(Format.Double, v);
            case float v: return Scalar(Format.Single, v);
            case bool v: return [(byte)Format.Boolean, v ? (byte)1 : (byte)0];
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
            case Microsoft.Data.Analysis.DataFrame frame when FrameCodec.CanEncode(frame):
                {
                    using var encoded = new MemoryStream();
                    encoded.WriteByte((byte)Format.Frame);
                    using (var writer = new BinaryWriter(encoded, Encoding.UTF8, leaveOpen: true)) FrameCodec.Write(writer, frame);
                    return encoded.ToArray();
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

    /// <summary>
    /// The length <see cref="Encode"/> gives <paramref name="value"/> when it is an array of numbers or
    /// bytes, which <see cref="EncodeInto"/> writes straight into memory of the caller's (a shared
    /// segment); null for every other value.
    /// </summary>
    public static int? RawEncodedLength(object? value) => value switch
    {
        double[] d => RawLength(d.Length, sizeof(double)),
        float[] f => RawLength(f.Length, sizeof(float)),
        int[] i => RawLength(i.Length, sizeof(int)),
        long[] l => RawLength(l.Length, sizeof(long)),
        byte[] b => RawLength(b.Length, 1),
        _ => null,
    };

    /// <summary>Writes what <see cref="Encode"/> makes of a value that has a <see cref="RawEncodedLength"/> into <paramref name="destination"/>, exactly that long.</summary>
    public static void EncodeInto(object value, Span<byte> destination)
    {
        switch (value)
        {
            case double[] d: Write(Format.Doubles, MemoryMarshal.AsBytes(d.AsSpan()), destination); break;
            case float[] f: Write(Format.Singles, MemoryMarshal.AsBytes(f.AsSpan()), destination); break;
            case int[] i: Write(Format.Int32s, MemoryMarshal.AsBytes(i.AsSpan()), destination); break;
            case long[] l: Write(Format.Int64s, MemoryMarshal.AsBytes(l.AsSpan()), destination); break;
            case byte[] b: Write(Format.Bytes, b, destination); break;
            default: throw new ArgumentException($"A {value.GetType()} is not encoded as raw bytes.", nameof(value));
        }

        static void Write(Format format, ReadOnlySpan<byte> data, Span<byte> destination)
        {
            if (destination.Length != data.Length + 1) throw new ArgumentException($"The destination holds {destination.Length} bytes, not {data.Length + 1}.", nameof(destination));
            destination[0] = (byte)format;
            data.CopyTo(destination[1..]);
        }
    }

    /// <summary>A tag and the elements' bytes, or null past what one buffer holds.</summary>
    private static int? RawLength(int elements, int size)
    {
        var length = 1 + (long)elements * size;
        return length <= Array.MaxLength ? (int)length : null;
    }

    /// <summary>Decodes bytes made by <see cref="Encode"/>.</summary>
    public object? Decode(ReadOnlySpan<byte> bytes)
    {
        if (bytes.Length == 0) throw new InvalidDataException("An encoded value is empty.");
        var payload = bytes[1..];
        switch ((Format)bytes[0])
        {
            case Format.Null: return null;
            case Format.Int32: return MemoryMarshal.Read<int>(payload);
            case Format.Int64: return MemoryMarshal.Read<long>(payload);
            case Format.Double: return MemoryMarshal.Read<double>(payload);
            case Format.Single: return MemoryMarshal.Read<float>(payload);
            case Format.Boolean: return payload[0] != 0;
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
            case Format.Frame:
                return DecodeFrame(new MemoryStream(payload.ToArray(), writable: false));
            default: throw new InvalidDataException($"Unknown value format {bytes[0]}.");
        }
    }

    /// <summary>Decodes a value held in a byte array without copying the array first.</summary>
    public object? Decode(byte[] bytes) => Decode(new ReadOnlyMemory<byte>(bytes));

    /// <summary>Decodes a value held in memory (a stored value's, say) without copying it first.</summary>
    public object? Decode(ReadOnlyMemory<byte> bytes)
    {
        if (MemoryMarshal.TryGetArray(bytes, out var array) && array.Count > 0 && array[0] is (byte)Format.Hyperion or (byte)Format.Frame)
        {
            using var stream = new MemoryStream(array.Array!, array.Offset + 1, array.Count - 1, writable: false);
            return array[0] == (byte)Format.Hyperion ? _serializer.Deserialize(stream) : DecodeFrame(stream);
        }
        return Decode(bytes.Span);
    }

    private static Microsoft.Data.Analysis.DataFrame DecodeFrame(MemoryStream stream)
    {
        try
        {
            return FrameCodec.Read(new WireReader(stream, WireLimits.Default));
        }
        catch (Exception e) when (e is not WireFormatException and not OutOfMemoryException)
        {
            throw new WireFormatException($"An encoded dataframe does not decode: {e.Message}", e);
        }
    }

    private static byte[] Scalar<T>(Format format, T value) where T : unmanaged
    {
        var bytes = new byte[1 + System.Runtime.CompilerServices.Unsafe.SizeOf<T>()];
        bytes[0] = (byte)format;
        MemoryMarshal.Write(bytes.AsSpan(1), in value);
        return bytes;
    }

    private static byte[] Raw(Format format, ReadOnlySpan<byte> data)
    {
        var bytes = GC.AllocateUninitializedArray<byte>(data.Length + 1);
        bytes[0] = (byte)format;
        data.CopyTo(bytes.AsSpan(1));
        return bytes;
    }
}

/// <summary>What an <see cref="IProcessLocal"/> (a <c>Pool</c>) captured in a closure becomes on the workers: nothing usable.</summary>
public sealed class DetachedPool
{
    /// <summary>The only instance.</summary>
    public static DetachedPool Instance { get; } = new();
}

/// <summary>A value (a captured variable, an argument or a result) that cannot be sent to another process.</summary>
public sealed class UnserializableValueException(Type type, string reason, Exception? inner = null)
    : Exception($"A value of type {type.FullName} cannot be serialized: {reason}", inner)
{
    /// <summary>The type that cannot travel.</summary>
    public Type OffendingType { get; } = type;
}
