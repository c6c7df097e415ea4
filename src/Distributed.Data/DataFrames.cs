using System.Buffers;
using System.Buffers.Binary;
using System.Text;

namespace Distributed.Data;

/// <summary>
/// The data channel's wire format. A connection starts with the peer's kind (one byte), then carries
/// requests one after the other, each a frame: op (one byte), payload length (int32), payload.
/// <code>
///   'G' count (key-length key-bytes)*   → per key: found (0|1) [type-length type-bytes value-length(int64) value-bytes]
///   'S' (empty)                          → stats-length stats (see <see cref="EncodeStats"/>)
///   'P' scatter-id(int64) count (key-length key-bytes type-length type-bytes value-length(int64))*
///       then, after the frame, the values' bytes one after the other
///                                        → stored (0) | refused (1) reason-length reason-bytes
///   'R' a task handed over to run directly: see <see cref="DirectFrames"/>
///   'H' host-identity(24) count (key-length key-bytes)*
///                                        → as 'G', but a value in a shared segment may be answered, when the
///                                          requester's host identity is the holder's, as a reference:
///                                          2 type-length type-bytes value-length(int64) reference (see <see cref="WriteReference"/>)
///   'D' (empty)                          → no answer: the references this connection was given are copied;
///                                          the holder lets their values go (as it does when the connection closes)
/// </code>
/// Only a worker asks with 'H' (a requester that asks with 'G' never sees a reference), and it answers
/// every 'H' that was answered with a reference by a 'D' once it has copied them.
/// A Put's frame holds only the keys and lengths; the values follow it, each read as its bytes arrive,
/// so that a length that lies costs the bytes actually sent, not what it claims.
/// Integers are little-endian int32/int64, strings UTF-8 with an int32 length. Every count and length
/// is checked, against its configured maximum and against what the frame still holds, before anything
/// is allocated for it; a frame that fails a check is a <see cref="DataFrameException"/>.
/// </summary>
internal static class DataFrames
{
    public const byte Get = (byte)'G';
    public const byte Stats = (byte)'S';
    public const byte Put = (byte)'P';
    public const byte Run = (byte)'R';
    public const byte GetShared = (byte)'H';
    public const byte Release = (byte)'D';

    /// <summary>A Get answer's entry: the value is not held.</summary>
    public const byte EntryMissing = 0;

    /// <summary>A Get answer's entry: the value's bytes follow.</summary>
    public const byte EntryBytes = 1;

    /// <summary>A GetShared answer's entry: a reference to the shared segment holding the value follows.</summary>
    public const byte EntryReference = 2;

    /// <summary>A Put's answer: the values are stored (and reported to the center).</summary>
    public const byte PutStored = 0;

    /// <summary>A Put's answer: the values were refused, with a reason.</summary>
    public const byte PutRefused = 1;

    /// <summary>Op and payload length.</summary>
    public const int HeaderBytes = 5;

    /// <summary>Strict: a key that is not valid UTF-8 is a bad frame, not a key with replacement characters.</summary>
    public static readonly UTF8Encoding Utf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    /// <summary>The peer kind a connection opens with.</summary>
    public static PeerKind ParseKind(int value) => value switch
    {
        (int)PeerKind.Client => PeerKind.Client,
        (int)PeerKind.Worker => PeerKind.Worker,
        _ => throw new DataFrameException($"unknown peer kind 0x{value:x2}"),
    };

    /// <summary>Checks a request's op and payload length, before the payload is read.</summary>
    public static void CheckRequestHeader(byte op, int length, DataChannelSettings settings)
    {
        if (op != Get && op != Stats && op != Put && op != Run && op != GetShared && op != Release) throw new DataFrameException($"unknown request 0x{op:x2}");
        if (length < 0) throw new DataFrameException($"request length {length} is negative");
        if (length > settings.MaxRequestBytes) throw new DataFrameException($"request length {length} exceeds the limit of {settings.MaxRequestBytes} bytes");
        if (op == Stats && length != 0) throw new DataFrameException($"a stats request carries no payload, this one {length} bytes");
        if (op == Release && length != 0) throw new DataFrameException($"a release carries no payload, this one {length} bytes");
    }

    /// <summary>The requester's host identity and the keys of a GetShared request's payload.</summary>
    public static (HostIdentity Requester, string[] Keys) ParseGetShared(ReadOnlySpan<byte> payload, DataChannelSettings settings)
    {
        if (payload.Length < HostIdentity.WireBytes) throw new DataFrameException($"a shared get of {payload.Length} bytes is shorter than its host identity");
        return (HostIdentity.Read(payload), ParseGet(payload[HostIdentity.WireBytes..], settings));
    }

    /// <summary>Writes a reference's fields (after its entry's tag, type name and value length).</summary>
    public static void WriteReference(SegmentReference reference, Span<byte> destination)
    {
        BinaryPrimitives.WriteInt32LittleEndian(destination, reference.ProcessId);
        BinaryPrimitives.WriteInt64LittleEndian(destination[4..], reference.ProcessStartTime);
        BinaryPrimitives.WriteInt32LittleEndian(destination[12..], reference.Descriptor);
        BinaryPrimitives.WriteUInt64LittleEndian(destination[16..], reference.Inode);
        BinaryPrimitives.WriteUInt64LittleEndian(destination[24..], reference.Device);
        if (!reference.BootId.TryWriteBytes(destination[32..])) throw new ArgumentException("Too short for a reference.", nameof(destination));
    }

    /// <summary>
    /// Reads a reference's fields for a value of <paramref name="length"/> bytes, checking what can be checked
    /// without opening anything: a segment holds one buffer (at most 2 GiB) of a length the requester accepts,
    /// a pid and a descriptor are never negative. Whether they name the right file is <see cref="SameHost.TryCopy"/>'s to check.
    /// </summary>
    public static SegmentReference ParseReference(ReadOnlySpan<byte> fields, long length, DataChannelSettings settings)
    {
        if (fields.Length != SegmentReference.WireBytes) throw new DataFrameException($"a reference is {SegmentReference.WireBytes} bytes, not {fields.Length}");
        CheckLength("referenced value length", length, Math.Min(settings.MaxValueBytes, int.MaxValue));
        if (length == 0) throw new DataFrameException("a reference to an empty value");
        var processId = BinaryPrimitives.ReadInt32LittleEndian(fields);
        var startTime = BinaryPrimitives.ReadInt64LittleEndian(fields[4..]);
        var descriptor = BinaryPrimitives.ReadInt32LittleEndian(fields[12..]);
        if (processId <= 0) throw new DataFrameException($"a reference names the process {processId}");
        if (startTime < 0) throw new DataFrameException($"a reference names a process started at {startTime}");
        if (descriptor < 0) throw new DataFrameException($"a reference names the descriptor {descriptor}");
        return new SegmentReference(processId, startTime, descriptor, BinaryPrimitives.ReadUInt64LittleEndian(fields[16..]),
            BinaryPrimitives.ReadUInt64LittleEndian(fields[24..]), new Guid(fields.Slice(32, 16)), (int)length);
    }

    /// <summary>The keys of a Get request's payload.</summary>
    public static string[] ParseGet(ReadOnlySpan<byte> payload, DataChannelSettings settings)
    {
        var reader = new SpanReader(payload);
        var count = reader.ReadCount("key count", settings.MaxKeysPerRequest, minimumBytesEach: sizeof(int));
        var keys = new string[count];
        for (var i = 0; i < keys.Length; i++) keys[i] = reader.ReadString("key", settings.MaxKeyBytes);
        reader.ExpectEnd();
        return keys;
    }

    /// <summary>
    /// The scatter id and the entries of a Put request's payload. Each value's length is checked against
    /// <see cref="DataChannelSettings.MaxValueBytes"/>, and so is their sum: a Put never announces more
    /// than a fetcher would accept in one answer.
    /// </summary>
    public static (long ScatterId, PutEntry[] Entries) ParsePut(ReadOnlySpan<byte> payload, DataChannelSettings settings)
    {
        var reader = new SpanReader(payload);
        var scatterId = reader.ReadInt64();
        var count = reader.ReadCount("value count", settings.MaxKeysPerRequest, minimumBytesEach: 2 * sizeof(int) + sizeof(long));
        var entries = new PutEntry[count];
        var keys = new HashSet<string>(count, StringComparer.Ordinal);
        long total = 0;
        for (var i = 0; i < entries.Length; i++)
        {
            var key = reader.ReadString("key", settings.MaxKeyBytes);
            if (key.Length == 0) throw new DataFrameException("a put names an empty key");
            if (!keys.Add(key)) throw new DataFrameException($"a put names the key {Shortened(key)} twice");
            var typeName = reader.ReadString("type name", settings.MaxTypeNameBytes);
            var length = CheckLength("value length", reader.ReadInt64(), settings.MaxValueBytes);
            total += length; // each at most MaxValueBytes, at most 65,536 of them: no overflow
            CheckLength("total length of a put's values", total, settings.MaxValueBytes);
            entries[i] = new PutEntry(key, typeName, length);
        }
        reader.ExpectEnd();
        return (scatterId, entries);
    }

    /// <summary>
    /// Writes a Put request's frame for <paramref name="entries"/> (not their values, which follow it);
    /// throws <see cref="ArgumentException"/> when it breaks a limit the server checks.
    /// </summary>
    public static void EncodePut(long scatterId, IReadOnlyList<PutEntry> entries, DataChannelSettings settings, Stream output)
    {
        if (entries.Count > settings.MaxKeysPerRequest)
            throw new ArgumentException($"A put carries at most {settings.MaxKeysPerRequest} values, not {entries.Count}.", nameof(entries));
        using var payload = new MemoryStream();
        Span<byte> number = stackalloc byte[sizeof(long)];
        BinaryPrimitives.WriteInt64LittleEndian(number, scatterId);
        payload.Write(number);
        BinaryPrimitives.WriteInt32LittleEndian(number, entries.Count);
        payload.Write(number[..sizeof(int)]);
        long total = 0;
        foreach (var entry in entries)
        {
            WriteString(payload, entry.Key, settings.MaxKeyBytes, "key");
            WriteString(payload, entry.TypeName, settings.MaxTypeNameBytes, "type name");
            total += entry.Length;
            if (entry.Length < 0 || total > settings.MaxValueBytes)
                throw new ArgumentException($"The values of a put come to more than the {settings.MaxValueBytes} bytes a worker accepts at once.", nameof(entries));
            BinaryPrimitives.WriteInt64LittleEndian(number, entry.Length);
            payload.Write(number);
        }
        if (payload.Length > settings.MaxRequestBytes)
            throw new ArgumentException($"The keys and type names of a put come to {payload.Length} bytes, more than the {settings.MaxRequestBytes} of one request.", nameof(entries));
        Span<byte> header = stackalloc byte[HeaderBytes];
        header[0] = Put;
        BinaryPrimitives.WriteInt32LittleEndian(header[1..], (int)payload.Length);
        output.Write(header);
        output.Write(payload.GetBuffer(), 0, (int)payload.Length);
    }

    private static void WriteString(Stream output, string text, int limit, string what)
    {
        var bytes = Utf8.GetBytes(text);
        if (bytes.Length > limit) throw new ArgumentException($"The {what} {Shortened(text)} is longer than {limit} bytes.");
        Span<byte> length = stackalloc byte[sizeof(int)];
        BinaryPrimitives.WriteInt32LittleEndian(length, bytes.Length);
        output.Write(length);
        output.Write(bytes);
    }

    /// <summary>A key as a message quotes it: its first 64 characters.</summary>
    public static string Shortened(string key) => key.Length <= 64 ? key : key[..64] + "…";

    /// <summary>
    /// Writes Get requests for <paramref name="keys"/> to <paramref name="output"/>, as many frames as the
    /// limits need; the answers come in the same order, one entry per key.
    /// </summary>
    public static void EncodeGet(IReadOnlyList<string> keys, DataChannelSettings settings, Stream output) => EncodeGet(keys, settings, output, null);

    /// <summary>
    /// As <see cref="EncodeGet(IReadOnlyList{string}, DataChannelSettings, Stream)"/>; with <paramref name="requester"/>,
    /// GetShared requests that carry it (a holder on the same host may answer with references).
    /// </summary>
    public static void EncodeGet(IReadOnlyList<string> keys, DataChannelSettings settings, Stream output, HostIdentity? requester)
    {
        var prefix = requester is null ? 0 : HostIdentity.WireBytes;
        var start = 0;
        while (true)
        {
            // Sizes first, so that a frame never exceeds what the server accepts.
            var bytes = prefix + sizeof(int);
            var end = start;
            while (end < keys.Count && end - start < settings.MaxKeysPerRequest)
            {
                var keyBytes = Utf8.GetByteCount(keys[end]);
                if (keyBytes > settings.MaxKeyBytes) throw new ArgumentException($"The key {keys[end][..Math.Min(64, keys[end].Length)]}… is longer than {settings.MaxKeyBytes} bytes.");
                if (bytes + sizeof(int) + keyBytes > settings.MaxRequestBytes && end > start) break;
                bytes += sizeof(int) + keyBytes;
                end++;
            }
            var frame = ArrayPool<byte>.Shared.Rent(HeaderBytes + bytes);
            try
            {
                frame[0] = requester is null ? Get : GetShared;
                BinaryPrimitives.WriteInt32LittleEndian(frame.AsSpan(1), bytes);
                requester?.Write(frame.AsSpan(HeaderBytes));
                BinaryPrimitives.WriteInt32LittleEndian(frame.AsSpan(HeaderBytes + prefix), end - start);
                var at = HeaderBytes + prefix + sizeof(int);
                for (var i = start; i < end; i++)
                {
                    var written = Utf8.GetBytes(keys[i], frame.AsSpan(at + sizeof(int)));
                    BinaryPrimitives.WriteInt32LittleEndian(frame.AsSpan(at), written);
                    at += sizeof(int) + written;
                }
                output.Write(frame, 0, at);
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(frame);
            }
            start = end;
            if (start >= keys.Count) return;
        }
    }

    /// <summary>The payload of a stats answer.</summary>
    public static byte[] EncodeStats(WorkerTransferStats stats)
    {
        using var buffer = new MemoryStream();
        using (var w = new BinaryWriter(buffer, Utf8, leaveOpen: true))
        {
            w.Write(stats.SentToWorkers); w.Write(stats.SentToClients); w.Write(stats.ReceivedFromWorkers);
            w.Write(stats.KeyCount); w.Write(stats.StoredBytes);
            w.Write(stats.AssembliesReceived.Count);
            foreach (var assembly in stats.AssembliesReceived)
            {
                var bytes = Utf8.GetBytes(assembly);
                w.Write(bytes.Length);
                w.Write(bytes);
            }
            w.Write(stats.PeakKeyCount); w.Write(stats.MemoryLimit); w.Write(stats.InMemoryBytes); w.Write(stats.SpilledBytes);
            w.Write(stats.SpilledCount); w.Write(stats.ReadsFromDisk); w.Write(stats.CancelledBeforeStart);
            w.Write(stats.ExecutorsStarted); w.Write(stats.SpareExecutorsTaken); w.Write(stats.PeakTasksInFlight); w.Write(stats.TasksRun); w.Write(stats.TasksTakenDirectly);
            w.Write(stats.InputBytesShared); w.Write(stats.InputBytesCopied); w.Write(stats.ResultBytesShared); w.Write(stats.ResultBytesCopied); w.Write(stats.SharedSegmentsInUse);
            w.Write(stats.ReceivedThroughSharedMemory); w.Write(stats.SentThroughSharedMemory);
        }
        return buffer.ToArray();
    }

    /// <summary>Reads the payload of a stats answer.</summary>
    public static WorkerTransferStats ParseStats(ReadOnlySpan<byte> payload, DataChannelSettings settings)
    {
        var r = new SpanReader(payload);
        var (toWorkers, toClients, fromWorkers, keys, bytes) = (r.ReadInt64(), r.ReadInt64(), r.ReadInt64(), r.ReadInt32(), r.ReadInt64());
        var assemblies = new string[r.ReadCount("assembly count", settings.MaxKeysPerRequest, minimumBytesEach: sizeof(int))];
        for (var i = 0; i < assemblies.Length; i++) assemblies[i] = r.ReadString("assembly name", settings.MaxKeyBytes);
        var stats = new WorkerTransferStats(toWorkers, toClients, fromWorkers, keys, bytes, assemblies, r.ReadInt32(),
            MemoryLimit: r.ReadInt64(), InMemoryBytes: r.ReadInt64(), SpilledBytes: r.ReadInt64(), SpilledCount: r.ReadInt32(), ReadsFromDisk: r.ReadInt64(),
            CancelledBeforeStart: r.ReadInt64(), ExecutorsStarted: r.ReadInt64(), SpareExecutorsTaken: r.ReadInt64(), PeakTasksInFlight: r.ReadInt32(), TasksRun: r.ReadInt64(),
            TasksTakenDirectly: r.ReadInt64(),
            InputBytesShared: r.ReadInt64(), InputBytesCopied: r.ReadInt64(), ResultBytesShared: r.ReadInt64(), ResultBytesCopied: r.ReadInt64(), SharedSegmentsInUse: r.ReadInt32(),
            ReceivedThroughSharedMemory: r.ReadInt64(), SentThroughSharedMemory: r.ReadInt64());
        r.ExpectEnd();
        return stats;
    }

    /// <summary>Checks a length read from the wire against its limit.</summary>
    public static int CheckLength(string what, int length, int limit)
    {
        if (length < 0) throw new DataFrameException($"{what} {length} is negative");
        if (length > limit) throw new DataFrameException($"{what} {length} exceeds the limit of {limit}");
        return length;
    }

    /// <summary>Checks a 64-bit length read from the wire against its limit.</summary>
    public static long CheckLength(string what, long length, long limit)
    {
        if (length < 0) throw new DataFrameException($"{what} {length} is negative");
        if (length > limit) throw new DataFrameException($"{what} {length} exceeds the limit of {limit}");
        return length;
    }

    /// <summary>Reads a frame's payload, every read checked against what is left of it.</summary>
    private ref struct SpanReader(ReadOnlySpan<byte> payload)
    {
        private readonly ReadOnlySpan<byte> _payload = payload;
        private int _at;

        private readonly int Left => _payload.Length - _at;

        private ReadOnlySpan<byte> Take(int bytes, string what)
        {
            if (bytes > Left) throw new DataFrameException($"{what} needs {bytes} bytes, the frame has {Left} left");
            var span = _payload.Slice(_at, bytes);
            _at += bytes;
            return span;
        }

        public int ReadInt32() => BinaryPrimitives.ReadInt32LittleEndian(Take(sizeof(int), "an int32"));

        public long ReadInt64() => BinaryPrimitives.ReadInt64LittleEndian(Take(sizeof(long), "an int64"));

        /// <summary>A count, bounded by its limit and by how many items of at least <paramref name="minimumBytesEach"/> the frame can still hold.</summary>
        public int ReadCount(string what, int limit, int minimumBytesEach)
        {
            var count = CheckLength(what, ReadInt32(), limit);
            if (count > Left / minimumBytesEach) throw new DataFrameException($"{what} {count} cannot fit in the {Left} bytes left of the frame");
            return count;
        }

        public string ReadString(string what, int limit)
        {
            var length = CheckLength($"{what} length", ReadInt32(), limit);
            var bytes = Take(length, what);
            try { return Utf8.GetString(bytes); }
            catch (DecoderFallbackException) { throw new DataFrameException($"a {what} is not valid UTF-8"); }
        }

        public readonly void ExpectEnd()
        {
            if (Left != 0) throw new DataFrameException($"{Left} bytes follow the end of the request");
        }
    }
}

/// <summary>One value a Put announces: its key, its type's name, and how many of its bytes follow the frame.</summary>
internal sealed record PutEntry(string Key, string TypeName, long Length);

/// <summary>A data-channel frame that breaks the format or a limit; the connection it came on is closed.</summary>
/// <remarks>An <see cref="IOException"/>: a peer that sends one is, for a fetch, as good as unreachable.</remarks>
public sealed class DataFrameException(string message) : IOException(message);
