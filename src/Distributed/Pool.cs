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
/// <remarks>
/// A façade: the link to the center is a <see cref="CenterConnection"/>, tasks are templated by
/// <see cref="TaskTemplating"/> and encoded by a <see cref="TaskEncoder"/>, submitted by a
/// <see cref="TaskSubmitter"/>, values fetched by a <see cref="ResultFetcher"/>, graphs compiled by a <see cref="GraphCompiler"/>.
/// </remarks>
public sealed partial class Pool : IDisposable, IAsyncDisposable, IProcessLocal
{
    private readonly CenterConnection _center;
    private readonly OwnedKeys _keys;
    private readonly TaskEncoder _encoder;
    private readonly TaskSubmitter _submitter;
    private readonly ResultFetcher _fetcher;
    private readonly GraphCompiler _graphs;
    private readonly Protocol.Security.ClusterCredentials? _credentials;
    private readonly bool _ownsCredentials;
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
        : this(ConnectAsync(HostPort.Parse(centerAddress), credentials, ownsCredentials, CenterConnection.DefaultTimeout, CancellationToken.None).GetAwaiter().GetResult())
    {
    }

    private Pool(Connected connected)
    {
        _center = connected.Center;
        _keys = connected.Keys;
        _credentials = connected.Credentials;
        _ownsCredentials = connected.OwnsCredentials;
        var codec = new ValueCodec();
        _encoder = new TaskEncoder(codec, connected.Code);
        _submitter = new TaskSubmitter(this, _center, _keys);
        _fetcher = new ResultFetcher(_center, codec, _credentials);
        _graphs = new GraphCompiler(_encoder);
    }

    /// <summary>A pool's connection to the center, made before the pool: the code it ships and the keys it owns are the connection's too.</summary>
    private sealed record Connected(CenterConnection Center, CodeShipping Code, OwnedKeys Keys, Protocol.Security.ClusterCredentials? Credentials, bool OwnsCredentials);

    private static async Task<Connected> ConnectAsync(HostPort address, Protocol.Security.ClusterCredentials? credentials, bool ownsCredentials, TimeSpan timeout, CancellationToken cancellation)
    {
        var code = new CodeShipping();
        var keys = new OwnedKeys();
        try
        {
            var center = await CenterConnection.ConnectAsync(address, credentials, code, keys, timeout, cancellation).ConfigureAwait(false);
            return new Connected(center, code, keys, credentials, ownsCredentials);
        }
        catch when (ownsCredentials)
        {
            credentials?.Dispose();
            throw;
        }
    }

    /// <summary>Called by a <see cref="RemoteData{T}"/>'s finalizer: only queues, a timer tells the center.</summary>
    internal void ReleaseDropped(string key)
    {
        if (_disposed != 0) return;
        _keys.Drop(key);
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
        HostPort address;
        try
        {
            address = HostPort.Parse(centerAddress);
        }
        catch when (ownsCredentials)
        {
            credentials?.Dispose();
            throw;
        }
        return new Pool(await ConnectAsync(address, credentials, ownsCredentials, timeout ?? CenterConnection.DefaultTimeout, cancellation).ConfigureAwait(false));
    }

    /// <summary>The credentials named by <c>DISTRIBUTED_CREDENTIALS</c>, if set; a bad folder throws <see cref="Protocol.Security.CredentialsException"/>.</summary>
    private static Protocol.Security.ClusterCredentials? EnvironmentCredentials() => Protocol.Security.ClusterCredentials.Resolve(null);

    /// <summary>The address of the center.</summary>
    public string CenterAddress => _center.Address.ToString();

    internal bool IsDisposed => _disposed != 0;

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
    /// <remarks><paramref name="progress"/> hears how far the tasks have come as they end (on the pool's thread: keep it quick, or use <see cref="Progress{T}"/>).</remarks>
    public Task<List<RemoteData<TResult>>> MapAsync<T, TResult>(Func<T, TResult> function, IEnumerable<T> items, CancellationToken cancellation = default, TimeSpan? timeout = null,
        IProgress<ComputationProgress>? progress = null)
    {
        var (code, encoded, tasks) = MapTasks(function, items, TaskEncoder.TimeoutMilliseconds(timeout, nameof(timeout)));
        return SubmitAsync<TResult>(code, encoded, tasks, cancellation, progress: progress);
    }

    /// <summary>Like <see cref="Map{T,TResult}(Func{T,TResult},IEnumerable{RemoteData{T}},TimeSpan?)"/>, returning at once.</summary>
    /// <remarks><paramref name="progress"/> hears how far the tasks have come as they end (on the pool's thread: keep it quick, or use <see cref="Progress{T}"/>).</remarks>
    public Task<List<RemoteData<TResult>>> MapAsync<T, TResult>(Func<T, TResult> function, IEnumerable<RemoteData<T>> items, CancellationToken cancellation = default, TimeSpan? timeout = null,
        IProgress<ComputationProgress>? progress = null)
    {
        var inputs = items.ToList();
        var (code, encoded, tasks) = MapTasks(function, inputs, TaskEncoder.TimeoutMilliseconds(timeout, nameof(timeout)));
        return SubmitAsync<TResult>(code, encoded, tasks, cancellation, inputs, progress);
    }

    /// <summary>The tasks of a Map (or SubmitMap) over plain values: one per item, the item travelling in the task.</summary>
    private (CodeManifest Code, FunctionSpec Function, List<TaskSpec> Tasks) MapTasks<T, TResult>(Func<T, TResult> function, IEnumerable<T> items, long timeoutMs)
    {
        var name = TaskEncoder.KeyPrefix(function);
        var values = items.ToList();
        var templating = new TaskTemplating(_encoder);
        var encoded = _encoder.EncodeFunction(new UnaryFunction<T, TResult>(function), name + "-0");
        var tasks = new List<TaskSpec>(values.Count);
        for (var i = 0; i < values.Count; i++)
            tasks.Add(templating.TaskOnValue($"{name}-{i}", encoded, values[i], timeoutMs));
        return (ManifestFor(templating, function, typeof(T), typeof(TResult)), encoded, tasks);
    }

    /// <summary>The tasks of a Map (or SubmitMap) over remote values: one per value, run where it lives.</summary>
    private (CodeManifest Code, FunctionSpec Function, List<TaskSpec> Tasks) MapTasks<T, TResult>(Func<T, TResult> function, List<RemoteData<T>> inputs, long timeoutMs)
    {
        var name = TaskEncoder.KeyPrefix(function);
        var encoded = _encoder.EncodeFunction(new UnaryFunction<T, TResult>(function), name + "-0");
        var tasks = new List<TaskSpec>(inputs.Count);
        for (var i = 0; i < inputs.Count; i++)
            tasks.Add(TaskTemplating.TaskOnRemote($"{name}-{i}", encoded, [inputs[i].Key], timeoutMs));
        return (ManifestFor(new TaskTemplating(_encoder), function, typeof(T), typeof(TResult)), encoded, tasks);
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
        var key = TaskEncoder.KeyPrefix(function);
        var templating = new TaskTemplating(_encoder);
        var encoded = _encoder.EncodeFunction(new NullaryFunction<TResult>(function), key);
        var task = templating.Task(key, encoded, [], timeoutMs: TaskEncoder.TimeoutMilliseconds(timeout, nameof(timeout)));
        return (await SubmitAsync<TResult>(ManifestFor(templating, function, typeof(TResult)), encoded, [task], cancellation).ConfigureAwait(false))[0];
    }

    /// <summary>Like <see cref="Apply{T,TResult}(Func{T,TResult},T,TimeSpan?)"/>, returning at once.</summary>
    public async Task<RemoteData<TResult>> ApplyAsync<T, TResult>(Func<T, TResult> function, T argument, CancellationToken cancellation = default, TimeSpan? timeout = null)
    {
        if (argument is IRemoteData || argument is System.Collections.IEnumerable and not string)
            return await ApplyAsync<TResult>(function, [argument], cancellation, timeout).ConfigureAwait(false);
        var key = TaskEncoder.KeyPrefix(function);
        var templating = new TaskTemplating(_encoder);
        var encoded = _encoder.EncodeFunction(new UnaryFunction<T, TResult>(function), key);
        var task = templating.TaskOnValue(key, encoded, argument, TaskEncoder.TimeoutMilliseconds(timeout, nameof(timeout)));
        return (await SubmitAsync<TResult>(ManifestFor(templating, function, typeof(T), typeof(TResult)), encoded, [task], cancellation).ConfigureAwait(false))[0];
    }

    /// <summary>Like <see cref="Apply{T,TResult}(Func{T,TResult},RemoteData{T},TimeSpan?)"/>, returning at once.</summary>
    public async Task<RemoteData<TResult>> ApplyAsync<T, TResult>(Func<T, TResult> function, RemoteData<T> argument, CancellationToken cancellation = default, TimeSpan? timeout = null)
    {
        var key = TaskEncoder.KeyPrefix(function);
        var encoded = _encoder.EncodeFunction(new UnaryFunction<T, TResult>(function), key);
        var task = TaskTemplating.TaskOnRemote(key, encoded, [argument.Key], TaskEncoder.TimeoutMilliseconds(timeout, nameof(timeout)));
        return (await SubmitAsync<TResult>(ManifestFor(new TaskTemplating(_encoder), function, typeof(T), typeof(TResult)), encoded, [task], cancellation).ConfigureAwait(false))[0];
    }

    /// <summary>Like <see cref="Apply{T,TResult}(Func{IReadOnlyList{T},TResult},IEnumerable{RemoteData{T}},TimeSpan?)"/>, returning at once.</summary>
    public async Task<RemoteData<TResult>> ApplyAsync<T, TResult>(Func<IReadOnlyList<T>, TResult> function, IEnumerable<RemoteData<T>> arguments, CancellationToken cancellation = default, TimeSpan? timeout = null)
    {
        var key = TaskEncoder.KeyPrefix(function);
        var encoded = _encoder.EncodeFunction(new ListFunction<T, TResult>(function), key);
        var task = TaskTemplating.TaskOnRemote(key, encoded, arguments.Select(a => a.Key).ToList(), TaskEncoder.TimeoutMilliseconds(timeout, nameof(timeout)));
        return (await SubmitAsync<TResult>(ManifestFor(new TaskTemplating(_encoder), function, typeof(T), typeof(TResult)), encoded, [task], cancellation).ConfigureAwait(false))[0];
    }

    /// <summary>Like <see cref="Apply{TResult}(Delegate,object?[])"/>, returning at once.</summary>
    public async Task<RemoteData<TResult>> ApplyAsync<TResult>(Delegate function, object?[] arguments, CancellationToken cancellation = default, TimeSpan? timeout = null)
    {
        var key = TaskEncoder.KeyPrefix(function);
        var templating = new TaskTemplating(_encoder);
        var template = templating.Template(arguments);
        var encoded = _encoder.EncodeFunction(new DynamicFunction(function), key);
        var task = templating.Task(key, encoded, template, timeoutMs: TaskEncoder.TimeoutMilliseconds(timeout, nameof(timeout)));
        return (await SubmitAsync<TResult>(ManifestFor(templating, function, typeof(TResult)), encoded, [task], cancellation).ConfigureAwait(false))[0];
    }

    // ----- Gather -----

    /// <summary>Fetches the values, in order, straight from the workers that hold them.</summary>
    public List<T> Gather<T>(IEnumerable<RemoteData<T>> data) =>
        _fetcher.GatherAsync(data, synchronous: true, CancellationToken.None).GetAwaiter().GetResult();

    /// <summary>Like <see cref="Gather{T}"/>, returning at once.</summary>
    public Task<List<T>> GatherAsync<T>(IEnumerable<RemoteData<T>> data, CancellationToken cancellation = default) =>
        _fetcher.GatherAsync(data, synchronous: false, cancellation);

    // ----- what the center knows -----

    /// <summary>The workers: name, address, cores, number of keys and bytes they hold (the 2015 system's <c>ncores</c>).</summary>
    public IReadOnlyList<WorkerInfo> Workers() =>
        _center.AskAsync<WorkersReply>(new GetWorkers(false), CenterConnection.DefaultTimeout, CancellationToken.None).GetAwaiter().GetResult().Workers;

    /// <summary>The keys each worker holds, by worker name (<c>has_what</c>).</summary>
    public IReadOnlyDictionary<string, IReadOnlyList<string>> HasWhat() =>
        _center.AskAsync<WorkersReply>(new GetWorkers(true), CenterConnection.DefaultTimeout, CancellationToken.None).GetAwaiter().GetResult().KeysByWorker;

    /// <summary>The names of the workers holding <paramref name="data"/> (<c>who_has</c>).</summary>
    public IReadOnlyList<string> WhoHas(IRemoteData data) =>
        _center.AskAsync<WhoHasReply>(new WhoHas([data.Key]), CenterConnection.DefaultTimeout, CancellationToken.None).GetAwaiter().GetResult()
            .Holders.GetValueOrDefault(data.Key)?.Select(w => w.Name).ToList() ?? [];

    /// <summary>Bytes each worker moved over its data channel, read from the workers themselves.</summary>
    public async Task<IReadOnlyDictionary<string, WorkerTransferStats>> TransferStatsAsync(CancellationToken cancellation = default)
    {
        var workers = (await _center.AskAsync<WorkersReply>(new GetWorkers(false), CenterConnection.DefaultTimeout, cancellation).ConfigureAwait(false)).Workers;
        return await _fetcher.TransferStatsAsync(workers, cancellation).ConfigureAwait(false);
    }

    /// <summary>Copies these values to the worker named <paramref name="workerName"/> (they stay where they were too); returns when the copies exist.</summary>
    public async Task ReplicateAsync(IEnumerable<IRemoteData> data, string workerName, CancellationToken cancellation = default)
    {
        var keys = data.Select(d => d.Key).ToList();
        var reply = await _center.AskAsync<ReplicationFinished>(new ReplicateKeys(keys, workerName), Timeout.InfiniteTimeSpan, cancellation).ConfigureAwait(false);
        if (reply.Error is { } error) throw new InvalidOperationException(error);
    }

    /// <summary>Deletes these values from the cluster.</summary>
    public void Release(IEnumerable<IRemoteData> data) => ReleaseOnCluster(data.Select(d => d.Key).ToList());

    /// <summary>Deletes these keys from the cluster; they are no longer this pool's to claim after a center restart.</summary>
    internal void ReleaseOnCluster(IReadOnlyList<string> keys)
    {
        _keys.Forget(keys);
        _center.Release(keys);
    }

    // ----- for graphs (PoolGraphs) -----

    /// <summary>The tasks that compute <paramref name="requested"/> of <paramref name="graph"/>.</summary>
    internal CompiledGraph CompileGraph(Dask.Graph graph, IReadOnlyList<string> requested, long timeoutMs) => _graphs.Compile(graph, requested, timeoutMs);

    /// <summary>Submits tasks and waits for all; <paramref name="userKey"/> turns a cluster key back into the caller's name in errors.</summary>
    internal Task<List<RemoteData<TResult>>> SubmitAsync<TResult>(CodeManifest code, IReadOnlyList<FunctionSpec> functions, List<TaskSpec> tasks,
        CancellationToken cancellation, Func<string, string> userKey, object? inputs = null) =>
        _submitter.SubmitAsync<TResult>(code, functions, tasks, cancellation, userKey, inputs);

    /// <summary>How far every client's tasks have come, as the center counts them (this pool's entry is <see cref="ClusterProgress.Mine"/>).</summary>
    public async Task<ClusterProgress> ProgressAsync(CancellationToken cancellation = default)
    {
        var reply = await _center.AskAsync<ProgressReply>(new GetProgress(), CenterConnection.DefaultTimeout, cancellation).ConfigureAwait(false);
        return new ClusterProgress(reply.Clients, reply.Clients.FirstOrDefault(c => c.Client == reply.You));
    }

    /// <summary>A per-task timeout as it travels: whole milliseconds, 0 for none (null or <see cref="Timeout.InfiniteTimeSpan"/>).</summary>
    internal static long TaskTimeoutMilliseconds(TimeSpan? timeout, string parameterName) => TaskEncoder.TimeoutMilliseconds(timeout, parameterName);

    // ----- plumbing -----

    /// <summary>The code of a Map's or Apply's function, of its declared types, and of the values templated.</summary>
    private CodeManifest ManifestFor(TaskTemplating templating, Delegate function, params ReadOnlySpan<Type> declared)
    {
        templating.Track(function);
        foreach (var type in declared) templating.Types.Add(type);
        return _encoder.ManifestFor(templating.Types);
    }

    private Task<List<RemoteData<TResult>>> SubmitAsync<TResult>(CodeManifest code, FunctionSpec function, List<TaskSpec> tasks, CancellationToken cancellation,
        object? inputs = null, IProgress<ComputationProgress>? progress = null) =>
        _submitter.SubmitAsync<TResult>(code, [function], tasks, cancellation, key => key, inputs, progress);

    /// <inheritdoc />
    public void Dispose() => DisposeAsync().AsTask().GetAwaiter().GetResult();

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        // Release this client's data and queued tasks now rather than when the member is removed.
        await _center.DisposeAsync().ConfigureAwait(false);
        _fetcher.Dispose();
        if (_ownsCredentials) _credentials?.Dispose();
    }
}
