using Distributed.Data;
using Distributed.Protocol;
using Distributed.Worker;
using Distributed.Worker.Core;
using Distributed.Worker.Executor;

namespace Distributed.Tests.Worker;

/// <summary>
/// The worker's decisions, driven by events and checked by the commands they lead to: no actor, no
/// network, no process. After every event the core's own invariants are checked too.
/// </summary>
public sealed partial class WorkerCoreTests
{
    private const string ClientA = "client-a";
    private const string ClientB = "client-b";
    private static readonly AssemblyRef UserCode = new("UserCode", new string('a', 64));
    private static readonly AssemblyRef OtherCode = new("OtherCode", new string('b', 64));
    private static readonly CodeManifest V1 = new("v1", [UserCode]);
    private static readonly CodeManifest V2 = new("v2", [OtherCode]);
    private static readonly FunctionSpec Function = ContentAddress.Function([1, 2, 3]);
    private static readonly DataEndpoint Holder = new("127.0.0.1", 4000);

    [Fact]
    public void A_batch_waits_for_its_assembly_then_its_remote_inputs_then_goes_to_the_spare_executor()
    {
        var worker = new Harness();
        Assert.Equal(["StartExecutor 1 spare"], worker.Step(new WorkerEvent.Registered("worker-7")));
        worker.Store.Put("x", Value(1));

        Assert.Equal(["RequestAssemblies client-a UserCode", "FetchInputs batch 0 r"],
            worker.Step(Batch(ClientA, V1, [Task("t1", "x", "r")], remote: ["r"])));
        worker.Files.Present.Add(UserCode.Hash);
        Assert.Empty(worker.Step(new WorkerEvent.AssemblyStored(UserCode)));

        Assert.Equal(["ReportKeysAdded r replication -", "AdoptCode 1 v1 /cache/UserCode.dll", "StartSpareTimer 2s", "Execute 1 tasks t1 values r,x"],
            worker.Step(new WorkerEvent.InputsFetched(0, new Dictionary<string, StoredValue> { ["r"] = Value(2) })));
        Assert.True(worker.Store.Contains("r"));
        Assert.Equal(0, worker.Core.BatchesHeld);
        Assert.Equal(1, worker.Counters.SpareExecutorsTaken);
    }

    [Fact]
    public void Inputs_that_arrive_before_the_assembly_leave_the_batch_waiting_for_the_assembly()
    {
        var worker = new Harness();
        worker.Step(Batch(ClientA, V1, [Task("t1", "r")], remote: ["r"]));
        Assert.Equal(["ReportKeysAdded r replication -"], worker.Step(new WorkerEvent.InputsFetched(0, new Dictionary<string, StoredValue> { ["r"] = Value(2) })));
        Assert.Equal(1, worker.Core.BatchesHeld);

        worker.Files.Present.Add(UserCode.Hash);
        Assert.Equal(["StartExecutor 1 v1 /cache/UserCode.dll", "StartSpareTimer 2s", "Execute 1 tasks t1 values r"],
            worker.Step(new WorkerEvent.AssemblyStored(UserCode)));
    }

    [Fact]
    public void A_task_cancelled_while_its_batch_waits_never_reaches_the_executor()
    {
        var worker = new Harness();
        worker.Step(new WorkerEvent.Registered("worker-7"));
        worker.Step(Batch(ClientA, V1, [Task("t1"), Task("t2")]));

        // No executor runs code v1 yet: nothing to tell, the batch skips it when it goes.
        Assert.Empty(worker.Step(new WorkerEvent.TasksCancelled(["t1", "unknown"])));
        worker.Files.Present.Add(UserCode.Hash);
        Assert.Equal(["AdoptCode 1 v1 /cache/UserCode.dll", "StartSpareTimer 2s", "Execute 1 tasks t2 values -"],
            worker.Step(new WorkerEvent.AssemblyStored(UserCode)));
        Assert.Equal(1, worker.Counters.CancelledBeforeStart);

        Assert.Equal(["ForgetClient client-a", "ReportFinished t2"], worker.Step(Results(Finished("t2"))));
    }

    [Fact]
    public void A_task_cancelled_after_it_was_handed_over_is_cancelled_on_its_executor_and_its_result_dropped()
    {
        var worker = new Harness(UserCode);
        worker.Step(Batch(ClientA, V1, [Task("t1"), Task("t2")]));

        Assert.Equal(["CancelExecution 1 t1"], worker.Step(new WorkerEvent.TasksCancelled(["t1"])));
        Assert.Empty(worker.Step(Results(new ExecutorResult("t1", null, "", ExecutorFrames.CancelledError))));
        Assert.Equal(1, worker.Counters.CancelledBeforeStart);
        // Cancelled, then finished anyway: neither stored nor reported.
        Assert.Equal(["ForgetClient client-a", "CancelExecution 1 t2"], worker.Step(new WorkerEvent.TasksCancelled(["t2"])));
        Assert.Empty(worker.Step(Results(Finished("t2"))));
        Assert.False(worker.Store.Contains("t2"));
    }

    [Fact]
    public void An_executor_that_dies_fails_its_running_tasks_and_a_new_one_reruns_what_it_handed_back()
    {
        var worker = new Harness(UserCode);
        worker.Step(new WorkerEvent.Registered("worker-7"));
        worker.Step(Batch(ClientA, V1, [Task("t1"), Task("t2")]));
        Assert.Equal(1, worker.Core.ExecutorOf("v1"));

        var crash = RemoteError.Of(ErrorKind.ExecutorCrashed, "The process running t1 died (exit code 137).");
        Assert.Equal(["ReportFailed t1=ExecutorCrashed Distributed.ExecutorCrashedException: The process running t1 died (exit code 137)."],
            worker.Step(Results(new ExecutorResult("t1", null, "", crash))));

        var rerun = new ExecuteBatch([Function], new Dictionary<string, StoredValue>(), [new ExecutorTask("t2", Function.FunctionId, ArgumentsKind.Dependencies, [], [])]);
        Assert.Equal(["StopExecutor 1", "StartExecutor 2 v1 /cache/UserCode.dll", "Execute 2 tasks t2 values -"],
            worker.Step(new WorkerEvent.ExecutorRetired(1, "v1", ["/cache/UserCode.dll"], rerun)));
        Assert.Equal(2, worker.Core.ExecutorOf("v1"));

        // The retired one's stop changes nothing for the new one, and the next batch of v1 goes there.
        Assert.Empty(worker.Step(new WorkerEvent.ExecutorStopped(1)));
        Assert.Equal(["Execute 2 tasks t3 values -"], worker.Step(Batch(ClientA, V1, [Task("t3")])));
        Assert.Equal(["ReportFinished t2"], worker.Step(Results(Finished("t2"))));
    }

    [Fact]
    public void An_executor_whose_code_ran_nothing_for_the_idle_checks_is_stopped_and_the_next_batch_starts_another()
    {
        var worker = new Harness(UserCode, OtherCode);
        worker.Step(Batch(ClientA, V1, [Task("t1")]));
        worker.Step(Batch(ClientB, V2, [Task("u1")]));
        worker.Step(Results(Finished("t1"), Finished("u1")));

        // v2 keeps running tasks (a run out at each check); v1 runs nothing.
        for (var check = 1; check < WorkerCore.IdleTicksBeforeStop; check++)
        {
            worker.Step(Batch(ClientB, V2, [Task($"u{check + 1}")]));
            Assert.Empty(worker.Step(WorkerEvent.IdleCheckFired.Instance));
            worker.Step(Results(Finished($"u{check + 1}")));
        }
        worker.Step(Batch(ClientB, V2, [Task("u9")]));
        Assert.Equal(["StopIdleExecutor 1 v1"], worker.Step(WorkerEvent.IdleCheckFired.Instance));
        Assert.Null(worker.Core.ExecutorOf("v1"));
        Assert.Equal(2, worker.Core.ExecutorOf("v2"));

        // Its process stopping changes nothing; code v1 comes back: a new executor, from the cache.
        Assert.Empty(worker.Step(new WorkerEvent.ExecutorStopped(1)));
        Assert.Equal(["StartExecutor 3 v1 /cache/UserCode.dll", "Execute 3 tasks t2 values -"], worker.Step(Batch(ClientA, V1, [Task("t2")])));
    }

    [Fact]
    public void An_executor_with_a_run_out_or_a_batch_held_for_its_code_is_never_idle()
    {
        var worker = new Harness(UserCode);
        worker.Step(Batch(ClientA, V1, [Task("t1")])); // t1 runs long: no result yet
        for (var check = 0; check < 2 * WorkerCore.IdleTicksBeforeStop; check++) Assert.Empty(worker.Step(WorkerEvent.IdleCheckFired.Instance));
        worker.Step(Results(Finished("t1")));

        // A batch of v1 waiting for its remote input counts as use too.
        worker.Step(Batch(ClientA, V1, [Task("t2", "r")], remote: ["r"]));
        for (var check = 0; check < 2 * WorkerCore.IdleTicksBeforeStop; check++) Assert.Empty(worker.Step(WorkerEvent.IdleCheckFired.Instance));
        Assert.Equal(1, worker.Core.ExecutorOf("v1"));
    }

    [Fact]
    public void Batches_an_executor_hands_back_after_it_stopped_still_run_again()
    {
        var worker = new Harness(UserCode);
        worker.Step(Batch(ClientA, V1, [Task("t1")]));
        worker.Step(new WorkerEvent.ExecutorRetired(1, "v1", ["/cache/UserCode.dll"], Empty()));
        worker.Step(new WorkerEvent.ExecutorStopped(1));

        var late = new ExecuteBatch([Function], new Dictionary<string, StoredValue>(), [new ExecutorTask("t1", Function.FunctionId, ArgumentsKind.Dependencies, [], [])]);
        Assert.Equal(["StartExecutor 2 v1 /cache/UserCode.dll", "Execute 2 tasks t1 values -"],
            worker.Step(new WorkerEvent.ExecutorRetired(null, "v1", ["/cache/UserCode.dll"], late)));
    }

    [Fact]
    public void A_failed_input_fetch_fails_the_batch_with_input_lost_for_each_task()
    {
        var worker = new Harness(UserCode);
        worker.Step(Batch(ClientA, V1, [Task("t1", "r"), Task("t2", "r")], remote: ["r"]));

        Assert.Equal(["ForgetClient client-a",
                "ReportFailed t1=InputLost Distributed.InputLostException: t1: Could not fetch the inputs of the task: no holder has r, "
                + "t2=InputLost Distributed.InputLostException: t2: Could not fetch the inputs of the task: no holder has r"],
            worker.Step(new WorkerEvent.InputsNotFetched(0, "no holder has r")));
        Assert.Equal(0, worker.Core.BatchesHeld);
        Assert.Equal(0, worker.Core.TasksHeld);
        // A fetch that ends after its batch failed changes nothing.
        Assert.Empty(worker.Step(new WorkerEvent.InputsFetched(0, new Dictionary<string, StoredValue>())));
    }

    [Fact]
    public void An_input_gone_from_the_store_is_reported_lost_and_the_other_tasks_run()
    {
        var worker = new Harness(UserCode);
        worker.Step(new WorkerEvent.Registered("worker-7"));
        worker.Store.Put("x", Value(1));

        Assert.Equal(["ReportFailed t1=InputLost Distributed.InputLostException: The input gone of t1 is not on worker worker-7.",
                "AdoptCode 1 v1 /cache/UserCode.dll", "StartSpareTimer 2s", "Execute 1 tasks t2 values x"],
            worker.Step(Batch(ClientA, V1, [Task("t1", "x", "gone"), Task("t2", "x")])));
    }

    [Fact]
    public void The_spare_executor_is_taken_by_the_first_code_version_and_a_timer_starts_the_next_one()
    {
        var worker = new Harness(UserCode, OtherCode);
        Assert.Equal(["StartExecutor 1 spare"], worker.Step(new WorkerEvent.Registered("worker-7")));

        Assert.Equal(["AdoptCode 1 v1 /cache/UserCode.dll", "StartSpareTimer 2s", "Execute 1 tasks t1 values -"],
            worker.Step(Batch(ClientA, V1, [Task("t1")])));
        Assert.Null(worker.Core.SpareExecutor);
        // Before the timer fires, another version starts its own executor and no second timer.
        Assert.Equal(["StartExecutor 2 v2 /cache/OtherCode.dll", "Execute 2 tasks t2 values -"],
            worker.Step(Batch(ClientB, V2, [Task("t2")])));

        Assert.Equal(["StartExecutor 3 spare"], worker.Step(WorkerEvent.SpareTimerFired.Instance));
        Assert.Equal(3, worker.Core.SpareExecutor);
        Assert.Equal(3, worker.Counters.ExecutorsStarted);
        Assert.Equal(1, worker.Counters.SpareExecutorsTaken);

        // A new version takes the new spare, and the timer is armed again.
        var v3 = new CodeManifest("v3", [UserCode]);
        Assert.Equal(["AdoptCode 3 v3 /cache/UserCode.dll", "StartSpareTimer 2s", "Execute 3 tasks t3 values -"],
            worker.Step(Batch(ClientA, v3, [Task("t3")])));
    }

    [Fact]
    public void A_spare_whose_process_died_is_not_replaced_until_an_executor_is_taken()
    {
        var worker = new Harness(UserCode);
        worker.Step(new WorkerEvent.Registered("worker-7"));

        Assert.Equal(["StopExecutor 1"], worker.Step(new WorkerEvent.ExecutorRetired(1, "spare", [], Empty())));
        Assert.Null(worker.Core.SpareExecutor);
        Assert.Empty(worker.Step(new WorkerEvent.ExecutorStopped(1)));

        Assert.Equal(["StartExecutor 2 v1 /cache/UserCode.dll", "StartSpareTimer 2s", "Execute 2 tasks t1 values -"],
            worker.Step(Batch(ClientA, V1, [Task("t1")])));
        Assert.Equal(["StartExecutor 3 spare"], worker.Step(WorkerEvent.SpareTimerFired.Instance));
    }

    [Fact]
    public void A_registration_after_executors_started_starts_no_spare()
    {
        var worker = new Harness(UserCode);
        worker.Step(Batch(ClientA, V1, [Task("t1")]));
        Assert.Empty(worker.Step(new WorkerEvent.Registered("worker-7")));
    }

    [Fact]
    public void An_assembly_is_taken_only_from_a_client_of_a_batch_that_waits_for_it()
    {
        var worker = new Harness();
        Assert.Equal(AssemblyAwaited.No, worker.Core.Awaits(UserCode.Hash, ClientA));
        worker.Step(Batch(ClientA, V1, [Task("t1")]));
        // A second batch of the same code waits for the same request.
        Assert.Empty(worker.Step(Batch(ClientB, V1, [Task("t2")])));

        Assert.Equal(AssemblyAwaited.FromThisClient, worker.Core.Awaits(UserCode.Hash, ClientA));
        Assert.Equal(AssemblyAwaited.FromThisClient, worker.Core.Awaits(UserCode.Hash, ClientB));
        Assert.Equal(AssemblyAwaited.FromOtherClients, worker.Core.Awaits(UserCode.Hash, "client-c"));
        Assert.Equal(AssemblyAwaited.FromOtherClients, worker.Core.Awaits(UserCode.Hash, null));

        worker.Files.Present.Add(UserCode.Hash);
        Assert.Equal(["StartExecutor 1 v1 /cache/UserCode.dll", "StartSpareTimer 2s", "Execute 1 tasks t1 values -", "Execute 1 tasks t2 values -"],
            worker.Step(new WorkerEvent.AssemblyStored(UserCode)));
        Assert.Equal(AssemblyAwaited.No, worker.Core.Awaits(UserCode.Hash, ClientA));
    }

    [Fact]
    public void An_assembly_that_does_not_come_fails_every_batch_waiting_for_it()
    {
        var worker = new Harness();
        worker.Step(Batch(ClientA, V1, [Task("t1")]));
        worker.Step(Batch(ClientA, V1, [Task("t2")]));

        Assert.Equal(["ReportFailed t1=CodeShipping Distributed.CodeShippingException: t1: The client could not send assembly UserCode.",
                "ForgetClient client-a",
                "ReportFailed t2=CodeShipping Distributed.CodeShippingException: t2: The client could not send assembly UserCode."],
            worker.Step(new WorkerEvent.AssemblyFailed(UserCode, "The client could not send assembly UserCode.")));
        Assert.Equal(0, worker.Core.BatchesHeld);
    }

    [Fact]
    public void A_forged_function_or_a_malformed_assembly_name_fails_its_batch_before_anything_is_asked()
    {
        var worker = new Harness();
        var forged = new FunctionSpec(new string('0', Function.FunctionId.Length), Function.Payload);
        var failed = worker.Step(new WorkerEvent.BatchArrived(ClientA, V1, [forged], [Task("t1")], [Remote("r")]));
        Assert.Equal(["ForgetClient client-a", $"ReportFailed t1=CodeShipping Distributed.CodeShippingException: t1: The function {forged.FunctionId} is refused: its id is not the hash of its bytes."], failed);

        var escaping = new CodeManifest("v9", [new AssemblyRef("../evil", new string('c', 64))]);
        var refused = worker.Step(Batch(ClientA, escaping, [Task("t2")], remote: ["r"]));
        Assert.Equal(2, refused.Length);
        Assert.StartsWith("ReportFailed t2=CodeShipping Distributed.CodeShippingException: t2: The assembly name '../evil' is refused", refused[1]);
    }

    [Fact]
    public void An_assembly_nobody_waits_for_any_more_is_asked_for_again_by_the_next_batch_that_needs_it()
    {
        var worker = new Harness();
        worker.Step(Batch(ClientA, V1, [Task("t1", "r")], remote: ["r"]));
        worker.Step(new WorkerEvent.InputsNotFetched(0, "holder died"));
        // Its answer, when it comes, is for nobody.
        Assert.Equal(AssemblyAwaited.No, worker.Core.Awaits(UserCode.Hash, ClientA));

        Assert.Equal(["RequestAssemblies client-a UserCode"], worker.Step(Batch(ClientA, V1, [Task("t1")])));
    }

    [Fact]
    public void An_assembly_changed_on_disk_is_asked_for_again_before_a_new_executor_loads_it()
    {
        var worker = new Harness(UserCode);
        worker.Files.ChangedOnDisk.Add(UserCode.Hash);

        Assert.Equal(["RequestAssemblies client-a UserCode"], worker.Step(Batch(ClientA, V1, [Task("t1")])));
        worker.Files.ChangedOnDisk.Clear();
        Assert.Equal(["StartExecutor 1 v1 /cache/UserCode.dll", "StartSpareTimer 2s", "Execute 1 tasks t1 values -"],
            worker.Step(new WorkerEvent.AssemblyStored(UserCode)));

        // With its executor running, the version's files are not hashed again.
        worker.Files.ChangedOnDisk.Add(UserCode.Hash);
        Assert.Equal(["Execute 1 tasks t2 values -"], worker.Step(Batch(ClientA, V1, [Task("t2")])));
    }

    [Fact]
    public void Results_are_stored_then_reported_once_per_client_and_errors_reported_failed()
    {
        var worker = new Harness(UserCode);
        worker.Step(Batch(ClientA, V1, [Task("a1"), Task("a2"), Task("a3")]));
        worker.Step(Batch(ClientB, V1, [Task("b1")]));

        var userError = new RemoteError(ErrorKind.UserCode, "System.DivideByZeroException", "Attempted to divide by zero.", "at f");
        Assert.Equal(["ForgetClient client-b", "ForgetClient client-a", "ReportFinished a1,a3", "ReportFinished b1", "ReportFailed a2=UserCode System.DivideByZeroException: Attempted to divide by zero."],
            worker.Step(Results(Finished("a1"), Finished("b1"), new ExecutorResult("a2", null, "", userError), Finished("a3"))));
        Assert.Equal([7], worker.Store.Get("a1")!.ToArray());
        Assert.Equal(4, worker.Counters.TasksRun);
        Assert.Equal(0, worker.Core.TasksHeld);
    }

    [Fact]
    public void A_client_is_forgotten_only_once_nothing_of_it_is_held()
    {
        var worker = new Harness();
        worker.Step(Batch(ClientA, V1, [Task("t1")]));
        // The batch holds the client while it waits, even with its only task cancelled.
        Assert.Empty(worker.Step(new WorkerEvent.TasksCancelled(["t1"])));
        worker.Files.Present.Add(UserCode.Hash);
        Assert.Equal(["ForgetClient client-a"], worker.Step(new WorkerEvent.AssemblyStored(UserCode)));

        // The same key sent again for another client runs for that one, once the run for the first
        // one answered (a result names only its key): that answer is dropped.
        worker.Step(Batch(ClientA, V1, [Task("t2")]));
        Assert.Equal(["ForgetClient client-a"], worker.Step(Batch(ClientB, V1, [Task("t2")])));
        Assert.Equal(["Execute 1 tasks t2 values -"], worker.Step(Results(Finished("t2"))));
        Assert.Equal(["ForgetClient client-b", "ReportFinished t2"], worker.Step(Results(Finished("t2"))));
    }

    [Fact]
    public void Copies_asked_by_the_center_are_fetched_stored_and_reported_with_their_replication()
    {
        var worker = new Harness();
        worker.Step(new WorkerEvent.Registered("worker-7"));
        Assert.Equal(["FetchCopies 7 k1,k2"], worker.Step(new WorkerEvent.CopiesRequested([Remote("k1"), Remote("k2")], 7)));
        Assert.Equal(["ReportKeysAdded k1,k2 replication 7"],
            worker.Step(new WorkerEvent.CopiesFetched(7, new Dictionary<string, StoredValue> { ["k1"] = Value(1), ["k2"] = Value(2) })));
        Assert.True(worker.Store.Contains("k2"));
        Assert.Equal(["ReportKeysAdded - replication 8 error Worker worker-7 could not fetch the copies: refused"],
            worker.Step(new WorkerEvent.CopiesNotFetched(8, "refused")));

        Assert.Empty(worker.Step(new WorkerEvent.KeysDeleted(["k1", "never-here"])));
        Assert.False(worker.Store.Contains("k1"));
        Assert.True(worker.Store.Contains("k2"));
    }

    // The tests below each pin a bug the worker simulation found (Simulation/WorkerSimulationTests).

    [Fact]
    public void The_answer_of_a_cancelled_run_is_not_taken_for_the_next_assignment_of_its_key()
    {
        var worker = new Harness(UserCode);
        worker.Step(Batch(ClientA, V1, [Task("t1")]));
        Assert.Equal(["ForgetClient client-a", "CancelExecution 1 t1"], worker.Step(new WorkerEvent.TasksCancelled(["t1"])));

        // Sent again: a result names only its key, so the key runs again once the cancelled run answered.
        Assert.Empty(worker.Step(Batch(ClientA, V1, [Task("t1")])));
        Assert.Equal(["Execute 1 tasks t1 values -"], worker.Step(Results(Finished("t1"))));
        Assert.False(worker.Store.Contains("t1"));
        Assert.Equal(["ForgetClient client-a", "ReportFinished t1"], worker.Step(Results(Finished("t1"))));
        Assert.Equal(0, worker.Core.RunsOut);
    }

    [Fact]
    public void A_held_batch_does_not_run_a_key_sent_again_in_another_batch()
    {
        var worker = new Harness();
        worker.Step(Batch(ClientA, V1, [Task("t1")]));
        worker.Step(Batch(ClientB, V1, [Task("t1", "x")]));
        worker.Store.Put("x", Value(1));

        worker.Files.Present.Add(UserCode.Hash);
        Assert.Equal(["ForgetClient client-a", "StartExecutor 1 v1 /cache/UserCode.dll", "StartSpareTimer 2s", "Execute 1 tasks t1 values x"],
            worker.Step(new WorkerEvent.AssemblyStored(UserCode)));
    }

    [Fact]
    public void A_run_skipped_on_a_cancel_left_from_an_earlier_run_of_its_key_is_sent_again()
    {
        var worker = new Harness(UserCode);
        worker.Step(Batch(ClientA, V1, [Task("t1")]));
        // The cancel reaches the executor after t1 started: t1 answers anyway, and the executor keeps the cancel.
        worker.Step(new WorkerEvent.TasksCancelled(["t1"]));
        Assert.Empty(worker.Step(Results(Finished("t1"))));

        Assert.Equal(["Execute 1 tasks t1 values -"], worker.Step(Batch(ClientA, V1, [Task("t1")])));
        Assert.Equal(["Execute 1 tasks t1 values -"], worker.Step(Results(new ExecutorResult("t1", null, "", ExecutorFrames.CancelledError))));
        Assert.Equal(["ForgetClient client-a", "ReportFinished t1"], worker.Step(Results(Finished("t1"))));
    }

    [Fact]
    public void Runs_handed_back_by_a_spare_that_died_before_reading_its_code_go_to_an_executor_of_that_code()
    {
        var worker = new Harness(UserCode);
        worker.Step(new WorkerEvent.Registered("worker-7"));
        worker.Step(Batch(ClientA, V1, [Task("t1")]));

        // Its process died before it read AdoptCode: it retires as "spare", then hands back the batch that came after.
        Assert.Equal(["StopExecutor 1"], worker.Step(new WorkerEvent.ExecutorRetired(1, "spare", [], Empty())));
        var late = new ExecuteBatch([Function], new Dictionary<string, StoredValue>(), [new ExecutorTask("t1", Function.FunctionId, ArgumentsKind.Dependencies, [], [])]);
        Assert.Equal(["StartExecutor 2 v1 /cache/UserCode.dll", "Execute 2 tasks t1 values -"],
            worker.Step(new WorkerEvent.ExecutorRetired(1, "spare", [], late)));
    }

    [Fact]
    public void An_assembly_whose_asked_client_has_no_batch_left_is_asked_of_a_client_still_waiting()
    {
        var worker = new Harness();
        worker.Step(Batch(ClientA, V1, [Task("t1", "r")], remote: ["r"]));
        worker.Step(Batch(ClientB, V1, [Task("t2")]));

        Assert.Equal(["RequestAssemblies client-b UserCode", "ForgetClient client-a",
                "ReportFailed t1=InputLost Distributed.InputLostException: t1: Could not fetch the inputs of the task: holder died"],
            worker.Step(new WorkerEvent.InputsNotFetched(0, "holder died")));
        Assert.Equal(AssemblyAwaited.FromThisClient, worker.Core.Awaits(UserCode.Hash, ClientB));
    }

    private static TaskSpec Task(string key, params string[] dependencies) => new(key, Function.FunctionId, ArgumentsKind.Dependencies, [], dependencies);

    private static RemoteInput Remote(string key) => new(key, [Holder]);

    private static StoredValue Value(byte content) => new([content], "System.Byte");

    private static ExecutorResult Finished(string key) => new(key, new StoredValue([7], "System.Int32"), "System.Int32", null);

    private static WorkerEvent.ExecutorResults Results(params ExecutorResult[] results) => new(results);

    private static ExecuteBatch Empty() => new([], new Dictionary<string, StoredValue>(), []);

    private static WorkerEvent.BatchArrived Batch(string client, CodeManifest code, TaskSpec[] tasks, string[]? remote = null) =>
        new(client, code, [Function], tasks, (remote ?? []).Select(Remote).ToList());

    /// <summary>A command as one line, so that a test reads the whole list the core returned.</summary>
    private static string Describe(WorkerCommand command) => command switch
    {
        WorkerCommand.RequestAssemblies c => $"RequestAssemblies {c.Client} {string.Join(",", c.Assemblies.Select(a => a.Name))}",
        WorkerCommand.FetchInputs c => $"FetchInputs batch {c.BatchId} {Keys(c.Inputs.Select(i => i.Key))}",
        WorkerCommand.FetchCopies c => $"FetchCopies {c.ReplicationId} {Keys(c.Inputs.Select(i => i.Key))}",
        WorkerCommand.StartExecutor c => $"StartExecutor {c.Executor} {c.Version ?? "spare"}{string.Concat(c.AssemblyPaths.Select(p => " " + p))}",
        WorkerCommand.AdoptCode c => $"AdoptCode {c.Executor} {c.Version}{string.Concat(c.AssemblyPaths.Select(p => " " + p))}",
        WorkerCommand.Execute c => $"Execute {c.Executor} tasks {Keys(c.Batch.Tasks.Select(t => t.Key))} values {Keys(c.Batch.Values.Keys.Order())}",
        WorkerCommand.CancelExecution c => $"CancelExecution {c.Executor} {Keys(c.Keys)}",
        WorkerCommand.StopExecutor c => $"StopExecutor {c.Executor}",
        WorkerCommand.StopIdleExecutor c => $"StopIdleExecutor {c.Executor} {c.Version}",
        WorkerCommand.ReportFinished c => $"ReportFinished {Keys(c.Results.Select(r => r.Key))}",
        WorkerCommand.ReportFailed c => $"ReportFailed {string.Join(", ", c.Failures.Select(f => $"{f.Key}={f.Error.Kind} {f.Error.TypeName}: {f.Error.Message}"))}",
        WorkerCommand.ReportKeysAdded c => $"ReportKeysAdded {Keys(c.Keys.Select(k => k.Key))} replication {c.ReplicationId?.ToString() ?? "-"}{(c.Error is null ? "" : " error " + c.Error)}",
        WorkerCommand.StartSpareTimer c => $"StartSpareTimer {c.Delay.TotalSeconds}s",
        WorkerCommand.ForgetClient c => $"ForgetClient {c.Client}",
        WorkerCommand.DirectDecided c => $"DirectDecided {c.RequestId} {(c.Declined is null ? "taken" : "declined: " + c.Declined)}",
        WorkerCommand.DirectAnswered c => $"DirectAnswered {c.RequestId} {(c.Result is { } r ? r.Key + " finished" : c.Failure is { } f ? f.Key + " failed " + f.Error.Kind : "unanswered")}",
        _ => throw new ArgumentException($"No description of {command.GetType().Name}."),
    };

    private static string Keys(IEnumerable<string> keys) => keys.Any() ? string.Join(",", keys) : "-";

    /// <summary>A core with an in-memory store and assembly cache, that checks the core's invariants after every event.</summary>
    private sealed class Harness
    {
        public Harness(params AssemblyRef[] cached)
            : this(null, cached)
        {
        }

        public Harness(int? threads, params AssemblyRef[] cached)
        {
            foreach (var assembly in cached) Files.Present.Add(assembly.Hash);
            Core = new WorkerCore("worker-0", Store, Files, Counters, threads: threads);
        }

        public DataStore Store { get; } = new();
        public FakeAssemblyFiles Files { get; } = new();
        public TransferCounters Counters { get; } = new();
        public WorkerCore Core { get; }

        public string[] Step(WorkerEvent stimulus)
        {
            var commands = Core.Handle(stimulus);
            Core.CheckInvariants();
            return commands.Select(Describe).ToArray();
        }
    }

    /// <summary>An assembly cache by hash; a file "changed on disk" is found only without a recheck.</summary>
    private sealed class FakeAssemblyFiles : IAssemblyFiles
    {
        public HashSet<string> Present { get; } = [];
        public HashSet<string> ChangedOnDisk { get; } = [];

        public bool Contains(AssemblyRef assembly, bool recheck) => Present.Contains(assembly.Hash) && !(recheck && ChangedOnDisk.Contains(assembly.Hash));

        public string PathOf(AssemblyRef assembly) => $"/cache/{assembly.Name}.dll";
    }
}
