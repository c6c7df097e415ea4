using System.Collections.Immutable;
using System.Security.Cryptography;

namespace Distributed.Dask;

/// <summary>
/// A collection's task graph as named layers (one per operation), shared between the collections
/// built from one another: an operation adds a layer instead of copying every key before it.
/// </summary>
public sealed class LayeredGraph
{
    private readonly ImmutableDictionary<string, Graph> _layers;

    private LayeredGraph(ImmutableDictionary<string, Graph> layers) => _layers = layers;

    /// <summary>A graph without layers.</summary>
    public static LayeredGraph Empty { get; } = new(ImmutableDictionary.Create<string, Graph>(StringComparer.Ordinal));

    /// <summary>The layers by name.</summary>
    public IReadOnlyDictionary<string, Graph> Layers => _layers;

    /// <summary>Number of keys in all layers.</summary>
    public int Count => _layers.Values.Sum(l => l.Count);

    /// <summary>This graph with one more layer; the layer must not be changed afterwards.</summary>
    public LayeredGraph With(string name, Graph layer) => new(_layers.SetItem(name, layer));

    /// <summary>The layers of all <paramref name="graphs"/> (an operation on several collections).</summary>
    public static LayeredGraph Merge(params IEnumerable<LayeredGraph> graphs)
    {
        var merged = Empty._layers;
        foreach (var graph in graphs)
            merged = merged.Count == 0 ? graph._layers : merged.SetItems(graph._layers);
        return new LayeredGraph(merged);
    }

    /// <summary>All layers as one graph, for a scheduler.</summary>
    public Graph ToGraph()
    {
        var graph = new Graph();
        foreach (var layer in _layers.Values) graph.Merge(layer);
        return graph;
    }
}

/// <summary>Names for the layers of collections: the operation, then a random token that keeps them apart.</summary>
public static class LayerNames
{
    /// <summary>A new layer name, e.g. <c>sum-4f2a9c1e</c>.</summary>
    public static string New(string operation) => $"{operation}-{Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(4))}";

    /// <summary>The key of a chunk or partition, e.g. <c>sum-4f2a9c1e[3]</c> or <c>x-0a1b2c3d[0,2]</c>.</summary>
    public static string Key(string layer, params ReadOnlySpan<int> index) => index.Length switch
    {
        0 => layer,
        1 => $"{layer}[{index[0]}]",
        _ => $"{layer}[{string.Join(',', index.ToArray())}]",
    };
}

/// <summary>
/// What every collection has: a graph, the keys whose values make its result (its chunks or
/// partitions), and <see cref="Compute"/>, which runs the graph on any scheduler and assembles them.
/// </summary>
/// <typeparam name="TResult">What <see cref="Compute"/> returns.</typeparam>
#pragma warning disable CA1711 // dask's word for an array, a bag or a dataframe
public abstract class Collection<TResult>
#pragma warning restore CA1711
{
    /// <summary>A collection of <paramref name="graph"/> whose result is made of <paramref name="keys"/>.</summary>
    protected Collection(LayeredGraph graph, IReadOnlyList<string> keys)
    {
        foreach (var key in keys)
            if (!graph.Layers.Values.Any(l => l.ContainsKey(key)))
                throw new ArgumentException($"The collection's key '{key}' is not in its graph.", nameof(keys));
        Graph = graph;
        Keys = keys;
    }

    /// <summary>The graph that computes this collection.</summary>
    public LayeredGraph Graph { get; }

    /// <summary>The keys of its chunks or partitions, in order.</summary>
    public IReadOnlyList<string> Keys { get; }

    /// <summary>Assembles the result from the values of <see cref="Keys"/>, in order.</summary>
    protected abstract TResult Assemble(IReadOnlyList<object?> values);

    /// <summary>
    /// Computes the collection with <paramref name="scheduler"/> (a cluster's, from
    /// <see cref="Scheduler.Partial"/>, or a local one; <see cref="Scheduler.Threaded"/> by default).
    /// </summary>
    public TResult Compute(IScheduler? scheduler = null)
    {
        var values = (IEnumerable<object?>)(scheduler ?? Scheduler.Threaded).Get(Graph.ToGraph(), Keys.ToList())!;
        return Assemble(values.ToList());
    }

    /// <summary>
    /// Like <see cref="Compute"/>, returning at once: on a cluster, cancelling <paramref name="cancellation"/>
    /// drops the graph's queued tasks and frees its results.
    /// </summary>
    /// <example>
    /// <code>
    /// using var scheduler = ClusterScheduler.On(pool);
    /// var total = await DArray.Arange(1_000_000, chunk: 100_000).Sum().ComputeAsync(scheduler, cancellation);
    /// </code>
    /// </example>
    public async Task<TResult> ComputeAsync(IScheduler? scheduler = null, CancellationToken cancellation = default)
    {
        var values = (IEnumerable<object?>)(await (scheduler ?? Scheduler.Threaded).GetAsync(Graph.ToGraph(), Keys.ToList(), cancellation).ConfigureAwait(false))!;
        return Assemble(values.ToList());
    }

    /// <summary>
    /// Computes the chunks or partitions and keeps them where they were computed: on a cluster the
    /// returned graph holds a <see cref="RemoteData{T}"/> per key at once (futures: the tasks go on, and
    /// what is computed from them waits for them on the cluster), locally the values themselves.
    /// Collections wrap it in a collection of the same shape (their <c>Persist</c>).
    /// </summary>
    protected LayeredGraph PersistGraph(IScheduler? scheduler)
    {
        var keys = Keys.ToList();
        var kept = (scheduler ?? Scheduler.Threaded).Persist(Graph.ToGraph(), keys);
        var layer = new Graph();
        for (var i = 0; i < keys.Count; i++) layer[keys[i]] = new Quoted(kept[i]);
        return LayeredGraph.Empty.With(LayerNames.New("persisted"), layer);
    }

    /// <summary>A graph with one key computed from <paramref name="task"/>, on top of this collection's graph.</summary>
    protected LayeredGraph WithTask(string layer, TaskNode task)
    {
        var graph = new Graph { [layer] = task };
        return Graph.With(layer, graph);
    }
}

/// <summary>One value computed by a graph: what a reduction of a collection returns.</summary>
/// <typeparam name="T">The value's type.</typeparam>
public sealed class Scalar<T> : Collection<T>
{
    /// <summary>The value of <paramref name="key"/> in <paramref name="graph"/>.</summary>
    public Scalar(LayeredGraph graph, string key) : base(graph, [key]) { }

    /// <summary>The key whose value this is.</summary>
    public string Key => Keys[0];

    /// <inheritdoc />
    protected override T Assemble(IReadOnlyList<object?> values) => (T)values[0]!;

    /// <summary>Computes the value and keeps it where it was computed (a <see cref="RemoteData{T}"/> on a cluster).</summary>
    public Scalar<T> Persist(IScheduler? scheduler = null) => new(PersistGraph(scheduler), Key);

    /// <summary>A new value computed from this one by <paramref name="function"/>.</summary>
    public Scalar<TOut> Select<TOut>(Func<T, TOut> function)
    {
        var layer = LayerNames.New("scalar-select");
        return new Scalar<TOut>(WithTask(layer, new TaskNode(function, new KeyRef(Key))), layer);
    }
}
