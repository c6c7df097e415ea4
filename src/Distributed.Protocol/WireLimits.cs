using System.Runtime.Serialization;
using System.Text;
using Akka.Configuration;

namespace Distributed.Protocol;

/// <summary>
/// The most a decoder accepts of anything it reads off the wire (Akka frames of our protocol, executor
/// frames, encoded dataframes), checked before anything is allocated for it. A count or length is also
/// bounded by the bytes left in its frame where the frame's size is known, so no input makes a decoder
/// allocate much more than it was sent. Set in HOCON under <c>distributed.wire</c>.
/// </summary>
public sealed class WireLimits
{
    /// <summary>The HOCON path of the limits.</summary>
    public const string ConfigPath = "distributed.wire";

    /// <summary>Creates limits; every one must be positive. <paramref name="maxValueBytes"/> 0 means the memory this process may use.</summary>
    public WireLimits(int maxCount, int maxStringBytes, int maxBytes, long maxValueBytes = 0)
    {
        if (maxCount <= 0 || maxStringBytes <= 0 || maxBytes <= 0 || maxValueBytes < 0)
            throw new ArgumentOutOfRangeException(nameof(maxCount), $"Wire limits must be positive (got max-count {maxCount}, max-string-bytes {maxStringBytes}, max-bytes {maxBytes}, max-value-bytes {maxValueBytes}).");
        MaxCount = maxCount;
        MaxStringBytes = maxStringBytes;
        MaxBytes = maxBytes;
        MaxValueBytes = maxValueBytes == 0 ? GC.GetGCMemoryInfo().TotalAvailableMemoryBytes : maxValueBytes;
    }

    /// <summary>The defaults: generous for real traffic (a batch of a million tasks, a 1 GiB value) and far below what would exhaust a process.</summary>
    public static WireLimits Default { get; } = new(maxCount: 4_000_000, maxStringBytes: 1 << 20, maxBytes: 1 << 30);

    /// <summary>The most entries of any list in one frame (tasks, keys, holders, columns, rows).</summary>
    public int MaxCount { get; }

    /// <summary>The most UTF-8 bytes of one string (a key, a type name, an error's stack trace).</summary>
    public int MaxStringBytes { get; }

    /// <summary>The most bytes of one byte field (a function's payload, a task's arguments).</summary>
    public int MaxBytes { get; }

    /// <summary>
    /// The most bytes of one stored value between a worker and its executors (read in chunks, so it may
    /// pass 2 GiB); by default the memory this process may use, since the value is held in memory.
    /// </summary>
    public long MaxValueBytes { get; }

    /// <summary>The limits under <see cref="ConfigPath"/> in <paramref name="config"/>, each missing one at its default.</summary>
    public static WireLimits From(Config config)
    {
        var section = config.GetConfig(ConfigPath);
        if (section is null || section.IsEmpty) return Default;
        return new WireLimits(
            section.GetInt("max-count", Default.MaxCount),
            (int)Math.Min(int.MaxValue, section.GetByteSize("max-string-bytes") ?? Default.MaxStringBytes),
            (int)Math.Min(int.MaxValue, section.GetByteSize("max-bytes") ?? Default.MaxBytes),
            section.GetByteSize("max-value-bytes") ?? Default.MaxValueBytes);
    }
}

/// <summary>
/// A frame that does not decode: a count or length out of bounds, a truncated field, an unknown tag.
/// It is a <see cref="SerializationException"/> so that Akka.Remote drops the one message with a log line
/// (it does so for serialization errors) instead of failing the connection; the executor socket closes.
/// </summary>
public sealed class WireFormatException(string message, Exception? inner = null) : SerializationException(message, inner);

/// <summary>
/// Reads the fields of one frame, bounding every count and length by <see cref="WireLimits"/> and, when
/// the stream can tell its length, by the bytes left, before allocating anything for them. Every failure
/// is a <see cref="WireFormatException"/> naming the field, except that the stream's own I/O errors
/// (a closed socket) pass through.
/// </summary>
#pragma warning disable CA1001 // its BinaryReader leaves the stream open, so disposing it would release nothing
public sealed class WireReader
#pragma warning restore CA1001
{
    private readonly Stream _stream;
    private readonly BinaryReader _reader;
    private readonly bool _knowsLength;

    /// <summary>Reads <paramref name="stream"/> (left open) within <paramref name="limits"/>.</summary>
    public WireReader(Stream stream, WireLimits limits)
    {
        _stream = stream;
        _reader = new BinaryReader(stream, Encoding.UTF8, leaveOpen: true);
        _knowsLength = stream.CanSeek;
        Limits = limits;
    }

    /// <summary>The limits this reader enforces.</summary>
    public WireLimits Limits { get; }

    /// <summary>The bytes left in the frame, or <see cref="long.MaxValue"/> when the stream cannot tell (a socket).</summary>
    public long Remaining => _knowsLength ? _stream.Length - _stream.Position : long.MaxValue;

    /// <summary>Reads a 32-bit count of items each at least <paramref name="minItemBytes"/> long.</summary>
    public int ReadCount(string what, int minItemBytes = 1) => CheckCount(Field(what, _reader.ReadInt32), what, minItemBytes);

    /// <summary>Reads a count written as a 7-bit encoded integer.</summary>
    public int Read7BitCount(string what, int minItemBytes = 1) => CheckCount(Field(what, _reader.Read7BitEncodedInt), what, minItemBytes);

    /// <summary>Reads a length-prefixed UTF-8 string (the <see cref="BinaryWriter.Write(string)"/> format).</summary>
    public string ReadString(string what)
    {
        var length = Field(what, _reader.Read7BitEncodedInt);
        if (length < 0 || length > Limits.MaxStringBytes || length > Remaining)
            throw new WireFormatException($"The string {what} claims {length} bytes; at most {Math.Min(Limits.MaxStringBytes, Remaining)} are allowed here.");
        if (length == 0) return "";
        var bytes = ReadExactly(length, what);
        return Encoding.UTF8.GetString(bytes);
    }

    /// <summary>Reads bytes whose length came first as a 7-bit encoded integer.</summary>
    public byte[] Read7BitBytes(string what) => ReadBytes(Field(what, _reader.Read7BitEncodedInt), what);

    /// <summary>Reads bytes whose length came first as a 32-bit integer.</summary>
    public byte[] ReadInt32Bytes(string what) => ReadBytes(Field(what, _reader.ReadInt32), what);

    /// <summary>Reads exactly <paramref name="length"/> bytes, a length read from the wire and not yet checked.</summary>
    public byte[] ReadBytes(int length, string what)
    {
        if (length < 0 || length > Limits.MaxBytes || length > Remaining)
            throw new WireFormatException($"The bytes of {what} claim a length of {length}; at most {Math.Min(Limits.MaxBytes, Remaining)} are allowed here.");
        return length == 0 ? [] : ReadExactly(length, what);
    }

    /// <summary>Reads a stored value's 64-bit length, checked against <see cref="WireLimits.MaxValueBytes"/> and the bytes left.</summary>
    public long ReadValueLength(string what)
    {
        var length = Field(what, _reader.ReadInt64);
        if (length < 0 || length > Limits.MaxValueBytes || length > Remaining)
            throw new WireFormatException($"The bytes of {what} claim a length of {length}; at most {Math.Min(Limits.MaxValueBytes, Remaining)} are allowed here.");
        return length;
    }

    /// <summary>The stream read, for fields read in chunks of their own (a stored value's bytes, after <see cref="ReadValueLength"/>).</summary>
    internal Stream Stream => _stream;

    /// <summary>Reads a byte.</summary>
    public byte ReadByte(string what) => Field(what, _reader.ReadByte);

    /// <summary>Reads a boolean written as one byte (0 or 1; anything else is malformed).</summary>
    public bool ReadBoolean(string what) => Field(what, _reader.ReadByte) switch
    {
        0 => false,
        1 => true,
        var other => throw new WireFormatException($"The flag {what} is {other}; expected 0 or 1."),
    };

    /// <summary>Reads a 32-bit integer.</summary>
    public int ReadInt32(string what) => Field(what, _reader.ReadInt32);

    /// <summary>Reads a 64-bit integer.</summary>
    public long ReadInt64(string what) => Field(what, _reader.ReadInt64);

    /// <summary>Reads a 7-bit encoded 32-bit integer.</summary>
    public int Read7BitInt32(string what) => Field(what, _reader.Read7BitEncodedInt);

    /// <summary>Reads a 7-bit encoded 64-bit integer.</summary>
    public long Read7BitInt64(string what) => Field(what, _reader.Read7BitEncodedInt64);

    /// <summary>Throws unless the whole frame was read: trailing bytes mean the frame is not what it claims.</summary>
    public void ExpectEnd(string frame)
    {
        if (_knowsLength && Remaining != 0) throw new WireFormatException($"The {frame} frame has {Remaining} bytes after its last field.");
    }

    /// <summary>The capacity to give a list of <paramref name="count"/> checked items: no more than a few pages up front.</summary>
    public static int InitialCapacity(int count) => Math.Min(count, 1024);

    private int CheckCount(int count, string what, int minItemBytes)
    {
        if (count < 0 || count > Limits.MaxCount || (long)count * minItemBytes > Remaining)
            throw new WireFormatException($"The count of {what} is {count}; at most {Math.Min(Limits.MaxCount, Remaining / Math.Max(1, minItemBytes))} fit here.");
        return count;
    }

    // A length read from a socket is bounded by the limits only, so the bytes are read in pieces: a lying
    // length costs what was actually sent, not what it claims.
    private byte[] ReadExactly(int length, string what)
    {
        const int Piece = 1 << 20;
        if (_knowsLength || length <= Piece)
        {
            var bytes = GC.AllocateUninitializedArray<byte>(length);
            Field(what, () => { _stream.ReadExactly(bytes); return 0; });
            return bytes;
        }
        using var collected = new MemoryStream(Piece);
        var buffer = new byte[Piece];
        for (var left = length; left > 0;)
        {
            var take = Math.Min(left, Piece);
            Field(what, () => { _stream.ReadExactly(buffer, 0, take); return 0; });
            collected.Write(buffer, 0, take);
            left -= take;
        }
        return collected.ToArray();
    }

    private static T Field<T>(string what, Func<T> read)
    {
        try
        {
            return read();
        }
        catch (EndOfStreamException e)
        {
            throw new WireFormatException($"The frame ends inside {what}.", e);
        }
        catch (FormatException e)
        {
            throw new WireFormatException($"The field {what} is malformed: {e.Message}", e);
        }
    }
}
