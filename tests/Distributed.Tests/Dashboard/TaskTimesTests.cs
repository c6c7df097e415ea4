using System.Diagnostics;
using Distributed.Center.Core;
using Distributed.Center.Dashboard;
using Distributed.Protocol;
using Distributed.Tests.Simulation;

namespace Distributed.Tests.Dashboard;

/// <summary>
/// The runs of finished tasks (which executor thread, when) on their way from the worker to the
/// dashboard's task stream: a few bytes a task in the report, placed on the center's clock.
/// </summary>
public sealed class TaskTimesTests
{
    private static readonly long Millisecond = Stopwatch.Frequency / 1000;

    [Fact]
    public void A_reports_runs_come_back_as_their_threads_and_times_before_the_report_in_a_few_bytes_each()
    {
        var now = 1_000_000 * Millisecond;
        TaskRun[] runs =
        [
            new(0, now - 30 * Millisecond, now - 20 * Millisecond), // 10 ms long, ended 20 ms before the report
            new(1, now - 5 * Millisecond, now - 2 * Millisecond),
            default, // not timed
            new(13, now - 1500 * Millisecond, now - 1000 * Millisecond),
        ];

        var times = TaskTimes.Encode(runs, now);

        Assert.True(times.Length <= 5 * runs.Length, $"{times.Length} bytes for {runs.Length} tasks");
        var decoded = TaskTimes.Decode(times, runs.Length)!;
        Assert.Equal([0, 1, -1, 13], decoded.Select(r => r.Slot));
        Assert.Equal((30.0, 20.0), (decoded[0].StartedMsAgo, decoded[0].FinishedMsAgo));
        Assert.Equal((5.0, 2.0), (decoded[1].StartedMsAgo, decoded[1].FinishedMsAgo));
        Assert.Equal((1500.0, 1000.0), (decoded[3].StartedMsAgo, decoded[3].FinishedMsAgo));
    }

    [Fact]
    public void Times_that_do_not_match_the_report_are_not_read()
    {
        var times = TaskTimes.Encode([new TaskRun(0, Millisecond, 2 * Millisecond), new TaskRun(1, Millisecond, 3 * Millisecond)], 10 * Millisecond);

        Assert.Null(TaskTimes.Decode(times, 3)); // fewer runs than results
        Assert.Null(TaskTimes.Decode(times, 1)); // bytes left over
        Assert.Null(TaskTimes.Decode(times[..^1], 2)); // cut short
        Assert.Null(TaskTimes.Decode([0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF], 1)); // a number too long
    }

    [Fact]
    public void Watched_a_timed_task_is_drawn_on_its_thread_from_its_start_to_its_end_and_an_untimed_one_from_sending_to_report()
    {
        var clock = new ManualClock();
        var observations = new CenterObservations();
        var recorder = new CenterRecorder(observations, clock);
        recorder.Registered(new WorkerId(1), "worker-1");
        observations.Watch(TimeSpan.FromMinutes(1));
        TaskSpec[] tasks = [new("f-00aa11bb22cc-0", "fn", ArgumentsKind.SingleValue, [], []), new("f-00aa11bb22cc-1", "fn", ArgumentsKind.SingleValue, [], [])];
        recorder.Sent(new WorkerId(1), tasks);
        var sent = clock.GetUtcNow().ToUnixTimeMilliseconds();
        clock.Advance(TimeSpan.FromMilliseconds(100));
        var now = 5_000 * Millisecond;

        recorder.Finished([new StoredKey("f-00aa11bb22cc-0", 4, "System.Int32"), new StoredKey("f-00aa11bb22cc-1", 4, "System.Int32")],
            TaskTimes.Encode([new TaskRun(1, now - 60 * Millisecond, now - 10 * Millisecond), default], now));

        var spans = observations.Spans(0);
        var reported = sent + 100;
        Assert.Equal((1, reported - 60.0, reported - 10.0), (spans[0].Thread!.Value, spans[0].Start, spans[0].End));
        Assert.Null(spans[1].Thread);
        Assert.Equal(sent, spans[1].Start);
        Assert.Equal(reported, spans[1].End);
    }
}
