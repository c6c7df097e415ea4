namespace Distributed.Dask;

/// <summary>Computes graphs on a cluster through a <see cref="Pool"/> it opens on first use.</summary>
public sealed class ClusterScheduler(string centerAddress) : IScheduler, IDisposable
{
    private readonly Lazy<Pool> _pool = new(() => new Pool(centerAddress));

    /// <summary>A scheduler on an already connected pool (the pool stays the caller's).</summary>
    public ClusterScheduler(Pool pool) : this(pool.CenterAddress) => _pool = new Lazy<Pool>(pool);

    private bool OwnsPool { get; init; } = true;

    /// <inheritdoc />
    public object? Get(Graph graph, object keys) => _pool.Value.GetGraph(graph, keys);

    /// <inheritdoc />
    public void Dispose()
    {
        if (OwnsPool && _pool.IsValueCreated) _pool.Value.Dispose();
    }

    /// <summary>A scheduler on an already connected pool; disposing it leaves the pool open.</summary>
    public static ClusterScheduler On(Pool pool) => new(pool) { OwnsPool = false };
}
