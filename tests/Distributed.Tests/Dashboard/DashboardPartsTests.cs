using Distributed.Center.Core;
using Distributed.Center.Dashboard;
using Distributed.Protocol;

namespace Distributed.Tests.Dashboard;

/// <summary>The parts of the dashboard that need no server: names of computations, the recorder, the metrics' text.</summary>
public sealed class DashboardPartsTests
{
    [Theory]
    [InlineData("square-3fa2c1d4e5b6-17", "square-3fa2c1d4e5b6", "square")]
    [InlineData("program-main-slow-00aa11bb22cc-0", "program-main-slow-00aa11bb22cc", "program-main-slow")]
    [InlineData("inc-pure-0123456789abcdef01234567", "inc-pure-0123456789abcdef01234567", "inc")]
    [InlineData("total", "total", "total")]
    [InlineData("x-", "x-", "x-")]
    public void A_key_names_its_computation_and_function(string key, string group, string function)
    {
        Assert.Equal(group, TaskGroups.GroupOf(key));
        Assert.Equal(function, TaskGroups.FunctionOf(TaskGroups.GroupOf(key)));
    }

    private static TaskSpec Task(string key) => new(key, "fn", ArgumentsKind.SingleValue, [], []);

    [Fact]
    public void Unwatched_the_recorder_keeps_no_task_span_nor_computation_but_keeps_errors_and_events()
    {
        var observations = new CenterObservations();
        var recorder = new CenterRecorder(observations, TimeProvider.System);
        recorder.Registered(new WorkerId(1), "worker-1");

        recorder.Submitted(new ClientId(2), [Task("f-00aa11bb22cc-0")]);
        recorder.Sent(new WorkerId(1), [Task("f-00aa11bb22cc-0")]);
        recorder.Finished([new StoredKey("f-00aa11bb22cc-0", 4, "System.Int32")]);
        recorder.ClientToldOfFailures(new ClientId(2), new TasksFailed("worker-1",
            [new FailedTask("g-1", RemoteError.Of(ErrorKind.UserCode, "boom") with { StackTrace = "   at Program.G()" })]));

        Assert.Empty(observations.Spans(0));
        Assert.Empty(observations.Computations());
        var error = Assert.Single(observations.Errors());
        Assert.Equal(("g-1", "worker-1", "client#2", "   at Program.G()"), (error.Key, error.Worker, error.Client, error.StackTrace));
        Assert.Equal("joined", Assert.Single(observations.Events()).Kind);
    }

    [Fact]
    public void Watched_the_recorder_keeps_each_task_span_on_its_worker_and_counts_its_computation()
    {
        var observations = new CenterObservations();
        var recorder = new CenterRecorder(observations, TimeProvider.System);
        recorder.Registered(new WorkerId(1), "worker-1");
        observations.Watch(TimeSpan.FromMinutes(1));
        TaskSpec[] tasks = [Task("f-00aa11bb22cc-0"), Task("f-00aa11bb22cc-1"), Task("f-00aa11bb22cc-2")];

        recorder.Submitted(new ClientId(2), tasks);
        recorder.Sent(new WorkerId(1), tasks);
        recorder.Finished([new StoredKey("f-00aa11bb22cc-0", 4, "System.Int32"), new StoredKey("f-00aa11bb22cc-1", 4, "System.Int32")]);
        recorder.FailedOnWorker([new FailedTask("f-00aa11bb22cc-2", RemoteError.Of(ErrorKind.UserCode, "boom"))]);

        var spans = observations.Spans(0);
        Assert.Equal(["f-00aa11bb22cc-0", "f-00aa11bb22cc-1", "f-00aa11bb22cc-2"], spans.Select(s => s.Key));
        Assert.All(spans, s => Assert.Equal(("worker-1", "f-00aa11bb22cc"), (s.Worker, s.Group)));
        Assert.Equal([false, false, true], spans.Select(s => s.Failed));
        Assert.Empty(observations.Spans(spans[^1].Sequence));
        var computation = Assert.Single(observations.Computations());
        Assert.Equal(("f", "client#2", 3L, 2L, 1L), (computation.Function, computation.Client, computation.Total, computation.Finished, computation.Failed));
    }

    [Fact]
    public void A_worker_that_leaves_and_comes_back_and_restarts_an_executor_is_in_the_event_log()
    {
        var observations = new CenterObservations();
        var recorder = new CenterRecorder(observations, TimeProvider.System);
        recorder.Registered(new WorkerId(1), "worker-1");
        recorder.Status(new WorkerId(1), Status(restarts: 0));
        recorder.Status(new WorkerId(1), Status(restarts: 1));
        recorder.Downed(new WorkerId(1));
        recorder.Left(new WorkerId(1));
        recorder.Registered(new WorkerId(2), "worker-1");

        Assert.Equal(["joined", "restarted", "downed", "left", "rejoined"], observations.Events().Reverse().Select(e => e.Kind));
        Assert.Equal(1, observations.ExecutorRestartsOfGoneWorkers);
        Assert.Empty(observations.Statuses());
    }

    private static WorkerStatus Status(long restarts) => new(100, 0, 10, 0, 1, 0, 0, 50, 0, 0, restarts, 3);

    [Fact]
    public void Metrics_are_Prometheus_text_with_one_sample_per_worker_and_escaped_labels()
    {
        var view = new CenterView([new WorkerView("w\"1", "127.0.0.1:1", 2, 3, 40, 1, 0, 5)], [new ClientView("client#1", 10, 7, 1, 2, 70)],
            new TaskQueues(2, 1, 0, 0, 0, 1), 10, 7, 1, 3, 40);
        var rows = DashboardData.Workers(view, new Dictionary<string, WorkerStatusRecord> { ["w\"1"] = new("w\"1", DateTimeOffset.UtcNow, Status(restarts: 2)) });

        var text = PrometheusText.Write(view, rows, executorRestartsOfGoneWorkers: 1);

        var samples = PrometheusSamples.Parse(text);
        Assert.Equal(10, samples["distributed_tasks_submitted_total"]);
        Assert.Equal(7, samples["distributed_tasks_finished_total"]);
        Assert.Equal(1, samples["distributed_tasks_failed_total"]);
        Assert.Equal(1, samples["distributed_tasks{state=\"running\"}"]);
        Assert.Equal(3, samples["distributed_executor_restarts_total"]);
        Assert.Equal(100, samples["distributed_worker_memory_bytes{worker=\"w\\\"1\"}"]);
        Assert.Equal(50, samples["distributed_worker_cpu_percent{worker=\"w\\\"1\"}"]);
        Assert.All(text.Split('\n', StringSplitOptions.RemoveEmptyEntries).Where(l => l.StartsWith("# TYPE", StringComparison.Ordinal)),
            l => Assert.Matches(@"^# TYPE distributed_\w+ (counter|gauge)$", l));
    }
}

/// <summary>Reads Prometheus' text format into series (name with its labels, as written) → value.</summary>
public static class PrometheusSamples
{
    public static Dictionary<string, double> Parse(string text)
    {
        var samples = new Dictionary<string, double>(StringComparer.Ordinal);
        foreach (var line in text.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            if (line.StartsWith('#')) continue;
            var space = line.LastIndexOf(' ');
            samples[line[..space]] = double.Parse(line[(space + 1)..], System.Globalization.CultureInfo.InvariantCulture);
        }
        return samples;
    }
}
