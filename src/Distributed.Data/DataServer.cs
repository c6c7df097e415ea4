using System.Buffers;
using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;
using Distributed.Protocol;
using Distributed.Protocol.Hosting;
using Distributed.Protocol.Security;

namespace Distributed.Data;

/// <summary>
/// Serves a worker's stored values to other workers and to clients (values move over this channel,
/// not Akka.Remote: a large Akka message blocks the association and its heartbeats). All I/O is
/// asynchronous: a connection holds no thread, and an idle one no buffer either.
/// </summary>
/// <remarks>
/// With credentials every connection is mutual TLS with a member of the same cluster; without, plain
/// TCP (loopback only). At most <see cref="DataChannelSettings.MaxConnections"/> connections stay open:
/// a new peer takes the place of the least recently active idle one, so that idle connections never
/// lock out a peer that wants data. A bad frame closes its connection with one log line.
/// </remarks>
public sealed class DataServer : IAsyncDisposable
{
    /// <summary>Values larger than this are written in pieces of this size, so that progress is seen between them.</summary>
    private const int WriteChunkBytes = 1 << 20;

    /// <summary>The buffer a request's answer is gathered in before it is written.</summary>
    private const int ResponseBufferBytes = 1 << 16;

    private readonly TcpListener _listener;
    private readonly DataStore _store;
    private readonly TransferCounters _counters;
    private readonly DataChannelSettings _settings;
    private readonly ClusterCredentials? _credentials;
    private readonly SslStreamCertificateContext? _certificate;
    private readonly Action<string> _log;
    private readonly ConcurrentDictionary<DataConnection, byte> _connections = new();
    private readonly CancellationTokenSource _stop = new();
    private readonly Timer _sweeper;
    private readonly Task _acceptLoop;
    private long _lastRefusalLogged = long.MinValue;
    private int _sharedLeases;

    /// <summary>
    /// Certificates already found to chain to the cluster's authority: members share one, and building
    /// its chain again on every connection costs more than the rest of the handshake.
    /// </summary>
    private readonly MemberCertificates _members = new();

    /// <summary>Where values put by peers go (the worker stores them and reports them); null until set: puts are refused.</summary>
    private volatile ScatterHandler? _putHandler;

    /// <summary>
    /// Takes values peers put here (a client's scatter): <paramref name="handler"/> stores them and says
    /// null, or says why not. Until this is called, every put is refused.
    /// </summary>
    internal void AcceptPuts(ScatterHandler handler) => _putHandler = handler;

    /// <summary>Where tasks clients hand over directly go (the worker decides and answers each); null until set: they are declined.</summary>
    private volatile Action<DirectRun>? _directHandler;

    /// <summary>Takes tasks clients hand to this worker directly: <paramref name="handler"/> must complete both of each run's answers.</summary>
    public void AcceptDirectRuns(Action<DirectRun> handler) => _directHandler = handler;

    /// <summary>Starts listening on <paramref name="host"/> at a free port (of <paramref name="ports"/>, when given).</summary>
    /// <param name="host">The address to bind (0.0.0.0: every address of the machine).</param>
    /// <param name="store">The values served.</param>
    /// <param name="counters">Where bytes served are counted, and what a stats request reads.</param>
    /// <param name="credentials">The cluster's credentials: with them every connection is mutual TLS with a member of the same cluster; without, plain TCP (loopback only).</param>
    /// <param name="settings">Connection cap, timeouts and the limits requests are checked against.</param>
    /// <param name="log">Where refused connections and bad frames are reported, one line each (default: standard error).</param>
    /// <param name="advertisedHost">The address peers dial, as <see cref="Endpoint"/> names it (default: <paramref name="host"/>).</param>
    /// <param name="ports">The port or range to take the first free one of (default: any free port).</param>
    public DataServer(string host, DataStore store, TransferCounters counters, ClusterCredentials? credentials = null,
        DataChannelSettings? settings = null, Action<string>? log = null, string? advertisedHost = null, PortRange? ports = null)
    {
        _store = store;
        _counters = counters;
        _settings = settings ?? DataChannelSettings.Default;
        _credentials = credentials;
        _certificate = credentials?.ServerOptions().ServerCertificateContext;
        _log = log ?? (line => Console.Error.WriteLine($"warning: {line}"));
        _listener = Listen(host, ports ?? PortRange.Any);
        Endpoint = new DataEndpoint(advertisedHost ?? host, ((IPEndPoint)_listener.LocalEndpoint).Port);
        var sweep = TimeSpan.FromTicks(Math.Clamp(Math.Min(_settings.IdleTimeout.Ticks, _settings.HandshakeTimeout.Ticks) / 4,
            TimeSpan.FromMilliseconds(50).Ticks, TimeSpan.FromSeconds(1).Ticks));
        _sweeper = new Timer(_ => CloseStale(), null, sweep, sweep);
        _acceptLoop = AcceptLoop();
    }

    /// <summary>Where the server listens, as peers dial it.</summary>
    public DataEndpoint Endpoint { get; }

    /// <summary>
    /// A listener on the first free port of <paramref name="ports"/>: a taken port moves on to the next, an
    /// address that is not this machine's stops at once (every port of it would fail the same way).
    /// </summary>
    private static TcpListener Listen(string host, PortRange ports)
    {
        var address = NetworkAddresses.Resolve(host);
        for (var port = ports.First; port <= ports.Last; port++)
        {
            var listener = new TcpListener(address, port);
            try
            {
                listener.Start(backlog: 1024);
                return listener;
            }
            catch (SocketException e) when (e.SocketErrorCode == SocketError.AddressAlreadyInUse)
            {
                listener.Stop();
            }
            catch (SocketException e) when (e.SocketErrorCode == SocketError.AddressNotAvailable)
            {
                listener.Stop();
                throw new AddressNotLocalException(host, "--host", MachineNetwork.Local().Addresses);
            }
        }
        throw PortsTaken(host, ports);
    }

    /// <summary>The one-line error for a data port, or every port of a range, taken on <paramref name="host"/>.</summary>
    public static PortInUseException PortsTaken(string host, PortRange ports) =>
        new(host, ports.First, ports.First == ports.Last
            ? $"Data port {ports.First} on {host} is already in use (is another worker running there?). Choose another with --data-port, or a range with --data-ports FIRST-LAST."
            : $"Every data port on {host} from {ports.First} to {ports.Last} is already in use. Choose a larger or another range with --data-ports FIRST-LAST.");

    /// <summary>Connections open now, in their handshake included.</summary>
    public int ConnectionCount => _connections.Count;

    private async Task AcceptLoop()
    {
        while (!_stop.IsCancellationRequested)
        {
            Socket socket;
            try { socket = await _listener.AcceptSocketAsync(_stop.Token).ConfigureAwait(false); }
            catch (OperationCanceledException) { return; }
            catch (ObjectDisposedException) { return; }
            catch (SocketException) { continue; }
            if (!MakeRoom())
            {
                socket.Dispose();
                continue;
            }
            socket.NoDelay = true;
            var connection = new DataConnection(socket, _credentials is null ? DataConnection.Idle : DataConnection.Opening);
            _connections[connection] = 0;
            _ = ServeAsync(connection);
        }
    }

    /// <summary>Whether a new connection may open: there is room, or an idle one gave its place.</summary>
    private bool MakeRoom()
    {
        if (_connections.Count < _settings.MaxConnections) return true;
        while (true)
        {
            DataConnection? oldest = null;
            foreach (var connection in _connections.Keys)
                if (connection.IsIdle && (oldest is null || connection.ActivityOrder < oldest.ActivityOrder)) oldest = connection;
            if (oldest is null) break;
            if (oldest.TryClose(DataConnection.Idle)) return true;
        }
        // Every connection is in a handshake or a transfer: those end, or time out, soon.
        var now = Environment.TickCount64;
        if (now - Interlocked.Read(ref _lastRefusalLogged) > 10_000)
        {
            Interlocked.Exchange(ref _lastRefusalLogged, now);
            _log($"The data channel refused a connection: all {_connections.Count} connections are busy (limit {_settings.MaxConnections}).");
        }
        return false;
    }

    /// <summary>Closes connections that moved no byte for too long: idle or stalled ones, and unfinished handshakes.</summary>
    private void CloseStale()
    {
        var now = Environment.TickCount64;
        var idleLimit = (long)_settings.IdleTimeout.TotalMilliseconds;
        var handshakeLimit = (long)_settings.HandshakeTimeout.TotalMilliseconds;
        foreach (var connection in _connections.Keys)
        {
            var silent = now - connection.LastActive;
            if (connection.State == DataConnection.Opening && silent > handshakeLimit && connection.TryClose(DataConnection.Opening))
                _log($"Closed a data connection from {connection.Peer}: no TLS handshake within {_settings.HandshakeTimeout.TotalSeconds:0.#} s.");
            else if (silent > idleLimit) connection.TryClose(connection.State);
        }
    }

    private async Task ServeAsync(DataConnection connection)
    {
        Stream stream = new NetworkStream(connection.Socket, ownsSocket: true);
        byte[]? buffer = null;
        List<StoredValueReader>? leases = null; // values this connection's peer was given references to and has not copied yet
        try
        {
            if (_credentials is not null)
            {
                var tls = new SslStream(stream, leaveInnerStreamOpen: false);
                stream = tls;
                if (!await AuthenticateAsync(tls, connection).ConfigureAwait(false)) return;
                if (!connection.TrySetState(DataConnection.Opening, DataConnection.Idle)) return;
                connection.Touch();
            }
            var reader = new DataRequestReader(stream, _settings);
            if (await reader.ReadKindAsync(_stop.Token).ConfigureAwait(false) is not { } peer) return;
            while (true)
            {
                await reader.WaitForRequestAsync(_stop.Token).ConfigureAwait(false);
                var arrived = HopTrace.Enabled ? System.Diagnostics.Stopwatch.GetTimestamp() : 0;
                // Evicted or timed out while it waited: whoever closed it owns it now.
                if (!connection.TrySetState(DataConnection.Idle, DataConnection.Busy)) return;
                connection.Touch();
                if (await reader.ReadAsync(_stop.Token).ConfigureAwait(false) is not { } request) return;
                if (HopTrace.Enabled && request.Submission is { Tasks: [var traced, ..] })
                {
                    HopTrace.Since(arrived, "data server: request arrived -> decoded");
                    HopTrace.Begin(traced.Key);
                }
                connection.Touch();
                buffer ??= ArrayPool<byte>.Shared.Rent(ResponseBufferBytes);
                if (request.Op == DataFrames.Get) await WriteValuesAsync(stream, connection, peer, request.Keys, buffer).ConfigureAwait(false);
                else if (request.Op == DataFrames.GetShared)
                    await WriteValuesAsync(stream, connection, peer, request.Keys, buffer, SharesWith(peer, request.Requester) ? leases ??= [] : null).ConfigureAwait(false);
                else if (request.Op == DataFrames.Release) ReleaseLeases(leases);
                else if (request.Op == DataFrames.Put) await ReceivePutAsync(stream, connection, peer, request).ConfigureAwait(false);
                else if (request.Op == DataFrames.Run) await RunDirectAsync(stream, connection, peer, request.Submission!).ConfigureAwait(false);
                else await WriteStatsAsync(stream).ConfigureAwait(false);
                // Between requests a connection holds no buffer: thousands of idle ones cost little.
                ArrayPool<byte>.Shared.Return(buffer);
                buffer = null;
                connection.Touch();
                if (!connection.TrySetState(DataConnection.Busy, DataConnection.Idle)) return;
            }
        }
        catch (DataFrameException e)
        {
            _log($"Closed a data connection from {connection.Peer}: bad frame ({e.Message}).");
        }
        catch (Exception e) when (e is IOException or SocketException or ObjectDisposedException or OperationCanceledException)
        {
            // The peer went away, or this server closed the connection (idle, evicted, stopping).
        }
        catch (Exception e)
        {
            _log($"Closed a data connection from {connection.Peer} after an unexpected error: {e}");
        }
        finally
        {
            if (buffer is not null) ArrayPool<byte>.Shared.Return(buffer);
            ReleaseLeases(leases);
            _connections.TryRemove(connection, out _);
            connection.TryClose(connection.State);
            try { await stream.DisposeAsync().ConfigureAwait(false); }
            catch (Exception e) when (e is IOException or SocketException or ObjectDisposedException) { }
        }
    }

    /// <summary>The TLS handshake; a peer that is not a member of this cluster is refused with one log line naming it and the reason.</summary>
    private async Task<bool> AuthenticateAsync(SslStream tls, DataConnection connection)
    {
        string? refusal = null;
        var options = new SslServerAuthenticationOptions
        {
            ServerCertificateContext = _certificate,
            ClientCertificateRequired = true,
            EnabledSslProtocols = SslProtocols.Tls13 | SslProtocols.Tls12,
            CertificateRevocationCheckMode = X509RevocationMode.NoCheck,
            RemoteCertificateValidationCallback = (_, certificate, _, _) =>
            {
                if (certificate is not null && _members.Contains(certificate.GetRawCertData())) return true;
                if (!_credentials!.IsMember(certificate, out var reason))
                {
                    refusal = reason;
                    return false;
                }
                _members.Add(certificate!.GetRawCertData());
                return true;
            },
        };
        try
        {
            await tls.AuthenticateAsServerAsync(options, _stop.Token).ConfigureAwait(false);
            return true;
        }
        catch (Exception e) when (e is AuthenticationException or IOException or SocketException or ObjectDisposedException or OperationCanceledException)
        {
            // Closed by this server (handshake timeout, stopping): that was said already, or needs no saying.
            if (connection.State != DataConnection.Closed && !_stop.IsCancellationRequested)
                _log($"Refused a data connection from {connection.Peer}: {refusal ?? $"TLS handshake failed ({e.Message})"}.");
            return false;
        }
    }

    /// <summary>
    /// Answers a Get: each value found, its bytes. With <paramref name="leases"/> (a GetShared from a worker on
    /// this machine), a value that lives in a shared segment is answered with a reference to it instead, and
    /// its lease joins <paramref name="leases"/>, held until the peer releases them or the connection closes,
    /// so that its segment is not reused while the peer copies it; past the bounds on leases, bytes again.
    /// </summary>
    private async Task WriteValuesAsync(Stream stream, DataConnection connection, PeerKind peer, IReadOnlyList<string> keys, byte[] buffer, List<StoredValueReader>? leases = null)
    {
        var used = 0;
        foreach (var key in keys)
        {
            // Leased until written (a value deleted or replaced meanwhile keeps its buffers until then),
            // or streamed from its spill file, never loaded whole.
            var value = _store.OpenRead(key);
            var kept = false;
            try
            {
                var typeNameBytes = value is null ? 0 : DataFrames.Utf8.GetByteCount(value.TypeName);
                var reference = leases is null || value is null ? null : TryReference(value, leases);
                var entryBytes = 1 + (value is null ? 0 : sizeof(int) + typeNameBytes + sizeof(long)) + (reference is null ? 0 : SegmentReference.WireBytes);
                var found = value is not null;
                if (typeNameBytes > _settings.MaxTypeNameBytes || entryBytes > buffer.Length)
                {
                    // The fetcher would refuse it anyway: an honest "not here" is better than a broken frame.
                    _log($"Not serving {key}: its type name is {typeNameBytes} bytes, more than the {_settings.MaxTypeNameBytes} a fetcher accepts.");
                    found = false;
                    entryBytes = 1;
                    if (reference is not null) ReturnLease(leases!);
                    reference = null;
                }
                if (reference is not null) kept = true; // in leases from here: released with them
                if (used + entryBytes > buffer.Length)
                {
                    await stream.WriteAsync(buffer.AsMemory(0, used)).ConfigureAwait(false);
                    used = 0;
                }
                buffer[used++] = !found ? DataFrames.EntryMissing : reference is null ? DataFrames.EntryBytes : DataFrames.EntryReference;
                if (!found) continue;
                BinaryPrimitives.WriteInt32LittleEndian(buffer.AsSpan(used), typeNameBytes);
                used += sizeof(int);
                used += DataFrames.Utf8.GetBytes(value!.TypeName, buffer.AsSpan(used));
                BinaryPrimitives.WriteInt64LittleEndian(buffer.AsSpan(used), value.Length);
                used += sizeof(long);
                if (reference is not null)
                {
                    DataFrames.WriteReference(reference, buffer.AsSpan(used));
                    used += SegmentReference.WireBytes;
                    _counters.AddSentThroughSharedMemory(value.Length);
                }
                else if (value.InMemory is { IsSingleChunk: true } small && small.Length <= buffer.Length - used)
                {
                    small.Span.CopyTo(buffer.AsSpan(used));
                    used += (int)small.Length;
                }
                else
                {
                    // Large values go from the store (or its spill file) to the socket (or TLS) as they are, in pieces.
                    await stream.WriteAsync(buffer.AsMemory(0, used)).ConfigureAwait(false);
                    used = 0;
                    await value.CopyToAsync(stream, WriteChunkBytes, connection.Touch).ConfigureAwait(false);
                }
                _counters.AddSent(peer, value.Length);
            }
            finally
            {
                if (!kept) value?.Dispose();
            }
        }
        if (used > 0) await stream.WriteAsync(buffer.AsMemory(0, used)).ConfigureAwait(false);
        await stream.FlushAsync().ConfigureAwait(false);
    }

    /// <summary>
    /// A reference to <paramref name="value"/>'s shared segment, its lease added to <paramref name="leases"/>,
    /// or null when it has none or no lease is left (this connection's or the server's): then its bytes go.
    /// </summary>
    private SegmentReference? TryReference(StoredValueReader value, List<StoredValueReader> leases)
    {
        if (value.InMemory is not { Segment: { } segment } stored || stored.Length == 0) return null;
        if (SameHost.Local is not { } local || SameHost.OwnStartTime is not { } startTime || segment.FileIdentity is not { } file) return null;
        if (leases.Count >= _settings.MaxSharedLeasesPerConnection) return null;
        if (Interlocked.Increment(ref _sharedLeases) > _settings.MaxSharedLeases)
        {
            Interlocked.Decrement(ref _sharedLeases);
            return null;
        }
        leases.Add(value);
        return new SegmentReference(Environment.ProcessId, startTime, segment.Descriptor, file.Inode, file.Device, local.BootId, (int)stored.Length);
    }

    /// <summary>Gives back the lease <see cref="TryReference"/> added last (its value is disposed by the caller).</summary>
    private void ReturnLease(List<StoredValueReader> leases)
    {
        leases.RemoveAt(leases.Count - 1);
        Interlocked.Decrement(ref _sharedLeases);
    }

    /// <summary>Lets go of every value a connection's references held: the peer copied them, or went away.</summary>
    private void ReleaseLeases(List<StoredValueReader>? leases)
    {
        if (leases is null) return;
        foreach (var lease in leases) lease.Dispose();
        Interlocked.Add(ref _sharedLeases, -leases.Count);
        leases.Clear();
    }

    /// <summary>References all connections hold now (for tests).</summary>
    internal int SharedLeaseCount => Volatile.Read(ref _sharedLeases);

    /// <summary>
    /// Whether a GetShared may be answered with references: this server shares, the peer is a worker, and
    /// it runs on this machine in this pid namespace (what it says; the references it gets prove the rest).
    /// </summary>
    private bool SharesWith(PeerKind peer, HostIdentity requester) =>
        _settings.SameHostSharing && peer == PeerKind.Worker && SameHost.Local is { } local && local == requester;

    /// <summary>
    /// Reads the values of a Put (each as its bytes arrive, so a lying length costs what was sent) and
    /// hands them to the worker, then answers stored or refused. Values the worker does not take go back
    /// to the store's pool. A stream that ends early is a bad frame; nothing of it is stored.
    /// </summary>
    private async Task ReceivePutAsync(Stream stream, DataConnection connection, PeerKind peer, DataRequest request)
    {
        var values = new List<KeyValuePair<string, StoredValue>>(request.Puts.Count);
        string? refusal = null;
        try
        {
            foreach (var entry in request.Puts)
            {
                StoredValue value;
                try
                {
                    value = await StoredValue.ReadFromAsync(stream, entry.Length, entry.TypeName, _store.Buffers, connection.Touch, _store.ChunkBytes, _stop.Token).ConfigureAwait(false);
                }
                catch (EndOfStreamException)
                {
                    throw new DataFrameException($"the stream ended in the value of {DataFrames.Shortened(entry.Key)}, announced as {entry.Length} bytes");
                }
                values.Add(new(entry.Key, value));
            }
            var handler = _putHandler;
            if (peer != PeerKind.Client) refusal = "only a client puts values on a worker";
            else if (handler is null) refusal = "this data channel takes no values";
            else
            {
                // The handler owns them from here, stored or not: one that timed out may still store them later.
                var handedOver = values.ToList();
                values.Clear();
                try { refusal = await handler(request.ScatterId, handedOver).ConfigureAwait(false); }
                catch (Exception e) when (e is not OutOfMemoryException) { refusal = $"the worker could not store them: {e.Message}"; }
            }
        }
        finally
        {
            foreach (var (_, value) in values) value.Release();
        }
        if (refusal is not null) _log($"Refused values put by {connection.Peer}: {refusal}.");
        var reason = refusal is null ? [] : DataFrames.Utf8.GetBytes(refusal);
        var answer = new byte[1 + (refusal is null ? 0 : sizeof(int) + reason.Length)];
        answer[0] = refusal is null ? DataFrames.PutStored : DataFrames.PutRefused;
        if (refusal is not null)
        {
            BinaryPrimitives.WriteInt32LittleEndian(answer.AsSpan(1), reason.Length);
            reason.CopyTo(answer, 1 + sizeof(int));
        }
        await stream.WriteAsync(answer).ConfigureAwait(false);
        await stream.FlushAsync().ConfigureAwait(false);
    }

    /// <summary>
    /// A task a client hands over to run here: the worker declines it at once or runs it, and the one
    /// answer waits for its end. A small result goes along with it, read from the store under a lease.
    /// </summary>
    private async Task RunDirectAsync(Stream stream, DataConnection connection, PeerKind peer, SubmitTasks submission)
    {
        var handler = _directHandler;
        DirectOutcome outcome;
        if (peer != PeerKind.Client) outcome = new DirectOutcome(null, null, "only a client hands tasks to a worker");
        else if (handler is null) outcome = new DirectOutcome(null, null, "this worker takes no tasks directly");
        else if (submission.Tasks.Count != 1) outcome = new DirectOutcome(null, null, "one task at a time is taken directly");
        else
        {
            var run = new DirectRun(submission);
            handler(run);
            HopTrace.Lap(submission.Tasks[0].Key, "data server: decoded -> handed to the worker actor");
            outcome = await run.Outcome.Task.WaitAsync(_stop.Token).ConfigureAwait(false);
        }
        connection.Touch();
        using var answer = new MemoryStream(256);
        switch (outcome)
        {
            case { Declined: { } reason }:
                answer.WriteByte(DirectFrames.Declined);
                DirectFrames.WriteString(answer, reason);
                break;
            case { Result: { } result }:
                using (var value = _store.OpenRead(result.Key))
                {
                    answer.WriteByte(DirectFrames.Finished);
                    DirectFrames.WriteString(answer, result.Key);
                    DirectFrames.WriteString(answer, result.TypeName);
                    Span<byte> size = stackalloc byte[sizeof(long)];
                    BinaryPrimitives.WriteInt64LittleEndian(size, result.Size);
                    answer.Write(size);
                    var inline = value?.InMemory is { IsSingleChunk: true } small && small.Length == result.Size && small.Length <= DirectFrames.InlineLimit ? small : null;
                    answer.WriteByte(inline is null ? (byte)0 : (byte)1);
                    if (inline is not null)
                    {
                        answer.Write(inline.Span);
                        _counters.AddSent(peer, inline.Length);
                    }
                }
                break;
            case { Failure: { } failure }:
                answer.WriteByte(DirectFrames.Failed);
                DirectFrames.WriteString(answer, failure.Key);
                answer.WriteByte((byte)failure.Error.Kind);
                DirectFrames.WriteString(answer, failure.Error.TypeName);
                DirectFrames.WriteString(answer, Clipped(failure.Error.Message));
                DirectFrames.WriteString(answer, Clipped(failure.Error.StackTrace));
                break;
            default:
                answer.WriteByte(DirectFrames.Unanswered);
                break;
        }
        await stream.WriteAsync(answer.GetBuffer().AsMemory(0, (int)answer.Length)).ConfigureAwait(false);
        await stream.FlushAsync().ConfigureAwait(false);
    }

    /// <summary>An error's text as the direct answer carries it: at most 16 KiB (the center's report has it whole).</summary>
    private static string Clipped(string text) => text.Length <= 16_384 ? text : text[..16_384] + "…";

    private async Task WriteStatsAsync(Stream stream)
    {
        var usage = _store.Usage();
        var payload = DataFrames.EncodeStats(new WorkerTransferStats(_counters.SentToWorkers, _counters.SentToClients, _counters.ReceivedFromWorkers,
            usage.Count, usage.Bytes, _counters.AssembliesReceived, usage.PeakCount, _store.MemoryLimit, usage.InMemoryBytes, usage.SpilledBytes,
            usage.SpilledCount, _store.ReadsFromDisk, _counters.CancelledBeforeStart, _counters.ExecutorsStarted, _counters.SpareExecutorsTaken,
            _counters.PeakTasksInFlight, _counters.TasksRun, _counters.TasksTakenDirectly, _counters.InputBytesShared, _counters.InputBytesCopied,
            _counters.ResultBytesShared, _counters.ResultBytesCopied, _store.Buffers.SegmentsInUse,
            _counters.ReceivedThroughSharedMemory, _counters.SentThroughSharedMemory));
        var frame = new byte[sizeof(int) + payload.Length];
        BinaryPrimitives.WriteInt32LittleEndian(frame, payload.Length);
        payload.CopyTo(frame, sizeof(int));
        await stream.WriteAsync(frame).ConfigureAwait(false);
        await stream.FlushAsync().ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        _stop.Cancel();
        _listener.Stop();
        await _sweeper.DisposeAsync().ConfigureAwait(false);
        foreach (var connection in _connections.Keys) connection.TryClose(connection.State);
        await _acceptLoop.ConfigureAwait(false);
        _stop.Dispose();
    }

    /// <summary>One accepted connection: its socket, when it last moved a byte, and what it is doing.</summary>
    private sealed class DataConnection(Socket socket, int state)
    {
        public const int Opening = 0, Idle = 1, Busy = 2, Closed = 3;

        // Orders connections by their last activity: the tick count is too coarse (a few ms on Linux)
        // to tell apart connections that were active in the same instant.
        private static long _activityClock;

        private long _lastActive = Environment.TickCount64;
        private long _activityOrder = Interlocked.Increment(ref _activityClock);
        private int _state = state;

        public Socket Socket { get; } = socket;
        public string Peer { get; } = socket.RemoteEndPoint?.ToString() ?? "an unknown peer";
        public long LastActive => Volatile.Read(ref _lastActive);
        public long ActivityOrder => Volatile.Read(ref _activityOrder);
        public int State => Volatile.Read(ref _state);
        public bool IsIdle => State == Idle;

        public void Touch()
        {
            Volatile.Write(ref _lastActive, Environment.TickCount64);
            Volatile.Write(ref _activityOrder, Interlocked.Increment(ref _activityClock));
        }

        public bool TrySetState(int from, int to) => Interlocked.CompareExchange(ref _state, to, from) == from;

        /// <summary>Closes the connection if it is still in <paramref name="from"/>; its pending read or write then fails.</summary>
        public bool TryClose(int from)
        {
            if (from == Closed || !TrySetState(from, Closed)) return false;
            Socket.Dispose();
            return true;
        }
    }
}

/// <summary>A few certificates known to be members, by their bytes; forgotten after a while, so that a chain is checked again now and then.</summary>
internal sealed class MemberCertificates
{
    private const int Capacity = 64;
    private static readonly long Lifetime = (long)TimeSpan.FromMinutes(10).TotalMilliseconds;
    private readonly ConcurrentDictionary<string, long> _acceptedAt = new();

    public bool Contains(byte[] certificate) =>
        _acceptedAt.TryGetValue(Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(certificate)), out var at) && Environment.TickCount64 - at < Lifetime;

    public void Add(byte[] certificate)
    {
        // Only members are remembered, and few: a stranger cannot fill this.
        if (_acceptedAt.Count >= Capacity) _acceptedAt.Clear();
        _acceptedAt[Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(certificate))] = Environment.TickCount64;
    }
}

/// <summary>A request read from a data connection: a Get with its keys, a Put with its entries (their values follow), or a Stats.</summary>
internal sealed record DataRequest(byte Op, IReadOnlyList<string> Keys)
{
    public static readonly DataRequest Stats = new(DataFrames.Stats, []);

    public static readonly DataRequest Release = new(DataFrames.Release, []);

    /// <summary>A GetShared's requester, as it says it: its machine and pid namespace.</summary>
    public HostIdentity Requester { get; init; }

    /// <summary>The scatter a Put belongs to, as the center numbered it.</summary>
    public long ScatterId { get; init; }

    /// <summary>A Put's values, in the order their bytes follow the frame.</summary>
    public IReadOnlyList<PutEntry> Puts { get; init; } = [];

    /// <summary>A Run's task, function and code.</summary>
    public SubmitTasks? Submission { get; init; }
}

/// <summary>
/// Stores values a peer put on a worker under a scatter id; answers null when they are stored, else why
/// not. It owns the values it is given: those it does not store it releases.
/// </summary>
internal delegate Task<string?> ScatterHandler(long scatterId, IReadOnlyList<KeyValuePair<string, StoredValue>> values);

/// <summary>Reads a data connection's opening byte and requests, every length bounded before it is allocated.</summary>
internal sealed class DataRequestReader(Stream stream, DataChannelSettings settings)
{
    private readonly byte[] _header = new byte[DataFrames.HeaderBytes];

    /// <summary>The kind of peer that opened the connection; null when it closed first.</summary>
    public async ValueTask<PeerKind?> ReadKindAsync(CancellationToken cancellation)
    {
        await WaitForRequestAsync(cancellation).ConfigureAwait(false);
        var read = await stream.ReadAsync(_header.AsMemory(0, 1), cancellation).ConfigureAwait(false);
        return read == 0 ? null : DataFrames.ParseKind(_header[0]);
    }

    /// <summary>Waits until bytes arrive (or the stream ends) without holding a buffer: a zero-byte read.</summary>
    public async ValueTask WaitForRequestAsync(CancellationToken cancellation) =>
        await stream.ReadAsync(Memory<byte>.Empty, cancellation).ConfigureAwait(false);

    /// <summary>The next request; null when the stream ended cleanly between requests.</summary>
    public async ValueTask<DataRequest?> ReadAsync(CancellationToken cancellation)
    {
        var read = await stream.ReadAtLeastAsync(_header, _header.Length, throwOnEndOfStream: false, cancellation).ConfigureAwait(false);
        if (read == 0) return null;
        if (read < _header.Length) throw new DataFrameException($"the stream ended {read} bytes into a request header");
        var op = _header[0];
        var length = BinaryPrimitives.ReadInt32LittleEndian(_header.AsSpan(1));
        DataFrames.CheckRequestHeader(op, length, settings);
        if (op == DataFrames.Stats) return DataRequest.Stats;
        if (op == DataFrames.Release) return DataRequest.Release;
        var payload = ArrayPool<byte>.Shared.Rent(length);
        try
        {
            read = await stream.ReadAtLeastAsync(payload.AsMemory(0, length), length, throwOnEndOfStream: false, cancellation).ConfigureAwait(false);
            if (read < length) throw new DataFrameException($"the stream ended {read} bytes into a request of {length}");
            if (op == DataFrames.Run)
            {
                try { return new DataRequest(op, []) { Submission = ProtocolSerializer.DecodeSubmission(payload, length, WireLimits.Default) }; }
                catch (WireFormatException e) { throw new DataFrameException($"a task handed over does not decode: {e.Message}"); }
            }
            if (op == DataFrames.Put)
            {
                var (scatterId, entries) = DataFrames.ParsePut(payload.AsSpan(0, length), settings);
                return new DataRequest(op, entries.Select(e => e.Key).ToList()) { ScatterId = scatterId, Puts = entries };
            }
            if (op == DataFrames.GetShared)
            {
                var (requester, keys) = DataFrames.ParseGetShared(payload.AsSpan(0, length), settings);
                return new DataRequest(op, keys) { Requester = requester };
            }
            return new DataRequest(op, DataFrames.ParseGet(payload.AsSpan(0, length), settings));
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(payload);
        }
    }
}
