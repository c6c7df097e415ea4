namespace Distributed.Tests.Cluster;

/// <summary>Two clients of one cluster at once: each gets its own results, and one leaving takes only its own data.</summary>
[Collection(SharedClusterCollection.Name)]
[ProcessTier]
public sealed class TwoClientsTests(LocalClusterFixture fixture)
{
    [Fact]
    public async Task Two_clients_mapping_the_same_function_at_once_each_get_their_own_results_and_keep_them_when_the_other_leaves()
    {
        Func<int, int> triple = x => x * 3;
        var other = await fixture.Cluster.ConnectAsync();
        List<RemoteData<int>> theirs;
        await using (other)
        {
            var mineRunning = fixture.Pool.MapAsync(triple, Enumerable.Range(0, 2_000));
            var theirsRunning = other.MapAsync(triple, Enumerable.Range(10_000, 2_000));
            var mine = await mineRunning;
            theirs = await theirsRunning;

            Assert.Empty(mine.Select(m => m.Key).Intersect(theirs.Select(t => t.Key)));
            Assert.Equal(Enumerable.Range(0, 2_000).Select(x => x * 3), await fixture.Pool.GatherAsync(mine));
            Assert.Equal(Enumerable.Range(10_000, 2_000).Select(x => x * 3), await other.GatherAsync(theirs));

            // Another client's keys are not listed to this one: their departure shows in the workers' key counts.
            Assert.All(theirs.Take(10), t => Assert.Empty(fixture.Pool.WhoHas(t)));
            var held = fixture.Pool.Workers().Sum(w => w.KeyCount);
            await other.DisposeAsync();
            await Eventually.TrueAsync(() => fixture.Pool.Workers().Sum(w => w.KeyCount) <= held - theirs.Count, () => "the departed client's values are still held");
            Assert.Equal(Enumerable.Range(0, 2_000).Select(x => x * 3), await fixture.Pool.GatherAsync(mine));
            fixture.Pool.Release(mine);
        }
    }
}
