using Distributed.Collections;
using Distributed.Dask;
using Distributed.Tests.Cluster;

namespace Distributed.Tests.Collections.Bags;

/// <summary>Bags on a real cluster (a dcenter and two dworker processes), checked against LINQ.</summary>
[Collection(SharedClusterCollection.Name)]
[ProcessTier]
public sealed class ClusterBagTests(LocalClusterFixture fixture) : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("bag-cluster-").FullName;
    private static readonly string[] Regions = ["north", "south", "east"];
    private static readonly List<int> Numbers = Enumerable.Range(0, 400).Select(i => (i * 37) % 101).ToList();

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    private static List<string> WordsOf(string line) => [.. line.Split(' ', StringSplitOptions.RemoveEmptyEntries)];

    [Fact]
    public void A_word_count_reads_text_blocks_on_the_workers()
    {
        var lines = Enumerable.Range(0, 200).Select(i => string.Join(' ', Enumerable.Range(0, 1 + i % 5).Select(j => $"word{(i + j) % 13}"))).ToList();
        var first = Path.Combine(_directory, "part-1.txt");
        var second = Path.Combine(_directory, "part-2.txt");
        File.WriteAllText(first, string.Join("\r\n", lines.Take(120)) + "\r\n");
        File.WriteAllText(second, string.Join("\n", lines.Skip(120)));
        using var scheduler = ClusterScheduler.On(fixture.Pool);

        var counts = Bag.ReadText(Path.Combine(_directory, "part-*.txt"), blockSize: 300)
            .SelectMany(line => line.Split(' ', StringSplitOptions.RemoveEmptyEntries))
            .Frequencies()
            .Compute(scheduler);

        Assert.Equal(lines.SelectMany(WordsOf).GroupBy(w => w).ToDictionary(g => g.Key, g => (long)g.Count()), counts);
    }

    [Fact]
    public void GroupBy_and_Distinct_shuffle_between_the_workers()
    {
        var bag = Bag.FromSequence(Numbers, partitions: 6).Select(x => $"n{x}");
        using var scheduler = ClusterScheduler.On(fixture.Pool);

        var groups = bag.GroupBy(s => s.Length, partitions: 4).Compute(scheduler);
        var distinct = bag.Distinct(partitions: 3).Compute(scheduler);

        var expected = Numbers.Select(x => $"n{x}").GroupBy(s => s.Length).ToDictionary(g => g.Key, g => g.ToList());
        Assert.Equal(expected.Count, groups.Count);
        foreach (var group in groups) Assert.Equal(expected[group.Key], group.ToList());
        Assert.Equal(Numbers.Distinct().Select(x => $"n{x}").Order(), distinct.Order());
    }

    [Fact]
    public void Items_of_the_programs_own_types_travel_through_a_shuffle()
    {
        var sales = Enumerable.Range(0, 120).Select(i => new Sale(Regions[i % 3], i)).ToList();
        using var scheduler = ClusterScheduler.On(fixture.Pool);

        var totals = Bag.FromSequence(sales, partitions: 4)
            .GroupBy(s => s.Region, partitions: 2)
            .Select(g => new Sale(g.Key, g.Sum(s => s.Amount)))
            .Compute(scheduler);

        Assert.Equal(sales.GroupBy(s => s.Region).Select(g => new Sale(g.Key, g.Sum(s => s.Amount))).OrderBy(s => s.Region), totals.OrderBy(s => s.Region));
    }

    [Fact]
    public void Take_TopK_Count_and_Aggregate_give_what_LINQ_gives()
    {
        var bag = Bag.FromSequence(Numbers, partitions: 10).Where(x => x % 2 == 1);
        using var scheduler = ClusterScheduler.On(fixture.Pool);

        Assert.Equal(Numbers.Where(x => x % 2 == 1).Take(30), bag.Take(30, scheduler));
        Assert.Equal(Numbers.Where(x => x % 2 == 1).OrderByDescending(x => x % 17).Take(7), bag.TopK(7, x => x % 17).Compute(scheduler));
        Assert.Equal(Numbers.Count(x => x % 2 == 1), bag.Count().Compute(scheduler));
        Assert.Equal(Numbers.Where(x => x % 2 == 1).Sum(x => (long)x), bag.Aggregate(() => 0L, (total, x) => total + x, (a, b) => a + b).Compute(scheduler));
    }

    [Fact]
    public async Task Persist_keeps_the_partitions_on_the_workers_and_later_graphs_read_them_there()
    {
        var bag = Bag.FromSequence(Numbers, partitions: 5).Select(x => x + 1);
        using var scheduler = ClusterScheduler.On(fixture.Pool);

        var persisted = bag.Persist(scheduler);

        var stored = persisted.Graph.ToGraph().Select(kv => Assert.IsType<Quoted>(kv.Value).Value).Cast<IRemoteData>().ToList();
        Assert.Equal(5, stored.Count);
        var held = () => fixture.Pool.HasWhat().Values.SelectMany(keys => keys).ToHashSet();
        await Eventually.TrueAsync(() => stored.All(r => held().Contains(r.Key)), () => $"persisted partitions on the workers: {stored.Count(r => held().Contains(r.Key))} of 5");
        Assert.Equal(Numbers.Select(x => x + 1), persisted.Compute(scheduler));
        Assert.Equal(Numbers.Sum() + Numbers.Count, persisted.Aggregate(0, (a, x) => a + x, (a, b) => a + b).Compute(scheduler));
        Assert.Equal(Numbers.Select(x => x + 1).Distinct().Count(), persisted.Distinct().Count().Compute(scheduler));

        fixture.Pool.Release(stored);
        await Eventually.TrueAsync(() => !stored.Any(r => held().Contains(r.Key)), () => "persisted partitions not released");
    }

    private sealed record Sale(string Region, int Amount);
}
