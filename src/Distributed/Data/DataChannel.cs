using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Distributed.Protocol;
using Distributed.Security;

namespace Distributed.Data;

// Values move between processes over plain TCP, not Akka.Remote: a large Akka message blocks the
// association (and its heartbeats) and crawls. A connection starts with the peer's kind, then
// carries requests one after the other:
//   'G' count key*   → per key: found(bool) [typeName length bytes]
//   'S'              → sentToWorkers sentToClients receivedFromWorkers keyCount storedBytes assemblies peakKeyCount
//                      memoryLimit inMemoryBytes spilledBytes spilledCount readsFromDisk cancelledBeforeStart
//                      executorsStarted spareExecutorsTaken peakTasksInFlight tasksRun
internal static class DataFrames
{
    public const byte Get = (byte)'G';
    public const byte Stats = (byte)'S';
}

/// <summary>Serves a worker's stored values to other workers and to clients.</summary>
public sealed class DataServer : IAsyncDisposable
{
    private readonly TcpListener _listener;
    private readonly DataStore _store;
    private readonly TransferCounters _counters;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _acceptLoop;
    private readonly ConcurrentDictionary<TcpClient, byte> _connections = new();
    private readonly ClusterCredentials? _credentials;

    /// <summary>
    /// Starts listening on <paramref name="host"/> at a free port. With <paramref name="credentials"/>
    /// every connection is mutual TLS with a member of the same cluster; without, plain TCP (loopback only).
    /// </summary>
    public DataServer(string host, DataStore store, TransferCounters counters, ClusterCredentials? credentials = null)
    {
        _credentials = credentials;
        _store = store;
        _counters = counters;
        _listener = new TcpListener(Hosting.NetworkAddresses.Resolve(host), 0);
        _listener.Start(backlog: 512);
        Endpoint = new DataEndpoint(host, ((IPEndPoint)_listener.LocalEndpoint).Port);
        _acceptLoop = AcceptLoop();
    }

    /// <summary>Where the server listens.</summary>
    public DataEndpoint Endpoint { get; }

    private async Task AcceptLoop()
    {
        while (!_stop.IsCancellationRequested)
        {
            TcpClient connection;
            try { connection = await _listener.AcceptTcpClientAsync(_stop.Token); }
            catch (OperationCanceledException) { return; }
            catch (ObjectDisposedException) { return; }
            catch (SocketException) { continue; }
            connection.NoDelay = true;
            _connections[connection] = 0;
            // A connection blocks on reads for its whole life: it gets its own thread, so that it
            // never holds one of the thread pool's few threads that the actors run on.
            new Thread(() => Serve(connection)) { IsBackground = true, Name = "data-connection" }.Start();
        }
    }

    private void Serve(TcpClient connection)
    {
        try
        {
            using var stream = connection.GetStream();
            var reader = new BinaryReader(new BufferedStream(stream, 1 << 16), Encoding.UTF8);
            var writer = new BinaryWriter(new BufferedStream(stream, 1 << 16), Encoding.UTF8);
            var peer = (PeerKind)reader.ReadByte();
            while (true)
            {
                int op;
                try { op = reader.ReadByte(); }
                catch (EndOfStreamException) { return; }
                switch (op)
                {
                    case DataFrames.Get:
                        var count = reader.ReadInt32();
                        var keys = new string[count];
                        for (var i = 0; i < count; i++) keys[i] = reader.ReadString();
                        foreach (var key in keys)
                        {
                            var value = _store.Get(key);
                            writer.Write(value is not null);
                            if (value is null) continue;
                            writer.Write(value.TypeName);
                            writer.Write(value.Bytes.Length);
                            writer.Write(value.Bytes);
                            _counters.AddSent(peer, value.Bytes.Length);
                        }
                        writer.Flush();
                        break;
                    case DataFrames.Stats:
                        var usage = _store.Usage();
                        writer.Write(_counters.SentToWorkers);
                        writer.Write(_counters.SentToClients);
                        writer.Write(_counters.ReceivedFromWorkers);
                        writer.Write(usage.Count);
                        writer.Write(usage.Bytes);
                        var assemblies = _counters.AssembliesReceived;
                        writer.Write(assemblies.Count);
                        foreach (var assembly in assemblies) writer.Write(assembly);
                        writer.Write(usage.PeakCount);
                        writer.Write(_store.MemoryLimit);
                        writer.Write(usage.InMemoryBytes);
                        writer.Write(usage.SpilledBytes);
                        writer.Write(usage.SpilledCount);
                        writer.Write(_store.ReadsFromDisk);
                        writer.Write(_counters.CancelledBeforeStart);
                        writer.Write(_counters.ExecutorsStarted);
                        writer.Write(_counters.SpareExecutorsTaken);
                        writer.Write(_counters.PeakTasksInFlight);
                        writer.Write(_counters.TasksRun);
                        writer.Flush();
                        break;
                    default:
                        return; // a confused peer: drop the connection, not the worker
                }
            }
        }
        catch (IOException) { }
        catch (ObjectDisposedException) { }
        finally
        {
            _connections.TryRemove(connection, out _);
            connection.Dispose();
        }
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        _stop.Cancel();
        _listener.Stop();
        foreach (var connection in _connections.Keys) connection.Dispose();
        await _acceptLoop.ConfigureAwait(false);
        _stop.Dispose();
    }
}

/// <summary>
/// Fetches values from workers' data servers, keeping idle connections for reuse (a round trip on an
/// open loopback connection costs tens of microseconds; opening one costs more).
/// </summary>
/// <remarks>With <paramref name="credentials"/> every connection is mutual TLS; without, plain TCP (loopback only).</remarks>
public sealed class DataClient(PeerKind kind, TransferCounters? counters = null, ClusterCredentials? credentials = null) : IDisposable
{
    private readonly ConcurrentDictionary<DataEndpoint, ConcurrentBag<Connection>> _idle = new();
    private volatile bool _disposed;

    /// <summary>The cluster's credentials for this client's connections (TLS is not built into the channel yet).</summary>
    internal ClusterCredentials? Credentials { get; } = credentials;

    /// <summary>How long a read, a write or a connection may make no progress before the peer counts as unreachable.</summary>
    public static readonly TimeSpan StallTimeout = TimeSpan.FromSeconds(15);

    /// <summary>
    /// Fetches <paramref name="keys"/> from one worker on a thread of its own (a large value takes a
    /// while, and must not hold a thread-pool thread); a missing key maps to null.
    /// </summary>
    public Task<IReadOnlyList<StoredValue?>> GetAsync(DataEndpoint endpoint, IReadOnlyList<string> keys, CancellationToken cancellation = default) =>
        Task.Factory.StartNew(() => Get(endpoint, keys), cancellation, TaskCreationOptions.LongRunning, TaskScheduler.Default);

    /// <summary>Fetches <paramref name="keys"/> from one worker on the calling thread; a missing key maps to null.</summary>
    public IReadOnlyList<StoredValue?> Get(DataEndpoint endpoint, IReadOnlyList<string> keys)
    {
        var connection = Rent(endpoint);
        try
        {
            connection.Writer.Write(DataFrames.Get);
            connection.Writer.Write(keys.Count);
            foreach (var key in keys) connection.Writer.Write(key);
            connection.Writer.Flush();
            var values = new StoredValue?[keys.Count];
            for (var i = 0; i < values.Length; i++)
            {
                if (!connection.Reader.ReadBoolean()) continue;
                var typeName = connection.Reader.ReadString();
                var bytes = GC.AllocateUninitializedArray<byte>(connection.Reader.ReadInt32());
                connection.Reader.BaseStream.ReadExactly(bytes);
                counters?.AddReceivedFromWorker(bytes.Length);
                values[i] = new StoredValue(bytes, typeName);
            }
            Return(endpoint, connection);
            return values;
        }
        catch
        {
            connection.Dispose();
            throw;
        }
    }

    /// <summary>Reads a worker's transfer counters.</summary>
    public Task<WorkerTransferStats> StatsAsync(DataEndpoint endpoint, CancellationToken cancellation = default) =>
        Task.Factory.StartNew(() => Stats(endpoint), cancellation, TaskCreationOptions.LongRunning, TaskScheduler.Default);

    private WorkerTransferStats Stats(DataEndpoint endpoint)
    {
        var connection = Rent(endpoint);
        try
        {
            connection.Writer.Write(DataFrames.Stats);
            connection.Writer.Flush();
            var r = connection.Reader;
            var (toWorkers, toClients, fromWorkers, keys, bytes) = (r.ReadInt64(), r.ReadInt64(), r.ReadInt64(), r.ReadInt32(), r.ReadInt64());
            var assemblies = new string[r.ReadInt32()];
            for (var i = 0; i < assemblies.Length; i++) assemblies[i] = r.ReadString();
            var stats = new WorkerTransferStats(toWorkers, toClients, fromWorkers, keys, bytes, assemblies, r.ReadInt32(),
                MemoryLimit: r.ReadInt64(), InMemoryBytes: r.ReadInt64(), SpilledBytes: r.ReadInt64(), SpilledCount: r.ReadInt32(), ReadsFromDisk: r.ReadInt64(), CancelledBeforeStart: r.ReadInt64(),
                ExecutorsStarted: r.ReadInt64(), SpareExecutorsTaken: r.ReadInt64(), PeakTasksInFlight: r.ReadInt32(), TasksRun: r.ReadInt64());
            Return(endpoint, connection);
            return stats;
        }
        catch
        {
            connection.Dispose();
            throw;
        }
    }

    private Connection Rent(DataEndpoint endpoint)
    {
        if (_idle.TryGetValue(endpoint, out var bag) && bag.TryTake(out var idle)) return idle;
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
                throw new IOException($"No connection to the data channel at {endpoint.Host}:{endpoint.Port} within {StallTimeout.TotalSeconds:0} s.");
        }
        catch (AggregateException e) when (e.InnerException is SocketException socket)
        {
            tcp.Dispose();
            throw socket;
        }
        catch
        {
            tcp.Dispose();
            throw;
        }
        var connection = new Connection(tcp);
        connection.Writer.Write((byte)kind);
        return connection;
    }

    private void Return(DataEndpoint endpoint, Connection connection)
    {
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

    private sealed class Connection : IDisposable
    {
        private readonly TcpClient _tcp;

        public Connection(TcpClient tcp)
        {
            _tcp = tcp;
            var stream = tcp.GetStream();
            Reader = new BinaryReader(new BufferedStream(stream, 1 << 16), Encoding.UTF8);
            Writer = new BinaryWriter(new BufferedStream(stream, 1 << 16), Encoding.UTF8);
        }

        public BinaryReader Reader { get; }
        public BinaryWriter Writer { get; }

        public void Dispose() => _tcp.Dispose();
    }
}
