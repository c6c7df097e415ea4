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
/// <example>
/// <code>
/// await using var cluster = await LocalCluster.StartAsync(workers: 2);
/// await using var pool = await cluster.ConnectAsync();
/// List&lt;RemoteData&lt;int&gt;&gt; squares = await pool.MapAsync(x => x * x, Enumerable.Range(0, 100));
/// Console.WriteLine((await pool.GatherAsync(squares)).Sum()); // 328350
/// </code>
/// </example>
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
    /// <example>
    /// <code>
    /// using var pool = new Pool("10.0.0.5:8786"); // TLS if DISTRIBUTED_CREDENTIALS names a credentials folder
    /// int answer = pool.Apply(() => 6 * 7).Get();
    /// </code>
    /// </example>
    public Pool(string centerAddress)
        : this(centerAddress, EnvironmentCredentials(), ownsCredentials: true)
    {
    }

    /// <summary>
    /// Connects to the center at <paramref name="centerAddress"/> (<c>host:port</c>) over mutual TLS with
    /// <paramref name="credentials"/> (the caller keeps and disposes them); null connects without TLS,
    /// which only a center without credentials accepts.
    /// </summary>
    /// <example>
    /// <code>
    /// using var credentials = ClusterCredentials.Load("/etc/distributed/client");
    /// using var pool = new Pool("center.example.org:8786", credentials);
    /// </code>
    /// </example>
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
        _fetcher = new ResultFetcher(_center, codec, _credentials);
        _submitter = new TaskSubmitter(this, _center, _keys, _fetcher.Data, TaskSubmitter.ConfiguredDirectTasks());
        _graphs = new GraphCompiler(_encoder);
    }

    /// <summary>A pool's connection to the center, made before the pool: the code it ships and the keys it owns are the connection's too.</summary>
    private sealed record Connected(CenterConnection Center, CodeShipping Code, OwnedKeys Keys, Protocol.Security.ClusterCredentials? Credentials, bool OwnsCredentials);

    private static async Task<Connected> ConnectAsync(HostPort address, Protocol.Security.ClusterCredentials? credentials, bool ownsCredentials, TimeSpan timeout, CancellationToken cancellation,
        TimeSpan waitForCenter = default)
    {
        var code = new CodeShipping();
        var keys = new OwnedKeys();
        try
        {
            var center = await CenterConnection.ConnectAsync(address, credentials, code, keys, timeout, cancellation, waitForCenter).ConfigureAwait(false);
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
    /// <example>
    /// <code>
    /// await using var pool = await Pool.ConnectAsync("10.0.0.5:8786", TimeSpan.FromSeconds(30));
    /// Console.WriteLine($"{pool.Workers().Count} workers");
    /// </code>
    /// </example>
    public static Task<Pool> ConnectAsync(string centerAddress, TimeSpan? timeout = null, CancellationToken cancellation = default) =>
        ConnectAsync(centerAddress, EnvironmentCredentials(), ownsCredentials: true, timeout, cancellation);

    /// <summary>
    /// Connects to the center at <paramref name="centerAddress"/> (<c>host:port</c>) over mutual TLS with
    /// <paramref name="credentials"/> (the caller keeps and disposes them); null connects without TLS,
    /// which only a center without credentials accepts. Wrong or missing credentials fail within
    /// <paramref name="timeout"/> with a <see cref="CenterUnreachableException"/> naming the center and the reason.
    /// </summary>
    /// <example>
    /// <code>
    /// using var credentials = ClusterCredentials.Load("/etc/distributed/client");
    /// await using var pool = await Pool.ConnectAsync("center.example.org:8786", credentials, TimeSpan.FromSeconds(30), cancellation);
    /// </code>
    /// </example>
    public static Task<Pool> ConnectAsync(string centerAddress, Protocol.Security.ClusterCredentials? credentials, TimeSpan? timeout = null, CancellationToken cancellation = default) =>
        ConnectAsync(centerAddress, credentials, ownsCredentials: false, timeout, cancellation);

    /// <summary>
    /// <see cref="ConnectAsync(string, Protocol.Security.ClusterCredentials?, TimeSpan?, CancellationToken)"/> to a center
    /// started beside this call (a <see cref="Hosting.LocalCluster"/>'s): one that refuses the connection is tried
    /// again for up to <paramref name="waitForCenter"/>, while this client's own start goes on.
    /// </summary>
    internal static Task<Pool> ConnectToStartingCenterAsync(string centerAddress, Protocol.Security.ClusterCredentials? credentials, TimeSpan waitForCenter, CancellationToken cancellation) =>
        ConnectAsync(centerAddress, credentials, ownsCredentials: false, timeout: null, cancellation, waitForCenter);

    private static async Task<Pool> ConnectAsync(string centerAddress, Protocol.Security.ClusterCredentials? credentials, bool ownsCredentials, TimeSpan? timeout, CancellationToken cancellation,
        TimeSpan waitForCenter = default)
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
        return new Pool(await ConnectAsync(address, credentials, ownsCredentials, timeout ?? CenterConnection.DefaultTimeout, cancellation, waitForCenter).ConfigureAwait(false));
    }

    /// <summary>The credentials named by <c>DISTRIBUTED_CREDENTIALS</c>, if set; a bad folder throws <see cref="Protocol.Security.CredentialsException"/>.</summary>
    private static Protocol.Security.ClusterCredentials? EnvironmentCredentials() => Protocol.Security.ClusterCredentials.Resolve(null);

    /// <summary>The address of the center.</summary>
    /// <example>
    /// <code>
    /// Console.WriteLine($"connected to the center at {pool.CenterAddress}");
    /// </code>
    /// </example>
    public string CenterAddress => _center.Address.ToString();

    internal bool IsDisposed => _disposed != 0;

    // ----- Map -----

    /// <summary>
    /// Runs <paramref name="function"/> on each item, on the cluster. Returns once every result exists there.
    /// A task still running <paramref name="timeout"/> after it started fails the map with <see cref="TaskTimeoutException"/>.
    /// </summary>
    /// <example>
    /// <code>
    /// List&lt;RemoteData&lt;int&gt;&gt; squares = pool.Map(x => x * x, Enumerable.Range(0, 10));
    /// List&lt;int&gt; values = pool.Gather(squares); // 0, 1, 4, ..., 81
    /// </code>
    /// </example>
    public List<RemoteData<TResult>> Map<T, TResult>(Func<T, TResult> function, IEnumerable<T> items, TimeSpan? timeout = null) =>
        MapAsync(function, items, timeout: timeout).GetAwaiter().GetResult();

    /// <summary>Runs <paramref name="function"/> on each remote value, where that value lives; no input comes to the client.</summary>
    /// <example>
    /// <code>
    /// List&lt;RemoteData&lt;string&gt;&gt; words = pool.Map(i => $"word{i}", Enumerable.Range(0, 4));
    /// List&lt;RemoteData&lt;int&gt;&gt; lengths = pool.Map((string word) => word.Length, words); // each runs where its word is
    /// </code>
    /// </example>
    public List<RemoteData<TResult>> Map<T, TResult>(Func<T, TResult> function, IEnumerable<RemoteData<T>> items, TimeSpan? timeout = null) =>
        MapAsync(function, items, timeout: timeout).GetAwaiter().GetResult();

    /// <summary>Like <see cref="Map{T,TResult}(Func{T,TResult},IEnumerable{T},TimeSpan?)"/>, returning at once.</summary>
    /// <remarks><paramref name="progress"/> hears how far the tasks have come as they end (on the pool's thread: keep it quick, or use <see cref="Progress{T}"/>).</remarks>
    /// <example>
    /// <code>
    /// var progress = new Progress&lt;ComputationProgress&gt;(p => Console.WriteLine($"{p.Done}/{p.Total}"));
    /// var roots = await pool.MapAsync(x => Math.Sqrt(x), Enumerable.Range(0, 1_000), cancellation, progress: progress);
    /// </code>
    /// </example>
    public Task<List<RemoteData<TResult>>> MapAsync<T, TResult>(Func<T, TResult> function, IEnumerable<T> items, CancellationToken cancellation = default, TimeSpan? timeout = null,
        IProgress<ComputationProgress>? progress = null)
    {
        var (code, encoded, tasks) = MapTasks(function, items, TaskEncoder.TimeoutMilliseconds(timeout, nameof(timeout)));
        return SubmitAsync<TResult>(code, encoded, tasks, cancellation, progress: progress);
    }

    /// <summary>Like <see cref="Map{T,TResult}(Func{T,TResult},IEnumerable{RemoteData{T}},TimeSpan?)"/>, returning at once.</summary>
    /// <remarks><paramref name="progress"/> hears how far the tasks have come as they end (on the pool's thread: keep it quick, or use <see cref="Progress{T}"/>).</remarks>
    /// <example>
    /// <code>
    /// var chunks = await pool.MapAsync(i => Enumerable.Range(i * 1_000, 1_000).ToArray(), Enumerable.Range(0, 8));
    /// var sums = await pool.MapAsync((int[] chunk) => chunk.Sum(x => (long)x), chunks, cancellation);
    /// </code>
    /// </example>
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
    /// <example>
    /// <code>
    /// RemoteData&lt;string&gt; host = pool.Apply(() => Environment.MachineName, timeout: TimeSpan.FromSeconds(10));
    /// Console.WriteLine($"ran on {host.Get()}");
    /// </code>
    /// </example>
    public RemoteData<TResult> Apply<TResult>(Func<TResult> function, TimeSpan? timeout = null) => Blocking(() => ApplyAsync(function, timeout: timeout));

    /// <summary>Runs <paramref name="function"/> once, on a plain value.</summary>
    /// <example>
    /// <code>
    /// RemoteData&lt;int&gt; length = pool.Apply((string text) => text.Length, "hello, cluster");
    /// </code>
    /// </example>
    public RemoteData<TResult> Apply<T, TResult>(Func<T, TResult> function, T argument, TimeSpan? timeout = null) => Blocking(() => ApplyAsync(function, argument, timeout: timeout));

    /// <summary>Runs <paramref name="function"/> once on a remote value, where it lives.</summary>
    /// <example>
    /// <code>
    /// RemoteData&lt;int[]&gt; numbers = pool.Apply(() => Enumerable.Range(0, 1_000).ToArray());
    /// RemoteData&lt;int&gt; total = pool.Apply((int[] values) => values.Sum(), numbers); // numbers never comes here
    /// </code>
    /// </example>
    public RemoteData<TResult> Apply<T, TResult>(Func<T, TResult> function, RemoteData<T> argument, TimeSpan? timeout = null) => Blocking(() => ApplyAsync(function, argument, timeout: timeout));

    /// <summary>Runs <paramref name="function"/> once on the values of a list of remote values, in order.</summary>
    /// <example>
    /// <code>
    /// List&lt;RemoteData&lt;int&gt;&gt; parts = pool.Map(i => i * 10, Enumerable.Range(0, 4));
    /// RemoteData&lt;int&gt; total = pool.Apply((IReadOnlyList&lt;int&gt; values) => values.Sum(), parts); // 60
    /// </code>
    /// </example>
    public RemoteData<TResult> Apply<T, TResult>(Func<IReadOnlyList<T>, TResult> function, IEnumerable<RemoteData<T>> arguments, TimeSpan? timeout = null) =>
        Blocking(() => ApplyAsync(function, arguments, timeout: timeout));

    /// <summary>
    /// Runs any delegate once; each argument may be a plain value, a <see cref="RemoteData{T}"/>, or a
    /// list or array of them (nested too), which arrives as the value(s).
    /// </summary>
    /// <example>
    /// <code>
    /// RemoteData&lt;double[]&gt; vector = pool.Apply(() => new[] { 1.0, 2.0, 3.0 });
    /// Func&lt;double[], double, double[]&gt; scale = (values, factor) => values.Select(v => v * factor).ToArray();
    /// RemoteData&lt;double[]&gt; scaled = pool.Apply&lt;double[]&gt;(scale, vector, 2.0); // { 2, 4, 6 }
    /// </code>
    /// </example>
    public RemoteData<TResult> Apply<TResult>(Delegate function, params object?[] arguments) =>
        Blocking(() => ApplyAsync<TResult>(function, arguments));

    /// <summary>Like <see cref="Apply{TResult}(Func{TResult},TimeSpan?)"/>, returning at once.</summary>
    /// <example>
    /// <code>
    /// RemoteData&lt;DateTime&gt; started = await pool.ApplyAsync(() => DateTime.UtcNow, cancellation);
    /// Console.WriteLine(await started);
    /// </code>
    /// </example>
    public async Task<RemoteData<TResult>> ApplyAsync<TResult>(Func<TResult> function, CancellationToken cancellation = default, TimeSpan? timeout = null)
    {
        var key = TaskEncoder.KeyPrefix(function);
        var templating = new TaskTemplating(_encoder);
        var encoded = _encoder.EncodeFunction(new NullaryFunction<TResult>(function), key);
        var task = templating.Task(key, encoded, [], timeoutMs: TaskEncoder.TimeoutMilliseconds(timeout, nameof(timeout)));
        return (await SubmitAsync<TResult>(ManifestFor(templating, function, typeof(TResult)), encoded, [task], cancellation).ConfigureAwait(false))[0];
    }

    /// <summary>Like <see cref="Apply{T,TResult}(Func{T,TResult},T,TimeSpan?)"/>, returning at once.</summary>
    /// <example>
    /// <code>
    /// RemoteData&lt;int&gt; words = await pool.ApplyAsync((string text) => text.Split(' ').Length, "to be or not to be");
    /// </code>
    /// </example>
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
    /// <example>
    /// <code>
    /// RemoteData&lt;byte[]&gt; blob = pool.Apply(() => new byte[1 &lt;&lt; 20]);
    /// RemoteData&lt;int&gt; length = await pool.ApplyAsync((byte[] bytes) => bytes.Length, blob, cancellation);
    /// </code>
    /// </example>
    public async Task<RemoteData<TResult>> ApplyAsync<T, TResult>(Func<T, TResult> function, RemoteData<T> argument, CancellationToken cancellation = default, TimeSpan? timeout = null)
    {
        var key = TaskEncoder.KeyPrefix(function);
        var encoded = _encoder.EncodeFunction(new UnaryFunction<T, TResult>(function), key);
        var task = TaskTemplating.TaskOnRemote(key, encoded, [argument.Key], TaskEncoder.TimeoutMilliseconds(timeout, nameof(timeout)));
        return (await SubmitAsync<TResult>(ManifestFor(new TaskTemplating(_encoder), function, typeof(T), typeof(TResult)), encoded, [task], cancellation).ConfigureAwait(false))[0];
    }

    /// <summary>Like <see cref="Apply{T,TResult}(Func{IReadOnlyList{T},TResult},IEnumerable{RemoteData{T}},TimeSpan?)"/>, returning at once.</summary>
    /// <example>
    /// <code>
    /// var parts = await pool.MapAsync(i => new[] { i, i + 1 }, Enumerable.Range(0, 4));
    /// RemoteData&lt;int[]&gt; joined = await pool.ApplyAsync((IReadOnlyList&lt;int[]&gt; all) => all.SelectMany(p => p).ToArray(), parts);
    /// </code>
    /// </example>
    public async Task<RemoteData<TResult>> ApplyAsync<T, TResult>(Func<IReadOnlyList<T>, TResult> function, IEnumerable<RemoteData<T>> arguments, CancellationToken cancellation = default, TimeSpan? timeout = null)
    {
        var key = TaskEncoder.KeyPrefix(function);
        var encoded = _encoder.EncodeFunction(new ListFunction<T, TResult>(function), key);
        var task = TaskTemplating.TaskOnRemote(key, encoded, arguments.Select(a => a.Key).ToList(), TaskEncoder.TimeoutMilliseconds(timeout, nameof(timeout)));
        return (await SubmitAsync<TResult>(ManifestFor(new TaskTemplating(_encoder), function, typeof(T), typeof(TResult)), encoded, [task], cancellation).ConfigureAwait(false))[0];
    }

    /// <summary>Like <see cref="Apply{TResult}(Delegate,object?[])"/>, returning at once.</summary>
    /// <example>
    /// <code>
    /// Func&lt;string, int, string&gt; repeat = (text, times) => string.Concat(Enumerable.Repeat(text, times));
    /// RemoteData&lt;string&gt; line = await pool.ApplyAsync&lt;string&gt;(repeat, ["ab", 3], cancellation); // "ababab"
    /// </code>
    /// </example>
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
    /// <example>
    /// <code>
    /// List&lt;RemoteData&lt;int&gt;&gt; cubes = pool.Map(x => x * x * x, Enumerable.Range(1, 5));
    /// List&lt;int&gt; values = pool.Gather(cubes); // 1, 8, 27, 64, 125
    /// </code>
    /// </example>
    public List<T> Gather<T>(IEnumerable<RemoteData<T>> data) =>
        _fetcher.GatherAsync(data, synchronous: true, CancellationToken.None).GetAwaiter().GetResult();

    /// <summary>Like <see cref="Gather{T}"/>, returning at once.</summary>
    /// <example>
    /// <code>
    /// List&lt;RemoteData&lt;int&gt;&gt; futures = pool.SubmitMap(x => x + 1, Enumerable.Range(0, 10));
    /// List&lt;int&gt; values = await pool.GatherAsync(futures, cancellation); // waits for the tasks, then fetches
    /// </code>
    /// </example>
    public Task<List<T>> GatherAsync<T>(IEnumerable<RemoteData<T>> data, CancellationToken cancellation = default) =>
        _fetcher.GatherAsync(data, synchronous: false, cancellation);

    // ----- what the center knows -----

    /// <summary>The workers: name, address, cores, number of keys and bytes they hold (the 2015 system's <c>ncores</c>).</summary>
    /// <example>
    /// <code>
    /// foreach (var worker in pool.Workers())
    ///     Console.WriteLine($"{worker.Name}: {worker.Cores} cores, {worker.KeyCount} values, {worker.StoredBytes} bytes");
    /// </code>
    /// </example>
    public IReadOnlyList<WorkerInfo> Workers() =>
        _center.AskAsync<WorkersReply>(new GetWorkers(false), CenterConnection.DefaultTimeout, CancellationToken.None).GetAwaiter().GetResult().Workers;

    /// <summary>The keys each worker holds, by worker name (<c>has_what</c>).</summary>
    /// <example>
    /// <code>
    /// foreach (var (worker, keys) in pool.HasWhat())
    ///     Console.WriteLine($"{worker} holds {keys.Count} values");
    /// </code>
    /// </example>
    public IReadOnlyDictionary<string, IReadOnlyList<string>> HasWhat() =>
        _center.AskAsync<WorkersReply>(new GetWorkers(true), CenterConnection.DefaultTimeout, CancellationToken.None).GetAwaiter().GetResult().KeysByWorker;

    /// <summary>The names of the workers holding <paramref name="data"/> (<c>who_has</c>).</summary>
    /// <example>
    /// <code>
    /// RemoteData&lt;double[]&gt; table = pool.Apply(() => new double[1_000]);
    /// IReadOnlyList&lt;string&gt; holders = pool.WhoHas(table); // e.g. ["worker-1"]
    /// </code>
    /// </example>
    public IReadOnlyList<string> WhoHas(IRemoteData data) =>
        _center.AskAsync<WhoHasReply>(new WhoHas([data.Key]), CenterConnection.DefaultTimeout, CancellationToken.None).GetAwaiter().GetResult()
            .Holders.GetValueOrDefault(data.Key)?.Select(w => w.Name).ToList() ?? [];

    /// <summary>Bytes each worker moved over its data channel, read from the workers themselves.</summary>
    /// <example>
    /// <code>
    /// var stats = await pool.TransferStatsAsync(cancellation);
    /// foreach (var (worker, moved) in stats)
    ///     Console.WriteLine($"{worker}: {moved.SentToWorkers} bytes to peers, {moved.SentToClients} to clients");
    /// </code>
    /// </example>
    public async Task<IReadOnlyDictionary<string, WorkerTransferStats>> TransferStatsAsync(CancellationToken cancellation = default)
    {
        var workers = (await _center.AskAsync<WorkersReply>(new GetWorkers(false), CenterConnection.DefaultTimeout, cancellation).ConfigureAwait(false)).Workers;
        return await _fetcher.TransferStatsAsync(workers, cancellation).ConfigureAwait(false);
    }

    /// <summary>Copies these values to the worker named <paramref name="workerName"/> (they stay where they were too); returns when the copies exist.</summary>
    /// <example>
    /// <code>
    /// RemoteData&lt;int[]&gt; lookup = pool.Apply(() => Enumerable.Range(0, 1_000).ToArray());
    /// await Task.WhenAll(pool.Workers().Select(w => pool.ReplicateAsync([lookup], w.Name, cancellation)));
    /// </code>
    /// </example>
    public async Task ReplicateAsync(IEnumerable<IRemoteData> data, string workerName, CancellationToken cancellation = default)
    {
        var keys = data.Select(d => d.Key).ToList();
        var reply = await _center.AskAsync<ReplicationFinished>(new ReplicateKeys(keys, workerName), Timeout.InfiniteTimeSpan, cancellation).ConfigureAwait(false);
        if (reply.Error is { } error) throw new InvalidOperationException(error);
    }

    /// <summary>
    /// Retires the workers named (dask's <c>retire_workers</c>): each gets no more tasks, finishes those it
    /// has, hands every value only it holds to the workers that remain (so nothing is computed again),
    /// and then leaves the cluster and its process ends. Returns once all have handed their values over;
    /// throws <see cref="InvalidOperationException"/> naming a worker that does not exist, or when no
    /// worker would remain.
    /// </summary>
    /// <example>
    /// <code>
    /// var squares = pool.Map(x => x * x, Enumerable.Range(0, 100));
    /// await pool.RetireWorkersAsync([pool.Workers()[0].Name], cancellation); // its squares move to the others
    /// Console.WriteLine(pool.Gather(squares).Sum()); // 328350, nothing computed again
    /// </code>
    /// </example>
    public async Task RetireWorkersAsync(IEnumerable<string> workerNames, CancellationToken cancellation = default)
    {
        var names = workerNames.ToList();
        if (names.Count == 0) return;
        var reply = await _center.AskAsync<WorkersRetired>(new RetireWorkers(names), Timeout.InfiniteTimeSpan, cancellation).ConfigureAwait(false);
        if (reply.Error is { } error) throw new InvalidOperationException($"Retiring {string.Join(", ", names)}: {error}");
    }

    /// <summary>Deletes these values from the cluster.</summary>
    /// <example>
    /// <code>
    /// List&lt;RemoteData&lt;int[]&gt;&gt; scratch = pool.Map(n => new int[n], Enumerable.Range(0, 100));
    /// pool.Release(scratch); // frees the workers' memory now, not when the proxies are collected
    /// </code>
    /// </example>
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

    /// <summary>
    /// Runs an asynchronous call for a caller that blocks on it anyway: a task handed to a worker directly is
    /// then answered on this thread (a hand-over from the thread pool would cost more than the read).
    /// </summary>
    private static T Blocking<T>(Func<Task<T>> call)
    {
        TaskSubmitter.CallerBlocks = true;
        try
        {
            return call().GetAwaiter().GetResult();
        }
        finally
        {
            TaskSubmitter.CallerBlocks = false;
        }
    }

    /// <summary>Submits tasks and waits for all; <paramref name="userKey"/> turns a cluster key back into the caller's name in errors.</summary>
    internal Task<List<RemoteData<TResult>>> SubmitAsync<TResult>(CodeManifest code, IReadOnlyList<FunctionSpec> functions, List<TaskSpec> tasks,
        CancellationToken cancellation, Func<string, string> userKey, object? inputs = null) =>
        _submitter.SubmitAsync<TResult>(code, functions, tasks, cancellation, userKey, inputs);

    /// <summary>How far every client's tasks have come, as the center counts them (this pool's entry is <see cref="ClusterProgress.Mine"/>).</summary>
    /// <example>
    /// <code>
    /// ClusterProgress progress = await pool.ProgressAsync(cancellation);
    /// Console.WriteLine($"{progress.Mine?.Finished} finished, {progress.Mine?.Pending} pending; {progress.Clients.Count} clients");
    /// </code>
    /// </example>
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

    /// <summary>Disconnects from the center, which releases this pool's values and queued tasks; waits until it has.</summary>
    /// <example>
    /// <code>
    /// using (var pool = new Pool("10.0.0.5:8786"))
    ///     Console.WriteLine(pool.Apply(() => 1 + 1).Get());
    /// // disposed: the center has released this client's values and queued tasks
    /// </code>
    /// </example>
    public void Dispose() => DisposeAsync().AsTask().GetAwaiter().GetResult();

    /// <summary>Disconnects from the center, which releases this pool's values and queued tasks.</summary>
    /// <example>
    /// <code>
    /// var pool = await Pool.ConnectAsync("10.0.0.5:8786");
    /// var squares = await pool.MapAsync(x => x * x, Enumerable.Range(0, 10));
    /// await pool.DisposeAsync(); // releases squares on the workers, and any queued tasks
    /// </code>
    /// </example>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        // Release this client's data and queued tasks now rather than when the member is removed.
        await _center.DisposeAsync().ConfigureAwait(false);
        _fetcher.Dispose();
        if (_ownsCredentials) _credentials?.Dispose();
    }
}
