namespace Distributed.Dask;

/// <summary>Computes graphs on a cluster through a <see cref="Pool"/>.</summary>
public sealed class ClusterScheduler : IScheduler, IDisposable
{
    private readonly Lazy<Pool> _pool;
    private readonly bool _ownsPool;

    /// <summary>A scheduler that connects to the center at <paramref name="centerAddress"/> on first use, and disconnects when disposed.</summary>
    public ClusterScheduler(string centerAddress)
    {
        _pool = new Lazy<Pool>(() => new Pool(centerAddress));
        _ownsPool = true;
    }

    private ClusterScheduler(Pool pool)
    {
        _pool = new Lazy<Pool>(pool);
        _ownsPool = false;
    }

    /// <summary>A scheduler on an already connected pool; disposing it leaves the pool open.</summary>
    public static ClusterScheduler On(Pool pool) => new(pool);

    /// <inheritdoc />
    public object? Get(Graph graph, object keys) => _pool.Value.GetGraph(graph, keys);

    /// <inheritdoc />
    public IReadOnlyList<object?> Persist(Graph graph, IReadOnlyList<string> keys) => _pool.Value.PersistGraph(graph, keys);

    /// <inheritdoc />
    public void Dispose()
    {
        if (_ownsPool && _pool.IsValueCreated) _pool.Value.Dispose();
    }
}
