namespace Distributed.Tests.Cluster;

[Collection(SharedClusterCollection.Name)]
[ProcessTier]
public sealed class DataLocalityTests(LocalClusterFixture fixture)
{
    private Pool Pool => fixture.Pool;

    [Fact]
    public async Task Map_over_remote_data_runs_where_its_input_lives_and_moves_no_bytes()
    {
        // Inputs big enough that any transfer would show: 64 KB each, on both workers.
        var inputs = Pool.Map(i => Enumerable.Repeat((double)i, 8_192).ToArray(), Enumerable.Range(0, 20));
        Assert.Equal(2, inputs.Select(a => Pool.WhoHas(a).Single()).Distinct().Count());
        var before = await Pool.TransferStatsAsync();

        // Reversed, so that spreading tasks evenly without regard to their inputs would misplace them all.
        var reversed = Enumerable.Reverse(inputs).ToList();
        var sums = Pool.Map(xs => xs.Sum(), reversed);

        var after = await Pool.TransferStatsAsync();
        foreach (var (worker, stats) in after)
        {
            Assert.True(before[worker].SentToWorkers == stats.SentToWorkers, $"{worker} sent {stats.SentToWorkers - before[worker].SentToWorkers} bytes to other workers");
            Assert.True(before[worker].ReceivedFromWorkers == stats.ReceivedFromWorkers, $"{worker} received {stats.ReceivedFromWorkers - before[worker].ReceivedFromWorkers} bytes from other workers");
            Assert.True(before[worker].SentToClients == stats.SentToClients, $"{worker} sent {stats.SentToClients - before[worker].SentToClients} bytes to the client");
        }
        for (var i = 0; i < reversed.Count; i++)
            Assert.Equal(Pool.WhoHas(reversed[i]), Pool.WhoHas(sums[i]));
        Assert.Equal(Enumerable.Range(0, 20).Reverse().Select(i => 8_192.0 * i), Pool.Gather(sums));
    }

    [Fact]
    public async Task Gather_fetches_values_straight_from_the_workers_that_hold_them()
    {
        var data = Pool.Map(i => new double[1_000], Enumerable.Range(0, 10));
        var before = await Pool.TransferStatsAsync();

        var values = Pool.Gather(data);

        var after = await Pool.TransferStatsAsync();
        Assert.All(values, v => Assert.Equal(1_000, v.Length));
        var sentToClient = after.Sum(kv => kv.Value.SentToClients - before[kv.Key].SentToClients);
        Assert.True(sentToClient >= 10 * 8_000, $"the workers sent {sentToClient} bytes to the client; expected at least 80,000");
    }

    [Fact]
    public async Task Replicate_copies_a_value_to_another_worker_over_the_data_channel()
    {
        var value = Pool.Apply(() => Enumerable.Range(0, 125_000).Select(i => (double)i).ToArray());
        var holder = Pool.WhoHas(value).Single();
        var other = Pool.Workers().Select(w => w.Name).Single(n => n != holder);
        var before = await Pool.TransferStatsAsync();

        await Pool.ReplicateAsync([value], other);

        var after = await Pool.TransferStatsAsync();
        Assert.Equal(new[] { holder, other }.Order(), Pool.WhoHas(value).Order());
        Assert.True(after[other].ReceivedFromWorkers - before[other].ReceivedFromWorkers >= 1_000_000,
            $"{other} received {after[other].ReceivedFromWorkers - before[other].ReceivedFromWorkers} bytes; expected the 1,000,000-byte array");
        Assert.Equal(Enumerable.Range(0, 125_000).Sum(i => (double)i), value.Get().Sum());
    }
}
