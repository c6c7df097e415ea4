using System.Collections.Immutable;
using System.Security.Cryptography;

namespace Distributed.Dask;

/// <summary>
/// A collection's task graph as named layers (one per operation), shared between the collections
/// built from one another: an operation adds a layer instead of copying every key before it.
/// </summary>
/// <example>
/// <code>
/// var layer = LayerNames.New("answer");
/// var graph = LayeredGraph.Empty.With(layer, new Graph { [layer] = 42 });
/// var answer = new Scalar&lt;int&gt;(graph, layer).Compute(); // 42
/// </code>
/// </example>
public sealed class LayeredGraph
{
    private readonly ImmutableDictionary<string, Graph> _layers;

    private LayeredGraph(ImmutableDictionary<string, Graph> layers) => _layers = layers;

    /// <summary>A graph without layers.</summary>
    /// <example>
    /// <code>
    /// var layer = LayerNames.New("ones");
    /// LayeredGraph graph = LayeredGraph.Empty.With(layer, new Graph { [layer] = new[] { 1.0, 1.0 } });
    /// </code>
    /// </example>
    public static LayeredGraph Empty { get; } = new(ImmutableDictionary.Create<string, Graph>(StringComparer.Ordinal));

    /// <summary>The layers by name.</summary>
    /// <example>
    /// <code>
    /// var x = DArray.Arange(100, chunks: 10) * 2;
    /// foreach (var (name, layer) in x.Graph.Layers) Console.WriteLine($"{name}: {layer.Count} keys");
    /// </code>
    /// </example>
    public IReadOnlyDictionary<string, Graph> Layers => _layers;

    /// <summary>Number of keys in all layers.</summary>
    /// <example>
    /// <code>
    /// var bag = Bag.FromSequence(Enumerable.Range(0, 1_000), partitions: 8).Select(i => i * 2);
    /// Console.WriteLine($"{bag.Graph.Count} keys in {bag.Graph.Layers.Count} layers");
    /// </code>
    /// </example>
    public int Count => _layers.Values.Sum(l => l.Count);

    /// <summary>This graph with one more layer; the layer must not be changed afterwards.</summary>
    /// <example>
    /// <code>
    /// var source = LayerNames.New("source");
    /// var doubled = LayerNames.New("doubled");
    /// var graph = LayeredGraph.Empty.With(source, new Graph { [source] = 21 })
    ///     .With(doubled, new Graph { [doubled] = ((Func&lt;int, int&gt;)(x => x * 2), source) });
    /// </code>
    /// </example>
    public LayeredGraph With(string name, Graph layer) => new(_layers.SetItem(name, layer));

    /// <summary>The layers of all <paramref name="graphs"/> (an operation on several collections).</summary>
    /// <example>
    /// <code>
    /// var x = DArray.Ones(10, chunks: 5).Sum();
    /// var y = DArray.Zeros(10, chunks: 5).Sum();
    /// LayeredGraph both = LayeredGraph.Merge(x.Graph, y.Graph);
    /// </code>
    /// </example>
    public static LayeredGraph Merge(params IEnumerable<LayeredGraph> graphs)
    {
        var merged = Empty._layers;
        foreach (var graph in graphs)
            merged = merged.Count == 0 ? graph._layers : merged.SetItems(graph._layers);
        return new LayeredGraph(merged);
    }

    /// <summary>All layers as one graph, for a scheduler.</summary>
    /// <example>
    /// <code>
    /// var total = DArray.Arange(10, chunks: 5).Sum();
    /// Graph flat = total.Graph.ToGraph();
    /// var value = Scheduler.Synchronous.Get(flat, total.Key); // 45.0
    /// </code>
    /// </example>
    public Graph ToGraph()
    {
        var graph = new Graph();
        foreach (var layer in _layers.Values) graph.Merge(layer);
        return graph;
    }
}

/// <summary>Names for the layers of collections: the operation, then a random token that keeps them apart.</summary>
/// <example>
/// <code>
/// var layer = LayerNames.New("load");
/// var graph = new Graph { [LayerNames.Key(layer, 0)] = "a.csv", [LayerNames.Key(layer, 1)] = "b.csv" };
/// </code>
/// </example>
public static class LayerNames
{
    /// <summary>A new layer name, e.g. <c>sum-4f2a9c1e</c>.</summary>
    /// <example>
    /// <code>
    /// string layer = LayerNames.New("sum"); // e.g. "sum-4f2a9c1e": a fresh name each call
    /// </code>
    /// </example>
    public static string New(string operation) => $"{operation}-{Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(4))}";

    /// <summary>The key of a chunk or partition, e.g. <c>sum-4f2a9c1e[3]</c> or <c>x-0a1b2c3d[0,2]</c>.</summary>
    /// <example>
    /// <code>
    /// var layer = LayerNames.New("x");
    /// Console.WriteLine(LayerNames.Key(layer, 3));    // x-...[3]
    /// Console.WriteLine(LayerNames.Key(layer, 0, 2)); // x-...[0,2]
    /// </code>
    /// </example>
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
/// <example>
/// <code>
/// Collection&lt;double&gt; sum = DArray.Arange(1_000, chunks: 100).Sum();
/// Collection&lt;List&lt;string&gt;&gt; words = Bag.FromSequence(["a b", "c"]).SelectMany(line => line.Split(' '));
/// Console.WriteLine($"{sum.Compute()} {words.Compute().Count}"); // 499500 3
/// </code>
/// </example>
#pragma warning disable CA1711 // dask's word for an array, a bag or a dataframe
public abstract class Collection<TResult>
#pragma warning restore CA1711
{
    /// <summary>A collection of <paramref name="graph"/> whose result is made of <paramref name="keys"/>.</summary>
    /// <example>
    /// <code>
    /// // a subclass names its graph and the keys that make its result, as Scalar does:
    /// var layer = LayerNames.New("pi");
    /// var pi = new Scalar&lt;double&gt;(LayeredGraph.Empty.With(layer, new Graph { [layer] = Math.PI }), layer);
    /// </code>
    /// </example>
    protected Collection(LayeredGraph graph, IReadOnlyList<string> keys)
    {
        foreach (var key in keys)
            if (!graph.Layers.Values.Any(l => l.ContainsKey(key)))
                throw new ArgumentException($"The collection's key '{key}' is not in its graph.", nameof(keys));
        Graph = graph;
        Keys = keys;
    }

    /// <summary>The graph that computes this collection.</summary>
    /// <example>
    /// <code>
    /// var x = DArray.Ones(100, chunks: 10) + 1;
    /// Graph graph = x.Graph.ToGraph();
    /// Console.WriteLine($"{graph.Count} keys");
    /// </code>
    /// </example>
    public LayeredGraph Graph { get; }

    /// <summary>The keys of its chunks or partitions, in order.</summary>
    /// <example>
    /// <code>
    /// var bag = Bag.FromSequence(Enumerable.Range(0, 100), partitions: 4);
    /// Console.WriteLine(bag.Keys.Count); // 4: one key per partition
    /// </code>
    /// </example>
    public IReadOnlyList<string> Keys { get; }

    /// <summary>Assembles the result from the values of <see cref="Keys"/>, in order.</summary>
    /// <example>
    /// <code>
    /// // DArray assembles its chunks into one array; a bag concatenates its partitions:
    /// List&lt;int&gt; all = Bag.FromSequence([1, 2, 3, 4], partitions: 2).Compute(); // Assemble([[1, 2], [3, 4]])
    /// </code>
    /// </example>
    protected abstract TResult Assemble(IReadOnlyList<object?> values);

    /// <summary>
    /// Computes the collection with <paramref name="scheduler"/> (a cluster's, from
    /// <see cref="Scheduler.Partial"/>, or a local one; <see cref="Scheduler.Threaded"/> by default).
    /// </summary>
    /// <example>
    /// <code>
    /// using var scheduler = ClusterScheduler.On(pool);
    /// List&lt;string&gt; errors = Bag.ReadText("/data/app.log").Where(l => l.StartsWith("ERROR")).Compute(scheduler);
    /// </code>
    /// </example>
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
    /// var total = await DArray.Arange(1_000_000, chunks: 100_000).Sum().ComputeAsync(scheduler, cancellation);
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
    /// <example>
    /// <code>
    /// // what every Persist is made of: the chunks kept, under a new layer
    /// var x = DArray.Random(seed: 3, length: 1_000, chunks: 100).Persist(Scheduler.Threaded);
    /// var mean = x.Mean().Compute(); // starts from the kept chunks
    /// </code>
    /// </example>
    protected LayeredGraph PersistGraph(IScheduler? scheduler)
    {
        var keys = Keys.ToList();
        var kept = (scheduler ?? Scheduler.Threaded).Persist(Graph.ToGraph(), keys);
        var layer = new Graph();
        for (var i = 0; i < keys.Count; i++) layer[keys[i]] = new Quoted(kept[i]);
        return LayeredGraph.Empty.With(LayerNames.New("persisted"), layer);
    }

    /// <summary>A graph with one key computed from <paramref name="task"/>, on top of this collection's graph.</summary>
    /// <example>
    /// <code>
    /// // how Scalar.Select adds a task on top of its graph:
    /// var squared = DArray.Arange(4, chunks: 2).Sum().Select(s => s * s);
    /// Console.WriteLine(squared.Compute()); // 36
    /// </code>
    /// </example>
    protected LayeredGraph WithTask(string layer, TaskNode task)
    {
        var graph = new Graph { [layer] = task };
        return Graph.With(layer, graph);
    }
}

/// <summary>One value computed by a graph: what a reduction of a collection returns.</summary>
/// <typeparam name="T">The value's type.</typeparam>
/// <example>
/// <code>
/// Scalar&lt;double&gt; mean = DArray.Random(seed: 0, length: 1_000_000, chunks: 100_000).Mean();
/// Scalar&lt;string&gt; text = mean.Select(m => $"mean = {m:F3}");
/// Console.WriteLine(text.Compute());
/// </code>
/// </example>
public sealed class Scalar<T> : Collection<T>
{
    /// <summary>The value of <paramref name="key"/> in <paramref name="graph"/>.</summary>
    /// <example>
    /// <code>
    /// var layer = LayerNames.New("answer");
    /// var answer = new Scalar&lt;int&gt;(LayeredGraph.Empty.With(layer, new Graph { [layer] = 42 }), layer);
    /// </code>
    /// </example>
    public Scalar(LayeredGraph graph, string key) : base(graph, [key]) { }

    /// <summary>The key whose value this is.</summary>
    /// <example>
    /// <code>
    /// Scalar&lt;long&gt; count = Bag.FromSequence(["a", "b"]).Count();
    /// var value = (long)Scheduler.Synchronous.Get(count.Graph.ToGraph(), count.Key)!; // 2
    /// </code>
    /// </example>
    public string Key => Keys[0];

    /// <summary>The value of <see cref="Key"/>, the only one computed.</summary>
    /// <example>
    /// <code>
    /// Scalar&lt;double&gt; sum = DArray.Ones(10, chunks: 5).Sum();
    /// double value = sum.Compute(); // Assemble([10.0])
    /// </code>
    /// </example>
    protected override T Assemble(IReadOnlyList<object?> values) => (T)values[0]!;

    /// <summary>Computes the value and keeps it where it was computed (a <see cref="RemoteData{T}"/> on a cluster).</summary>
    /// <example>
    /// <code>
    /// using var scheduler = ClusterScheduler.On(pool);
    /// Scalar&lt;double&gt; mean = DArray.Random(seed: 1, length: 10_000_000, chunks: 1_000_000).Mean().Persist(scheduler);
    /// var centered = mean.Select(m => m - 0.5).Compute(scheduler); // reuses the kept mean
    /// </code>
    /// </example>
    public Scalar<T> Persist(IScheduler? scheduler = null) => new(PersistGraph(scheduler), Key);

    /// <summary>A new value computed from this one by <paramref name="function"/>.</summary>
    /// <example>
    /// <code>
    /// Scalar&lt;long&gt; count = Bag.ReadText("/data/*.txt").Count();
    /// Scalar&lt;string&gt; message = count.Select(n => $"{n:N0} lines");
    /// </code>
    /// </example>
    public Scalar<TOut> Select<TOut>(Func<T, TOut> function)
    {
        var layer = LayerNames.New("scalar-select");
        return new Scalar<TOut>(WithTask(layer, new TaskNode(function, new KeyRef(Key))), layer);
    }
}
