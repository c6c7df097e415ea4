using System.Collections.Concurrent;
using System.Security.Cryptography;
using Akka.Actor;
using Distributed.Client;
using Distributed.Data;
using Distributed.Protocol;
using Distributed.Data.Serialization;

namespace Distributed;

/// <summary>
/// The cluster as a pool of processes, in the spirit of Python's <c>multiprocessing.Pool</c>:
/// <c>Map</c> and <c>Apply</c> run the caller's own functions (lambdas, closures, method groups) on
/// the workers and return <see cref="RemoteData{T}"/> proxies; the values stay on the cluster until
/// <see cref="Gather{T}"/> or <see cref="RemoteData{T}.Get"/> brings them here.
/// </summary>
public sealed partial class Pool : IDisposable, IAsyncDisposable, IProcessLocal
{
    private static readonly TimeSpan DefaultConnectTimeout = TimeSpan.FromSeconds(10);

    /// <summary>How long a gather waits for a value lost with a worker to be made again.</summary>
    private static readonly TimeSpan RemakeTimeout = TimeSpan.FromMinutes(10);

    /// <summary>Fetches of one value before giving up; with the back-off between them, about 30 s.</summary>
    private const int MaxFetchAttempts = 60;

    // Replaced together (under _reconnectLock) when the pool reconnects to a restarted center.
    private volatile ClusterConnection _connection;
    private volatile IActorRef _client;
    private readonly CodeShipping _code = new();
    private readonly ValueCodec _codec = new();
    private readonly DataClient _data;
    private readonly Protocol.Security.ClusterCredentials? _credentials;
    private readonly bool _ownsCredentials;
    private readonly System.Runtime.CompilerServices.ConditionalWeakTable<Delegate, Tuple<Type, FunctionSpec>> _encodedFunctions = new();
    private int _disposed;

    /// <summary>
    /// Connects to the center at <paramref name="centerAddress"/> (<c>host:port</c>), with the credentials
    /// named by the <c>DISTRIBUTED_CREDENTIALS</c> environment variable if it is set (mutual TLS), else without.
    /// </summary>
    public Pool(string centerAddress)
        : this(centerAddress, EnvironmentCredentials(), ownsCredentials: true)
    {
    }

    /// <summary>
    /// Connects to the center at <paramref name="centerAddress"/> (<c>host:port</c>) over mutual TLS with
    /// <paramref name="credentials"/> (the caller keeps and disposes them); null connects without TLS,
    /// which only a center without credentials accepts.
    /// </summary>
    public Pool(string centerAddress, Protocol.Security.ClusterCredentials? credentials)
        : this(centerAddress, credentials, ownsCredentials: false)
    {
    }

    private Pool(string centerAddress, Protocol.Security.ClusterCredentials? credentials, bool ownsCredentials)
        : this(Open(HostPort.Parse(centerAddress), credentials, ownsCredentials), credentials, ownsCredentials)
    {
        try
        {
            HandshakeAsync(DefaultConnectTimeout, CancellationToken.None).GetAwaiter().GetResult();
        }
        catch
        {
            DisposeCredentials();
            throw;
        }
    }

    private Pool(ClusterConnection connection, Protocol.Security.ClusterCredentials? credentials, bool ownsCredentials)
    {
        _connection = connection;
        _address = connection.Address;
        _credentials = credentials;
        _ownsCredentials = ownsCredentials;
        _data = new DataClient(PeerKind.Client, null, credentials);
        _client = connection.System.ActorOf(ClientActor.Props(connection.Center, connection.CenterPath, _code), "client");
        _releaseDropped = new Timer(_ => ReleaseDroppedNow(), null, DroppedReleaseInterval, DroppedReleaseInterval);
    }

    /// <summary>How often the keys of garbage-collected <see cref="RemoteData{T}"/> are released, in one message.</summary>
    private static readonly TimeSpan DroppedReleaseInterval = TimeSpan.FromSeconds(1);

    private readonly ConcurrentQueue<string> _dropped = new();
    private readonly Timer _releaseDropped;

    /// <summary>Called by a <see cref="RemoteData{T}"/>'s finalizer: only queues, the timer tells the center.</summary>
    internal void ReleaseDropped(string key)
    {
        if (_disposed != 0) return;
        _liveKeys.TryRemove(key, out _);
        _dropped.Enqueue(key);
    }

    private void ReleaseDroppedNow()
    {
        if (_dropped.IsEmpty || _disposed != 0) return;
        var keys = new List<string>();
        while (keys.Count < 100_000 && _dropped.TryDequeue(out var key)) keys.Add(key);
        TellRelease(keys);
    }

    /// <summary>
    /// Connects to the center at <paramref name="centerAddress"/> (<c>host:port</c>), with the credentials
    /// named by the <c>DISTRIBUTED_CREDENTIALS</c> environment variable if it is set (mutual TLS), else without.
    /// </summary>
    public static Task<Pool> ConnectAsync(string centerAddress, TimeSpan? timeout = null, CancellationToken cancellation = default) =>
        ConnectAsync(centerAddress, EnvironmentCredentials(), ownsCredentials: true, timeout, cancellation);

    /// <summary>
    /// Connects to the center at <paramref name="centerAddress"/> (<c>host:port</c>) over mutual TLS with
    /// <paramref name="credentials"/> (the caller keeps and disposes them); null connects without TLS,
    /// which only a center without credentials accepts. Wrong or missing credentials fail within
    /// <paramref name="timeout"/> with a <see cref="CenterUnreachableException"/> naming the center and the reason.
    /// </summary>
    public static Task<Pool> ConnectAsync(string centerAddress, Protocol.Security.ClusterCredentials? credentials, TimeSpan? timeout = null, CancellationToken cancellation = default) =>
        ConnectAsync(centerAddress, credentials, ownsCredentials: false, timeout, cancellation);

    private static async Task<Pool> ConnectAsync(string centerAddress, Protocol.Security.ClusterCredentials? credentials, bool ownsCredentials, TimeSpan? timeout, CancellationToken cancellation)
    {
        var wait = timeout ?? DefaultConnectTimeout;
        ClusterConnection connection;
        try
        {
            connection = await ClusterConnection.OpenAsync(HostPort.Parse(centerAddress), credentials, wait, cancellation).ConfigureAwait(false);
        }
        catch when (ownsCredentials)
        {
            credentials?.Dispose();
            throw;
        }
        var pool = new Pool(connection, credentials, ownsCredentials);
        try
        {
            await pool.HandshakeAsync(wait, cancellation).ConfigureAwait(false);
        }
        catch
        {
            pool.DisposeCredentials();
            throw;
        }
        return pool;
    }

    /// <summary>The credentials named by <c>DISTRIBUTED_CREDENTIALS</c>, if set; a bad folder throws <see cref="Protocol.Security.CredentialsException"/>.</summary>
    private static Protocol.Security.ClusterCredentials? EnvironmentCredentials() => Protocol.Security.ClusterCredentials.Resolve(null);

    private static ClusterConnection Open(HostPort address, Protocol.Security.ClusterCredentials? credentials, bool ownsCredentials)
    {
        try
        {
            return ClusterConnection.OpenAsync(address, credentials, DefaultConnectTimeout, CancellationToken.None).GetAwaiter().GetResult();
        }
        catch when (ownsCredentials)
        {
            credentials?.Dispose();
            throw;
        }
    }

    private void DisposeCredentials()
    {
        _data.Dispose();
        if (_ownsCredentials) _credentials?.Dispose();
    }

    private async Task HandshakeAsync(TimeSpan wait, CancellationToken cancellation)
    {
        try
        {
            await _client.Ask<ClientConnected>(new AskCenter(new ConnectClient()), wait, cancellation).ConfigureAwait(false);
        }
        catch (AskTimeoutException e)
        {
            await _connection.CloseAsync().ConfigureAwait(false);
            throw new CenterUnreachableException($"The center at {_connection.Address} did not answer within {wait.TotalSeconds:0} s.", e);
        }
        WatchForLoss(_connection);
    }

    /// <summary>The address of the center.</summary>
    public string CenterAddress => _connection.Address.ToString();

    // ----- Map -----

    /// <summary>
    /// Runs <paramref name="function"/> on each item, on the cluster. Returns once every result exists there.
    /// A task still running <paramref name="timeout"/> after it started fails the map with <see cref="TaskTimeoutException"/>.
    /// </summary>
    public List<RemoteData<TResult>> Map<T, TResult>(Func<T, TResult> function, IEnumerable<T> items, TimeSpan? timeout = null) =>
        MapAsync(function, items, timeout: timeout).GetAwaiter().GetResult();

    /// <summary>Runs <paramref name="function"/> on each remote value, where that value lives; no input comes to the client.</summary>
    public List<RemoteData<TResult>> Map<T, TResult>(Func<T, TResult> function, IEnumerable<RemoteData<T>> items, TimeSpan? timeout = null) =>
        MapAsync(function, items, timeout: timeout).GetAwaiter().GetResult();

    /// <summary>Like <see cref="Map{T,TResult}(Func{T,TResult},IEnumerable{T},TimeSpan?)"/>, returning at once.</summary>
    public Task<List<RemoteData<TResult>>> MapAsync<T, TResult>(Func<T, TResult> function, IEnumerable<T> items, CancellationToken cancellation = default, TimeSpan? timeout = null)
    {
        var timeoutMs = TaskTimeoutMilliseconds(timeout, nameof(timeout));
        var name = KeyPrefix(function);
        var values = items.ToList();
        var function_ = EncodeFunction(new UnaryFunction<T, TResult>(function), name + "-0");
        var tasks = new List<TaskSpec>(values.Count);
        for (var i = 0; i < values.Count; i++)
        {
            var key = $"{name}-{i}";
            tasks.Add(new TaskSpec(key, function_.FunctionId, ArgumentsKind.SingleValue, EncodeArgument(values[i], key), [], TimeoutMs: timeoutMs));
        }
        var code = _code.ManifestFor(CodeShipping.TypesOf(function).Append(typeof(T)).Append(typeof(TResult)).Concat(ValueTypes(values)));
        return SubmitAsync<TResult>(code, function_, tasks, cancellation);
    }

    /// <summary>Like <see cref="Map{T,TResult}(Func{T,TResult},IEnumerable{RemoteData{T}},TimeSpan?)"/>, returning at once.</summary>
    public Task<List<RemoteData<TResult>>> MapAsync<T, TResult>(Func<T, TResult> function, IEnumerable<RemoteData<T>> items, CancellationToken cancellation = default, TimeSpan? timeout = null)
    {
        var timeoutMs = TaskTimeoutMilliseconds(timeout, nameof(timeout));
        var name = KeyPrefix(function);
        var function_ = EncodeFunction(new UnaryFunction<T, TResult>(function), name + "-0");
        var inputs = items.ToList();
        var tasks = inputs.Select((item, i) => new TaskSpec($"{name}-{i}", function_.FunctionId, ArgumentsKind.Dependencies, [], [item.Key], TimeoutMs: timeoutMs)).ToList();
        var code = _code.ManifestFor(CodeShipping.TypesOf(function).Append(typeof(T)).Append(typeof(TResult)));
        return SubmitAsync<TResult>(code, function_, tasks, cancellation, inputs);
    }

    // ----- Apply -----

    /// <summary>Runs <paramref name="function"/> once on the cluster; still running <paramref name="timeout"/> after it started, it fails with <see cref="TaskTimeoutException"/>.</summary>
    public RemoteData<TResult> Apply<TResult>(Func<TResult> function, TimeSpan? timeout = null) => ApplyAsync(function, timeout: timeout).GetAwaiter().GetResult();

    /// <summary>Runs <paramref name="function"/> once, on a plain value.</summary>
    public RemoteData<TResult> Apply<T, TResult>(Func<T, TResult> function, T argument, TimeSpan? timeout = null) => ApplyAsync(function, argument, timeout: timeout).GetAwaiter().GetResult();

    /// <summary>Runs <paramref name="function"/> once on a remote value, where it lives.</summary>
    public RemoteData<TResult> Apply<T, TResult>(Func<T, TResult> function, RemoteData<T> argument, TimeSpan? timeout = null) => ApplyAsync(function, argument, timeout: timeout).GetAwaiter().GetResult();

    /// <summary>Runs <paramref name="function"/> once on the values of a list of remote values, in order.</summary>
    public RemoteData<TResult> Apply<T, TResult>(Func<IReadOnlyList<T>, TResult> function, IEnumerable<RemoteData<T>> arguments, TimeSpan? timeout = null) =>
        ApplyAsync(function, arguments, timeout: timeout).GetAwaiter().GetResult();

    /// <summary>
    /// Runs any delegate once; each argument may be a plain value, a <see cref="RemoteData{T}"/>, or a
    /// list or array of them (nested too), which arrives as the value(s).
    /// </summary>
    public RemoteData<TResult> Apply<TResult>(Delegate function, params object?[] arguments) =>
        ApplyAsync<TResult>(function, arguments).GetAwaiter().GetResult();

    /// <summary>Like <see cref="Apply{TResult}(Func{TResult},TimeSpan?)"/>, returning at once.</summary>
    public async Task<RemoteData<TResult>> ApplyAsync<TResult>(Func<TResult> function, CancellationToken cancellation = default, TimeSpan? timeout = null)
    {
        var key = KeyPrefix(function);
        var encoded = EncodeFunction(new NullaryFunction<TResult>(function), key);
        var task = new TaskSpec(key, encoded.FunctionId, ArgumentsKind.Template, _codec.Encode(Array.Empty<object?>()), [], TimeoutMs: TaskTimeoutMilliseconds(timeout, nameof(timeout)));
        var code = _code.ManifestFor(CodeShipping.TypesOf(function).Append(typeof(TResult)));
        return (await SubmitAsync<TResult>(code, encoded, [task], cancellation).ConfigureAwait(false))[0];
    }

    /// <summary>Like <see cref="Apply{T,TResult}(Func{T,TResult},T,TimeSpan?)"/>, returning at once.</summary>
    public async Task<RemoteData<TResult>> ApplyAsync<T, TResult>(Func<T, TResult> function, T argument, CancellationToken cancellation = default, TimeSpan? timeout = null)
    {
        if (argument is IRemoteData || argument is System.Collections.IEnumerable and not string)
            return await ApplyAsync<TResult>(function, [argument], cancellation, timeout).ConfigureAwait(false);
        var key = KeyPrefix(function);
        var encoded = EncodeFunction(new UnaryFunction<T, TResult>(function), key);
        var task = new TaskSpec(key, encoded.FunctionId, ArgumentsKind.SingleValue, EncodeArgument(argument, key), [], TimeoutMs: TaskTimeoutMilliseconds(timeout, nameof(timeout)));
        var code = _code.ManifestFor(CodeShipping.TypesOf(function).Append(typeof(T)).Append(typeof(TResult)).Concat(ValueTypes([argument])));
        return (await SubmitAsync<TResult>(code, encoded, [task], cancellation).ConfigureAwait(false))[0];
    }

    /// <summary>Like <see cref="Apply{T,TResult}(Func{T,TResult},RemoteData{T},TimeSpan?)"/>, returning at once.</summary>
    public async Task<RemoteData<TResult>> ApplyAsync<T, TResult>(Func<T, TResult> function, RemoteData<T> argument, CancellationToken cancellation = default, TimeSpan? timeout = null)
    {
        var key = KeyPrefix(function);
        var encoded = EncodeFunction(new UnaryFunction<T, TResult>(function), key);
        var task = new TaskSpec(key, encoded.FunctionId, ArgumentsKind.Dependencies, [], [argument.Key], TimeoutMs: TaskTimeoutMilliseconds(timeout, nameof(timeout)));
        var code = _code.ManifestFor(CodeShipping.TypesOf(function).Append(typeof(T)).Append(typeof(TResult)));
        return (await SubmitAsync<TResult>(code, encoded, [task], cancellation).ConfigureAwait(false))[0];
    }

    /// <summary>Like <see cref="Apply{T,TResult}(Func{IReadOnlyList{T},TResult},IEnumerable{RemoteData{T}},TimeSpan?)"/>, returning at once.</summary>
    public async Task<RemoteData<TResult>> ApplyAsync<T, TResult>(Func<IReadOnlyList<T>, TResult> function, IEnumerable<RemoteData<T>> arguments, CancellationToken cancellation = default, TimeSpan? timeout = null)
    {
        var key = KeyPrefix(function);
        var encoded = EncodeFunction(new ListFunction<T, TResult>(function), key);
        var task = new TaskSpec(key, encoded.FunctionId, ArgumentsKind.Dependencies, [], arguments.Select(a => a.Key).ToList(), TimeoutMs: TaskTimeoutMilliseconds(timeout, nameof(timeout)));
        var code = _code.ManifestFor(CodeShipping.TypesOf(function).Append(typeof(T)).Append(typeof(TResult)));
        return (await SubmitAsync<TResult>(code, encoded, [task], cancellation).ConfigureAwait(false))[0];
    }

    /// <summary>Like <see cref="Apply{TResult}(Delegate,object?[])"/>, returning at once.</summary>
    public async Task<RemoteData<TResult>> ApplyAsync<TResult>(Delegate function, object?[] arguments, CancellationToken cancellation = default, TimeSpan? timeout = null)
    {
        var key = KeyPrefix(function);
        var dependencies = new List<string>();
        var types = new List<Type>();
        var template = arguments.Select(a => { var t = ArgumentEncoding.Templatize(a, dependencies, out var type); types.Add(type); return t; }).ToArray();
        var encoded = EncodeFunction(new DynamicFunction(function), key);
        var task = new TaskSpec(key, encoded.FunctionId, ArgumentsKind.Template, EncodeArgument(template, key), dependencies, TimeoutMs: TaskTimeoutMilliseconds(timeout, nameof(timeout)));
        var code = _code.ManifestFor(CodeShipping.TypesOf(function).Concat(types).Append(typeof(TResult)));
        return (await SubmitAsync<TResult>(code, encoded, [task], cancellation).ConfigureAwait(false))[0];
    }

    // ----- Gather -----

    /// <summary>Fetches the values, in order, straight from the workers that hold them.</summary>
    public List<T> Gather<T>(IEnumerable<RemoteData<T>> data) =>
        GatherAsync(data, synchronous: true, CancellationToken.None).GetAwaiter().GetResult();

    /// <summary>Like <see cref="Gather{T}"/>, returning at once.</summary>
    public Task<List<T>> GatherAsync<T>(IEnumerable<RemoteData<T>> data, CancellationToken cancellation = default) =>
        GatherAsync(data, synchronous: false, cancellation);

    /// <summary>
    /// The synchronous form reads the sockets on the caller's thread: a blocking caller already
    /// waits, and handing the read to the thread pool would only add a hop (and a blocked pool thread).
    /// </summary>
    private async Task<List<T>> GatherAsync<T>(IEnumerable<RemoteData<T>> data, bool synchronous, CancellationToken cancellation)
    {
        var items = data.ToList();
        var values = new StoredValue?[items.Count];
        await FetchAsync(items.Select(i => (i.Key, i.Location?.Data)).ToList(), values, synchronous, cancellation).ConfigureAwait(false);
        var missing = Enumerable.Range(0, items.Count).Where(i => values[i] is null).ToList();
        for (var attempt = 0; missing.Count > 0; attempt++)
        {
            // The worker we knew of no longer has it (or we never knew): ask the center who does. A
            // value whose only copy died is answered once it has been made again; a holder that has
            // just died may still be named until the center notices, so a failed fetch asks again.
            var reply = await AskCenterAsync<WhoHasReply>(new WhoHas(missing.Select(i => items[i].Key).ToList()), RemakeTimeout, cancellation).ConfigureAwait(false);
            var retry = new List<(string Key, DataEndpoint? From)>(missing.Count);
            foreach (var i in missing)
            {
                var holders = reply.Holders.GetValueOrDefault(items[i].Key) ?? [];
                if (holders.Count == 0 && reply.Lost?.GetValueOrDefault(items[i].Key) is { } why) throw new DataLostException(items[i].Key, why);
                if (holders.Count == 0) throw new DataLostException(items[i].Key, $"The value of {items[i].Key} is no longer on the cluster (it was released, or lost with a worker while the center was down).");
                retry.Add((items[i].Key, holders[attempt % holders.Count].Data));
            }
            var retried = new StoredValue?[retry.Count];
            await FetchAsync(retry, retried, synchronous, cancellation).ConfigureAwait(false);
            for (var j = 0; j < missing.Count; j++) values[missing[j]] = retried[j];
            missing = missing.Where(i => values[i] is null).ToList();
            if (missing.Count == 0) break;
            if (attempt >= MaxFetchAttempts)
                throw new DataLostException(items[missing[0]].Key, $"The value of {items[missing[0]].Key} could not be fetched from its holders {MaxFetchAttempts} times.");
            await Task.Delay(TimeSpan.FromMilliseconds(Math.Min(500, 50 * (attempt + 1))), cancellation).ConfigureAwait(false);
        }
        var result = new List<T>(items.Count);
        for (var i = 0; i < items.Count; i++)
        {
            var value = _codec.Decode(values[i]!.Bytes);
            result.Add(value is null ? default! : (T)value);
        }
        return result;
    }

    private async Task FetchAsync(IReadOnlyList<(string Key, DataEndpoint? From)> wanted, StoredValue?[] into, bool synchronous, CancellationToken cancellation)
    {
        var groups = wanted.Select((w, i) => (w.Key, w.From, Index: i))
            .Where(w => w.From is not null)
            .GroupBy(w => w.From!)
            .ToList();
        void FetchGroup(IGrouping<DataEndpoint, (string Key, DataEndpoint? From, int Index)> group)
        {
            var list = group.ToList();
            try
            {
                var fetched = _data.Get(group.Key, list.Select(w => w.Key).ToList());
                for (var j = 0; j < list.Count; j++) into[list[j].Index] = fetched[j];
            }
            catch (Exception e) when (e is IOException or System.Net.Sockets.SocketException)
            {
                // that worker is unreachable; the caller asks the center for other holders
            }
        }
        if (synchronous && groups.Count == 1)
        {
            FetchGroup(groups[0]);
            return;
        }
        await Task.WhenAll(groups.Select(g => Task.Factory.StartNew(() => FetchGroup(g), cancellation,
            TaskCreationOptions.LongRunning, TaskScheduler.Default))).ConfigureAwait(false);
    }

    // ----- what the center knows -----

    /// <summary>The workers: name, address, cores, number of keys and bytes they hold (the 2015 system's <c>ncores</c>).</summary>
    public IReadOnlyList<WorkerInfo> Workers() =>
        AskCenterAsync<WorkersReply>(new GetWorkers(false), DefaultConnectTimeout, CancellationToken.None).GetAwaiter().GetResult().Workers;

    /// <summary>The keys each worker holds, by worker name (<c>has_what</c>).</summary>
    public IReadOnlyDictionary<string, IReadOnlyList<string>> HasWhat() =>
        AskCenterAsync<WorkersReply>(new GetWorkers(true), DefaultConnectTimeout, CancellationToken.None).GetAwaiter().GetResult().KeysByWorker;

    /// <summary>The names of the workers holding <paramref name="data"/> (<c>who_has</c>).</summary>
    public IReadOnlyList<string> WhoHas(IRemoteData data) =>
        AskCenterAsync<WhoHasReply>(new WhoHas([data.Key]), DefaultConnectTimeout, CancellationToken.None).GetAwaiter().GetResult()
            .Holders.GetValueOrDefault(data.Key)?.Select(w => w.Name).ToList() ?? [];

    /// <summary>Bytes each worker moved over its data channel, read from the workers themselves.</summary>
    public async Task<IReadOnlyDictionary<string, WorkerTransferStats>> TransferStatsAsync(CancellationToken cancellation = default)
    {
        var workers = (await AskCenterAsync<WorkersReply>(new GetWorkers(false), DefaultConnectTimeout, cancellation).ConfigureAwait(false)).Workers;
        var stats = await Task.WhenAll(workers.Select(w => _data.StatsAsync(w.Data, cancellation))).ConfigureAwait(false);
        return workers.Select((w, i) => (w.Name, Stats: stats[i])).ToDictionary(p => p.Name, p => p.Stats);
    }

    /// <summary>Copies these values to the worker named <paramref name="workerName"/> (they stay where they were too); returns when the copies exist.</summary>
    public async Task ReplicateAsync(IEnumerable<IRemoteData> data, string workerName, CancellationToken cancellation = default)
    {
        var keys = data.Select(d => d.Key).ToList();
        var reply = await AskCenterAsync<ReplicationFinished>(new ReplicateKeys(keys, workerName), Timeout.InfiniteTimeSpan, cancellation).ConfigureAwait(false);
        if (reply.Error is { } error) throw new InvalidOperationException(error);
    }

    /// <summary>Deletes these values from the cluster.</summary>
    public void Release(IEnumerable<IRemoteData> data) => ReleaseOnCluster(data.Select(d => d.Key).ToList());

    /// <summary>Deletes these keys from the cluster; they are no longer this pool's to claim after a center restart.</summary>
    internal void ReleaseOnCluster(IReadOnlyList<string> keys)
    {
        foreach (var key in keys) _liveKeys.TryRemove(key, out _);
        TellRelease(keys);
    }

    // ----- plumbing -----

    private Task<List<RemoteData<TResult>>> SubmitAsync<TResult>(CodeManifest code, FunctionSpec function, List<TaskSpec> tasks, CancellationToken cancellation, object? inputs = null) =>
        SubmitAsync<TResult>(code, [function], tasks, cancellation, key => key, inputs);

    /// <summary>Submits tasks and waits for all; <paramref name="userKey"/> turns a cluster key back into the caller's name in errors.</summary>
    internal async Task<List<RemoteData<TResult>>> SubmitAsync<TResult>(CodeManifest code, IReadOnlyList<FunctionSpec> functions, List<TaskSpec> tasks,
        CancellationToken cancellation, Func<string, string> userKey, object? inputs = null)
    {
        ObjectDisposedException.ThrowIf(_disposed != 0, this);
        var (connection, client) = await ConnectedAsync(cancellation).ConfigureAwait(false);
        object reply;
        try
        {
            var answer = client.Ask<object>(new Submit(code, functions, tasks), Timeout.InfiniteTimeSpan, cancellation);
            // The center's state of the computation died with it: it is not resumed, never awaited forever.
            if (await Task.WhenAny(answer, connection.System.WhenTerminated).ConfigureAwait(false) != answer) throw LostDuring(tasks, null);
            reply = await answer.ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (cancellation.IsCancellationRequested && tasks.Count > 0)
        {
            client.Tell(new CancelSubmission(tasks.Select(t => t.Key).ToList())); // stop its queued tasks and free its results
            throw;
        }
        catch (Exception e) when (e is not CenterRestartedException and not OperationCanceledException && IsLost(connection))
        {
            throw LostDuring(tasks, e);
        }
        // The RemoteData passed in must not be collected (and so released) while their tasks wait for them.
        GC.KeepAlive(inputs);
        switch (reply)
        {
            case SubmissionCompleted completed:
                foreach (var task in tasks)
                    if (task.ReleaseAfterConsumers == 0) _liveKeys.TryAdd(task.Key, 0);
                return tasks.Select(t => new RemoteData<TResult>(this, t.Key, completed.Locations.GetValueOrDefault(t.Key))).ToList();
            case SubmissionFailed failed:
                var error = failed.Failure.Error;
                if (error.Kind == ErrorKind.TaskTimeout && tasks.Find(t => t.Key == failed.Failure.Key) is { TimeoutMs: > 0 } timedOut)
                    throw new TaskTimeoutException(userKey(timedOut.Key), TimeSpan.FromMilliseconds(timedOut.TimeoutMs), failed.Worker);
                throw new RemoteTaskException(userKey(failed.Failure.Key), error.TypeName, error.Message, error.StackTrace, failed.Worker, error.Kind);
            default:
                throw new InvalidOperationException($"Unexpected answer {reply.GetType().Name} from the client actor.");
        }
    }

    /// <summary>A per-task timeout as it travels: whole milliseconds, 0 for none (null or <see cref="Timeout.InfiniteTimeSpan"/>).</summary>
    internal static long TaskTimeoutMilliseconds(TimeSpan? timeout, string parameterName)
    {
        if (timeout is not { } value || value == Timeout.InfiniteTimeSpan) return 0;
        if (value <= TimeSpan.Zero)
            throw new ArgumentOutOfRangeException(parameterName, value, $"A task timeout must be positive (or null for none), not {value}.");
        return Math.Max(1, (long)Math.Ceiling(value.TotalMilliseconds));
    }

    /// <summary>The code manifest of these types' assemblies (shipped to the workers on first use).</summary>
    internal CodeManifest ManifestFor(IEnumerable<Type> types) => _code.ManifestFor(types);

    internal FunctionSpec EncodeFunction(IUserFunction function, string key)
    {
        // Serializing a delegate is the costliest step of a small Apply; a non-capturing lambda is one
        // cached instance, so calls in a loop reuse its encoding. (A closure's captured variables may
        // change between calls, so only delegates without a capturing target are cached.)
        var userDelegate = function.Delegate;
        var cacheable = userDelegate.Target is null || userDelegate.Target.GetType().GetFields(
            System.Reflection.BindingFlags.Instance | System.Reflection.BindingFlags.Public | System.Reflection.BindingFlags.NonPublic).Length == 0;
        if (cacheable && _encodedFunctions.TryGetValue(userDelegate, out var cached) && cached.Item1 == function.GetType()) return cached.Item2;
        try
        {
            var payload = _codec.Encode(function);
            var spec = ContentAddress.Function(payload);
            if (cacheable) _encodedFunctions.AddOrUpdate(userDelegate, Tuple.Create(function.GetType(), spec));
            return spec;
        }
        catch (UnserializableValueException e)
        {
            throw new TaskSerializationException(key, e.OffendingType, e.Message, e);
        }
    }

    internal byte[] EncodeArgument(object? value, string key)
    {
        try
        {
            return _codec.Encode(value);
        }
        catch (UnserializableValueException e)
        {
            throw new TaskSerializationException(key, e.OffendingType, e.Message, e);
        }
    }

    private static IEnumerable<Type> ValueTypes<T>(IEnumerable<T> values) =>
        typeof(T).IsSealed || typeof(T).IsValueType ? [] : values.Where(v => v is not null).Select(v => v!.GetType()).Distinct();

    /// <summary>A readable, unique key prefix: the function's name and a random token, as dask's keys read.</summary>
    private static string KeyPrefix(Delegate function)
    {
        var name = FunctionNames.Of(function).Replace(".lambda", "").Replace('.', '-');
        var token = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(6));
        return $"{name.ToLowerInvariant()}-{token}";
    }

    /// <inheritdoc />
    public void Dispose() => DisposeAsync().AsTask().GetAwaiter().GetResult();

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        await _releaseDropped.DisposeAsync().ConfigureAwait(false);
        // Release this client's data and queued tasks now rather than when the member is removed.
        _connection.Center.Tell(DisconnectClient.Instance, _client); // from the client actor: the center knows it by that
        await _connection.CloseAsync().ConfigureAwait(false);
        DisposeCredentials();
    }
}
