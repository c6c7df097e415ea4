using System.Buffers.Binary;
using System.Net;
using System.Security.Cryptography;
using System.Text;

namespace Distributed.Protocol;

/// <summary>
/// Learns the address a center answers to, over a connection already open to it: Akka.Remote drops every
/// message addressed to any other host name or address than the one its node advertises, so a worker or
/// client that names the center otherwise (a host name, another of its addresses) would wait in vain.
/// The first step of Akka's own association protocol tells it: the connecting side sends ASSOCIATE with
/// its address, and the center answers ASSOCIATE with its own. This sends the first, reads the answer,
/// and says it is shutting down, so the center sees a short, well-formed association that carried no message.
/// Frames are Akka.Remote's: a 4-byte little-endian length, then an <c>AkkaProtocolMessage</c> (protobuf).
/// </summary>
public static class CenterIdentity
{
    private const int AssociateCommand = 1;
    /// <summary>DISASSOCIATE_SHUTTING_DOWN: the center takes it as a peer that left, not one that failed (no warning in its log).</summary>
    private const int ShuttingDownCommand = 4;

    /// <summary>Answers larger than this are not an association step (Akka's are a few dozen bytes).</summary>
    private const int MaxFrameBytes = 64 * 1024;

    /// <summary>
    /// The address the center on the other end of <paramref name="stream"/> answers to, or null when it
    /// answered something else (then nothing is known, and the caller goes on as before).
    /// </summary>
    /// <param name="stream">An open connection to the center's Akka port (inside TLS when the cluster has credentials).</param>
    /// <param name="secure">Whether the cluster speaks <c>akka.ssl.tcp</c>.</param>
    /// <param name="local">This end of the connection: the origin this side gives (no Akka node listens there).</param>
    /// <param name="cancellation">Ends the wait.</param>
    public static async Task<HostPort?> AskAsync(Stream stream, bool secure, IPEndPoint local, CancellationToken cancellation)
    {
        var uid = BinaryPrimitives.ReadUInt64LittleEndian(RandomNumberGenerator.GetBytes(8)) | 1;
        await stream.WriteAsync(AssociateFrame(secure, (local.Address.IsIPv4MappedToIPv6 ? local.Address.MapToIPv4() : local.Address).ToString(), local.Port, uid), cancellation).ConfigureAwait(false);
        await stream.FlushAsync(cancellation).ConfigureAwait(false);
        HostPort? answer = null;
        // The center's ASSOCIATE comes first; a heartbeat may follow, never before.
        for (var frames = 0; frames < 4 && answer is null; frames++)
        {
            var length = new byte[4];
            await stream.ReadExactlyAsync(length, cancellation).ConfigureAwait(false);
            var size = BinaryPrimitives.ReadInt32LittleEndian(length);
            if (size is < 0 or > MaxFrameBytes) return null;
            var frame = new byte[size];
            await stream.ReadExactlyAsync(frame, cancellation).ConfigureAwait(false);
            answer = OriginOfAssociate(frame);
        }
        try
        {
            await stream.WriteAsync(ControlFrame(ShuttingDownCommand, null), cancellation).ConfigureAwait(false);
            await stream.FlushAsync(cancellation).ConfigureAwait(false);
        }
        catch (IOException) { } // the answer is what mattered
        return answer;
    }

    /// <summary>The frame of an ASSOCIATE from <paramref name="host"/>:<paramref name="port"/> (length prefix included).</summary>
    public static byte[] AssociateFrame(bool secure, string host, int port, ulong uid)
    {
        var address = new ProtoWriter()
            .String(1, ClusterConfig.SystemName)
            .String(2, host)
            .Varint(3, (ulong)port)
            .String(4, secure ? "ssl.tcp" : "tcp"); // Akka writes the transport's scheme, without "akka."
        var handshake = new ProtoWriter().Message(1, address).Fixed64(2, uid);
        return ControlFrame(AssociateCommand, handshake);
    }

    private static byte[] ControlFrame(int command, ProtoWriter? handshake)
    {
        var control = new ProtoWriter().Varint(1, (ulong)command);
        if (handshake is not null) control.Message(2, handshake);
        var message = new ProtoWriter().Message(2, control).ToArray();
        var frame = new byte[4 + message.Length];
        BinaryPrimitives.WriteInt32LittleEndian(frame, message.Length);
        message.CopyTo(frame, 4);
        return frame;
    }

    /// <summary>The origin (host and port) of an ASSOCIATE message (without its length prefix), else null.</summary>
    public static HostPort? OriginOfAssociate(ReadOnlySpan<byte> message)
    {
        try
        {
            if (Field(message, 2) is not { } control) return null;
            if (VarintField(control.Span, 1) != AssociateCommand || Field(control.Span, 2) is not { } handshake) return null;
            if (Field(handshake.Span, 1) is not { } origin) return null;
            var host = Field(origin.Span, 2) is { } hostBytes ? Encoding.UTF8.GetString(hostBytes.Span) : null;
            var port = VarintField(origin.Span, 3);
            return host is { Length: > 0 } && port is > 0 and <= 65535 ? new HostPort(host, (int)port) : null;
        }
        catch (FormatException)
        {
            return null;
        }
    }

    /// <summary>The last length-delimited field <paramref name="number"/> of a protobuf message, or null.</summary>
    private static ReadOnlyMemory<byte>? Field(ReadOnlySpan<byte> message, int number)
    {
        ReadOnlyMemory<byte>? found = null;
        Scan(message, (field, wire, value, bytes) => { if (field == number && wire == 2) found = bytes; });
        return found;
    }

    private static ulong? VarintField(ReadOnlySpan<byte> message, int number)
    {
        ulong? found = null;
        Scan(message, (field, wire, value, _) => { if (field == number && wire == 0) found = value; });
        return found;
    }

    private delegate void FieldVisitor(int field, int wire, ulong value, ReadOnlyMemory<byte> bytes);

    private static void Scan(ReadOnlySpan<byte> message, FieldVisitor visit)
    {
        var position = 0;
        while (position < message.Length)
        {
            var key = ReadVarint(message, ref position);
            var field = (int)(key >> 3);
            var wire = (int)(key & 7);
            switch (wire)
            {
                case 0:
                    visit(field, wire, ReadVarint(message, ref position), ReadOnlyMemory<byte>.Empty);
                    break;
                case 1:
                    Need(message, position, 8);
                    visit(field, wire, BinaryPrimitives.ReadUInt64LittleEndian(message[position..]), ReadOnlyMemory<byte>.Empty);
                    position += 8;
                    break;
                case 2:
                    var length = ReadVarint(message, ref position);
                    if (length > (ulong)(message.Length - position)) throw new FormatException("a field runs past the end of the message");
                    visit(field, wire, length, message.Slice(position, (int)length).ToArray());
                    position += (int)length;
                    break;
                case 5:
                    Need(message, position, 4);
                    position += 4;
                    break;
                default:
                    throw new FormatException($"wire type {wire} is not one a message of Akka's protocol has");
            }
        }
    }

    private static void Need(ReadOnlySpan<byte> message, int position, int bytes)
    {
        if (message.Length - position < bytes) throw new FormatException("a field runs past the end of the message");
    }

    private static ulong ReadVarint(ReadOnlySpan<byte> message, ref int position)
    {
        ulong value = 0;
        for (var shift = 0; shift < 64; shift += 7)
        {
            if (position >= message.Length) throw new FormatException("a number runs past the end of the message");
            var b = message[position++];
            value |= (ulong)(b & 0x7F) << shift;
            if ((b & 0x80) == 0) return value;
        }
        throw new FormatException("a number longer than 10 bytes");
    }

    /// <summary>Writes the few protobuf fields an association step has.</summary>
    private sealed class ProtoWriter
    {
        private readonly List<byte> _bytes = [];

        public ProtoWriter Varint(int field, ulong value)
        {
            Key(field, 0);
            WriteVarint(value);
            return this;
        }

        public ProtoWriter Fixed64(int field, ulong value)
        {
            Key(field, 1);
            var bytes = new byte[8];
            BinaryPrimitives.WriteUInt64LittleEndian(bytes, value);
            _bytes.AddRange(bytes);
            return this;
        }

        public ProtoWriter String(int field, string value) => Bytes(field, Encoding.UTF8.GetBytes(value));

        public ProtoWriter Message(int field, ProtoWriter message) => Bytes(field, message.ToArray());

        public byte[] ToArray() => _bytes.ToArray();

        private ProtoWriter Bytes(int field, byte[] value)
        {
            Key(field, 2);
            WriteVarint((ulong)value.Length);
            _bytes.AddRange(value);
            return this;
        }

        private void Key(int field, int wire) => WriteVarint(((ulong)field << 3) | (uint)wire);

        private void WriteVarint(ulong value)
        {
            while (value >= 0x80)
            {
                _bytes.Add((byte)(value | 0x80));
                value >>= 7;
            }
            _bytes.Add((byte)value);
        }
    }
}
