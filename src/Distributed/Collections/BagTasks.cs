using System.Collections;
using System.Reflection;
using System.Runtime.InteropServices;

namespace Distributed.Collections;

/// <summary>
/// The fused Select/Where/SelectMany chain of a bag, run over one partition. The user's functions
/// travel as task arguments (so their code ships with the task) next to the kind of each stage; the
/// typed LINQ operator of a stage is found by reflection once per partition, not per item.
/// </summary>
internal static class BagStages
{
    public const int Select = 0, Where = 1, SelectMany = 2;

    private static readonly MethodInfo SelectMethod = Method(nameof(ApplySelect));
    private static readonly MethodInfo WhereMethod = Method(nameof(ApplyWhere));
    private static readonly MethodInfo SelectManyMethod = Method(nameof(ApplySelectMany));

    /// <summary>The items of <paramref name="source"/> passed lazily through every stage.</summary>
    public static IEnumerable<T> Run<T>(object? source, int[] kinds, Delegate[] stages)
    {
        var items = (IEnumerable)(source ?? throw new InvalidOperationException("A bag partition is null."));
        for (var i = 0; i < stages.Length; i++) items = Apply(items, kinds[i], stages[i]);
        return (IEnumerable<T>)items;
    }

    private static IEnumerable Apply(IEnumerable items, int kind, Delegate function)
    {
        // Items keep the element type they have (a bag of strings filtered by a Func<object, bool>
        // stays a sequence of strings); results take the type the delegate declares.
        var input = ElementType(items.GetType());
        var output = function.GetType().GetGenericArguments()[^1];
        var method = kind switch
        {
            Select => SelectMethod.MakeGenericMethod(input, output),
            Where => WhereMethod.MakeGenericMethod(input),
            SelectMany => SelectManyMethod.MakeGenericMethod(input, ElementType(output)),
            _ => throw new InvalidOperationException($"Unknown bag stage {kind}."),
        };
        return (IEnumerable)method.Invoke(null, [items, function])!;
    }

    private static Type ElementType(Type sequence)
    {
        if (sequence.IsGenericType && sequence.GetGenericTypeDefinition() == typeof(IEnumerable<>)) return sequence.GetGenericArguments()[0];
        var enumerable = sequence.GetInterfaces().FirstOrDefault(i => i.IsGenericType && i.GetGenericTypeDefinition() == typeof(IEnumerable<>))
            ?? throw new InvalidOperationException($"{sequence} is not a sequence of items.");
        return enumerable.GetGenericArguments()[0];
    }

    private static IEnumerable<TOut> ApplySelect<TIn, TOut>(IEnumerable<TIn> items, Delegate function) => items.Select((Func<TIn, TOut>)function);

    private static IEnumerable<TIn> ApplyWhere<TIn>(IEnumerable<TIn> items, Delegate function) => items.Where((Func<TIn, bool>)function);

    private static IEnumerable<TOut> ApplySelectMany<TIn, TOut>(IEnumerable<TIn> items, Delegate function) => items.SelectMany((Func<TIn, IEnumerable<TOut>>)function);

    private static MethodInfo Method(string name) => typeof(BagStages).GetMethod(name, BindingFlags.NonPublic | BindingFlags.Static)!;
}

/// <summary>
/// The task functions of a <see cref="Bag{T}"/>, one delegate instance each so that a graph encodes
/// each function once. They take partitions as sequences: the chain before them runs inline, in the
/// same task, and only what they return is stored.
/// </summary>
internal static class BagTasks<T>
{
    // Lambdas rather than method groups: a delegate to an overloaded method (Enumerable.Sum) cannot
    // be found again by name when the task is deserialized on a worker.
    public static readonly Func<object?, int[], Delegate[], IEnumerable<T>> Stream = (source, kinds, stages) => BagStages.Run<T>(source, kinds, stages);
    public static readonly Func<IEnumerable<T>, List<T>> Materialize = items => items.ToList();
    public static readonly Func<IEnumerable<T>, int, List<T>> Take = (items, count) => items.Take(count).ToList();
    public static readonly Func<IEnumerable<T>, long> Count = items => items.LongCount();
    public static readonly Func<long[], long> SumCounts = counts => counts.Sum();

    public static readonly Func<IEnumerable<T>, int, List<T>[]> SplitDistinct = (items, partitions) =>
    {
        var seen = new HashSet<T>();
        var buckets = NewBuckets(partitions);
        foreach (var item in items)
            if (seen.Add(item)) buckets[StableHash.Partition(item, partitions)].Add(item);
        return buckets;
    };

    public static readonly Func<List<T>[], int, List<T>> Pick = (buckets, index) => buckets[index];

    public static readonly Func<List<T>[], List<T>> Union = parts =>
    {
        var seen = new HashSet<T>();
        var union = new List<T>();
        foreach (var part in parts)
            foreach (var item in part)
                if (seen.Add(item)) union.Add(item);
        return union;
    };

    public static List<T>[] NewBuckets(int partitions)
    {
        var buckets = new List<T>[partitions];
        for (var i = 0; i < partitions; i++) buckets[i] = [];
        return buckets;
    }
}

/// <summary>Reading text blocks: a partition's lines, streamed into the chain that follows.</summary>
internal static class TextTasks
{
    public static readonly Func<string, long, long, IEnumerable<string>> ReadLines = (path, start, end) => TextBlocks.ReadLines(path, start, end);
}

/// <summary>Aggregate's tasks: fold each partition, then combine the partial results in order.</summary>
internal static class AggregateTasks<T, TAccumulate>
{
    public static readonly Func<IEnumerable<T>, TAccumulate, Func<TAccumulate, T, TAccumulate>, TAccumulate> FoldFromSeed =
        (items, seed, fold) => items.Aggregate(seed, fold);

    public static readonly Func<IEnumerable<T>, Func<TAccumulate>, Func<TAccumulate, T, TAccumulate>, TAccumulate> FoldFromFactory =
        (items, seedFactory, fold) => items.Aggregate(seedFactory(), fold);

    public static readonly Func<TAccumulate[], Func<TAccumulate, TAccumulate, TAccumulate>, TAccumulate> Combine =
        (partials, combine) => partials.Aggregate(combine);
}

/// <summary>TopK's tasks: the k largest of each partition, then of the partial lists (stable: ties keep sequence order).</summary>
internal static class TopTasks<T, TKey>
{
    public static readonly Func<IEnumerable<T>, int, Func<T, TKey>, List<T>> Partition =
        (items, count, keySelector) => items.OrderByDescending(keySelector).Take(count).ToList();

    public static readonly Func<List<T>[], int, Func<T, TKey>, List<T>> Combine =
        (partials, count, keySelector) => partials.SelectMany(p => p).OrderByDescending(keySelector).Take(count).ToList();
}

/// <summary>GroupBy's tasks: split each partition by the stable hash of the key, then group each output partition.</summary>
internal static class GroupTasks<T, TKey> where TKey : notnull
{
    public static readonly Func<IEnumerable<T>, Func<T, TKey>, int, List<T>[]> Split = (items, keySelector, partitions) =>
    {
        var buckets = BagTasks<T>.NewBuckets(partitions);
        foreach (var item in items) buckets[StableHash.Partition(keySelector(item), partitions)].Add(item);
        return buckets;
    };

    public static readonly Func<List<T>[], Func<T, TKey>, List<IGrouping<TKey, T>>> Group = (parts, keySelector) =>
    {
        // Groups in order of first appearance, items in sequence order: what Enumerable.GroupBy gives.
        var groups = new Dictionary<TKey, List<T>>();
        var order = new List<TKey>();
        foreach (var part in parts)
            foreach (var item in part)
            {
                var key = keySelector(item);
                ref var members = ref CollectionsMarshal.GetValueRefOrAddDefault(groups, key, out var existed);
                if (!existed) { members = []; order.Add(key); }
                members!.Add(item);
            }
        return order.Select(key => (IGrouping<TKey, T>)new Grouping<TKey, T>(key, groups[key])).ToList();
    };
}

/// <summary>
/// Frequencies' tasks: count each partition's items, then add the counts up. Partial counts travel as
/// two arrays rather than a dictionary, which the serializer walks entry by entry (about ten times
/// slower for a word count's tables); only the final result is a dictionary.
/// </summary>
internal static class FrequencyTasks<T> where T : notnull
{
    public static readonly Func<IEnumerable<T>, FrequencyTable<T>> Partition = items =>
    {
        var counts = new Dictionary<T, long>();
        foreach (var item in items) CollectionsMarshal.GetValueRefOrAddDefault(counts, item, out _)++;
        return FrequencyTable<T>.Of(counts);
    };

    public static readonly Func<FrequencyTable<T>[], FrequencyTable<T>> Combine = partials => FrequencyTable<T>.Of(Sum(partials));

    public static readonly Func<FrequencyTable<T>, Dictionary<T, long>> ToDictionary = table => Sum([table]);

    private static Dictionary<T, long> Sum(FrequencyTable<T>[] tables)
    {
        var total = new Dictionary<T, long>(tables.Max(t => t.Items.Length));
        foreach (var table in tables)
            for (var i = 0; i < table.Items.Length; i++)
                CollectionsMarshal.GetValueRefOrAddDefault(total, table.Items[i], out _) += table.Counts[i];
        return total;
    }
}

/// <summary>Partial counts of Frequencies: each distinct item and how many times it occurs.</summary>
internal sealed record FrequencyTable<T>(T[] Items, long[] Counts) where T : notnull
{
    public static FrequencyTable<T> Of(Dictionary<T, long> counts) => new([.. counts.Keys], [.. counts.Values]);
}

/// <summary>A key and the items that have it: the elements of a grouped bag.</summary>
/// <typeparam name="TKey">The key's type.</typeparam>
/// <typeparam name="TElement">The items' type.</typeparam>
/// <example>
/// <code>
/// var groups = Bag.FromSequence([1, 2, 3, 4, 5]).GroupBy(i => i % 2).Compute();
/// var odd = (Grouping&lt;int, int&gt;)groups.Single(g => g.Key == 1);
/// Console.WriteLine(string.Join(", ", odd.Items)); // 1, 3, 5
/// </code>
/// </example>
public sealed class Grouping<TKey, TElement>(TKey key, List<TElement> items) : IGrouping<TKey, TElement>
{
    /// <summary>The key the items share.</summary>
    /// <example>
    /// <code>
    /// var groups = Bag.FromSequence(["ant", "bee", "asp"]).GroupBy(w => w[0]).Compute();
    /// Console.WriteLine(string.Join(", ", groups.Select(g => g.Key))); // a and b, partition by partition
    /// </code>
    /// </example>
    public TKey Key { get; } = key;

    /// <summary>The items, in sequence order.</summary>
    /// <example>
    /// <code>
    /// var groups = Bag.FromSequence([1.5, 2.5, 1.5]).GroupBy(x => x).Compute();
    /// var counts = groups.Select(g => (g.Key, ((Grouping&lt;double, double&gt;)g).Items.Count)); // (1.5, 2) and (2.5, 1)
    /// </code>
    /// </example>
    public List<TElement> Items { get; } = items;

    /// <summary>The items, in sequence order.</summary>
    /// <example>
    /// <code>
    /// foreach (var group in Bag.FromSequence(["x1", "y1", "x2"]).GroupBy(s => s[0]).Compute())
    ///     foreach (var item in group) Console.WriteLine($"{group.Key}: {item}");
    /// </code>
    /// </example>
    public IEnumerator<TElement> GetEnumerator() => Items.GetEnumerator();

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();
}
