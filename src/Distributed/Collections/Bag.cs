using Distributed.Dask;

namespace Distributed.Collections;

/// <summary>
/// A sequence of items split in partitions, computed on any scheduler, with LINQ's names (dask's
/// bag). <see cref="Select{TOut}"/>, <see cref="Where"/> and <see cref="SelectMany{TOut}"/> are fused:
/// a chain of them, with the read of the partition before it and the reduction after it, runs as
/// one task per partition. Reductions combine partial results in a tree; <see cref="GroupBy{TKey}"/>
/// and <see cref="Distinct"/> shuffle items between partitions by a hash that every process agrees on.
/// Create one with <see cref="Bag.FromSequence{T}"/> or <see cref="Bag.ReadText(string, long)"/>.
/// </summary>
/// <typeparam name="T">The items' type.</typeparam>
/// <example>
/// <code>
/// using var scheduler = ClusterScheduler.On(pool);
/// var top = Bag.ReadText("/data/books/*.txt")
///     .SelectMany(line => line.Split(' ', StringSplitOptions.RemoveEmptyEntries))
///     .Frequencies().Compute(scheduler).OrderByDescending(w => w.Value).Take(10);
/// </code>
/// </example>
public sealed partial class Bag<T> : Collection<List<T>>
{
    /// <summary>How many partial results one task of a tree reduction combines.</summary>
    internal const int FanIn = 8;

    private readonly LayeredGraph _sourceGraph;
    private readonly IReadOnlyList<object> _sources;
    private readonly int[] _kinds;
    private readonly Delegate[] _stages;

    /// <summary>
    /// A bag whose partition i is <paramref name="sources"/>[i] (a <see cref="KeyRef"/> to a stored
    /// partition of <paramref name="sourceGraph"/>, or an inline <see cref="TaskNode"/> that yields the
    /// items) passed through the stages, named for <paramref name="operation"/>.
    /// </summary>
    internal Bag(LayeredGraph sourceGraph, IReadOnlyList<object> sources, int[] kinds, Delegate[] stages, string operation)
        : this(sourceGraph, sources, kinds, stages, PartitionLayer(sourceGraph, sources, kinds, stages, operation)) { }

    private Bag(LayeredGraph sourceGraph, IReadOnlyList<object> sources, int[] kinds, Delegate[] stages, (LayeredGraph Graph, List<string> Keys) partitions)
        : base(partitions.Graph, partitions.Keys)
    {
        _sourceGraph = sourceGraph;
        _sources = sources;
        _kinds = kinds;
        _stages = stages;
    }

    /// <summary>A bag of the partitions stored under <paramref name="keys"/> of <paramref name="graph"/>.</summary>
    internal static Bag<T> OfKeys(LayeredGraph graph, IEnumerable<string> keys, string operation) =>
        new(graph, keys.Select(k => (object)new KeyRef(k)).ToList(), [], [], operation);

    /// <summary>Number of partitions.</summary>
    /// <example>
    /// <code>
    /// var bag = Bag.FromSequence(Enumerable.Range(0, 100), partitionSize: 30);
    /// Console.WriteLine(bag.PartitionCount); // 4: 30, 30, 30 and 10 items
    /// </code>
    /// </example>
    public int PartitionCount => Keys.Count;

    /// <summary>Each item mapped by <paramref name="selector"/>.</summary>
    /// <example>
    /// <code>
    /// List&lt;int&gt; lengths = Bag.FromSequence(["apple", "fig", "cherry"]).Select(word => word.Length).Compute(); // 5, 3, 6
    /// </code>
    /// </example>
    public Bag<TOut> Select<TOut>(Func<T, TOut> selector) => Then<TOut>(BagStages.Select, selector, "select");

    /// <summary>The items for which <paramref name="predicate"/> holds.</summary>
    /// <example>
    /// <code>
    /// var evens = Bag.FromSequence(Enumerable.Range(0, 10), partitions: 2).Where(i => i % 2 == 0);
    /// Console.WriteLine(string.Join(", ", evens.Compute())); // 0, 2, 4, 6, 8
    /// </code>
    /// </example>
    public Bag<T> Where(Func<T, bool> predicate) => Then<T>(BagStages.Where, predicate, "where");

    /// <summary>The items of the sequences <paramref name="selector"/> makes of each item, flattened.</summary>
    /// <example>
    /// <code>
    /// var words = Bag.ReadText("/data/notes.txt").SelectMany(line => line.Split(' '));
    /// long count = words.Count().Compute();
    /// </code>
    /// </example>
    public Bag<TOut> SelectMany<TOut>(Func<T, IEnumerable<TOut>> selector) => Then<TOut>(BagStages.SelectMany, selector, "select-many");

    /// <summary>
    /// Computes the partitions and keeps them where they were computed (on a cluster's workers, or
    /// in this process on a local scheduler): operations on the returned bag start from them.
    /// </summary>
    /// <example>
    /// <code>
    /// using var scheduler = ClusterScheduler.On(pool);
    /// var errors = Bag.ReadText("/data/logs/*.log").Where(l => l.Contains("ERROR")).Persist(scheduler); // read once
    /// var (total, distinct) = (errors.Count().Compute(scheduler), errors.Distinct().Count().Compute(scheduler));
    /// </code>
    /// </example>
    public Bag<T> Persist(IScheduler? scheduler = null) => OfKeys(PersistGraph(scheduler), Keys, "persisted");

    /// <summary>
    /// The first <paramref name="count"/> items, computed now: partitions are read in order, one at a
    /// time, each only as far as needed, and none after the one that completes the count.
    /// </summary>
    /// <example>
    /// <code>
    /// List&lt;string&gt; firstLines = Bag.ReadText("/data/huge.csv").Take(5); // reads only the first block
    /// </code>
    /// </example>
    public List<T> Take(int count, IScheduler? scheduler = null)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        var taken = new List<T>();
        for (var i = 0; i < _sources.Count && taken.Count < count; i++)
        {
            var layer = LayerNames.New("take");
            var graph = _sourceGraph.With(layer, new Graph { [layer] = new TaskNode(BagTasks<T>.Take, StreamOf(i), count - taken.Count) });
            taken.AddRange((IEnumerable<T>)(scheduler ?? Scheduler.Threaded).Get(graph.ToGraph(), layer)!);
        }
        return taken;
    }

    /// <summary>The items of every partition, in partition order.</summary>
    /// <example>
    /// <code>
    /// List&lt;int&gt; all = Bag.FromSequence([1, 2, 3, 4, 5], partitions: 2).Compute(); // [1, 2] and [3, 4, 5] joined: 1, 2, 3, 4, 5
    /// </code>
    /// </example>
    protected override List<T> Assemble(IReadOnlyList<object?> values)
    {
        var items = new List<T>(values.Sum(v => v is ICollection<T> partition ? partition.Count : 0));
        foreach (var partition in values) items.AddRange((IEnumerable<T>)partition!);
        return items;
    }

    /// <summary>The inline task that yields partition <paramref name="index"/>'s items: its source through the chain.</summary>
    internal TaskNode StreamOf(int index) => new(BagTasks<T>.Stream, _sources[index], _kinds, _stages);

    private Bag<TOut> Then<TOut>(int kind, Delegate function, string operation)
    {
        ArgumentNullException.ThrowIfNull(function);
        return new Bag<TOut>(_sourceGraph, _sources, [.. _kinds, kind], [.. _stages, function], operation);
    }

    private static (LayeredGraph, List<string>) PartitionLayer(
        LayeredGraph sourceGraph, IReadOnlyList<object> sources, int[] kinds, Delegate[] stages, string operation)
    {
        // Stored partitions without a chain are the bag's partitions themselves: no copying task.
        if (stages.Length == 0 && sources.All(s => s is KeyRef))
            return (sourceGraph, sources.Select(s => ((KeyRef)s).Key).ToList());
        var name = LayerNames.New(operation);
        var layer = new Graph();
        var keys = new List<string>(sources.Count);
        for (var i = 0; i < sources.Count; i++)
        {
            var key = LayerNames.Key(name, i);
            layer[key] = new TaskNode(BagTasks<T>.Materialize, new TaskNode(BagTasks<T>.Stream, sources[i], kinds, stages));
            keys.Add(key);
        }
        return (sourceGraph.With(name, layer), keys);
    }
}
