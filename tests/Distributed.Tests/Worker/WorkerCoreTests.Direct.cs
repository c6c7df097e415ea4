using Distributed.Data;
using Distributed.Protocol;
using Distributed.Worker.Core;
using Distributed.Worker.Executor;

namespace Distributed.Tests.Worker;

/// <summary>Tasks a client hands to the worker directly: taken or declined at once, answered when they end, reported once the center sends them.</summary>
public sealed partial class WorkerCoreTests
{
    [Fact]
    public void A_task_handed_over_directly_runs_at_once_and_is_reported_only_when_the_center_sends_it()
    {
        var worker = WithCodeLoaded();
        Assert.Equal(["DirectDecided 1 taken", "Execute 1 tasks d1 values -"], worker.Step(Direct(1, Task("d1"))));
        Assert.Equal(1, worker.Core.RunsOut);

        // Answered to its client; the center has not sent it yet, so it is not reported.
        Assert.Equal(["DirectAnswered 1 d1 finished"], worker.Step(Results(Finished("d1"))));
        Assert.True(worker.Store.Contains("d1"));
        Assert.Equal(1, worker.Core.DirectTasksHeld);

        // The center's batch confirms it: reported, never run again.
        Assert.Equal(["ReportFinished d1"], worker.Step(Batch(ClientA, V1, [Task("d1")])));
        Assert.Equal(0, worker.Core.DirectTasksHeld);
        Assert.Equal(0, worker.Core.TasksHeld);
    }

    [Fact]
    public void A_direct_task_the_center_confirms_while_it_runs_is_reported_when_it_ends_and_the_rest_of_the_batch_runs()
    {
        var worker = WithCodeLoaded();
        worker.Step(Direct(1, Task("d1")));
        Assert.Equal(["Execute 1 tasks t2 values -"], worker.Step(Batch(ClientA, V1, [Task("d1"), Task("t2")])));
        Assert.Equal(["DirectAnswered 1 d1 finished", "ReportFinished d1"], worker.Step(Results(Finished("d1"))));
        Assert.Equal(["ForgetClient client-a", "ReportFinished t2"], worker.Step(Results(Finished("t2"))));
    }

    [Fact]
    public void A_direct_task_that_fails_is_answered_as_failed_and_reported_as_failed_once_confirmed()
    {
        var worker = WithCodeLoaded();
        worker.Step(Direct(1, Task("d1")));
        var error = RemoteError.Of(ErrorKind.UserCode, "boom");
        Assert.Equal(["DirectAnswered 1 d1 failed UserCode"], worker.Step(Results(new ExecutorResult("d1", null, "", error))));
        Assert.False(worker.Store.Contains("d1"));
        Assert.Equal(["ReportFailed d1=UserCode : boom"], worker.Step(Batch(ClientA, V1, [Task("d1")])).Select(c => c.Replace(error.TypeName, "")).ToArray());
    }

    [Fact]
    public void A_direct_task_is_declined_when_its_code_is_not_loaded_it_has_inputs_its_key_is_known_or_every_thread_is_busy()
    {
        var cold = new Harness(UserCode);
        Assert.Equal(["DirectDecided 1 declined: its code is not loaded here yet"], cold.Step(Direct(1, Task("d1"))));

        var worker = WithCodeLoaded(threads: 1);
        Assert.Equal(["DirectDecided 2 declined: only a task without inputs or restrictions is taken directly"], worker.Step(Direct(2, Task("d2", "t0"))));
        Assert.Equal(["DirectDecided 3 declined: the key t0 is known here already"], worker.Step(Direct(3, Task("t0"))));
        Assert.Equal(["DirectDecided 4 taken", "Execute 1 tasks d4 values -"], worker.Step(Direct(4, Task("d4"))));
        Assert.Equal(["DirectDecided 5 declined: every thread of the worker is busy"], worker.Step(Direct(5, Task("d5"))));
        var forged = new WorkerEvent.DirectTaskArrived(6, V1, [new FunctionSpec(Function.FunctionId, [9, 9])], Task("d6"));
        Assert.Equal(["DirectDecided 6 declined: every thread of the worker is busy"], worker.Step(forged));
        worker.Step(Results(Finished("d4")));
        Assert.Equal([$"DirectDecided 6 declined: the id of function {Function.FunctionId} is not the hash of its bytes"], worker.Step(forged));
    }

    [Fact]
    public void A_direct_task_the_center_cancels_is_dropped_running_or_ended()
    {
        var worker = WithCodeLoaded();
        worker.Step(Direct(1, Task("d1")));
        worker.Step(Results(Finished("d1")));
        // Refused by the center (or released before it was recorded): nobody will ask for the value.
        Assert.Empty(worker.Step(new WorkerEvent.TasksCancelled(["d1"])));
        Assert.False(worker.Store.Contains("d1"));
        Assert.Equal(0, worker.Core.DirectTasksHeld);

        worker.Step(Direct(2, Task("d2")));
        Assert.Equal(["DirectAnswered 2 unanswered", "CancelExecution 1 d2"], worker.Step(new WorkerEvent.TasksCancelled(["d2"])));
        Assert.Empty(worker.Step(Results(new ExecutorResult("d2", null, "", ExecutorFrames.CancelledError))));
        Assert.False(worker.Store.Contains("d2"));
        Assert.Equal(0, worker.Core.RunsOut);
    }

    [Fact]
    public void A_direct_task_the_center_never_confirms_is_dropped_at_the_second_sweep_and_runs_again_if_sent_after_all()
    {
        var worker = WithCodeLoaded();
        worker.Step(Direct(1, Task("d1")));
        // Still running: never swept (its client waits for the answer).
        Assert.Empty(worker.Step(WorkerEvent.DirectSweepFired.Instance));
        Assert.Empty(worker.Step(WorkerEvent.DirectSweepFired.Instance));
        worker.Step(Results(Finished("d1")));
        worker.Step(Direct(2, Task("d2")));
        worker.Step(Results(Finished("d2")));

        // The first sweep only marks the answered ones; d2 is confirmed in between and kept.
        Assert.Empty(worker.Step(WorkerEvent.DirectSweepFired.Instance));
        Assert.Equal(2, worker.Core.DirectTasksHeld);
        Assert.Equal(["ReportFinished d2"], worker.Step(Batch(ClientA, V1, [Task("d2")])));

        // The second drops d1 and its value: its client never told the center.
        Assert.Empty(worker.Step(WorkerEvent.DirectSweepFired.Instance));
        Assert.Equal(0, worker.Core.DirectTasksHeld);
        Assert.Equal(1, worker.Core.DirectTasksSwept);
        Assert.False(worker.Store.Contains("d1"));
        Assert.True(worker.Store.Contains("d2"));

        // Sent by the center after all: it runs again as the center's task.
        Assert.Equal(["Execute 1 tasks d1 values -"], worker.Step(Batch(ClientA, V1, [Task("d1")])));
        Assert.Equal(["ForgetClient client-a", "ReportFinished d1"], worker.Step(Results(Finished("d1"))));
    }

    [Fact]
    public void A_direct_task_the_center_sends_twice_runs_again_and_its_client_hears_the_end_from_the_center()
    {
        var worker = WithCodeLoaded();
        worker.Step(Direct(1, Task("d1")));
        worker.Step(Batch(ClientA, V1, [Task("d1")]));
        // Sent again while it runs (as after a resend): the new assignment replaces the direct run.
        Assert.Contains("DirectAnswered 1 unanswered", worker.Step(Batch(ClientA, V1, [Task("d1")])));
        // The replaced run's answer is dropped; then the key runs again as the center's, and is reported.
        Assert.Equal(["Execute 1 tasks d1 values -"], worker.Step(Results(Finished("d1"))));
        Assert.Equal(0, worker.Core.DirectTasksHeld);
        Assert.Equal(["ForgetClient client-a", "ReportFinished d1"], worker.Step(Results(Finished("d1"))));
    }

    [SkippableFact]
    public void A_direct_tasks_result_in_a_lent_segment_is_stored_from_that_segment_and_a_cancelled_ones_goes_back_to_the_pool()
    {
        Skip.IfNot(SharedSegment.IsSupported, "shared segments need Linux");
        const int Length = 1 << 20;
        var worker = WithCodeLoaded();
        var buffers = worker.Store.Buffers;
        worker.Step(Direct(1, Task("d1")));
        var segment = buffers.RentSegment(Length)!;
        Assert.Equal(["DirectAnswered 1 d1 finished"], worker.Step(Results(InSegment("d1", buffers, segment, Length))));
        // The value is the segment the executor wrote, not a copy.
        using (var lease = worker.Store.Lease("d1")!)
        {
            Assert.Same(segment, lease.Value.Segment);
            Assert.Equal(Length, lease.Value.Length);
        }
        Assert.Equal(["ReportFinished d1"], worker.Step(Batch(ClientA, V1, [Task("d1")])));

        worker.Step(Direct(2, Task("d2")));
        worker.Step(new WorkerEvent.TasksCancelled(["d2"]));
        Assert.Empty(worker.Step(Results(InSegment("d2", buffers, buffers.RentSegment(Length)!, Length))));
        Assert.False(worker.Store.Contains("d2"));
        Assert.Equal(1, buffers.SegmentsInUse); // d1's only: d2's went back
    }

    /// <summary>A result the executor wrote into a segment its worker lent, as the executor's actor hands it on.</summary>
    private static ExecutorResult InSegment(string key, ValueBufferPool buffers, SharedSegment segment, int length) =>
        new(key, null, "System.Byte[]", null, Shared: new SharedResult(segment.Id, length, buffers.AdoptSegment(segment, length, "System.Byte[]")));

    /// <summary>A registered worker whose executor 1 runs code v1 (its first batch, t0, has run).</summary>
    private static Harness WithCodeLoaded(int? threads = null)
    {
        var worker = new Harness(threads, UserCode);
        worker.Step(Batch(ClientA, V1, [Task("t0")]));
        worker.Step(Results(Finished("t0")));
        return worker;
    }

    private static WorkerEvent.DirectTaskArrived Direct(long request, TaskSpec task) => new(request, V1, [Function], task);
}
