using Distributed.Center.Core;
using Distributed.Protocol;

namespace Distributed.Center.Dashboard;

/// <summary>
/// The center actor's side of <see cref="CenterObservations"/>: it is told what the actor hears and
/// does, keeps what only the actor's thread touches (when each task was sent, the workers' names),
/// and publishes the rest. A finished task's span is its run on its executor thread, as the worker
/// reported it (placed on the center's clock by the report's arrival); without that (a failure, an
/// older worker) it is the center's: from the batch's sending to the worker's report.
/// </summary>
public sealed class CenterRecorder(CenterObservations observations, TimeProvider clock)
{
    /// <summary>Starts kept at most; past it (tasks sent while watched whose ends never came) they are dropped.</summary>
    private const int MaxStarts = 200_000;

    /// <summary>Errors recorded from one failure report at most (a failed input fails its many dependents at once).</summary>
    private const int MaxErrorsPerReport = 20;

    private readonly Dictionary<string, (string Worker, double Start)> _starts = new(StringComparer.Ordinal);
    private readonly Dictionary<WorkerId, string> _names = [];
    private readonly HashSet<string> _namesSeen = new(StringComparer.Ordinal);

    /// <summary>The observations this recorder publishes to.</summary>
    public CenterObservations Observations => observations;

    private double Now => clock.GetUtcNow().ToUnixTimeMilliseconds();

    /// <summary>A worker's registration was answered under <paramref name="name"/>.</summary>
    public void Registered(WorkerId worker, string name)
    {
        if (_names.ContainsKey(worker)) return; // it registered again (a retry): nothing new
        _names[worker] = name;
        var again = !_namesSeen.Add(name);
        observations.AddEvent(again ? "rejoined" : "joined", name, again ? $"Worker {name} joined again" : $"Worker {name} joined");
    }

    /// <summary>The core forgot a worker: it left (or was counted as gone).</summary>
    public void Left(WorkerId worker)
    {
        if (!_names.Remove(worker, out var name)) return;
        observations.RemoveStatus(name);
        observations.AddEvent("left", name, $"Worker {name} left");
    }

    /// <summary>The center took a worker's node out of the cluster.</summary>
    public void Downed(WorkerId worker)
    {
        var name = NameOf(worker);
        observations.AddEvent("downed", name, $"Worker {name} was downed: its process is gone");
    }

    /// <summary>A warning of the center's core.</summary>
    public void Warning(string text) => observations.AddEvent("warning", "", text);

    /// <summary>A worker's status arrived.</summary>
    public void Status(WorkerId worker, WorkerStatus status)
    {
        var name = NameOf(worker);
        var previous = observations.SetStatus(name, status);
        if (previous is not null && status.ExecutorRestarts > previous.ExecutorRestarts)
            observations.AddEvent("restarted", name, $"Worker {name} restarted {status.ExecutorRestarts - previous.ExecutorRestarts} executor process(es)");
    }

    /// <summary>A client submitted tasks: while watched, their computations are counted.</summary>
    public void Submitted(ClientId client, IReadOnlyList<TaskSpec> tasks)
    {
        if (!observations.Watched || tasks.Count == 0) return;
        var groups = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var task in tasks)
        {
            var group = TaskGroups.GroupOf(task.Key);
            groups[group] = groups.GetValueOrDefault(group) + 1;
        }
        observations.AddSubmitted(client.ToString(), groups.Select(g => (g.Key, TaskGroups.FunctionOf(g.Key), g.Value)), Now);
    }

    /// <summary>Tasks were sent to a worker: while watched, when is noted.</summary>
    public void Sent(WorkerId worker, IReadOnlyList<TaskSpec> tasks)
    {
        if (!observations.Watched)
        {
            if (_starts.Count > 0) _starts.Clear(); // nobody looks: what was noted will not be shown
            return;
        }
        if (_starts.Count + tasks.Count > MaxStarts) _starts.Clear();
        var name = NameOf(worker);
        var now = Now;
        foreach (var task in tasks) _starts[task.Key] = (name, now);
    }

    /// <summary>A worker reported finished tasks, with their runs (<see cref="TaskTimes"/>) if it timed them.</summary>
    public void Finished(IReadOnlyList<StoredKey> results, byte[]? times = null)
    {
        if (_starts.Count == 0) return; // nothing was noted: the unwatched case costs this test
        var now = Now;
        var runs = times is null ? null : TaskTimes.Decode(times, results.Count);
        List<(string, string, string, double, double, bool, int?)>? spans = null;
        for (var i = 0; i < results.Count; i++)
        {
            var result = results[i];
            if (!_starts.Remove(result.Key, out var started)) continue;
            var span = runs is not null && runs[i].Slot >= 0
                ? (started.Worker, result.Key, TaskGroups.GroupOf(result.Key), now - runs[i].StartedMsAgo, now - runs[i].FinishedMsAgo, false, (int?)runs[i].Slot)
                : (started.Worker, result.Key, TaskGroups.GroupOf(result.Key), started.Start, now, false, null);
            (spans ??= []).Add(span);
        }
        if (spans is not null) observations.AddSpans(spans);
    }

    /// <summary>A worker reported failed tasks.</summary>
    public void FailedOnWorker(IReadOnlyList<FailedTask> failures)
    {
        if (_starts.Count == 0) return;
        var now = Now;
        List<(string, string, string, double, double, bool, int?)>? spans = null;
        foreach (var failure in failures)
            if (_starts.Remove(failure.Key, out var started))
                (spans ??= []).Add((started.Worker, failure.Key, TaskGroups.GroupOf(failure.Key), started.Start, now, true, null));
        if (spans is not null) observations.AddSpans(spans);
    }

    /// <summary>A client is told that tasks failed: the errors are kept, with their keys and remote stacks.</summary>
    public void ClientToldOfFailures(ClientId client, TasksFailed failed)
    {
        var time = clock.GetUtcNow();
        foreach (var failure in failed.Failures.Take(MaxErrorsPerReport))
        {
            var error = failure.Error;
            observations.AddError(new ErrorRecord(0, time, client.ToString(), failed.Worker, failure.Key, error.Kind.ToString(), error.TypeName, error.Message, error.StackTrace));
        }
    }

    private string NameOf(WorkerId worker) => _names.GetValueOrDefault(worker) ?? worker.ToString();
}
