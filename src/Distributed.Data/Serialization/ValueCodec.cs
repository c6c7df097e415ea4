using System.Runtime.CompilerServices;
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
            case double[] d: return Raw(Format.Doubles, d);
            case float[] f: return Raw(Format.Singles, f);
            case int[] i: return Raw(Format.Int32s, i);
            case long[] l: return Raw(Format.Int64s, l);
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
    /// Encodes <paramref name="value"/> as a stored value of type <paramref name="typeName"/>: one buffer,
    /// as <see cref="Encode"/> makes it, except an array of primitive numbers longer than
    /// <paramref name="chunkBytes"/> encoded, which is copied into chunks (it may pass 2 GiB, which no
    /// byte array holds). Throws <see cref="UnserializableValueException"/> for values that cannot travel.
    /// </summary>
    public StoredValue EncodeValue(object? value, string typeName, int chunkBytes = StoredValue.MaxChunkBytes)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(chunkBytes, 2);
        if (RawArray(value) is not ({ } array, var format, var elementBytes) || 1 + array.LongLength * elementBytes <= chunkBytes)
            return new StoredValue(Encode(value), typeName);
        var length = 1 + array.LongLength * elementBytes;
        var chunks = new byte[(length + chunkBytes - 1) / chunkBytes][];
        ref var data = ref MemoryMarshal.GetArrayDataReference(array);
        long copied = 0; // bytes of the array copied so far
        for (var i = 0; i < chunks.Length; i++)
        {
            var chunk = chunks[i] = GC.AllocateUninitializedArray<byte>((int)Math.Min(chunkBytes, length - (long)i * chunkBytes));
            var at = 0;
            if (i == 0) chunk[at++] = (byte)format;
            var take = chunk.Length - at;
            MemoryMarshal.CreateReadOnlySpan(ref Unsafe.AddByteOffset(ref data, (nint)copied), take).CopyTo(chunk.AsSpan(at));
            copied += take;
        }
        return new StoredValue(chunks, chunkBytes, length, typeName, pool: null);
    }

    /// <summary>Decodes a stored value made by <see cref="EncodeValue"/> (or <see cref="Encode"/>): one buffer as it is, chunks without joining them first.</summary>
    public object? Decode(StoredValue value)
    {
        ArgumentNullException.ThrowIfNull(value);
        if (value.IsSingleChunk) return Decode(value.Memory);
        var format = (Format)value.Chunk(0).Span[0];
        switch (format)
        {
            // Values of these formats reach chunks only between 1 and 2 GiB (one array held them when encoded): read through the chunks.
            case Format.Hyperion: return _serializer.Deserialize(new ChunkReadStream(value, start: 1));
            case Format.Frame: return DecodeFrame(new ChunkReadStream(value, start: 1));
            case Format.Text when value.Length - 1 <= Array.MaxLength:
                {
                    var bytes = GC.AllocateUninitializedArray<byte>((int)(value.Length - 1));
                    new ChunkReadStream(value, start: 1).ReadExactly(bytes);
                    return Encoding.UTF8.GetString(bytes);
                }
        }
        var elementBytes = format switch
        {
            Format.Doubles or Format.Int64s => 8,
            Format.Singles or Format.Int32s => 4,
            Format.Bytes => 1,
            _ => throw new InvalidDataException($"A value of format {format} is {value.Length:N0} bytes, in {value.ChunkCount} chunks: too long for its format."),
        };
        var payloadBytes = value.Length - 1;
        if (payloadBytes % elementBytes != 0) throw new InvalidDataException($"An encoded {format} array of {payloadBytes} bytes is not a whole number of {elementBytes}-byte elements.");
        var count = payloadBytes / elementBytes;
        if (count > Array.MaxLength) throw new InvalidDataException($"An encoded {format} array of {count:N0} elements is longer than an array may be.");
        Array array = format switch
        {
            Format.Doubles => GC.AllocateUninitializedArray<double>((int)count),
            Format.Int64s => GC.AllocateUninitializedArray<long>((int)count),
            Format.Singles => GC.AllocateUninitializedArray<float>((int)count),
            Format.Int32s => GC.AllocateUninitializedArray<int>((int)count),
            _ => GC.AllocateUninitializedArray<byte>((int)count),
        };
        ref var data = ref MemoryMarshal.GetArrayDataReference(array);
        long copied = 0;
        foreach (var chunk in value.Chunks)
        {
            var bytes = copied == 0 ? chunk.Span[1..] : chunk.Span;
            bytes.CopyTo(MemoryMarshal.CreateSpan(ref Unsafe.AddByteOffset(ref data, (nint)copied), bytes.Length));
            copied += bytes.Length;
        }
        return array;
    }

    /// <summary>An array whose elements are copied raw, with its format and element size; null for any other value.</summary>
    private static (Array Array, Format Format, int ElementBytes)? RawArray(object? value) => value switch
    {
        double[] d => (d, Format.Doubles, sizeof(double)),
        float[] f => (f, Format.Singles, sizeof(float)),
        int[] i => (i, Format.Int32s, sizeof(int)),
        long[] l => (l, Format.Int64s, sizeof(long)),
        byte[] b => (b, Format.Bytes, 1),
        _ => null,
    };

    /// <summary>
    /// The length <see cref="Encode"/> gives <paramref name="value"/> when it is an array of numbers or
    /// bytes that one buffer holds (at most <see cref="StoredValue.MaxChunkBytes"/>), which
    /// <see cref="EncodeInto"/> writes straight into memory of the caller's (a shared segment); null for
    /// every other value, and for longer arrays (those are chunks: <see cref="EncodeValue"/>).
    /// </summary>
    public static int? RawEncodedLength(object? value) =>
        RawArray(value) is ({ } array, _, var elementBytes) && 1 + array.LongLength * elementBytes is var length && length <= StoredValue.MaxChunkBytes
            ? (int)length : null;

    /// <summary>Writes what <see cref="Encode"/> makes of a value that has a <see cref="RawEncodedLength"/> into <paramref name="destination"/>, exactly that long.</summary>
    public static void EncodeInto(object value, Span<byte> destination)
    {
        if (RawEncodedLength(value) is not { } length || RawArray(value) is not ({ } array, var format, _))
            throw new ArgumentException($"A {value.GetType()} is not encoded as raw bytes in one buffer.", nameof(value));
        if (destination.Length != length) throw new ArgumentException($"The destination holds {destination.Length} bytes, not {length}.", nameof(destination));
        destination[0] = (byte)format;
        MemoryMarshal.CreateReadOnlySpan(ref MemoryMarshal.GetArrayDataReference(array), length - 1).CopyTo(destination[1..]);
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

    private static Microsoft.Data.Analysis.DataFrame DecodeFrame(Stream stream)
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

    private static byte[] Raw<T>(Format format, T[] array) where T : unmanaged
    {
        if ((long)array.Length * Unsafe.SizeOf<T>() >= Array.MaxLength)
            throw new InvalidOperationException($"An array of {array.LongLength * Unsafe.SizeOf<T>():N0} bytes is too long for one buffer: encode it with {nameof(EncodeValue)}, in chunks.");
        var data = MemoryMarshal.AsBytes(array.AsSpan());
        var bytes = GC.AllocateUninitializedArray<byte>(data.Length + 1);
        bytes[0] = (byte)format;
        data.CopyTo(bytes.AsSpan(1));
        return bytes;
    }
}

/// <summary>A stored value's bytes from <c>start</c> on, read chunk by chunk as one seekable stream (its length known, so decoders bound what they allocate).</summary>
internal sealed class ChunkReadStream(StoredValue value, long start) : Stream
{
    private readonly long _start = start;
    private long _position = start;
    private int _chunk;
    private long _chunkStart; // the value's offset of chunk _chunk

    public override bool CanRead => true;
    public override bool CanSeek => true;
    public override bool CanWrite => false;
    public override long Length => value.Length - _start;

    public override long Position
    {
        get => _position - _start;
        set => Seek(value, SeekOrigin.Begin);
    }

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public override int Read(Span<byte> buffer)
    {
        var read = 0;
        while (read < buffer.Length && _position < value.Length)
        {
            var chunk = value.Chunk(_chunk).Span;
            while (_position >= _chunkStart + chunk.Length)
            {
                _chunkStart += chunk.Length;
                chunk = value.Chunk(++_chunk).Span;
            }
            var from = chunk[(int)(_position - _chunkStart)..];
            var take = Math.Min(from.Length, buffer.Length - read);
            from[..take].CopyTo(buffer[read..]);
            read += take;
            _position += take;
        }
        return read;
    }

    public override long Seek(long offset, SeekOrigin origin)
    {
        var target = origin switch
        {
            SeekOrigin.Begin => _start + offset,
            SeekOrigin.Current => _position + offset,
            _ => value.Length + offset,
        };
        ArgumentOutOfRangeException.ThrowIfLessThan(target, _start, nameof(offset));
        _position = target;
        _chunk = 0;
        _chunkStart = 0;
        return _position - _start;
    }

    public override void Flush() { }
    public override void SetLength(long value) => throw new NotSupportedException();
    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
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
