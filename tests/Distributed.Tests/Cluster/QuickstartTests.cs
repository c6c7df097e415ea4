namespace Distributed.Tests.Cluster;

[Collection(SharedClusterCollection.Name)]
[ProcessTier]
public sealed class QuickstartTests(LocalClusterFixture fixture)
{
    private Pool Pool => fixture.Pool;

    [Fact]
    public void The_design_quickstart_gives_its_documented_results()
    {
#pragma warning disable IDE1006 // A and B: the names of the quickstart in DESIGN.md
        var A = Pool.Map(x => x * x, Enumerable.Range(0, 10));
        var B = Pool.Map(x => -x, A);
#pragma warning restore IDE1006
        var total = Pool.Apply(xs => xs.Sum(), B);

        Assert.Equal(-285, total.Get());
        Assert.Equal([0, 1, 4, 9, 16, 25, 36, 49, 64, 81], Pool.Gather(A));
    }

    [Fact]
    public async Task MapAsync_and_ApplyAsync_return_tasks_that_complete_with_the_results()
    {
        var pending = Pool.MapAsync(x => x + 1, Enumerable.Range(0, 100));
        var squares = await pending;
        var sum = await Pool.ApplyAsync(xs => xs.Sum(), squares);

        Assert.Equal(Enumerable.Range(1, 100).Sum(), await sum.GetAsync());
    }

    [Fact]
    public void The_center_knows_every_worker_and_what_it_holds()
    {
        var data = Pool.Map(x => x * 3, Enumerable.Range(0, 20));

        var workers = Pool.Workers();
        Assert.Equal(2, workers.Count);
        Assert.All(workers, w => Assert.Equal(2, w.Cores));

        var hasWhat = Pool.HasWhat();
        var holders = data.Select(d => Pool.WhoHas(d)).ToList();
        Assert.All(holders, h => Assert.Single(h));
        for (var i = 0; i < data.Count; i++)
            Assert.Contains(data[i].Key, hasWhat[holders[i][0]]);
    }

    [Fact]
    public void A_lambda_whose_closure_also_holds_the_pool_still_runs()
    {
        var pool = Pool;
        var offset = 7;
        // Both lambdas share one compiler-generated closure object, which holds the pool too.
        var shifted = pool.Map(x => x + offset, Enumerable.Range(0, 5));
        var count = pool.Apply(() => pool is null ? -1 : 1);

        Assert.Equal([7, 8, 9, 10, 11], pool.Gather(shifted));
        Assert.Equal(-1, count.Get());
    }
}
