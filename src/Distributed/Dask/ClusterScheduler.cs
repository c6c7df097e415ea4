namespace Distributed.Dask;

/// <summary>Computes graphs on a cluster through a <see cref="Pool"/>.</summary>
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
    public static ClusterScheduler On(Pool pool, TimeSpan? taskTimeout = null) => new(pool, taskTimeout);

    /// <summary>How long each task may run once started (null: no limit).</summary>
    public TimeSpan? TaskTimeout { get; }

    /// <inheritdoc />
    public object? Get(Graph graph, object keys) => _pool.Value.GetGraph(graph, keys, TaskTimeout);

    /// <summary>Like <see cref="Get(Graph, object)"/>, returning at once; cancelling drops the graph's queued tasks and frees its results.</summary>
    public Task<object?> GetAsync(Graph graph, object keys, CancellationToken cancellation = default) =>
        _pool.Value.GetGraphAsync(graph, keys, cancellation, TaskTimeout);

    /// <summary>
    /// Submits the graph and returns at once a pending <see cref="RemoteData{T}"/> (a future) per task key,
    /// kept on the cluster once computed; literals as themselves (see <see cref="PoolGraphs.SubmitGraph(Pool, Graph, IReadOnlyList{string}, TimeSpan?)"/>).
    /// </summary>
    public IReadOnlyList<object?> Persist(Graph graph, IReadOnlyList<string> keys) => _pool.Value.SubmitGraph(graph, keys, TaskTimeout);

    /// <inheritdoc />
    public void Dispose()
    {
        if (_ownsPool && _pool.IsValueCreated) _pool.Value.Dispose();
    }
}
