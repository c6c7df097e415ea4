namespace Distributed.Tests.Cluster;

[Collection(SharedClusterCollection.Name)]
public sealed class ReleaseTests(LocalClusterFixture fixture)
{
    private Pool Pool => fixture.Pool;

    [Fact]
    public async Task A_failed_map_leaves_none_of_its_results_on_the_workers()
    {
        var failure = Assert.Throws<RemoteTaskException>(() =>
            Pool.Map(x => x == 3 ? throw new InvalidOperationException("three") : x, Enumerable.Range(0, 50)));
        var prefix = failure.Key[..failure.Key.LastIndexOf('-')];

        await Eventually.TrueAsync(() => !Pool.HasWhat().Values.SelectMany(keys => keys).Any(k => k.StartsWith(prefix)),
            () => $"keys of {prefix} still held: {string.Join(", ", Pool.HasWhat().Values.SelectMany(k => k).Where(k => k.StartsWith(prefix)))}");
    }

    [Fact]
    public async Task Released_values_are_deleted_from_the_workers()
    {
        var data = Pool.Map(x => x * 2, Enumerable.Range(0, 10));
        Assert.All(data, d => Assert.NotEmpty(Pool.WhoHas(d)));

        Pool.Release(data);

        await Eventually.TrueAsync(() => data.All(d => Pool.WhoHas(d).Count == 0), () => "the center still lists holders");
        await Assert.ThrowsAsync<DataLostException>(() => data[0].GetAsync());
    }
}
