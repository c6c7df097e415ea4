using Distributed.Dask;

namespace Distributed.Collections;

public sealed partial class Bag<T>
{
    /// <summary>
    /// Folds each partition with <paramref name="func"/> from <paramref name="seed"/>, then combines
    /// the partial results with <paramref name="combine"/>, in order. The seed is shared by the
    /// partitions that run in one process: use it for immutable values, and the overload with a
    /// seed factory for a mutable accumulator.
    /// </summary>
    /// <example>
    /// <code>
    /// var bag = Bag.FromSequence(Enumerable.Range(1, 100), partitions: 4);
    /// long sum = bag.Aggregate(0L, (acc, i) => acc + i, (a, b) => a + b).Compute(); // 5050
    /// </code>
    /// </example>
    public Scalar<TAccumulate> Aggregate<TAccumulate>(TAccumulate seed, Func<TAccumulate, T, TAccumulate> func, Func<TAccumulate, TAccumulate, TAccumulate> combine)
    {
        ArgumentNullException.ThrowIfNull(func);
        ArgumentNullException.ThrowIfNull(combine);
        return Reduce<TAccumulate>(
            "aggregate",
            stream => new TaskNode(AggregateTasks<T, TAccumulate>.FoldFromSeed, stream, new Quoted(seed), func),
            partials => new TaskNode(AggregateTasks<T, TAccumulate>.Combine, partials, combine));
    }

    /// <summary>
    /// Folds each partition with <paramref name="func"/> from a new accumulator made by
    /// <paramref name="seedFactory"/>, then combines the partial results with <paramref name="combine"/>, in order.
    /// </summary>
    /// <example>
    /// <code>
    /// var words = Bag.FromSequence(["b", "a", "b", "c"], partitions: 2);
    /// var seen = words.Aggregate(() => new HashSet&lt;string&gt;(), (set, w) => { set.Add(w); return set; }, (a, b) => { a.UnionWith(b); return a; });
    /// Console.WriteLine(seen.Compute().Count); // 3
    /// </code>
    /// </example>
    public Scalar<TAccumulate> Aggregate<TAccumulate>(Func<TAccumulate> seedFactory, Func<TAccumulate, T, TAccumulate> func, Func<TAccumulate, TAccumulate, TAccumulate> combine)
    {
        ArgumentNullException.ThrowIfNull(seedFactory);
        ArgumentNullException.ThrowIfNull(func);
        ArgumentNullException.ThrowIfNull(combine);
        return Reduce<TAccumulate>(
            "aggregate",
            stream => new TaskNode(AggregateTasks<T, TAccumulate>.FoldFromFactory, stream, seedFactory, func),
            partials => new TaskNode(AggregateTasks<T, TAccumulate>.Combine, partials, combine));
    }

    /// <summary>Number of items.</summary>
    /// <example>
    /// <code>
    /// long lines = Bag.ReadText("/data/logs/*.log").Count().Compute();
    /// </code>
    /// </example>
    public Scalar<long> Count() => Reduce<long>(
        "count",
        stream => new TaskNode(BagTasks<T>.Count, stream),
        partials => new TaskNode(BagTasks<T>.SumCounts, partials));

    /// <summary>
    /// The <paramref name="k"/> items with the largest keys, largest first; among equal keys, the
    /// earlier item in the sequence comes first (as <c>OrderByDescending(keySelector).Take(k)</c>).
    /// </summary>
    /// <example>
    /// <code>
    /// var words = Bag.FromSequence(["fig", "banana", "kiwi", "cherry"]);
    /// List&lt;string&gt; longest = words.TopK(2, w => w.Length).Compute(); // banana, cherry
    /// </code>
    /// </example>
    public Scalar<List<T>> TopK<TKey>(int k, Func<T, TKey> keySelector)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(k);
        ArgumentNullException.ThrowIfNull(keySelector);
        return Reduce<List<T>>(
            "top-k",
            stream => new TaskNode(TopTasks<T, TKey>.Partition, stream, k, keySelector),
            partials => new TaskNode(TopTasks<T, TKey>.Combine, partials, k, keySelector));
    }

    /// <summary>
    /// A tree reduction: <paramref name="partial"/> makes each partition's task (given the inline task
    /// that streams the partition), <paramref name="combine"/> a task that combines up to
    /// <see cref="FanIn"/> partial results (given the list of their key references, in order), level after level.
    /// </summary>
    internal Scalar<TResult> Reduce<TResult>(string operation, Func<TaskNode, TaskNode> partial, Func<List<object>, TaskNode> combine)
    {
        var name = LayerNames.New(operation);
        var layer = new Graph();
        var level = new List<string>(_sources.Count);
        for (var i = 0; i < _sources.Count; i++)
        {
            var key = LayerNames.Key(name, 0, i);
            layer[key] = partial(StreamOf(i));
            level.Add(key);
        }
        for (var depth = 1; level.Count > 1; depth++)
        {
            var next = new List<string>((level.Count + FanIn - 1) / FanIn);
            for (var start = 0; start < level.Count; start += FanIn)
            {
                var key = LayerNames.Key(name, depth, start / FanIn);
                layer[key] = combine(level.Skip(start).Take(FanIn).Select(k => (object)new KeyRef(k)).ToList());
                next.Add(key);
            }
            level = next;
        }
        return new Scalar<TResult>(_sourceGraph.With(name, layer), level[0]);
    }
}
