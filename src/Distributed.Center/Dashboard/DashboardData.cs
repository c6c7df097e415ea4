using Akka.Actor;
using Distributed.Center.Core;
using Distributed.Protocol;

namespace Distributed.Center.Dashboard;

/// <summary>
/// One worker on the dashboard: the center's view of it joined with its latest status (null fields until one came);
/// <see cref="State"/> is <c>active</c> or <c>retiring</c> (<see cref="WorkerState"/>, as a word for the page and the JSON API).
/// </summary>
public sealed record WorkerRow(string Name, string Address, int Threads, int Keys, long StoredBytes, int Running, int Held, double TasksPerSecond,
    long? MemoryBytes, long? MemoryLimit, long? SpilledBytes, int? SpilledKeys, double? CpuPercent, long? BytesSent, long? BytesReceived,
    long? ExecutorRestarts, long? TasksRun, DateTimeOffset? StatusTime, string State = "active");

/// <summary>Progress on the dashboard: per connected client (counted by the center since it connected) and per computation seen while watched.</summary>
public sealed record ProgressRows(IReadOnlyList<ClientView> Clients, IReadOnlyList<ComputationProgress> Computations);

/// <summary>
/// What the dashboard shows, read without touching the center's core from a web thread: the core's
/// <see cref="CenterView"/> comes from the center actor by a question (at most a few times a second,
/// shared by every request in between), the rest from <see cref="CenterObservations"/>.
/// </summary>
public sealed class DashboardData(ActorSystem system, CenterObservations observations)
{
    /// <summary>How long one view of the center serves every request.</summary>
    public static readonly TimeSpan ViewLifetime = TimeSpan.FromMilliseconds(250);

    private readonly Lock _gate = new();
    private Task<CenterView>? _view;
    private long _viewTaken;

    /// <summary>The observations behind the dashboard.</summary>
    public CenterObservations Observations => observations;

    /// <summary>The center's view, at most <see cref="ViewLifetime"/> old.</summary>
    public Task<CenterView> ViewAsync()
    {
        lock (_gate)
        {
            var now = Environment.TickCount64;
            if (_view is { IsFaulted: false, IsCanceled: false } view && now - _viewTaken < ViewLifetime.TotalMilliseconds) return view;
            _viewTaken = now;
            return _view = system.ActorSelection("/user/center/center").Ask<CenterView>(CenterViewAsked.Instance, TimeSpan.FromSeconds(5));
        }
    }

    /// <summary>The workers, each with its latest status.</summary>
    public static IReadOnlyList<WorkerRow> Workers(CenterView view, IReadOnlyDictionary<string, WorkerStatusRecord> statuses) =>
        view.Workers.Select(w =>
        {
            var s = statuses.GetValueOrDefault(w.Name);
            var status = s?.Status;
            return new WorkerRow(w.Name, w.Address, w.Cores, w.Keys, w.StoredBytes, w.Running, w.Held, w.TasksPerSecond,
                status?.MemoryBytes, status?.MemoryLimit, status?.SpilledBytes, status?.SpilledKeys, status?.CpuPercent, status?.BytesSent,
                status?.BytesReceived, status?.ExecutorRestarts, status?.TasksRun, s?.Received, StateName(w.State));
        }).OrderBy(w => w.Name, StringComparer.Ordinal).ToList();

    private static string StateName(WorkerState state) => state == WorkerState.Retiring ? "retiring" : "active";

    /// <summary>Everything the page shows at once (pushed by server-sent events), with the task spans after <paramref name="afterSpan"/>.</summary>
    public async Task<DashboardState> StateAsync(long afterSpan)
    {
        var view = await ViewAsync().ConfigureAwait(false);
        var spans = observations.Spans(afterSpan);
        return new DashboardState(DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(), Workers(view, observations.Statuses()),
            new ProgressRows(view.Clients, observations.Computations()), view.Queues,
            new Totals(view.TasksSubmitted, view.TasksFinished, view.TasksFailed, view.KeysStored, view.BytesStored),
            observations.Errors().Take(50).ToList(), observations.Events().Take(100).ToList(), spans, spans.Count > 0 ? spans[^1].Sequence : afterSpan);
    }
}

/// <summary>The center's totals since it started.</summary>
public sealed record Totals(long TasksSubmitted, long TasksFinished, long TasksFailed, long KeysStored, long BytesStored);

/// <summary>What one server-sent event carries: the whole page, and the task spans since the previous event (up to <see cref="LastSpan"/>).</summary>
public sealed record DashboardState(long Time, IReadOnlyList<WorkerRow> Workers, ProgressRows Progress, TaskQueues Queues, Totals Totals,
    IReadOnlyList<ErrorRecord> Errors, IReadOnlyList<ClusterEvent> Events, IReadOnlyList<TaskSpan> Tasks, long LastSpan);
