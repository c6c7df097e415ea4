using Distributed.Protocol;

namespace Distributed.Center.Core;

/// <summary>What the center knows, copied for the dashboard and <c>/metrics</c>: built on the actor's thread, read on any.</summary>
public sealed record CenterView(
    IReadOnlyList<WorkerView> Workers,
    IReadOnlyList<ClientView> Clients,
    TaskQueues Queues,
    long TasksSubmitted,
    long TasksFinished,
    long TasksFailed,
    int KeysStored,
    long BytesStored);

/// <summary>One worker as the center sees it: <see cref="Running"/> tasks sent to it and not finished, <see cref="Held"/> meant for it and held back by the center.</summary>
public sealed record WorkerView(string Name, string Address, int Cores, int Keys, long StoredBytes, int Running, int Held, double TasksPerSecond,
    WorkerState State = WorkerState.Active);

/// <summary>One connected client's tasks since it connected (the progress <c>GetProgress</c> answers).</summary>
public sealed record ClientView(string Client, long Submitted, long Finished, long Failed, long Pending, long ResultBytes);

/// <summary>
/// The center's queues: every task not finished (<see cref="Pending"/>) is running on a worker, held
/// back for one, waiting for a worker that can run it (<see cref="Unplaced"/>, <see cref="Restricted"/>),
/// or waiting for its inputs.
/// </summary>
public sealed record TaskQueues(int Pending, int Running, int Held, int Unplaced, int Restricted, int WaitingForInputs);

/// <summary>Totals for <see cref="CenterView"/>, and the view itself.</summary>
public sealed partial class CenterCore
{
    // Since the center started, whichever client: a client's own counts leave with it.
    private long _tasksSubmittedTotal, _tasksFinishedTotal, _tasksFailedTotal;

    /// <summary>A copy of what the center knows now; costs a pass over the workers and clients, nothing while nobody asks.</summary>
    public CenterView View()
    {
        var workers = _workers.All.Select(w => new WorkerView(w.Name, w.Address, w.Cores, w.Keys.Count, w.StoredBytes, w.Load, w.Held.Count, Math.Round(w.TasksPerSecond, 1),
            w.Retiring ? WorkerState.Retiring : WorkerState.Active)).ToList();
        var clients = _clients.All.Select(c => new ClientView(c.Id.ToString(), c.Submitted, c.Finished, c.Failed, c.PendingTasks.Count, c.ResultBytes)).ToList();
        var running = workers.Sum(w => w.Running);
        var held = workers.Sum(w => w.Held);
        var restricted = _placement.WaitingRestricted.Count();
        var unplaced = _placement.UnplacedCount;
        var queues = new TaskQueues(_tasks.Count, running, held, unplaced, restricted, Math.Max(0, _tasks.Count - running - held - unplaced - restricted));
        return new CenterView(workers, clients, queues, _tasksSubmittedTotal, _tasksFinishedTotal, _tasksFailedTotal, _keys.Count, workers.Sum(w => w.StoredBytes));
    }
}
