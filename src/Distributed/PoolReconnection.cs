using System.Collections.Concurrent;
using System.Diagnostics;
using Akka.Actor;
using Akka.Event;
using Distributed.Client;
using Distributed.Protocol;

namespace Distributed;

// Surviving a restart of the center. When the center is lost, this process's cluster node downs
// itself (keep-oldest: the side without the oldest member, the center, goes) and its actor system
// ends. The pool then joins the center at the same address again with a new actor system, and claims
// the keys of its live RemoteData, which the workers report when they rejoin. Computations that were
// waiting fail with CenterRestartedException; questions to the center are asked again.
public sealed partial class Pool
{
    /// <summary>How long a pool whose center was lost tries to join it again before its calls fail.</summary>
    private static readonly TimeSpan ReconnectTimeout = TimeSpan.FromMinutes(2);

    /// <summary>How long a reconnected pool waits for the workers to report the values of its RemoteData.</summary>
    private static readonly TimeSpan ReportedKeysWait = TimeSpan.FromSeconds(30);

    private readonly HostPort _address;

    /// <summary>The keys of this pool's RemoteData that are neither released nor collected: what it claims from a restarted center.</summary>
    private readonly ConcurrentDictionary<string, byte> _liveKeys = new();

    /// <summary>
    /// Keys released while the center was lost (the message could not reach it), and keys of
    /// computations failed by its loss: told to the next center, which deletes them when a worker reports them.
    /// </summary>
    private readonly ConcurrentQueue<string> _abandoned = new();

    /// <summary>Tells the center to release these keys; while it is lost, keeps them for the next one.</summary>
    private void TellRelease(IReadOnlyList<string> keys)
    {
        ClusterConnection connection;
        IActorRef client;
        lock (_reconnectLock) (connection, client) = (_connection, _client);
        if (IsLost(connection)) foreach (var key in keys) _abandoned.Enqueue(key);
        else connection.Center.Tell(new ReleaseKeys(keys), client); // from the client actor: the center knows it by that
    }

    private readonly object _reconnectLock = new();
    private ClusterConnection? _reconnectingFrom;
    private Task _reconnection = Task.CompletedTask;

    private void WatchForLoss(ClusterConnection connection) =>
        connection.System.WhenTerminated.ContinueWith(ended =>
        {
            if (_disposed != 0) return; // the pool closed it
            // Reconnect at once, not at the next call; observed here, so that a reconnection that fails
            // while nobody calls the pool is no unobserved exception (the next call reports it).
            ReconnectionAfter(connection).ContinueWith(failed => failed.Exception, CancellationToken.None,
                TaskContinuationOptions.OnlyOnFaulted, TaskScheduler.Default);
        }, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);

    private static bool IsLost(ClusterConnection connection) =>
        connection.System.WhenTerminated.IsCompleted || CoordinatedShutdown.Get(connection.System).ShutdownReason is not null;

    /// <summary>The reconnection that replaces <paramref name="lost"/>, started once; a failed one is tried again by the next call.</summary>
    private Task ReconnectionAfter(ClusterConnection lost)
    {
        lock (_reconnectLock)
        {
            if (_disposed != 0) return Task.FromException(new ObjectDisposedException(nameof(Pool)));
            if (_connection != lost) return _reconnection; // already replaced
            if (_reconnectingFrom != lost || _reconnection.IsFaulted)
            {
                _reconnectingFrom = lost;
                _reconnection = Task.Run(ReconnectAsync);
            }
            return _reconnection;
        }
    }

    /// <summary>The current connection and client actor, once the pool is connected (waiting for a reconnection in progress).</summary>
    private async Task<(ClusterConnection Connection, IActorRef Client)> ConnectedAsync(CancellationToken cancellation)
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
    private async Task<T> AskCenterAsync<T>(ICenterQuestion question, TimeSpan timeout, CancellationToken cancellation)
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

    private CenterRestartedException LostDuring(List<TaskSpec> tasks, Exception? inner)
    {
        foreach (var task in tasks) _abandoned.Enqueue(task.Key);
        var first = tasks.Count > 0 ? tasks[0].Key : "(none)";
        return new CenterRestartedException(
            $"The center at {_address} was lost during the computation of {tasks.Count} task(s) (the first: {first}); it is not resumed. " +
            "RemoteData returned before stay valid once the pool has reconnected to the center; run the computation again.", inner);
    }

    /// <summary>Joins the center at the same address again, for up to <see cref="ReconnectTimeout"/>, and claims this pool's keys.</summary>
    private async Task ReconnectAsync()
    {
        var waiting = Stopwatch.StartNew();
        while (true)
        {
            ObjectDisposedException.ThrowIf(_disposed != 0, this);
            ClusterConnection? connection = null;
            try
            {
                connection = await ClusterConnection.OpenAsync(_address, _credentials, DefaultConnectTimeout, CancellationToken.None).ConfigureAwait(false);
                var client = connection.System.ActorOf(ClientActor.Props(connection.Center, connection.CenterPath, _code), "client");
                await client.Ask<ClientConnected>(new AskCenter(new ConnectClient()), DefaultConnectTimeout).ConfigureAwait(false);
                var released = new List<string>();
                while (_abandoned.TryDequeue(out var key)) released.Add(key);
                var missing = await ClaimLiveKeysAsync(connection, client, released).ConfigureAwait(false);
                lock (_reconnectLock)
                {
                    if (_disposed == 0)
                    {
                        _connection = connection;
                        _client = client;
                    }
                }
                ObjectDisposedException.ThrowIf(_disposed != 0, this);
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
    private async Task<int> ClaimLiveKeysAsync(ClusterConnection connection, IActorRef client, IReadOnlyList<string> released)
    {
        IReadOnlyList<string> missing = _liveKeys.Keys.ToList();
        var waited = Stopwatch.StartNew();
        var first = true;
        while (missing.Count > 0 || first)
        {
            missing = (await client.Ask<KeysClaimed>(new AskCenter(new ClaimKeys(missing, first ? released : null)), DefaultConnectTimeout).ConfigureAwait(false)).Missing;
            first = false;
            if (missing.Count == 0 || waited.Elapsed > ReportedKeysWait) break;
            await Task.Delay(TimeSpan.FromMilliseconds(250)).ConfigureAwait(false);
        }
        return missing.Count;
    }
}
