using Distributed.Protocol;
using Xunit.Abstractions;

namespace Distributed.Tests.Center;

/// <summary>
/// Workers that join again with the values they kept: a new center adopts them (without lineage),
/// the center that downed the worker has them deleted.
/// </summary>
public sealed class CenterRestartAdoptionTests(ITestOutputHelper output) : CenterSpec(output)
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(3);

    private static readonly StoredKey[] Kept = [new("a", 8, "System.Int32"), new("b", 16, "System.Int64")];

    private async Task<(Akka.TestKit.TestProbe Probe, WorkerRegistered Answer)> RejoinAsync(string name, string previousCenter)
    {
        var probe = CreateTestProbe(name);
        Center.Tell(new RegisterWorker(name, "127.0.0.1:9500", 1, new DataEndpoint("127.0.0.1", 9501), Kept, previousCenter), probe.Ref);
        return (probe, await probe.ExpectMsgAsync<WorkerRegistered>(Patience));
    }

    private async Task<Akka.TestKit.TestProbe> ClaimAsync(IReadOnlyList<string> keys, IReadOnlyList<string>? released = null, IReadOnlyList<string>? missing = null)
    {
        var client = await ConnectClientAsync();
        Center.Tell(new ClaimKeys(keys, released), client.Ref);
        var claimed = await client.ExpectMsgAsync<KeysClaimed>(Patience);
        if (missing is not null) Assert.Equal(missing, claimed.Missing);
        return client;
    }

    [Fact]
    public async Task A_new_center_adopts_the_values_a_rejoining_worker_reports_and_a_client_claims_them()
    {
        var (_, answer) = await RejoinAsync("w", previousCenter: "a-center-that-died");
        Assert.NotEqual("a-center-that-died", answer.CenterIncarnation);

        Assert.Equal(2, Assert.Single((await GetWorkersAsync(false)).Workers).KeyCount);
        var client = await ClaimAsync(["a", "b", "never-reported"], missing: ["never-reported"]);
        Assert.Equal(["w"], (await WhoHasReplyAsync(client, "a")).Holders["a"].Select(w => w.Name));
    }

    [Fact]
    public async Task A_value_another_client_claimed_cannot_be_claimed_released_or_read_by_a_second_client()
    {
        await RejoinAsync("w", previousCenter: "a-center-that-died");
        var owner = await ClaimAsync(["a", "b"], missing: []);
        var rogue = await ConnectClientAsync("rogue");

        Center.Tell(new ClaimKeys(["a"], Released: ["b"]), rogue.Ref);
        Assert.Empty((await rogue.ExpectMsgAsync<KeysClaimed>(Patience)).Missing); // nothing claimed, nothing reported missing
        Center.Tell(new ReleaseKeys(["a", "b"]), rogue.Ref);

        Assert.Empty((await WhoHasReplyAsync(rogue, "a")).Holders["a"]);
        Assert.Equal(["w"], (await WhoHasReplyAsync(owner, "a")).Holders["a"].Select(w => w.Name));
        Assert.Equal(["w"], (await WhoHasReplyAsync(owner, "b")).Holders["b"].Select(w => w.Name));
    }

    [Fact]
    public async Task A_value_its_client_released_while_the_center_was_down_is_deleted_when_its_worker_reports_it()
    {
        var client = await ClaimAsync(["b"], released: ["a"]);

        var (probe, _) = await RejoinAsync("w", previousCenter: "a-center-that-died");

        Assert.Equal(["a"], (await probe.ExpectMsgAsync<DeleteKeys>(Patience)).Keys);
        Assert.Empty((await WhoHasReplyAsync(client, "a")).Holders["a"]);
        Assert.Equal(["w"], (await WhoHasReplyAsync(client, "b")).Holders["b"].Select(w => w.Name));
    }

    [Fact]
    public async Task The_center_that_downed_a_worker_has_the_values_it_kept_deleted()
    {
        var (_, first) = await RejoinAsync("adopted-first", previousCenter: "a-center-that-died");
        var (probe, _) = await RejoinAsync("paused", previousCenter: first.CenterIncarnation);

        var deleted = await probe.ExpectMsgAsync<DeleteKeys>(Patience);
        Assert.Equal(["a", "b"], deleted.Keys.Order());
        var client = await ClaimAsync(["a"], missing: []);
        Assert.Equal(["adopted-first"], (await WhoHasReplyAsync(client, "a")).Holders["a"].Select(w => w.Name));
    }

    [Fact]
    public async Task An_adopted_value_lost_with_its_only_holder_is_reported_lost_naming_the_worker()
    {
        var (probe, _) = await RejoinAsync("holder", previousCenter: "a-center-that-died");
        var client = await ClaimAsync(["a"], missing: []);

        Sys.Stop(probe.Ref);

        await AwaitAssertAsync(async () =>
        {
            var reply = await WhoHasReplyAsync(client, "a");
            Assert.Empty(reply.Holders["a"]);
            var why = Assert.Contains("a", reply.Lost!);
            Assert.Contains("lost with worker holder", why);
            Assert.Contains("cannot be made again", why);
        }, Patience);
    }
}
