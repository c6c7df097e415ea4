using Distributed.Protocol;
using Xunit.Abstractions;

namespace Distributed.Tests.Center;

/// <summary>
/// The center knows a worker and a client by the actor it speaks from: each role's messages are heard
/// from that role only, and a client touches only its own keys, whatever a message says.
/// </summary>
public sealed class CenterAuthorizationTests(ITestOutputHelper output) : CenterSpec(output)
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(3);

    private async Task<(FakeWorker Worker, Akka.TestKit.TestProbe Owner)> OwnerWithValueAsync(string key)
    {
        var worker = await RegisterWorkerAsync("w");
        var owner = await ConnectClientAsync("owner");
        Submit(owner, Task(key));
        await ExpectRunAsync(worker, key);
        Finish(worker, key);
        Assert.Equal([key], (await owner.ExpectMsgAsync<TasksFinished>(Patience)).Results.Select(r => r.Key));
        return (worker, owner);
    }

    [Fact]
    public async Task A_second_client_cannot_release_read_list_copy_or_use_the_first_clients_keys()
    {
        var (worker, owner) = await OwnerWithValueAsync("mine");
        var other = await ConnectClientAsync("other");

        Center.Tell(new ReleaseKeys(["mine"]), other.Ref);
        Assert.Empty((await WhoHasReplyAsync(other, "mine")).Holders["mine"]);
        Center.Tell(new GetWorkers(IncludeKeys: true), other.Ref);
        Assert.Empty((await other.ExpectMsgAsync<WorkersReply>(Patience)).KeysByWorker["w"]);
        Center.Tell(new ReplicateKeys(["mine"], "w"), other.Ref);
        Assert.NotNull((await other.ExpectMsgAsync<ReplicationFinished>(Patience)).Error);
        Submit(other, Task("reads-mine", "mine"));
        var refused = await other.ExpectMsgAsync<TasksFailed>(Patience);
        Assert.Equal("reads-mine", Assert.Single(refused.Failures).Key);

        await AssertNothingSentToAsync(worker.Probe, "After another client released, read and used the owner's key");
        Assert.Equal(["w"], (await WhoHasReplyAsync(owner, "mine")).Holders["mine"].Select(w => w.Name));
        Center.Tell(new GetWorkers(IncludeKeys: true), owner.Ref);
        Assert.Equal(["mine"], (await owner.ExpectMsgAsync<WorkersReply>(Patience)).KeysByWorker["w"]);
    }

    [Fact]
    public async Task A_second_client_cannot_cancel_the_first_clients_running_task()
    {
        var worker = await RegisterWorkerAsync("w");
        var owner = await ConnectClientAsync("owner");
        Submit(owner, Task("running"));
        await ExpectRunAsync(worker, "running");
        var other = await ConnectClientAsync("other");

        Center.Tell(new ReleaseKeys(["running"]), other.Ref); // what a cancellation sends

        await AssertNothingSentToAsync(worker.Probe, "After another client cancelled the owner's task");
        Finish(worker, "running");
        Assert.Equal(["running"], (await owner.ExpectMsgAsync<TasksFinished>(Patience)).Results.Select(r => r.Key));
    }

    [Fact]
    public async Task Client_messages_from_an_actor_that_never_connected_are_refused()
    {
        var worker = await RegisterWorkerAsync("w");
        var stranger = CreateTestProbe("stranger");

        Center.Tell(new SubmitTasks(Code, [Function], [Task("from-a-stranger")]), stranger.Ref);
        Center.Tell(new GetWorkers(IncludeKeys: true), stranger.Ref);

        await AssertNothingSentToAsync(worker.Probe, "After a stranger submitted a task");
        Assert.False(stranger.HasMessages, "A stranger was answered.");
    }

    [Fact]
    public async Task A_rogue_sender_cannot_report_results_copies_or_failures_under_another_worker()
    {
        var (worker, owner) = await OwnerWithValueAsync("mine");
        Submit(owner, Task("pending"));
        await ExpectRunAsync(worker, "pending");
        var rogue = CreateTestProbe("rogue");

        // Naming the worker in the message does not make the rogue that worker.
        Center.Tell(new TasksFinished("w", new DataEndpoint("10.9.9.9", 1), [new StoredKey("pending", 8, "System.Int32")]), rogue.Ref);
        Center.Tell(new KeysAdded([new StoredKey("mine", 8, "System.Int32")]), rogue.Ref);
        Center.Tell(new TasksFailed("center", [new FailedTask("pending", new RemoteError(ErrorKind.UserCode, "E", "forged", ""))]), rogue.Ref);
        await AssertNothingSentToAsync(owner, "After a rogue reported under the worker's name");

        // A registered worker cannot claim another's task, or a copy it was not told to fetch.
        var other = await RegisterWorkerAsync("other");
        Center.Tell(new TasksFinished("other", other.Data, [new StoredKey("pending", 8, "System.Int32")]), other.Probe.Ref);
        Center.Tell(new KeysAdded([new StoredKey("mine", 8, "System.Int32")]), other.Probe.Ref);
        await AssertNothingSentToAsync(owner, "After another worker reported the task and a copy it was not given");
        Assert.Equal(["w"], (await WhoHasReplyAsync(owner, "mine")).Holders["mine"].Select(w => w.Name));

        // The real worker's report reaches the client naming the endpoint the center registered.
        Finish(worker, "pending");
        var finished = await owner.ExpectMsgAsync<TasksFinished>(Patience);
        Assert.Equal(("w", worker.Data), (finished.Worker, finished.Data));
    }

    [Fact]
    public async Task A_rejoining_worker_cannot_add_itself_as_holder_of_a_value_this_center_made()
    {
        var (_, owner) = await OwnerWithValueAsync("mine");
        var rogue = CreateTestProbe("rogue");

        Center.Tell(new RegisterWorker("rogue", "127.0.0.1:9999", 1, new DataEndpoint("127.0.0.1", 9998),
            [new StoredKey("mine", 8, "System.Int32")], PreviousCenter: "a-center-that-died"), rogue.Ref);
        await rogue.ExpectMsgAsync<WorkerRegistered>(Patience);

        Assert.Equal(["w"], (await WhoHasReplyAsync(owner, "mine")).Holders["mine"].Select(w => w.Name));
    }

    [Fact]
    public async Task A_function_whose_id_is_not_the_hash_of_its_bytes_is_refused_and_does_not_replace_the_real_one()
    {
        var worker = await RegisterWorkerAsync("w");
        var rogue = await ConnectClientAsync("rogue");
        var forged = new FunctionSpec(Function.FunctionId, [6, 6, 6]);
        Center.Tell(new SubmitTasks(Code, [forged], [Task("forged")]), rogue.Ref);
        Assert.Contains("not the hash", Assert.Single((await rogue.ExpectMsgAsync<TasksFailed>(Patience)).Failures).Error.Message);

        var owner = await ConnectClientAsync("owner");
        Submit(owner, Task("real"));

        Assert.Equal([Function.Payload], (await ExpectRunAsync(worker, "real")).Functions.Select(f => f.Payload));
    }

    [Fact]
    public async Task An_assembly_name_with_a_path_separator_is_refused_with_a_clear_error()
    {
        await RegisterWorkerAsync("w");
        var client = await ConnectClientAsync();
        var escaping = new CodeManifest("v", [new AssemblyRef("../../evil", new string('b', 64))]);

        Center.Tell(new SubmitTasks(escaping, [Function], [Task("escape")]), client.Ref);

        var error = Assert.Single((await client.ExpectMsgAsync<TasksFailed>(Patience)).Failures).Error;
        Assert.Equal(ErrorKind.CodeShipping, error.Kind);
        Assert.Contains("path separator", error.Message);
    }
}
