namespace Distributed.Dask;

/// <summary>Computes graphs on a cluster through a <see cref="Pool"/>.</summary>
/// <example>
/// <code>
/// using var scheduler = ClusterScheduler.On(pool, taskTimeout: TimeSpan.FromMinutes(10));
/// var lines = Bag.ReadText("/data/logs/*.log").Where(line => line.Contains("ERROR")).Count().Compute(scheduler);
/// </code>
/// </example>
public sealed class ClusterScheduler : IScheduler, IDisposable
{
    private readonly Lazy<Pool> _pool;
    private readonly bool _ownsPool;

    /// <summary>
    /// A scheduler that connects to the center at <paramref name="centerAddress"/> on first use, and
    /// disconnects when disposed. With <paramref name="taskTimeout"/>, a task of any graph it computes
    /// that is still running that long after it started fails the computation (<see cref="TaskTimeoutException"/>).
    /// It presents <paramref name="credentials"/> (mutual TLS; the caller keeps them), by default those
    /// named by the <c>DISTRIBUTED_CREDENTIALS</c> environment variable, if set.
    /// </summary>
    /// <example>
    /// <code>
    /// using var scheduler = new ClusterScheduler("10.0.0.5:8786", taskTimeout: TimeSpan.FromMinutes(5));
    /// double[] values = DArray.Arange(10, chunks: 5).ComputeVector(scheduler);
    /// </code>
    /// </example>
    public ClusterScheduler(string centerAddress, TimeSpan? taskTimeout = null, Protocol.Security.ClusterCredentials? credentials = null)
    {
        Pool.TaskTimeoutMilliseconds(taskTimeout, nameof(taskTimeout)); // refuse a bad one now, not at the first Get
        _pool = new Lazy<Pool>(() => credentials is null ? new Pool(centerAddress) : new Pool(centerAddress, credentials));
        _ownsPool = true;
        TaskTimeout = taskTimeout;
    }

    private ClusterScheduler(Pool pool, TimeSpan? taskTimeout)
    {
        Pool.TaskTimeoutMilliseconds(taskTimeout, nameof(taskTimeout));
        _pool = new Lazy<Pool>(pool);
        _ownsPool = false;
        TaskTimeout = taskTimeout;
    }

    /// <summary>A scheduler on an already connected pool; disposing it leaves the pool open.</summary>
    /// <example>
    /// <code>
    /// using var scheduler = ClusterScheduler.On(pool); // disposing it leaves pool connected
    /// var stats = DataFrames.ReadCsv("/data/sales.csv")["amount"].Describe().Compute(scheduler);
    /// </code>
    /// </example>
    public static ClusterScheduler On(Pool pool, TimeSpan? taskTimeout = null) => new(pool, taskTimeout);

    /// <summary>How long each task may run once started (null: no limit).</summary>
    /// <example>
    /// <code>
    /// using var scheduler = ClusterScheduler.On(pool, TimeSpan.FromMinutes(2));
    /// Console.WriteLine(scheduler.TaskTimeout); // 00:02:00
    /// </code>
    /// </example>
    public TimeSpan? TaskTimeout { get; }

    /// <summary>Computes <paramref name="keys"/> of <paramref name="graph"/> on the cluster and gathers their values here (see <see cref="IScheduler.Get"/>).</summary>
    /// <example>
    /// <code>
    /// using var scheduler = ClusterScheduler.On(pool);
    /// var graph = new Graph { ["x"] = 20, ["y"] = ((Func&lt;int, int&gt;)(x => x + 22), "x") };
    /// var y = (int)scheduler.Get(graph, "y")!; // 42
    /// </code>
    /// </example>
    public object? Get(Graph graph, object keys) => _pool.Value.GetGraph(graph, keys, TaskTimeout);

    /// <summary>Like <see cref="Get(Graph, object)"/>, returning at once; cancelling drops the graph's queued tasks and frees its results.</summary>
    /// <example>
    /// <code>
    /// using var scheduler = ClusterScheduler.On(pool);
    /// var graph = new Graph { ["n"] = 1_000, ["sum"] = ((Func&lt;int, long&gt;)(n => Enumerable.Range(0, n).Sum(i => (long)i)), "n") };
    /// var sum = (long)(await scheduler.GetAsync(graph, "sum", cancellation))!; // 499500
    /// </code>
    /// </example>
    public Task<object?> GetAsync(Graph graph, object keys, CancellationToken cancellation = default) =>
        _pool.Value.GetGraphAsync(graph, keys, cancellation, TaskTimeout);

    /// <summary>
    /// Submits the graph and returns at once a pending <see cref="RemoteData{T}"/> (a future) per task key,
    /// kept on the cluster once computed; literals as themselves (see <see cref="PoolGraphs.SubmitGraph(Pool, Graph, IReadOnlyList{string}, TimeSpan?)"/>).
    /// </summary>
    /// <example>
    /// <code>
    /// using var scheduler = ClusterScheduler.On(pool);
    /// var graph = new Graph { ["table"] = ((Func&lt;int, double[]&gt;)(n => new double[n]), 1_000_000) };
    /// var table = (RemoteData&lt;object&gt;)scheduler.Persist(graph, ["table"])[0]!; // a future, at once
    /// </code>
    /// </example>
    public IReadOnlyList<object?> Persist(Graph graph, IReadOnlyList<string> keys) => _pool.Value.SubmitGraph(graph, keys, TaskTimeout);

    /// <summary>Disconnects the pool this scheduler connected (on first use); a scheduler made by <see cref="On"/> leaves its pool open.</summary>
    /// <example>
    /// <code>
    /// var scheduler = new ClusterScheduler("10.0.0.5:8786");
    /// var sum = DArray.Ones(100, chunks: 10).Sum().Compute(scheduler);
    /// scheduler.Dispose(); // disconnects from the center
    /// </code>
    /// </example>
    public void Dispose()
    {
        if (_ownsPool && _pool.IsValueCreated) _pool.Value.Dispose();
    }
}
