using Distributed.Collections;
using Distributed.Dask;

namespace Distributed.Tests.Collections.Bags;

/// <summary>Every operation of <see cref="Bag{T}"/> against LINQ on the same items, on the local schedulers.</summary>
public sealed class BagOperationTests
{
    private static readonly List<int> Numbers = Enumerable.Range(0, 1_000).Select(i => (i * 7919) % 503).ToList();
    private static readonly List<string> Sentences =
    [
        "the quick brown fox", "jumps over the lazy dog", "", "the dog sleeps", "a fox is quick",
        "über naïve café", "the end",
    ];

    public static TheoryData<string> Schedulers => ["threaded", "synchronous"];

    private static IScheduler Named(string scheduler) => scheduler == "threaded" ? Scheduler.Threaded : Scheduler.Synchronous;

    [Theory]
    [MemberData(nameof(Schedulers))]
    public void FromSequence_keeps_the_items_in_order_whatever_the_partitioning(string scheduler)
    {
        Assert.Equal(Numbers, Bag.FromSequence(Numbers).Compute(Named(scheduler)));
        Assert.Equal(Numbers, Bag.FromSequence(Numbers, partitions: 7).Compute(Named(scheduler)));
        Assert.Equal(Numbers, Bag.FromSequence(Numbers, partitionSize: 33).Compute(Named(scheduler)));
        Assert.Empty(Bag.FromSequence(Array.Empty<int>()).Compute(Named(scheduler)));
    }

    [Fact]
    public void FromSequence_makes_the_partitions_asked_for()
    {
        Assert.Equal(7, Bag.FromSequence(Numbers, partitions: 7).PartitionCount);
        Assert.Equal(31, Bag.FromSequence(Numbers, partitionSize: 33).PartitionCount); // 1000 / 33 rounded up
        Assert.Equal(Bag.DefaultPartitions, Bag.FromSequence(Numbers).PartitionCount);
        Assert.Equal(1, Bag.FromSequence(Array.Empty<int>()).PartitionCount);
        Assert.Throws<ArgumentException>(() => Bag.FromSequence(Numbers, partitions: 2, partitionSize: 2));
    }

    [Theory]
    [MemberData(nameof(Schedulers))]
    public void Select_Where_and_SelectMany_give_what_LINQ_gives(string scheduler)
    {
        var bag = Bag.FromSequence(Numbers, partitions: 9)
            .Where(x => x % 3 != 0)
            .Select(x => x * 2)
            .SelectMany(x => Enumerable.Repeat(x, x % 4))
            .Select(x => $"n{x}");
        var expected = Numbers.Where(x => x % 3 != 0).Select(x => x * 2).SelectMany(x => Enumerable.Repeat(x, x % 4)).Select(x => $"n{x}");

        Assert.Equal(expected, bag.Compute(Named(scheduler)));
    }

    [Fact]
    public void A_chain_of_Select_Where_SelectMany_is_one_task_per_partition()
    {
        var source = Bag.FromSequence(Numbers, partitions: 5);
        var chained = source.Select(x => x + 1).Where(x => x > 10).SelectMany(x => new[] { x, -x }).Select(x => x * 3);

        var added = chained.Graph.Count - source.Graph.Count;

        Assert.Equal(5, added);
        Assert.Equal(source.Graph.Layers.Count + 1, chained.Graph.Layers.Count);
        Assert.Equal(5, chained.PartitionCount);
    }

    [Fact]
    public void A_reduction_after_a_chain_fuses_the_chain_into_its_partition_tasks()
    {
        var source = Bag.FromSequence(Numbers, partitions: 20);
        var count = source.Select(x => x + 1).Where(x => x % 2 == 0).Count();

        // 20 partition tasks, then a tree of fan-in 8: 3 tasks, then 1.
        Assert.Equal(20 + 3 + 1, count.Graph.Count - source.Graph.Count);
        Assert.Equal(Numbers.Count(x => (x + 1) % 2 == 0), count.Compute());
    }

    [Fact]
    public void A_variant_delegate_is_applied_as_what_it_is()
    {
        Func<object, bool> notEmpty = item => item.ToString()!.Length > 0;
        Func<string, string[]> words = line => line.Split(' ', StringSplitOptions.RemoveEmptyEntries);

        var bag = Bag.FromSequence(Sentences, partitions: 3).Where(notEmpty).SelectMany(words);

        Assert.Equal(Enumerable.Where<string>(Sentences, notEmpty).SelectMany(words), bag.Compute());
    }

    [Theory]
    [MemberData(nameof(Schedulers))]
    public void Aggregate_from_a_seed_and_from_a_seed_factory_give_what_LINQ_gives(string scheduler)
    {
        var bag = Bag.FromSequence(Numbers, partitions: 30);

        var sum = bag.Aggregate(0L, (total, x) => total + x, (a, b) => a + b);
        var lists = bag.Aggregate(() => new List<int>(), (list, x) => { list.Add(x); return list; }, (a, b) => { a.AddRange(b); return a; });

        Assert.Equal(Numbers.Sum(x => (long)x), sum.Compute(Named(scheduler)));
        Assert.Equal(Numbers, lists.Compute(Named(scheduler)));
    }

    [Theory]
    [MemberData(nameof(Schedulers))]
    public void Count_and_Frequencies_give_what_LINQ_gives(string scheduler)
    {
        var words = Bag.FromSequence(Sentences, partitions: 4).SelectMany(s => s.Split(' ', StringSplitOptions.RemoveEmptyEntries));
        var expected = Sentences.SelectMany(s => s.Split(' ', StringSplitOptions.RemoveEmptyEntries)).GroupBy(w => w).ToDictionary(g => g.Key, g => (long)g.Count());

        Assert.Equal(expected.Values.Sum(), words.Count().Compute(Named(scheduler)));
        Assert.Equal(expected, words.Frequencies().Compute(Named(scheduler)));
        Assert.Equal(Numbers.Count, Bag.FromSequence(Numbers, partitions: 100).Count().Compute(Named(scheduler)));
    }

    [Theory]
    [MemberData(nameof(Schedulers))]
    public void Distinct_gives_the_items_LINQ_gives(string scheduler)
    {
        var bag = Bag.FromSequence(Numbers, partitions: 6);

        Assert.Equal(Numbers.Distinct().Order(), bag.Distinct().Compute(Named(scheduler)).Order());
        Assert.Equal(Numbers.Distinct().Order(), bag.Distinct(partitions: 3).Compute(Named(scheduler)).Order());
        Assert.Equal(3, bag.Distinct(partitions: 3).PartitionCount);
    }

    [Theory]
    [MemberData(nameof(Schedulers))]
    public void GroupBy_gives_the_groups_LINQ_gives_with_items_in_sequence_order(string scheduler)
    {
        var bag = Bag.FromSequence(Numbers, partitions: 8);

        var groups = bag.GroupBy(x => $"r{x % 13}", partitions: 5).Compute(Named(scheduler));
        var expected = Numbers.GroupBy(x => $"r{x % 13}");

        Assert.Equal(expected.Count(), groups.Count);
        var byKey = groups.ToDictionary(g => g.Key, g => g.ToList());
        foreach (var group in expected) Assert.Equal(group.ToList(), byKey[group.Key]);
    }

    [Fact]
    public void GroupBy_puts_each_key_in_the_partition_its_stable_hash_names()
    {
        var grouped = Bag.FromSequence(Numbers, partitions: 4).GroupBy(x => x % 10, partitions: 3);
        var partitions = (IEnumerable<object?>)Scheduler.Threaded.Get(grouped.Graph.ToGraph(), grouped.Keys.ToList())!;

        var index = 0;
        foreach (var partition in partitions.Cast<List<IGrouping<int, int>>>())
        {
            Assert.All(partition, g => Assert.Equal(index, StableHash.Partition(g.Key, 3)));
            index++;
        }
    }

    [Theory]
    [MemberData(nameof(Schedulers))]
    public void TopK_gives_what_OrderByDescending_Take_gives_ties_included(string scheduler)
    {
        var bag = Bag.FromSequence(Numbers, partitions: 11).Select(x => (Value: x, Tens: x / 10));

        Assert.Equal(Numbers.Select(x => (Value: x, Tens: x / 10)).OrderByDescending(p => p.Tens).Take(25),
            bag.TopK(25, p => p.Tens).Compute(Named(scheduler)));
        Assert.Equal(Numbers.OrderByDescending(x => x).Take(3).ToList(),
            Bag.FromSequence(Numbers, partitions: 3).TopK(3, x => x).Compute(Named(scheduler)));
    }

    [Fact]
    public void Take_reads_partitions_in_order_and_stops_once_it_has_enough()
    {
        var evaluated = 0;
        var bag = Bag.FromSequence(Numbers, partitions: 10).Select(x => { Interlocked.Increment(ref evaluated); return x; });

        var first = bag.Take(150);

        Assert.Equal(Numbers.Take(150), first);
        Assert.Equal(150, evaluated); // the first partition whole, half of the second, nothing after
        Assert.Equal(Numbers, bag.Take(5_000, Scheduler.Synchronous));
    }

    [Fact]
    public void Persist_locally_computes_once_and_later_operations_start_from_the_partitions()
    {
        var evaluated = 0;
        var bag = Bag.FromSequence(Numbers, partitions: 4).Select(x => { Interlocked.Increment(ref evaluated); return x * 2; });

        var persisted = bag.Persist();

        Assert.Equal(Numbers.Count, evaluated);
        Assert.Equal(4, persisted.PartitionCount);
        Assert.Equal(Numbers.Select(x => x * 2), persisted.Compute());
        Assert.Equal(Numbers.Sum() * 2, persisted.Aggregate(0, (a, x) => a + x, (a, b) => a + b).Compute());
        Assert.Equal(Numbers.Count, evaluated);
    }

    [Fact]
    public void A_failing_function_names_its_task()
    {
        var bag = Bag.FromSequence(Numbers, partitions: 2).Select(x => x == 400 ? throw new InvalidOperationException("bad item") : x);

        var error = Assert.Throws<GraphTaskException>(() => bag.Compute());

        Assert.Contains("bad item", error.Message);
        Assert.StartsWith("select-", error.Key);
    }
}
