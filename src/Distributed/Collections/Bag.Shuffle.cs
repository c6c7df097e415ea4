using Distributed.Dask;

namespace Distributed.Collections;

public sealed partial class Bag<T>
{
    /// <summary>
    /// The items grouped by <paramref name="keySelector"/>, in <paramref name="partitions"/> output
    /// partitions (as many as this bag's by default). A shuffle: each partition is split by the
    /// stable hash of the key (<see cref="StableHash"/>), then each output partition groups what it
    /// received. Within a partition, groups come in order of first appearance, items in sequence order.
    /// </summary>
    /// <example>
    /// <code>
    /// var groups = Bag.FromSequence(["apple", "avocado", "banana"]).GroupBy(word => word[0]).Compute();
    /// foreach (var group in groups) Console.WriteLine($"{group.Key}: {string.Join(", ", group)}"); // a: apple, avocado / b: banana
    /// </code>
    /// </example>
    public Bag<IGrouping<TKey, T>> GroupBy<TKey>(Func<T, TKey> keySelector, int? partitions = null) where TKey : notnull
    {
        ArgumentNullException.ThrowIfNull(keySelector);
        var outputs = OutputPartitions(partitions);
        var (graph, received) = Shuffle("group-by-split", stream => new TaskNode(GroupTasks<T, TKey>.Split, stream, keySelector, outputs), outputs);
        var name = LayerNames.New("group-by");
        var layer = new Graph();
        var keys = new List<string>(outputs);
        for (var j = 0; j < outputs; j++)
        {
            keys.Add(LayerNames.Key(name, j));
            layer[keys[j]] = new TaskNode(GroupTasks<T, TKey>.Group, received[j], keySelector);
        }
        return Bag<IGrouping<TKey, T>>.OfKeys(graph.With(name, layer), keys, "group-by");
    }

    /// <summary>
    /// The distinct items, in <paramref name="partitions"/> partitions (as many as this bag's by
    /// default): each partition drops its repeats and splits the rest by stable hash, then each output
    /// partition keeps the first of each item it received.
    /// </summary>
    /// <example>
    /// <code>
    /// var ids = Bag.FromSequence([3, 1, 3, 2, 1], partitions: 2);
    /// List&lt;int&gt; unique = ids.Distinct(partitions: 1).Compute(); // 3, 1, 2 in some order
    /// </code>
    /// </example>
    public Bag<T> Distinct(int? partitions = null)
    {
        var outputs = OutputPartitions(partitions);
        var (graph, received) = Shuffle("distinct-split", stream => new TaskNode(BagTasks<T>.SplitDistinct, stream, outputs), outputs);
        var name = LayerNames.New("distinct");
        var layer = new Graph();
        var keys = new List<string>(outputs);
        for (var j = 0; j < outputs; j++)
        {
            keys.Add(LayerNames.Key(name, j));
            layer[keys[j]] = new TaskNode(BagTasks<T>.Union, received[j]);
        }
        return OfKeys(graph.With(name, layer), keys, "distinct");
    }

    private int OutputPartitions(int? partitions)
    {
        if (partitions is < 1) throw new ArgumentOutOfRangeException(nameof(partitions), partitions, "A bag has at least one partition.");
        return partitions ?? PartitionCount;
    }

    /// <summary>
    /// The first half of a shuffle: <paramref name="split"/> makes, from each partition's stream, a task
    /// that returns one bucket per output partition; a small task per (input, output) then picks the
    /// bucket, so that each output partition fetches only its own share of every input.
    /// Returns the graph and, per output partition, the references to its buckets in input order.
    /// </summary>
    private (LayeredGraph Graph, List<object>[] Received) Shuffle(string operation, Func<TaskNode, TaskNode> split, int outputs)
    {
        var name = LayerNames.New(operation);
        var layer = new Graph();
        // Lists, not arrays: an object[] argument would be taken for the task's whole argument list.
        var received = new List<object>[outputs];
        for (var j = 0; j < outputs; j++) received[j] = new List<object>(_sources.Count);
        for (var i = 0; i < _sources.Count; i++)
        {
            var splitKey = LayerNames.Key(name, i);
            layer[splitKey] = split(StreamOf(i));
            for (var j = 0; j < outputs; j++)
            {
                var pickKey = LayerNames.Key(name, i, j);
                layer[pickKey] = new TaskNode(BagTasks<T>.Pick, new KeyRef(splitKey), j);
                received[j].Add(new KeyRef(pickKey));
            }
        }
        return (_sourceGraph.With(name, layer), received);
    }
}
