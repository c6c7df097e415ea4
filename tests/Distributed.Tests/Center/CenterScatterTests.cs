using Akka.TestKit;
using Distributed.Protocol;
using Xunit.Abstractions;

namespace Distributed.Tests.Center;

/// <summary>
/// The center's side of a scatter (it plans where values go, records them as the scattering client's
/// once their workers report them, and deletes what it did not plan) and of named datasets (kept while
/// published, readable by every client, released like any value once unpublished).
/// </summary>
public sealed class CenterScatterTests(ITestOutputHelper output) : CenterSpec(output)
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(3);

    private async Task<ScatterPlan> PlanAsync(TestProbe client, bool broadcast, params (string Key, long Size)[] keys)
    {
        Center.Tell(new ScatterKeys(keys.Select(k => new StoredKey(k.Key, k.Size, "System.Byte[]")).ToList(), broadcast), client.Ref);
        return await client.FishForMessageAsync<ScatterPlan>(_ => true, Patience);
    }

    /// <summary>The worker stores what the plan put on it and reports it, as a real worker does after a put.</summary>
    private void Report(FakeWorker worker, ScatterTarget target, long size = 100) =>
        Center.Tell(new KeysAdded(target.Keys.Select(k => new StoredKey(k, size, "System.Byte[]")).ToList(), target.ScatterId), worker.Probe.Ref);

    private async Task<ScatterStored> AwaitAsync(TestProbe client, params string[] keys)
    {
        Center.Tell(new AwaitScattered(keys), client.Ref);
        return await client.FishForMessageAsync<ScatterStored>(_ => true, Patience);
    }

    private async Task<DatasetReply> AskAsync(TestProbe client, ICenterQuestion question)
    {
        Center.Tell(question, client.Ref);
        return await client.FishForMessageAsync<DatasetReply>(_ => true, Patience);
    }

    /// <summary>Scatters one value per key onto whichever worker the plan names, and waits until it is recorded.</summary>
    private async Task<Dictionary<string, string>> ScatterAsync(TestProbe client, IReadOnlyList<FakeWorker> workers, params string[] keys)
    {
        var plan = await PlanAsync(client, false, keys.Select(k => (k, 100L)).ToArray());
        foreach (var target in plan.Targets) Report(workers.Single(w => w.Name == target.Worker.Name), target);
        Assert.Null((await AwaitAsync(client, keys)).Missing);
        return plan.Targets.SelectMany(t => t.Keys.Select(k => (k, t.Worker.Name))).ToDictionary(p => p.k, p => p.Name);
    }

    [Fact]
    public async Task Values_spread_to_the_workers_with_fewest_bytes_and_a_broadcast_goes_to_every_worker()
    {
        var a = await RegisterWorkerAsync("a");
        var b = await RegisterWorkerAsync("b");
        var client = await ConnectClientAsync();

        var plan = await PlanAsync(client, false, ("x1", 1000), ("x2", 1000), ("x3", 10), ("x4", 10));

        Assert.Null(plan.Refused);
        var byWorker = plan.Targets.ToDictionary(t => t.Worker.Name, t => t.Keys.Order().ToList());
        Assert.Equal(["x1", "x3"], byWorker["a"]);
        Assert.Equal(["x2", "x4"], byWorker["b"]);
        var broadcast = await PlanAsync(client, true, ("table", 5));
        Assert.Equal(["a", "b"], broadcast.Targets.Select(t => t.Worker.Name).Order());
        Assert.All(broadcast.Targets, t => Assert.Equal(["table"], t.Keys));
        await AssertNothingSentToAsync(a.Probe, "While the client puts the values");
    }

    [Fact]
    public async Task A_reported_scatter_is_the_clients_value_answers_its_wait_and_is_deleted_when_released()
    {
        var a = await RegisterWorkerAsync("a");
        var client = await ConnectClientAsync();
        var plan = await PlanAsync(client, false, ("s1", 100), ("s2", 100));
        Center.Tell(new AwaitScattered(["s1", "s2"]), client.Ref);
        await AssertNothingSentToAsync(client, "Before the worker reported"); // the wait is answered once they are recorded

        Report(a, plan.Targets.Single());

        Assert.Null((await client.FishForMessageAsync<ScatterStored>(_ => true, Patience)).Missing);
        Assert.Equal("a", (await WhoHasAsync("s1"))["s1"].Single().Name);
        // As task inputs: a task reading them runs, without a fetch, where they are.
        Submit(client, Task("sum", "s1", "s2"));
        await ExpectRunAsync(a, "sum");
        Center.Tell(new ReleaseKeys(["s1", "s2"]), client.Ref);
        Assert.Equal(["s1", "s2"], (await a.Probe.FishForMessageAsync<DeleteKeys>(_ => true, Patience)).Keys.Order());
    }

    [Fact]
    public async Task The_same_key_again_is_put_nowhere_and_another_clients_key_is_refused_with_a_clear_reason()
    {
        var a = await RegisterWorkerAsync("a");
        var owner = await ConnectClientAsync("owner");
        var other = await ConnectClientAsync("other");
        await ScatterAsync(owner, [a], "shared-name");

        var again = await PlanAsync(owner, false, ("shared-name", 100));
        var theirs = await PlanAsync(other, false, ("shared-name", 100), ("fresh", 100));

        Assert.Empty(again.Targets);
        Assert.Null(again.Refused);
        Assert.Contains("belongs to another client", theirs.Refused!["shared-name"]);
        Assert.Equal(["fresh"], theirs.Targets.Single().Keys);
        // Nor can a task overwrite it.
        Submit(other, Task("shared-name"));
        Assert.Equal(ErrorKind.DuplicateKey, (await other.FishForMessageAsync<TasksFailed>(_ => true, Patience)).Failures.Single().Error.Kind);
    }

    [Fact]
    public async Task A_put_the_center_did_not_plan_or_one_reported_by_another_worker_is_deleted_there()
    {
        var a = await RegisterWorkerAsync("a");
        var b = await RegisterWorkerAsync("b");
        var client = await ConnectClientAsync();
        var plan = await PlanAsync(client, false, ("planned", 100));
        var target = plan.Targets.Single();
        var wrong = target.Worker.Name == "a" ? b : a;

        Center.Tell(new KeysAdded([new StoredKey("forged", 3, "T")], 424_242), wrong.Probe.Ref);
        Report(wrong, target);

        Assert.Equal(["forged"], (await wrong.Probe.FishForMessageAsync<DeleteKeys>(_ => true, Patience)).Keys);
        Assert.Equal(["planned"], (await wrong.Probe.FishForMessageAsync<DeleteKeys>(_ => true, Patience)).Keys);
        Assert.Empty((await WhoHasAsync("planned"))["planned"]);
    }

    [Fact]
    public async Task A_scatter_whose_worker_leaves_is_missing_and_a_lost_scattered_value_says_it_cannot_be_made_again()
    {
        var a = await RegisterWorkerAsync("a");
        var client = await ConnectClientAsync();
        var plan = await PlanAsync(client, false, ("never-put", 100));
        await ScatterAsync(client, [a], "put");
        Assert.Equal(a.Name, plan.Targets.Single().Worker.Name);

        Center.Tell(new AwaitScattered(["never-put"]), client.Ref);
        Sys.Stop(a.Probe.Ref);

        var missing = (await client.FishForMessageAsync<ScatterStored>(_ => true, Patience)).Missing!;
        Assert.Contains("never-put", missing["never-put"]);
        var reply = await WhoHasReplyAsync(client, "put");
        Assert.Empty(reply.Holders["put"]);
        Assert.Contains("scattered from a client", reply.Lost!["put"]);
    }

    [Fact]
    public async Task A_dataset_outlives_its_publisher_is_read_by_another_client_and_is_deleted_once_unpublished()
    {
        var a = await RegisterWorkerAsync("a");
        var reader = await ConnectClientAsync("reader"); // first: it asks the settling questions, and stays
        var publisher = await ConnectClientAsync("publisher");
        await ScatterAsync(publisher, [a], "d1", "d2");
        Assert.Null((await AskAsync(publisher, new PublishDataset("set", ["d1", "d2"], false))).Error);
        Assert.Contains("already exists", (await AskAsync(reader, new PublishDataset("set", [], false))).Error);
        Assert.Contains("belongs to another client", (await AskAsync(reader, new PublishDataset("other", ["d1"], false))).Error);

        Center.Tell(new ReleaseKeys(["d1"]), publisher.Ref);
        Center.Tell(DisconnectClient.Instance, publisher.Ref);
        await AssertNothingSentToAsync(a.Probe, "After the publisher released and left");

        Assert.Equal(["set"], (await AskAsync(reader, new ListDatasets())).Names);
        var got = await AskAsync(reader, new GetDataset("set"));
        Assert.Equal(["d1", "d2"], got.Keys.Select(k => k.Key));
        Assert.Equal("a", (await WhoHasReplyAsync(reader, "d1")).Holders["d1"].Single().Name);
        Submit(reader, Task("from-dataset", "d1", "d2"));
        await ExpectRunAsync(a, "from-dataset");
        // The reader lets go of its hold; the dataset keeps them.
        Center.Tell(new ReleaseKeys(["d1", "d2"]), reader.Ref);
        await AssertNothingSentToAsync(a.Probe, "After a reader released them");

        Assert.Null((await AskAsync(reader, new UnpublishDataset("set"))).Error);
        Assert.Equal(["d1", "d2"], (await a.Probe.FishForMessageAsync<DeleteKeys>(_ => true, Patience)).Keys.Order());
        Assert.Contains("no dataset named set", (await AskAsync(reader, new GetDataset("set"))).Error);
    }

    [Fact]
    public async Task Unpublishing_keeps_values_a_client_still_holds_and_overwrite_keeps_values_in_both()
    {
        var a = await RegisterWorkerAsync("a");
        var client = await ConnectClientAsync();
        await ScatterAsync(client, [a], "k1", "k2");
        Assert.Null((await AskAsync(client, new PublishDataset("v", ["k1"], false))).Error);
        Assert.Null((await AskAsync(client, new PublishDataset("v", ["k1", "k2"], true))).Error);
        Center.Tell(new ReleaseKeys(["k1", "k2"]), client.Ref);
        await AssertNothingSentToAsync(a.Probe, "Released by the client, published still");

        Assert.Equal(["k1", "k2"], (await AskAsync(client, new GetDataset("v"))).Keys.Select(k => k.Key));
        Assert.Null((await AskAsync(client, new UnpublishDataset("v"))).Error);
        await AssertNothingSentToAsync(a.Probe, "Unpublished, but held by the client that got the dataset");
        Center.Tell(new ReleaseKeys(["k1", "k2"]), client.Ref);
        Assert.Equal(["k1", "k2"], (await a.Probe.FishForMessageAsync<DeleteKeys>(_ => true, Patience)).Keys.Order());
    }
}
