using Distributed.Protocol;
using Xunit.Abstractions;

namespace Distributed.Tests.Center;

public sealed class CenterActorTests(ITestOutputHelper output) : CenterSpec(output)
{
    // ----- registration -----

    [Fact]
    public async Task A_registered_worker_is_answered_with_the_centers_address()
    {
        var probe = CreateTestProbe("w");

        Center.Tell(new RegisterWorker("w", "127.0.0.1:9001", 2, new DataEndpoint("127.0.0.1", 9002)), probe.Ref);

        var registered = await probe.ExpectMsgAsync<WorkerRegistered>();
        Assert.StartsWith("127.0.0.1:", registered.CenterAddress);
    }

    [Fact]
    public async Task Tasks_submitted_before_any_worker_registers_run_on_the_first_one()
    {
        var client = await ConnectClientAsync();
        Submit(client, Task("early-1"), Task("early-2"));
        await SettleAsync();

        var worker = await RegisterWorkerAsync("late");

        await ExpectRunAsync(worker, "early-1", "early-2");
    }

    // ----- placement -----

    [Fact]
    public async Task A_task_runs_on_the_worker_that_holds_its_input()
    {
        var a = await RegisterWorkerAsync("a");
        var client = await ConnectClientAsync();
        Submit(client, Task("input-k"));
        await ExpectRunAsync(a, "input-k");
        Finish(a, "input-k");
        Submit(client, Task("busy")); // a is now busier than b will be, though not much
        await ExpectRunAsync(a, "busy");
        var b = await RegisterWorkerAsync("b");

        Submit(client, Task("uses-k", "input-k"));

        var run = await ExpectRunAsync(a, "uses-k");
        Assert.Empty(run.RemoteInputs);
        Assert.Equal(Center.Path / "code-of-client-2", run.Client.Path); // the client's assembly relay (workers never dial a client)
        Assert.Equal(Code, run.Code);
        Assert.Equal([Function.FunctionId], run.Functions.Select(f => f.FunctionId));
        await AssertNothingSentToAsync(b.Probe, "After placing uses-k");
    }

    [Fact]
    public async Task A_task_moves_to_an_idle_worker_with_its_input_when_the_holder_is_much_busier()
    {
        var a = await RegisterWorkerAsync("a");
        var client = await ConnectClientAsync();
        Submit(client, Task("input-k"));
        await ExpectRunAsync(a, "input-k");
        Finish(a, "input-k");
        var queued = Enumerable.Range(0, 10).Select(i => $"queued-{i}").ToArray();
        Submit(client, queued.Select(k => Task(k)).ToArray());
        await ExpectRunAsync(a, queued);
        var b = await RegisterWorkerAsync("b");

        Submit(client, Task("uses-k", "input-k"));

        var run = await ExpectRunAsync(b, "uses-k");
        var input = Assert.Single(run.RemoteInputs);
        Assert.Equal("input-k", input.Key);
        Assert.Equal([a.Data], input.Holders);
    }

    [Fact]
    public async Task Tasks_without_inputs_are_spread_over_the_least_busy_workers()
    {
        var a = await RegisterWorkerAsync("a");
        var b = await RegisterWorkerAsync("b");
        var client = await ConnectClientAsync();

        Submit(client, Task("t0"), Task("t1"), Task("t2"), Task("t3"));

        var onA = (await a.Probe.ExpectMsgAsync<RunTasks>()).Tasks.Select(t => t.Key).ToList();
        var onB = (await b.Probe.ExpectMsgAsync<RunTasks>()).Tasks.Select(t => t.Key).ToList();
        Assert.Equal(2, onA.Count);
        Assert.Equal(2, onB.Count);
        Assert.Equal(["t0", "t1", "t2", "t3"], onA.Concat(onB).Order());
    }

    [Fact]
    public async Task A_worker_with_more_cores_is_given_more_tasks()
    {
        var small = await RegisterWorkerAsync("small", cores: 1);
        var large = await RegisterWorkerAsync("large", cores: 3);
        var client = await ConnectClientAsync();

        Submit(client, Task("t0"), Task("t1"), Task("t2"), Task("t3"));

        var onSmall = await small.Probe.ExpectMsgAsync<RunTasks>();
        var onLarge = await large.Probe.ExpectMsgAsync<RunTasks>();
        Assert.Single(onSmall.Tasks);
        Assert.Equal(3, onLarge.Tasks.Count);
    }

    // ----- dependencies -----

    [Fact]
    public async Task A_task_waits_for_a_pending_dependency_and_runs_when_it_finishes()
    {
        var a = await RegisterWorkerAsync("a");
        var client = await ConnectClientAsync();
        Submit(client, Task("input-k"));
        await ExpectRunAsync(a, "input-k");

        Submit(client, Task("uses-k", "input-k"));
        await AssertNothingSentToAsync(a.Probe, "While input-k is still running");
        Finish(a, "input-k");

        await ExpectRunAsync(a, "uses-k");
    }

    [Fact]
    public async Task Tasks_of_one_submission_may_come_before_the_tasks_they_depend_on()
    {
        // SubmitTasks promises "in dependency order or not: a task waits for its dependencies".
        var a = await RegisterWorkerAsync("a");
        var client = await ConnectClientAsync();

        Submit(client, Task("uses-k", "input-k"), Task("input-k"));

        await ExpectRunAsync(a, "input-k");
        await AssertNothingSentToAsync(client, "After submitting uses-k before its input input-k");
        Finish(a, "input-k");
        await ExpectRunAsync(a, "uses-k");
    }

    [Fact]
    public async Task A_task_whose_input_is_unknown_is_refused_naming_the_missing_key()
    {
        var a = await RegisterWorkerAsync("a");
        var client = await ConnectClientAsync();

        Submit(client, Task("uses-ghost", "ghost-key"));

        var refused = await client.ExpectMsgAsync<TasksFailed>();
        var failure = Assert.Single(refused.Failures);
        Assert.Equal("uses-ghost", failure.Key);
        Assert.Contains("ghost-key", failure.Error.Message);
        await AssertNothingSentToAsync(a.Probe, "After refusing uses-ghost");
    }

    [Fact]
    public async Task A_failed_task_fails_its_dependents_naming_the_failed_input()
    {
        var a = await RegisterWorkerAsync("a");
        var client = await ConnectClientAsync();
        Submit(client, Task("input-k"), Task("middle-t", "input-k"), Task("last-u", "middle-t"));
        await ExpectRunAsync(a, "input-k");

        Fail(a, "input-k", "boom");

        // The center forwards the worker's report of input-k, then fails what needed it.
        var direct = await client.ExpectMsgAsync<TasksFailed>();
        Assert.Equal(["input-k"], direct.Failures.Select(f => f.Key));
        var failed = await client.ExpectMsgAsync<TasksFailed>();
        var byKey = failed.Failures.ToDictionary(f => f.Key);
        Assert.Equal(["last-u", "middle-t"], byKey.Keys.Order());
        Assert.Contains("input-k", byKey["middle-t"].Error.Message);
        Assert.Contains("boom", byKey["middle-t"].Error.Message);
        Assert.Contains("middle-t", byKey["last-u"].Error.Message);
        Assert.Equal("System.InvalidOperationException", byKey["last-u"].Error.TypeName);
        await AssertNothingSentToAsync(a.Probe, "After input-k failed");
    }

    // ----- what the center knows -----

    [Fact]
    public async Task WhoHas_names_the_workers_that_hold_each_key()
    {
        var a = await RegisterWorkerAsync("a");
        var client = await ConnectClientAsync();
        Submit(client, Task("k"));
        await ExpectRunAsync(a, "k");
        Finish(a, "k");
        var b = await RegisterWorkerAsync("b");
        await CopyAsync(client, b, "k");

        var holders = await WhoHasAsync("k", "nobody-has-this");

        Assert.Equal(["a", "b"], holders["k"].Select(w => w.Name).Order());
        Assert.Equal([a.Data, b.Data], holders["k"].OrderBy(w => w.Name).Select(w => w.Data));
        Assert.Empty(holders["nobody-has-this"]);
    }

    [Fact]
    public async Task GetWorkers_lists_every_worker_and_when_asked_the_keys_it_holds()
    {
        var a = await RegisterWorkerAsync("a", cores: 2);
        var client = await ConnectClientAsync();
        Submit(client, Task("k1"), Task("k2"));
        await ExpectRunAsync(a, "k1", "k2");
        Finish(a, 100, "k1", "k2");
        var b = await RegisterWorkerAsync("b", cores: 1);

        var withKeys = await GetWorkersAsync(includeKeys: true);
        var withoutKeys = await GetWorkersAsync(includeKeys: false);

        var infoA = Assert.Single(withKeys.Workers, w => w.Name == "a");
        Assert.Equal(new WorkerInfo("a", a.Address, 2, 2, 200, a.Data), infoA);
        Assert.Equal(new WorkerInfo("b", b.Address, 1, 0, 0, b.Data), Assert.Single(withKeys.Workers, w => w.Name == "b"));
        Assert.Equal(["k1", "k2"], withKeys.KeysByWorker["a"]);
        Assert.Empty(withKeys.KeysByWorker["b"]);
        Assert.Equal(["a", "b"], withoutKeys.Workers.Select(w => w.Name).Order());
        Assert.Empty(withoutKeys.KeysByWorker);
        var connected = CreateTestProbe("second-client");
        Center.Tell(new ConnectClient(), connected.Ref);
        Assert.Equal(["a", "b"], (await connected.ExpectMsgAsync<ClientConnected>()).Workers.Select(w => w.Name).Order());
    }

    // ----- releasing data -----

    [Fact]
    public async Task Released_keys_are_deleted_from_every_worker_that_holds_them()
    {
        var a = await RegisterWorkerAsync("a");
        var client = await ConnectClientAsync();
        Submit(client, Task("k"), Task("kept"));
        await ExpectRunAsync(a, "k", "kept");
        Finish(a, "k", "kept");
        var b = await RegisterWorkerAsync("b");
        await CopyAsync(client, b, "k");

        Center.Tell(new ReleaseKeys(["k"]), client.Ref);

        Assert.Equal(["k"], (await a.Probe.ExpectMsgAsync<DeleteKeys>()).Keys);
        Assert.Equal(["k"], (await b.Probe.ExpectMsgAsync<DeleteKeys>()).Keys);
        Assert.Empty((await WhoHasAsync("k"))["k"]);
        Assert.Equal(["a"], (await WhoHasAsync("kept"))["kept"].Select(w => w.Name));
    }

    [Fact]
    public async Task A_key_released_while_its_task_runs_is_deleted_once_the_task_finishes()
    {
        var a = await RegisterWorkerAsync("a");
        var client = await ConnectClientAsync();
        Submit(client, Task("k"));
        await ExpectRunAsync(a, "k");

        Center.Tell(new ReleaseKeys(["k"]), client.Ref);
        var cancelled = await a.Probe.ExpectMsgAsync<CancelTasks>(hint: "the worker running k should be told to drop it");
        Assert.Equal(["k"], cancelled.Keys);
        Finish(a, "k"); // it had started already: its result still arrives

        var deleted = await a.Probe.ExpectMsgAsync<DeleteKeys>(hint: "the client released k while its task ran, so the center should delete k from a once it is stored");
        Assert.Equal(["k"], deleted.Keys);
        Assert.Empty((await WhoHasAsync("k"))["k"]);
    }

    [Fact]
    public async Task A_client_that_disconnects_has_its_keys_deleted()
    {
        var a = await RegisterWorkerAsync("a");
        var client = await ConnectClientAsync();
        Submit(client, Task("k"));
        await ExpectRunAsync(a, "k");
        Finish(a, "k");

        Center.Tell(DisconnectClient.Instance, client.Ref);

        Assert.Equal(["k"], (await a.Probe.ExpectMsgAsync<DeleteKeys>()).Keys);
    }

    // ----- lost workers -----

    [Fact]
    public async Task The_in_flight_tasks_of_a_stopped_worker_run_again_on_another_worker()
    {
        var a = await RegisterWorkerAsync("a");
        var client = await ConnectClientAsync();
        Submit(client, Task("in-flight-1"), Task("in-flight-2"));
        await ExpectRunAsync(a, "in-flight-1", "in-flight-2");
        var b = await RegisterWorkerAsync("b");

        Sys.Stop(a.Probe.Ref);

        await ExpectRunAsync(b, "in-flight-1", "in-flight-2");
        Assert.Equal(["b"], (await GetWorkersAsync(false)).Workers.Select(w => w.Name));
    }

    [Fact]
    public async Task A_worker_that_says_it_leaves_is_forgotten_at_once_and_answered()
    {
        var a = await RegisterWorkerAsync("a");
        var client = await ConnectClientAsync();
        Submit(client, Task("in-flight"));
        await ExpectRunAsync(a, "in-flight");
        var b = await RegisterWorkerAsync("b");

        Center.Tell(LeavingNow.Instance, a.Probe.Ref); // its actor lives on: only the message tells the center

        await a.Probe.ExpectMsgAsync<LeaveNoted>();
        await ExpectRunAsync(b, "in-flight");
        Assert.Equal(["b"], (await GetWorkersAsync(false)).Workers.Select(w => w.Name));
        Sys.Stop(a.Probe.Ref); // its node then goes: nothing is run again
        await AssertNothingSentToAsync(b.Probe, "After the leaver's actor stopped");
    }

    [Fact]
    public async Task A_stranger_that_says_it_leaves_is_answered_and_changes_nothing()
    {
        var a = await RegisterWorkerAsync("a");
        var stranger = CreateTestProbe("stranger");

        Center.Tell(LeavingNow.Instance, stranger.Ref);

        await stranger.ExpectMsgAsync<LeaveNoted>();
        Assert.Equal(["a"], (await GetWorkersAsync(false)).Workers.Select(w => w.Name));
    }

    [Fact]
    public async Task A_rerun_task_goes_to_a_surviving_holder_of_its_input()
    {
        var a = await RegisterWorkerAsync("a");
        var client = await ConnectClientAsync();
        Submit(client, Task("k"));
        await ExpectRunAsync(a, "k");
        Finish(a, "k");
        var b = await RegisterWorkerAsync("b");
        var c = await RegisterWorkerAsync("c");
        await CopyAsync(client, b, "k");
        Submit(client, Task("uses-k", "k"));
        await ExpectRunAsync(a, "uses-k");

        Sys.Stop(a.Probe.Ref);

        var rerun = await ExpectRunAsync(b, "uses-k");
        Assert.Empty(rerun.RemoteInputs);
        Assert.Equal(["b"], (await WhoHasAsync("k"))["k"].Select(w => w.Name));
        await AssertNothingSentToAsync(c.Probe, "After a stopped");
    }

    [Fact]
    public async Task Two_workers_registered_under_one_name_keep_their_results_apart()
    {
        var first = await RegisterWorkerAsync("same-name");
        var client = await ConnectClientAsync();
        Submit(client, Task("busy-1"), Task("busy-2"));
        await ExpectRunAsync(first, "busy-1", "busy-2");
        var second = await RegisterWorkerAsync("same-name");
        Submit(client, Task("k"));
        await ExpectRunAsync(second, "k");

        // A worker only knows the name it was started with, and reports with it.
        Finish(second, "k");

        var holder = Assert.Single((await WhoHasAsync("k"))["k"]);
        Assert.True(holder.Address == second.Address,
            $"k was stored by the second worker named same-name ({second.Address}), but the center says {holder.Name} at {holder.Address} holds it.");
    }
}
