using System.Diagnostics;
using Akka.Actor;
using Akka.Event;
using Distributed.Protocol;

namespace Distributed.Client;

/// <summary>
/// A pool's link to the center: its <see cref="ClusterConnection"/> and <see cref="ClientActor"/>, the questions it
/// asks the center, the keys it tells the center to release, and surviving a restart of the center.
/// When the center is lost, this process's actor system ends: a member's cluster node downs itself
/// (CenterDowningProvider: a node that has lost the center goes); a dial-out client's watch of the
/// center shuts it down. The connection then reaches the center at
/// the same address again with a new actor system, and claims the keys of the pool's live RemoteData,
/// which the workers report when they rejoin. Computations that were waiting fail with
/// <see cref="CenterRestartedException"/>; questions to the center are asked again.
/// </summary>
internal sealed class CenterConnection : IAsyncDisposable
{
    /// <summary>How long joining the center and its first answer may take; also the wait for a quick question.</summary>
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(10);

    /// <summary>How long a connection whose center was lost tries to join it again before its calls fail.</summary>
    private static readonly TimeSpan ReconnectTimeout = TimeSpan.FromMinutes(2);

    /// <summary>How long a reconnected pool waits for the workers to report the values of its RemoteData.</summary>
    private static readonly TimeSpan ReportedKeysWait = TimeSpan.FromSeconds(30);

    /// <summary>How often the keys of garbage-collected RemoteData are released, in one message.</summary>
    private static readonly TimeSpan DroppedReleaseInterval = TimeSpan.FromSeconds(1);

    private readonly HostPort _address;
    private readonly Protocol.Security.ClusterCredentials? _credentials;
    private readonly ClientConnectionMode _mode;
    private readonly CodeShipping _code;
    private readonly OwnedKeys _keys;
    private readonly Timer _releaseDropped;

    // Replaced together (under _reconnectLock) when the connection rejoins a restarted center.
    private volatile ClusterConnection _connection;
    private volatile IActorRef _client;
    private readonly object _reconnectLock = new();
    private ClusterConnection? _reconnectingFrom;
    private Task _reconnection = Task.CompletedTask;
    private int _closed;

    private CenterConnection(ClusterConnection connection, IActorRef client, Protocol.Security.ClusterCredentials? credentials, CodeShipping code, OwnedKeys keys)
    {
        _connection = connection;
        _client = client;
        _address = connection.Address;
        _credentials = credentials;
        _mode = connection.Mode;
        _code = code;
        _keys = keys;
        _releaseDropped = new Timer(_ => ReleaseDroppedNow(), null, DroppedReleaseInterval, DroppedReleaseInterval);
    }

    /// <summary>The address of the center.</summary>
    public HostPort Address => _address;

    /// <summary>
    /// Reaches the center at <paramref name="address"/> (with <paramref name="credentials"/>,
    /// which the caller keeps) and introduces this client to it, within <paramref name="timeout"/>.
    /// <paramref name="code"/> answers the requests for the user's assemblies that the center relays from the workers.
    /// A center that refuses the connection is tried again for up to <paramref name="waitForCenter"/> (one starting beside this client).
    /// </summary>
    public static async Task<CenterConnection> ConnectAsync(HostPort address, Protocol.Security.ClusterCredentials? credentials, CodeShipping code, OwnedKeys keys,
        TimeSpan timeout, CancellationToken cancellation, TimeSpan waitForCenter = default)
    {
        var connection = await ClusterConnection.OpenAsync(address, credentials, ClusterConnection.ConfiguredMode(), timeout, cancellation, waitForCenter).ConfigureAwait(false);
        var client = connection.System.ActorOf(ClientActor.Props(connection.Center, connection.CenterPath, code), "client");
        try
        {
            await client.Ask<ClientConnected>(new AskCenter(new ConnectClient()), timeout, cancellation).ConfigureAwait(false);
        }
        catch (AskTimeoutException e)
        {
            await connection.CloseAsync().ConfigureAwait(false);
            throw new CenterUnreachableException($"The center at {connection.Address} did not answer within {timeout.TotalSeconds:0} s.", e);
        }
        var center = new CenterConnection(connection, client, credentials, code, keys);
        Distributed.Protocol.Hosting.StartTrace.Mark("client: connected to the center");
        center.WatchForLoss(connection);
        return center;
    }

    /// <summary>The current connection and client actor, once connected (waiting for a reconnection in progress).</summary>
    public async Task<(ClusterConnection Connection, IActorRef Client)> ConnectedAsync(CancellationToken cancellation)
    {
        while (true)
        {
            ClusterConnection connection;
            IActorRef client;
            lock (_reconnectLock) (connection, client) = (_connection, _client);
            if (!connection.System.WhenTerminated.IsCompleted) return (connection, client);
            await ReconnectionAfter(connection).WaitAsync(cancellation).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Asks the center a question that may be asked again: when the center is lost meanwhile, the next
    /// center is asked. The client actor relays it, so that the center hears it from this client.
    /// </summary>
    public async Task<T> AskAsync<T>(ICenterQuestion question, TimeSpan timeout, CancellationToken cancellation)
    {
        for (var attempt = 1; ; attempt++)
        {
            var (connection, client) = await ConnectedAsync(cancellation).ConfigureAwait(false);
            var answer = client.Ask<T>(new AskCenter(question), timeout, cancellation);
            var lost = connection.System.WhenTerminated;
            try
            {
                if (await Task.WhenAny(answer, lost).ConfigureAwait(false) == answer) return await answer.ConfigureAwait(false);
            }
            catch (Exception) when (!cancellation.IsCancellationRequested && IsLost(connection))
            {
                await lost.WaitAsync(ReconnectTimeout, cancellation).ConfigureAwait(false); // the node is going down: wait for it to end
            }
            if (attempt >= 3) throw new CenterRestartedException($"The center at {_address} was lost {attempt} times while it was asked {question.GetType().Name}.");
        }
    }

    /// <summary>Tells the center to release these keys; while it is lost, keeps them for the next one.</summary>
    public void Release(IReadOnlyList<string> keys)
    {
        ClusterConnection connection;
        IActorRef client;
        lock (_reconnectLock) (connection, client) = (_connection, _client);
        if (IsLost(connection)) _keys.Abandon(keys);
        else connection.Center.Tell(new ReleaseKeys(keys), client); // from the client actor: the center knows it by that
    }

    private void ReleaseDroppedNow()
    {
        if (_closed != 0) return;
        var keys = _keys.TakeDropped();
        if (keys.Count > 0) Release(keys);
    }

    /// <summary>Whether the center of <paramref name="connection"/> is lost (its node is down or going down).</summary>
    public static bool IsLost(ClusterConnection connection) =>
        connection.System.WhenTerminated.IsCompleted || CoordinatedShutdown.Get(connection.System).ShutdownReason is not null;

    /// <summary>The failure of a computation whose center was lost; its keys are released by the next center.</summary>
    public CenterRestartedException LostDuring(IReadOnlyList<TaskSpec> tasks, Exception? inner)
    {
        _keys.Abandon(tasks.Select(t => t.Key));
        var first = tasks.Count > 0 ? tasks[0].Key : "(none)";
        return new CenterRestartedException(
            $"The center at {_address} was lost during the computation of {tasks.Count} task(s) (the first: {first}); it is not resumed. " +
            "RemoteData returned before stay valid once the pool has reconnected to the center; run the computation again.", inner);
    }

    private void WatchForLoss(ClusterConnection connection) =>
        connection.System.WhenTerminated.ContinueWith(ended =>
        {
            if (_closed != 0) return; // the pool closed it
            // The program is exiting (SIGTERM, Ctrl+C, the end of Main) and Akka stopped the system on its
            // way out: a new connection would only join the center to leave it again, noisily.
            if (CoordinatedShutdown.Get(connection.System).ShutdownReason is CoordinatedShutdown.ClrExitReason) return;
            // Reconnect at once, not at the next call; observed here, so that a reconnection that fails
            // while nobody calls the pool is no unobserved exception (the next call reports it).
            ReconnectionAfter(connection).ContinueWith(failed => failed.Exception, CancellationToken.None,
                TaskContinuationOptions.OnlyOnFaulted, TaskScheduler.Default);
        }, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);

    /// <summary>The reconnection that replaces <paramref name="lost"/>, started once; a failed one is tried again by the next call.</summary>
    private Task ReconnectionAfter(ClusterConnection lost)
    {
        lock (_reconnectLock)
        {
            if (_closed != 0) return Task.FromException(new ObjectDisposedException(nameof(Pool)));
            if (_connection != lost) return _reconnection; // already replaced
            if (_reconnectingFrom != lost || _reconnection.IsFaulted)
            {
                _reconnectingFrom = lost;
                _reconnection = Task.Run(ReconnectAsync);
            }
            return _reconnection;
        }
    }

    private void ThrowIfClosed() => ObjectDisposedException.ThrowIf(_closed != 0, typeof(Pool));

    /// <summary>Reaches the center at the same address again, for up to <see cref="ReconnectTimeout"/>, and claims the pool's keys.</summary>
    private async Task ReconnectAsync()
    {
        var waiting = Stopwatch.StartNew();
        while (true)
        {
            ThrowIfClosed();
            ClusterConnection? connection = null;
            try
            {
                connection = await ClusterConnection.OpenAsync(_address, _credentials, _mode, DefaultTimeout, CancellationToken.None).ConfigureAwait(false);
                var client = connection.System.ActorOf(ClientActor.Props(connection.Center, connection.CenterPath, _code), "client");
                await client.Ask<ClientConnected>(new AskCenter(new ConnectClient()), DefaultTimeout).ConfigureAwait(false);
                var missing = await ClaimLiveKeysAsync(client, _keys.TakeAbandoned()).ConfigureAwait(false);
                lock (_reconnectLock)
                {
                    if (_closed == 0)
                    {
                        _connection = connection;
                        _client = client;
                    }
                }
                ThrowIfClosed();
                WatchForLoss(connection);
                connection.System.Log.Warning("Reconnected to the center at {0} after it was lost ({1:0.0} s); {2} value(s) of this pool were not reported by any worker.",
                    _address, waiting.Elapsed.TotalSeconds, missing);
                return;
            }
            catch (Exception e) when (e is not ObjectDisposedException)
            {
                if (connection is not null) await connection.CloseAsync().ConfigureAwait(false);
                if (waiting.Elapsed > ReconnectTimeout)
                    throw new CenterUnreachableException($"The center at {_address} was lost and did not come back within {ReconnectTimeout.TotalSeconds:0} s: {e.Message}", e);
            }
            catch (ObjectDisposedException)
            {
                if (connection is not null) await connection.CloseAsync().ConfigureAwait(false);
                throw;
            }
            await Task.Delay(TimeSpan.FromSeconds(1)).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Claims the keys of the live RemoteData, waiting (a while) for the workers that rejoin to report
    /// them. Returns how many no worker reported: they were lost with a worker while the center was down.
    /// </summary>
    private async Task<int> ClaimLiveKeysAsync(IActorRef client, IReadOnlyList<string> released)
    {
        var missing = _keys.Live();
        var waited = Stopwatch.StartNew();
        var first = true;
        while (missing.Count > 0 || first)
        {
            missing = (await client.Ask<KeysClaimed>(new AskCenter(new ClaimKeys(missing, first ? released : null)), DefaultTimeout).ConfigureAwait(false)).Missing;
            first = false;
            if (missing.Count == 0 || waited.Elapsed > ReportedKeysWait) break;
            await Task.Delay(TimeSpan.FromMilliseconds(250)).ConfigureAwait(false);
        }
        return missing.Count;
    }

    /// <summary>Says goodbye to the center (which releases this client's data and queued tasks now) and leaves the cluster.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _closed, 1) != 0) return;
        await _releaseDropped.DisposeAsync().ConfigureAwait(false);
        _connection.Center.Tell(DisconnectClient.Instance, _client); // from the client actor: the center knows it by that
        await _connection.CloseAsync().ConfigureAwait(false);
    }
}
