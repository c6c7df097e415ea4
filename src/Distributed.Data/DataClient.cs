using System.Buffers;
using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;
using Distributed.Protocol;
using Distributed.Protocol.Hosting;
using Distributed.Protocol.Security;

namespace Distributed.Data;

/// <summary>
/// Fetches values from workers' data servers, keeping idle connections for reuse (a round trip on an
/// open loopback connection costs tens of microseconds; opening one, with TLS, much more).
/// </summary>
/// <remarks>
/// With credentials every connection is mutual TLS and the server must be a member of the same
/// cluster; without, plain TCP (loopback only). Every count and length in an answer is checked
/// against <see cref="DataChannelSettings"/> before anything is allocated for it: a bad answer closes
/// that connection with one log line and fails the fetch as an <see cref="IOException"/>
/// (<see cref="DataFrameException"/>), as an unreachable worker does.
/// </remarks>
public sealed class DataClient : IDisposable
{
    /// <summary>The buffer answers are read through; values larger than it go straight into their array.</summary>
    private const int ReadBufferBytes = 1 << 16;

    private readonly ConcurrentDictionary<DataEndpoint, ConcurrentBag<Connection>> _idle = new();
    private readonly PeerKind _kind;
    private readonly TransferCounters? _counters;
    private readonly DataChannelSettings _settings;
    private readonly SslStreamCertificateContext? _certificate;
    private readonly Action<string> _log;
    private readonly ValueBufferPool? _buffers;
    private volatile bool _disposed;

    /// <summary>Holders whose references could not be followed from here (another machine, user or container, or an older worker): asked for bytes.</summary>
    private readonly ConcurrentDictionary<DataEndpoint, byte> _noReferences = new();

    /// <summary>A client that opens its connections as <paramref name="kind"/>.</summary>
    /// <param name="kind">Who fetches: a worker or a client.</param>
    /// <param name="counters">Where bytes fetched from workers are counted (workers only).</param>
    /// <param name="credentials">The cluster's credentials: with them every connection is mutual TLS; without, plain TCP.</param>
    /// <param name="settings">The limits answers are checked against.</param>
    /// <param name="log">Where bad answers are reported (default: standard error).</param>
    /// <param name="buffers">Where values are read into (a worker's store's pool, so that its memory is reused); without, each value gets an array of its own.</param>
    public DataClient(PeerKind kind, TransferCounters? counters = null, ClusterCredentials? credentials = null,
        DataChannelSettings? settings = null, Action<string>? log = null, ValueBufferPool? buffers = null)
    {
        _buffers = buffers;
        _kind = kind;
        _counters = counters;
        Credentials = credentials;
        _certificate = credentials?.ClientOptions("").ClientCertificateContext;
        _settings = settings ?? DataChannelSettings.Default;
        _log = log ?? (line => Console.Error.WriteLine($"warning: {line}"));
    }

    /// <summary>The cluster's credentials this client's connections present.</summary>
    internal ClusterCredentials? Credentials { get; }

    /// <summary>How long a read, a write or a connection may make no progress before the peer counts as unreachable.</summary>
    public static readonly TimeSpan StallTimeout = TimeSpan.FromSeconds(15);

    /// <summary>
    /// Fetches <paramref name="keys"/> from one worker on a thread of its own (a large value takes a
    /// while, and must not hold a thread-pool thread); a missing key maps to null.
    /// </summary>
    public Task<IReadOnlyList<StoredValue?>> GetAsync(DataEndpoint endpoint, IReadOnlyList<string> keys, CancellationToken cancellation = default) =>
        Task.Factory.StartNew(() => Get(endpoint, keys), cancellation, TaskCreationOptions.LongRunning, TaskScheduler.Default);

    /// <summary>
    /// Fetches <paramref name="keys"/> from one worker on the calling thread; a missing key maps to null.
    /// A worker that shares values (<see cref="DataChannelSettings.SameHostSharing"/>) asks for references to
    /// the holder's shared segments, which a holder on the same machine answers for values that live in one:
    /// their bytes are then copied from the holder's memory into this worker's pool, not sent over the channel.
    /// </summary>
    public IReadOnlyList<StoredValue?> Get(DataEndpoint endpoint, IReadOnlyList<string> keys)
    {
        if (AsksForReferences(endpoint) is { } local)
        {
            var (fresh, answered) = (false, false);
            try
            {
                return Exchange(endpoint, connection =>
                {
                    fresh = !connection.Used;
                    return GetShared(endpoint, connection, keys, local, () => answered = true);
                });
            }
            catch (IOException e) when (fresh && !answered)
            {
                // A holder that does not know shared fetches closes the connection at the request: ask it for bytes from now on.
                if (_noReferences.TryAdd(endpoint, 0)) _log($"The data channel at {endpoint} closed at a request for shared values ({e.Message}); its values are fetched over the channel from now on.");
            }
        }
        return Exchange(endpoint, connection => GetBytes(connection, keys));
    }

    /// <summary>This machine's identity when a fetch from <paramref name="endpoint"/> asks for references; null when it asks for bytes.</summary>
    private HostIdentity? AsksForReferences(DataEndpoint endpoint) =>
        _kind == PeerKind.Worker && _buffers is not null && _settings.SameHostSharing && !_noReferences.ContainsKey(endpoint) ? SameHost.Local : null;

    private StoredValue?[] GetBytes(Connection connection, IReadOnlyList<string> keys)
    {
        DataFrames.EncodeGet(keys, _settings, connection.Writer);
        connection.Writer.Flush();
        var values = new StoredValue?[keys.Count];
        for (var i = 0; i < values.Length; i++)
        {
            values[i] = ReadValue(connection.Reader, connection.Scratch, _settings, _buffers);
            if (values[i] is { } value) _counters?.AddReceivedFromWorker(value.Length);
        }
        return values;
    }

    /// <summary>
    /// A GetShared exchange: values answered by reference are copied from the holder's segment, the holder
    /// is told they were (it lets them go), and those that could not be copied are asked for again as bytes.
    /// </summary>
    private StoredValue?[] GetShared(DataEndpoint endpoint, Connection connection, IReadOnlyList<string> keys, HostIdentity local, Action answered)
    {
        DataFrames.EncodeGet(keys, _settings, connection.Writer, local);
        connection.Writer.Flush();
        var values = new StoredValue?[keys.Count];
        var referenced = false;
        List<int>? uncopied = null;
        string? refusal = null;
        for (var i = 0; i < values.Length; i++)
        {
            var tag = connection.Reader.ReadByte();
            if (tag < 0) throw new EndOfStreamException("The data channel closed in the middle of an answer.");
            answered();
            if (tag != DataFrames.EntryReference)
            {
                values[i] = ReadValueAfterTag(tag, connection.Reader, connection.Scratch, _settings, _buffers);
                if (values[i] is { } value) _counters?.AddReceivedFromWorker(value.Length);
                continue;
            }
            referenced = true;
            var typeName = DirectFrames.ReadString(connection.Reader, connection.Scratch, _settings.MaxTypeNameBytes, "type name");
            connection.Reader.ReadExactly(connection.Scratch, 0, sizeof(long) + SegmentReference.WireBytes);
            var reference = DataFrames.ParseReference(connection.Scratch.AsSpan(sizeof(long), SegmentReference.WireBytes),
                BinaryPrimitives.ReadInt64LittleEndian(connection.Scratch), _settings);
            if (CopyReferenced(reference, typeName, out var reason) is { } copied)
            {
                values[i] = copied;
                _counters?.AddReceivedFromWorker(copied.Length);
                _counters?.AddReceivedThroughSharedMemory(copied.Length);
            }
            else
            {
                (uncopied ??= []).Add(i);
                refusal ??= reason;
            }
        }
        if (referenced)
        {
            Span<byte> release = stackalloc byte[DataFrames.HeaderBytes];
            release[0] = DataFrames.Release;
            connection.Writer.Write(release);
            connection.Writer.Flush();
        }
        if (uncopied is null) return values;
        if (_noReferences.TryAdd(endpoint, 0)) _log($"The values of the worker at {endpoint} are fetched over the channel: its shared memory cannot be read here ({refusal}).");
        var again = GetBytes(connection, uncopied.Select(i => keys[i]).ToList());
        for (var j = 0; j < again.Length; j++) values[uncopied[j]] = again[j];
        return values;
    }

    /// <summary>The value <paramref name="reference"/> points at, copied into a buffer of this client's pool; null (and why) when it cannot be.</summary>
    private StoredValue? CopyReferenced(SegmentReference reference, string typeName, out string? reason)
    {
        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        var value = _buffers!.RentValue(reference.Length, typeName);
        // Its pages in one call rather than a fault each as the copy reaches them: a reused segment's pages may
        // never have been mapped in this process (an executor wrote them), a new one's never touched at all.
        value.Segment?.Populate(reference.Length);
        reason = SameHost.TryCopy(reference, value.Writable.Span);
        if (reason is not null)
        {
            value.Release(); // read by no one: back to the pool at once
            return null;
        }
        if (reference.Length >= 1 << 20) HopTrace.Once(started, $"data: {reference.Length >> 20} MiB copied from a peer's shared segment into a pooled {(value.Segment is null ? "array" : "segment")}");
        return value;
    }

    /// <summary>
    /// Puts values on one worker under <paramref name="scatterId"/> (the center's plan for them), on a
    /// thread of its own; returns null when the worker stored them, else the worker's reason for refusing them.
    /// </summary>
    internal Task<string?> PutAsync(DataEndpoint endpoint, long scatterId, IReadOnlyList<KeyValuePair<string, StoredValue>> values, CancellationToken cancellation = default) =>
        Task.Factory.StartNew(() => Put(endpoint, scatterId, values), cancellation, TaskCreationOptions.LongRunning, TaskScheduler.Default);

    /// <summary>Puts values on one worker on the calling thread; null when stored, else why not.</summary>
    internal string? Put(DataEndpoint endpoint, long scatterId, IReadOnlyList<KeyValuePair<string, StoredValue>> values)
    {
        // Checked before a connection is taken: a put that breaks a limit is the caller's mistake.
        var entries = values.Select(v => new PutEntry(v.Key, v.Value.TypeName, v.Value.Length)).ToList();
        using (var check = new MemoryStream()) DataFrames.EncodePut(scatterId, entries, _settings, check);
        return Exchange(endpoint, connection =>
        {
            DataFrames.EncodePut(scatterId, entries, _settings, connection.Writer);
            foreach (var (_, value) in values) value.CopyTo(connection.Writer); // chunk by chunk: a value over 1 GiB never needs one array
            connection.Writer.Flush();
            var status = connection.Reader.ReadByte();
            if (status < 0) throw new EndOfStreamException("The data channel closed before it answered a put.");
            if (status == DataFrames.PutStored) return null;
            if (status != DataFrames.PutRefused) throw new DataFrameException($"a put's answer starts with 0x{status:x2}, not 0 or 1");
            var length = DataFrames.CheckLength("refusal length", ReadInt32(connection.Reader, connection.Scratch), _settings.MaxRequestBytes);
            var reason = new byte[length];
            connection.Reader.ReadExactly(reason);
            try { return DataFrames.Utf8.GetString(reason); }
            catch (System.Text.DecoderFallbackException) { throw new DataFrameException("a put's refusal is not valid UTF-8"); }
        });
    }

    /// <summary>
    /// Hands one task (<paramref name="submission"/>, encoded by <see cref="ProtocolSerializer.EncodeSubmission"/>) to the
    /// worker at <paramref name="endpoint"/> to run now, and waits for its one answer without holding a thread.
    /// A connection that cannot be opened answers <see cref="DirectReply.Declined"/>; one that breaks
    /// after the task was sent, <see cref="DirectReply.Unanswered"/> (the worker may have taken it).
    /// </summary>
    public Task<DirectReply> RunDirectAsync(DataEndpoint endpoint, byte[] submission, CancellationToken cancellation = default) =>
        RunDirectCoreAsync(endpoint, submission, blocking: false, cancellation);

    /// <summary>As <see cref="RunDirectAsync"/>, waiting on the calling thread (for a caller that blocks anyway).</summary>
    public DirectReply RunDirect(DataEndpoint endpoint, byte[] submission) =>
        RunDirectCoreAsync(endpoint, submission, blocking: true, CancellationToken.None).GetAwaiter().GetResult();

    private async Task<DirectReply> RunDirectCoreAsync(DataEndpoint endpoint, byte[] submission, bool blocking, CancellationToken cancellation)
    {
        if (submission.Length > _settings.MaxRequestBytes) return new DirectReply.Declined($"the task is {submission.Length} bytes, more than one request carries");
        Connection connection;
        try { connection = Rent(endpoint); }
        catch (Exception e) when (e is IOException or SocketException) { return new DirectReply.Declined(e.Message); }
        try
        {
            var writing = System.Diagnostics.Stopwatch.GetTimestamp();
            Span<byte> header = stackalloc byte[DataFrames.HeaderBytes];
            header[0] = DataFrames.Run;
            BinaryPrimitives.WriteInt32LittleEndian(header[1..], submission.Length);
            connection.Writer.Write(header);
            connection.Writer.Write(submission);
            connection.Writer.Flush();
            var written = System.Diagnostics.Stopwatch.GetTimestamp();
            HopTrace.Since(writing, "client: request written");
            // The task runs now, for as long as it takes (blocking: up to the stall timeout, then the center answers).
            int first;
            if (blocking) first = connection.Reader.ReadByte();
            else first = await connection.Reader.ReadAsync(connection.Scratch.AsMemory(0, 1), cancellation).ConfigureAwait(false) == 0 ? -1 : connection.Scratch[0];
            if (first < 0) throw new EndOfStreamException("The data channel closed before the task ended.");
            HopTrace.Since(written, "client: written -> answer's first byte");
            var reply = ReadOutcome((byte)first, connection);
            Return(endpoint, connection);
            return reply;
        }
        catch (DataFrameException e)
        {
            connection.Dispose();
            _log($"Closed the data connection to {endpoint}: bad answer ({e.Message}).");
            return new DirectReply.Unanswered(e.Message);
        }
        catch (Exception e) when (e is IOException or SocketException or ObjectDisposedException or OperationCanceledException)
        {
            connection.Dispose();
            return new DirectReply.Unanswered(e.Message);
        }
    }

    private static int ReadAnswerByte(Stream reader)
    {
        var value = reader.ReadByte();
        return value < 0 ? throw new EndOfStreamException("The data channel closed before it answered.") : value;
    }

    private DirectReply ReadOutcome(byte kind, Connection connection)
    {
        var reader = connection.Reader;
        var scratch = connection.Scratch;
        switch (kind)
        {
            case DirectFrames.Finished:
                {
                    var key = DirectFrames.ReadString(reader, scratch, _settings.MaxKeyBytes, "key");
                    var typeName = DirectFrames.ReadString(reader, scratch, _settings.MaxTypeNameBytes, "type name");
                    reader.ReadExactly(scratch, 0, sizeof(long));
                    var size = DataFrames.CheckLength("value length", BinaryPrimitives.ReadInt64LittleEndian(scratch), _settings.MaxValueBytes);
                    var inline = ReadAnswerByte(reader);
                    if (inline > 1) throw new DataFrameException($"a direct result's inline flag is 0x{inline:x2}");
                    if (inline == 1 && size > DirectFrames.InlineLimit) throw new DataFrameException($"a direct result of {size} bytes came inline");
                    var value = inline == 1 ? StoredValue.ReadFrom(reader, size, typeName, null) : null;
                    if (value is not null) _counters?.AddReceivedFromWorker(value.Length);
                    return new DirectReply.Finished(new StoredKey(key, size, typeName), value);
                }
            case DirectFrames.Failed:
                {
                    var key = DirectFrames.ReadString(reader, scratch, _settings.MaxKeyBytes, "key");
                    var kindByte = ReadAnswerByte(reader);
                    if (!Enum.IsDefined((ErrorKind)kindByte)) throw new DataFrameException($"the error of {DataFrames.Shortened(key)} has an unknown kind {kindByte}");
                    var errorKind = (ErrorKind)kindByte;
                    var type = DirectFrames.ReadString(reader, scratch, _settings.MaxTypeNameBytes, "error type");
                    var message = DirectFrames.ReadString(reader, scratch, _settings.MaxRequestBytes, "error message");
                    var stack = DirectFrames.ReadString(reader, scratch, _settings.MaxRequestBytes, "stack trace");
                    return new DirectReply.Failed(new FailedTask(key, new RemoteError(errorKind, type, message, stack)));
                }
            case DirectFrames.Declined:
                return new DirectReply.Declined(DirectFrames.ReadString(reader, scratch, _settings.MaxRequestBytes, "reason"));
            case DirectFrames.Unanswered:
                return new DirectReply.Unanswered("the worker left the answer to the center");
            default:
                throw new DataFrameException($"a direct run's outcome starts with 0x{kind:x2}");
        }
    }

    /// <summary>Reads a worker's transfer counters.</summary>
    public Task<WorkerTransferStats> StatsAsync(DataEndpoint endpoint, CancellationToken cancellation = default) =>
        Task.Factory.StartNew(() => Stats(endpoint), cancellation, TaskCreationOptions.LongRunning, TaskScheduler.Default);

    private WorkerTransferStats Stats(DataEndpoint endpoint) =>
        Exchange(endpoint, connection =>
        {
            Span<byte> request = stackalloc byte[DataFrames.HeaderBytes];
            request[0] = DataFrames.Stats;
            connection.Writer.Write(request);
            connection.Writer.Flush();
            var length = DataFrames.CheckLength("stats length", ReadInt32(connection.Reader, connection.Scratch), _settings.MaxRequestBytes);
            var payload = ArrayPool<byte>.Shared.Rent(length);
            try
            {
                connection.Reader.ReadExactly(payload, 0, length);
                return DataFrames.ParseStats(payload.AsSpan(0, length), _settings);
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(payload);
            }
        });

    /// <summary>
    /// Reads one entry of a Get answer from <paramref name="reader"/>: found, then type name and value.
    /// <paramref name="scratch"/> holds the small fields (at least 8 bytes). The value is read straight
    /// into a buffer of <paramref name="buffers"/> when given (the caller owns it), else into an array of its own.
    /// </summary>
    internal static StoredValue? ReadValue(Stream reader, byte[] scratch, DataChannelSettings settings, ValueBufferPool? buffers = null, int chunkBytes = StoredValue.MaxChunkBytes)
    {
        var found = reader.ReadByte();
        if (found < 0) throw new EndOfStreamException("The data channel closed in the middle of an answer.");
        return ReadValueAfterTag(found, reader, scratch, settings, buffers, chunkBytes);
    }

    /// <summary>The rest of a Get answer's entry after its first byte, <paramref name="found"/>: missing (null) or the value's bytes.</summary>
    private static StoredValue? ReadValueAfterTag(int found, Stream reader, byte[] scratch, DataChannelSettings settings, ValueBufferPool? buffers, int chunkBytes = StoredValue.MaxChunkBytes)
    {
        if (found > DataFrames.EntryBytes) throw new DataFrameException($"an answer entry starts with 0x{found:x2}, not 0 or 1");
        if (found == DataFrames.EntryMissing) return null;
        var typeName = DirectFrames.ReadString(reader, scratch, settings.MaxTypeNameBytes, "type name");
        reader.ReadExactly(scratch, 0, sizeof(long));
        var length = DataFrames.CheckLength("value length", BinaryPrimitives.ReadInt64LittleEndian(scratch), settings.MaxValueBytes);
        // In chunks allocated as the bytes arrive: a length that lies costs at most one chunk.
        return StoredValue.ReadFrom(reader, length, typeName, buffers, chunkBytes);
    }

    private static int ReadInt32(Stream reader, byte[] scratch)
    {
        reader.ReadExactly(scratch, 0, sizeof(int));
        return BinaryPrimitives.ReadInt32LittleEndian(scratch);
    }

    private T Exchange<T>(DataEndpoint endpoint, Func<Connection, T> exchange)
    {
        var connection = Rent(endpoint);
        try
        {
            var result = exchange(connection);
            Return(endpoint, connection);
            return result;
        }
        catch (DataFrameException e)
        {
            connection.Dispose();
            _log($"Closed the data connection to {endpoint}: bad answer ({e.Message}).");
            throw;
        }
        catch
        {
            connection.Dispose();
            throw;
        }
    }

    private Connection Rent(DataEndpoint endpoint)
    {
        if (_idle.TryGetValue(endpoint, out var bag))
        {
            while (bag.TryTake(out var idle))
            {
                // The server closes a connection idle for a while (DataChannelSettings): that one is discarded here,
                // not found out by a request that fails on it.
                if (idle.LooksOpen) return idle;
                idle.Dispose();
            }
        }
        // A peer that stops answering (paused, or its machine gone) must fail the fetch, not hang it:
        // the caller then asks the center, which by then knows where else the value is. The timeouts
        // bound each read and write, not a whole transfer, so large values are not affected.
        var tcp = new TcpClient
        {
            NoDelay = true, ReceiveBufferSize = 1 << 20, SendBufferSize = 1 << 20,
            ReceiveTimeout = (int)StallTimeout.TotalMilliseconds, SendTimeout = (int)StallTimeout.TotalMilliseconds,
        };
        try
        {
            if (!tcp.ConnectAsync(endpoint.Host, endpoint.Port).Wait(StallTimeout))
                throw new IOException($"No connection to the data channel at {endpoint} within {StallTimeout.TotalSeconds:0} s.");
            Stream stream = tcp.GetStream();
            if (Credentials is not null) stream = Authenticate(stream, endpoint);
            var connection = new Connection(tcp, stream);
            connection.Writer.WriteByte((byte)_kind);
            return connection;
        }
        catch (AggregateException e) when (e.InnerException is SocketException socket)
        {
            tcp.Dispose();
            // A bare "Connection refused" names no peer: say whose data channel it was.
            throw new IOException($"Could not connect to the data channel at {endpoint}: {socket.Message}.", socket);
        }
        catch
        {
            tcp.Dispose();
            throw;
        }
    }

    /// <summary>The TLS handshake; a server that is not a member of this cluster fails it, with the reason.</summary>
    private SslStream Authenticate(Stream stream, DataEndpoint endpoint)
    {
        string? refusal = null;
        var tls = new SslStream(stream, leaveInnerStreamOpen: false);
        var options = new SslClientAuthenticationOptions
        {
            TargetHost = endpoint.Host,
            ClientCertificateContext = _certificate,
            EnabledSslProtocols = SslProtocols.Tls13 | SslProtocols.Tls12,
            CertificateRevocationCheckMode = X509RevocationMode.NoCheck,
            // Members share one certificate and are reached by address: the chain is the identity, not the name.
            RemoteCertificateValidationCallback = (_, certificate, _, _) =>
            {
                if (Credentials!.IsMember(certificate, out var reason)) return true;
                refusal = reason;
                return false;
            },
        };
        try
        {
            tls.AuthenticateAsClient(options);
            return tls;
        }
        catch (AuthenticationException e)
        {
            tls.Dispose();
            throw new IOException($"The data channel at {endpoint} failed the TLS handshake: {refusal ?? e.Message}.", e);
        }
    }

    private void Return(DataEndpoint endpoint, Connection connection)
    {
        connection.Used = true;
        if (_disposed) { connection.Dispose(); return; }
        _idle.GetOrAdd(endpoint, _ => new ConcurrentBag<Connection>()).Add(connection);
    }

    /// <inheritdoc />
    public void Dispose()
    {
        _disposed = true;
        foreach (var bag in _idle.Values)
            while (bag.TryTake(out var connection)) connection.Dispose();
    }

    private sealed class Connection(TcpClient tcp, Stream stream) : IDisposable
    {
        public BufferedStream Reader { get; } = new(stream, ReadBufferBytes);
        public BufferedStream Writer { get; } = new(stream, ReadBufferBytes);
        public byte[] Scratch { get; } = new byte[256];

        /// <summary>Whether an exchange completed on it before (a reused connection may have been closed by the server meanwhile).</summary>
        public bool Used { get; set; }

        /// <summary>
        /// False when the server closed it (or sent something unasked, which an idle connection never gets):
        /// the socket reads as ready. Nothing is read.
        /// </summary>
        public bool LooksOpen
        {
            get
            {
                try
                {
                    return tcp.Connected && !tcp.Client.Poll(0, SelectMode.SelectRead);
                }
                catch (Exception e) when (e is SocketException or ObjectDisposedException)
                {
                    return false;
                }
            }
        }

        public void Dispose()
        {
            stream.Dispose();
            tcp.Dispose();
        }
    }
}
