using Distributed.Protocol;

namespace Distributed.Center.Core;

/// <summary>
/// Where and when ready tasks run. Each ready task waits in the queue of the worker it is meant for
/// (the one holding most of its input bytes, unless that one is much busier), and goes out while that
/// worker has room in its window: a fixed window for graph tasks, bounded further by the
/// intermediates they leave; for Map and Apply tasks, a window sized by the worker's finishing rate.
/// A worker with room and nothing of its own takes tasks from the busiest queue. Restricted tasks
/// (allowed workers, resources) wait in a queue of their own at the center instead, are never taken
/// by another worker, and go out first, to a worker they allow that has their resources free.
/// </summary>
internal sealed class Placement(CenterSettings settings, TimeProvider clock, WorkerRegistry workers, KeyTable keys,
    IReadOnlyDictionary<string, FunctionSpec> functions, List<CenterCommand> commands)
{
    /// <summary>Ready tasks that came while no worker was registered.</summary>
    private readonly Queue<PendingTask> _unplaced = new();

    /// <summary>Map and Apply tasks wait behind graph tasks in a worker's queue, in their order of arrival.</summary>
    private const long UnorderedPriority = 1L << 48;
    private long _unorderedSequence;

    /// <summary>
    /// Ready restricted tasks waiting for a worker they allow with room and their resources free: one
    /// queue per set of restrictions, in order of arrival, so that a pass tries each set once however
    /// many tasks wait behind one GPU.
    /// </summary>
    private readonly Dictionary<TaskRestrictions, Queue<PendingTask>> _restricted = new(RestrictionsComparer.Instance);

    /// <summary>Restrictions already logged as ones no registered worker can meet (once each, until a worker joins).</summary>
    private readonly HashSet<string> _reportedUnmet = new(StringComparer.Ordinal);

    public int UnplacedCount => _unplaced.Count;

    /// <summary>Restricted tasks waiting for a worker that allows them and has their resources free (some maybe dropped meanwhile).</summary>
    public IEnumerable<PendingTask> WaitingRestricted => _restricted.Values.SelectMany(q => q);

    /// <summary>A worker joined: restrictions it cannot meet either are logged again.</summary>
    public void WorkerJoined() => _reportedUnmet.Clear();

    /// <summary>Takes the tasks that waited for a worker to exist.</summary>
    public List<PendingTask> TakeUnplaced()
    {
        var waiting = _unplaced.ToList();
        _unplaced.Clear();
        return waiting;
    }

    /// <summary>Queues <paramref name="ready"/> tasks, then sends every worker what fits in its window.</summary>
    public void Place(IReadOnlyCollection<PendingTask> ready)
    {
        if (workers.Count == 0 || !AnyTakesTasks())
        {
            foreach (var task in ready) _unplaced.Enqueue(task);
            return;
        }
        var batches = new Dictionary<(WorkerEntry Worker, ClientId Client, string Version), List<PendingTask>>();
        foreach (var task in ready)
        {
            // Its client handed it to this worker, which runs it now: it is recorded there, whatever the windows say.
            if (task.DirectTo is { Retiring: false } direct && workers.TryGet(direct.Id, out var registered) && ReferenceEquals(registered, direct))
            {
                Assign(task, direct, batches);
                continue;
            }
            if (task.Spec.Restrictions is not null)
            {
                QueueRestricted(task);
                continue;
            }
            if (task.Spec.Priority >= 0)
            {
                // A graph task waits in the queue of the worker it is meant for until that worker has room.
                // Balance comes from the windows and from idle workers taking held tasks, so a graph
                // task simply goes where its inputs are.
                var target = task.InputShare is { } share ? WorkerForInput(share) : Choose(task, balance: false);
                target.Held.Enqueue(task, task.Spec.Priority);
                continue;
            }
            // A Map or Apply task too waits in its worker's queue, so that a worker that joins or
            // runs short later can take it: only a window of tasks is sent ahead to each worker.
            Choose(task).Held.Enqueue(task, UnorderedPriority + _unorderedSequence++);
        }
        // Restricted tasks first: they can run in fewer places, and a worker's own queue would
        // otherwise take every slot that frees on it.
        if (_restricted.Count > 0) PlaceRestricted(batches);
        // Graph tasks go out only while their worker has room, lowest priority first: a task that
        // finishes a branch overtakes the inputs of branches not yet started, which is what keeps a
        // wide graph's intermediates few. A worker with room and nothing of its own takes the next
        // task of the worker with the most waiting.
        foreach (var worker in workers.All)
        {
            if (worker.Retiring) continue;
            while (NextHeld(worker, worker) is { } next) Assign(next, worker, batches);
        }
        foreach (var worker in workers.All)
        {
            if (worker.Retiring) continue;
            while (worker.Held.Count == 0)
            {
                // Only from a busier worker: a worker with a large window must not empty the queue of
                // one with a small window that will get to its tasks as soon.
                var victim = workers.All.MaxBy(w => w.Held.Count);
                if (victim is null || victim.Busyness <= worker.Busyness + 1.0 / worker.Cores || NextHeld(victim, worker) is not { } stolen) break;
                Assign(stolen, worker, batches);
            }
        }
        foreach (var ((worker, client, _), tasks) in batches)
            for (var start = 0; start < tasks.Count; start += settings.MaxTasksPerMessage)
                commands.Add(Batch(worker, client, tasks.GetRange(start, Math.Min(settings.MaxTasksPerMessage, tasks.Count - start))));
    }

    private void QueueRestricted(PendingTask task)
    {
        if (task.InRestrictedQueue) return;
        task.InRestrictedQueue = true;
        var restrictions = task.Spec.Restrictions!;
        if (!_restricted.TryGetValue(restrictions, out var queue)) _restricted[restrictions] = queue = new Queue<PendingTask>();
        queue.Enqueue(task);
        foreach (var worker in workers.All)
            if (!worker.Retiring && worker.CouldRun(restrictions)) return;
        // It waits (a worker that can may join, as in dask), but the reason shows in the center's log.
        var wanted = Describe(restrictions);
        if (_reportedUnmet.Add(wanted))
            commands.Add(new LogLine(true, $"Task {task.Spec.Key} waits: no registered worker {wanted}; it runs once such a worker joins"));
    }

    private static string Describe(TaskRestrictions restrictions)
    {
        var parts = new List<string>(2);
        if (restrictions.Workers.Count > 0) parts.Add($"is one of [{string.Join(", ", restrictions.Workers)}]");
        if (restrictions.Resources.Count > 0) parts.Add($"offers {ResourceAmounts.Format(restrictions.Resources)}");
        return parts.Count == 0 ? "is restricted" : string.Join(" and ", parts);
    }

    /// <summary>
    /// Sends waiting restricted tasks, each set of restrictions in order of arrival, to a worker they
    /// allow that has room and their resources free (taking them until the task ends). Within a pass
    /// room only shrinks: the first task of a set that finds no worker stops that set until the next.
    /// </summary>
    private void PlaceRestricted(Dictionary<(WorkerEntry Worker, ClientId Client, string Version), List<PendingTask>> batches)
    {
        List<TaskRestrictions>? emptied = null;
        foreach (var (restrictions, queue) in _restricted)
        {
            while (queue.TryPeek(out var task))
            {
                if (!IsSendable(task))
                {
                    queue.Dequeue();
                    task.InRestrictedQueue = false; // dropped, failed, or waiting for an input again
                    continue;
                }
                task.AddsValue = task.Spec.Priority >= 0 && !FreesAnInput(task);
                if (RestrictedTarget(task) is not { } target)
                {
                    task.AddsValue = false;
                    break;
                }
                queue.Dequeue();
                task.InRestrictedQueue = false;
                target.Take(task);
                Assign(task, target, batches);
            }
            if (queue.Count == 0) (emptied ??= []).Add(restrictions);
        }
        if (emptied is not null) foreach (var restrictions in emptied) _restricted.Remove(restrictions);
    }

    /// <summary>
    /// Among the workers the task allows that have room and its resources free: the one holding most
    /// of its input bytes unless much busier, otherwise the least busy; null if none.
    /// </summary>
    private WorkerEntry? RestrictedTarget(PendingTask task)
    {
        var restrictions = task.Spec.Restrictions!;
        WorkerEntry? leastBusy = null;
        WorkerEntry? holder = null;
        long holderBytes = 0;
        foreach (var worker in workers.All)
        {
            if (worker.Retiring || !worker.IsAllowed(restrictions) || !worker.HasFree(restrictions.Resources) || !HasRoomFor(task, worker)) continue;
            if (leastBusy is null || worker.Busyness < leastBusy.Busyness) leastBusy = worker;
            if (task.Spec.Dependencies.Count == 0) continue;
            long bytes = 0;
            foreach (var dependency in task.Spec.Dependencies)
                if (keys.TryGet(dependency, out var key) && key.Holders.Contains(worker)) bytes += Math.Max(1, key.Size);
            if (bytes > holderBytes) (holder, holderBytes) = (worker, bytes);
        }
        return holder is not null && holder.Busyness <= leastBusy!.Busyness + settings.BusyMargin ? holder : leastBusy;
    }

    /// <summary>Restrictions as the same set: the same workers in the same order, and the same amounts.</summary>
    private sealed class RestrictionsComparer : IEqualityComparer<TaskRestrictions>
    {
        public static readonly RestrictionsComparer Instance = new();

        public bool Equals(TaskRestrictions? a, TaskRestrictions? b)
        {
            if (ReferenceEquals(a, b)) return true;
            if (a is null || b is null || a.Workers.Count != b.Workers.Count || a.Resources.Count != b.Resources.Count) return false;
            for (var i = 0; i < a.Workers.Count; i++)
                if (!string.Equals(a.Workers[i], b.Workers[i], StringComparison.Ordinal)) return false;
            foreach (var (name, amount) in a.Resources)
                if (!b.Resources.TryGetValue(name, out var other) || other != amount) return false;
            return true;
        }

        public int GetHashCode(TaskRestrictions restrictions)
        {
            var hash = new HashCode();
            foreach (var worker in restrictions.Workers) hash.Add(worker, StringComparer.Ordinal);
            // Order-free over the resources: the same amounts in another order are the same set.
            var resources = 0;
            foreach (var (name, amount) in restrictions.Resources) resources ^= HashCode.Combine(StringComparer.Ordinal.GetHashCode(name), amount);
            hash.Add(resources);
            return hash.ToHashCode();
        }
    }

    /// <summary>Takes every task still queued for <paramref name="worker"/> (it left): they wait for another worker.</summary>
    public static void TakeHeld(WorkerEntry worker, List<PendingTask> into)
    {
        while (worker.Held.TryDequeue(out var next, out _))
            if (IsSendable(next))
                into.Add(next);
    }

    /// <summary>Updates the worker's finishing rate with <paramref name="finished"/> tasks reported now.</summary>
    public void MeasureRate(WorkerEntry worker, int finished)
    {
        var now = clock.GetTimestamp();
        var since = worker.RateSince;
        worker.RateSince = now;
        if (since == 0 || finished == 0) return;
        var rate = finished / Math.Max(clock.GetElapsedTime(since, now).TotalSeconds, 0.001);
        worker.TasksPerSecond = worker.TasksPerSecond == 0 ? rate : 0.7 * worker.TasksPerSecond + 0.3 * rate;
    }

    /// <summary>Graph tasks a worker may always have at once: enough to keep its threads and the pipe busy, few enough to bound memory.</summary>
    public int OrderedWindow(WorkerEntry worker) => settings.GraphTasksPerCore * worker.Cores;

    /// <summary>
    /// Map and Apply tasks a worker may have at once: as many as for a graph, or as many as it
    /// finishes in the window's seconds when that is more (tiny tasks then travel in large
    /// batches), but beyond that never more than half of its queue, so that a worker that joins or
    /// runs short can still take a share (a rate measured on quick tasks can overstate slow ones).
    /// </summary>
    public int UnorderedWindow(WorkerEntry worker) =>
        Math.Max(OrderedWindow(worker), (int)Math.Min(Math.Min(settings.MaxWindow, worker.TasksPerSecond * settings.WindowSeconds), (worker.Load + worker.Held.Count) / 2));

    /// <summary>Value-adding graph tasks in flight plus unread intermediates a worker may have before more such tasks wait beyond the fixed window.</summary>
    public int IntermediatesWindow(WorkerEntry worker) => worker.Cores * settings.IntermediatesPerCore;

    /// <summary>
    /// Whether <paramref name="worker"/> may be sent <paramref name="task"/> now. A graph task always
    /// fits in the fixed window; beyond it, up to the rate-sized window, a task that frees an input
    /// (it is the last reader of one) goes, and a task that adds a value (<see cref="PendingTask.AddsValue"/>,
    /// set just before) only while the worker has few such tasks in flight and few unread
    /// intermediates: graph inputs cannot run far ahead of the tasks that read them.
    /// </summary>
    private bool HasRoomFor(PendingTask task, WorkerEntry worker)
    {
        if (task.Spec.Priority < 0) return worker.Load < UnorderedWindow(worker);
        if (worker.Load < OrderedWindow(worker)) return true;
        if (worker.Load >= UnorderedWindow(worker)) return false;
        return !task.AddsValue || worker.AddingInFlight + worker.HeldIntermediates < IntermediatesWindow(worker);
    }

    /// <summary>Whether running the task lets an input be deleted: it is the last task to read it.</summary>
    private bool FreesAnInput(PendingTask task)
    {
        foreach (var input in task.Spec.Dependencies)
            if (keys.TryGet(input, out var key) && key.RemainingConsumers == 1) return true;
        return false;
    }

    private void Assign(PendingTask task, WorkerEntry worker, Dictionary<(WorkerEntry Worker, ClientId Client, string Version), List<PendingTask>> batches)
    {
        task.AssignedTo = worker;
        if (worker.Load == 0)
        {
            // Idle time is not counted against its rate, and after a pause the rate of earlier work
            // (tiny warm-up tasks, say) says nothing about the next: the window starts small again.
            var now = clock.GetTimestamp();
            if (worker.RateSince != 0 && clock.GetElapsedTime(worker.RateSince, now) > settings.StaleRate) worker.TasksPerSecond = 0;
            worker.RateSince = now;
        }
        worker.Load++;
        if (task.AddsValue) worker.AddingInFlight++;
        var group = (worker, task.Client, task.Code.Version);
        if (!batches.TryGetValue(group, out var list)) batches[group] = list = [];
        list.Add(task);
    }

    private RunOnWorker Batch(WorkerEntry worker, ClientId client, List<PendingTask> tasks)
    {
        var batchFunctions = new Dictionary<string, FunctionSpec>();
        var remote = new Dictionary<string, RemoteInput>();
        var specs = new TaskSpec[tasks.Count];
        for (var i = 0; i < tasks.Count; i++)
        {
            var task = tasks[i];
            specs[i] = task.Spec;
            batchFunctions.TryAdd(task.Spec.FunctionId, functions[task.Spec.FunctionId]);
            foreach (var dependency in task.Spec.Dependencies)
            {
                if (remote.ContainsKey(dependency) || !keys.TryGet(dependency, out var key) || key.Holders.Contains(worker)) continue;
                remote[dependency] = new RemoteInput(dependency, key.Holders.Select(h => h.Data).ToList());
                worker.ExpectedCopies.Add(dependency);
            }
        }
        return new RunOnWorker(worker.Id, client, tasks[0].Code, batchFunctions.Values.ToList(), specs, remote.Values.ToList());
    }

    /// <summary>
    /// Graph inputs next to each other in the graph's order are siblings: each worker takes one
    /// contiguous share of them, so the tasks that combine them find their inputs in place instead of
    /// fetching every other one (a worker that runs out of its own work takes from the others).
    /// </summary>
    private WorkerEntry WorkerForInput(double share)
    {
        var inOrder = workers.ByName();
        var worker = inOrder[Math.Min(inOrder.Length - 1, (int)(share * inOrder.Length))];
        return worker.Retiring ? Choose(null, balance: false) : worker;
    }

    /// <summary>The held task of <paramref name="source"/> to send to <paramref name="target"/> next, if the target has room for it.</summary>
    private PendingTask? NextHeld(WorkerEntry source, WorkerEntry target)
    {
        while (source.Held.TryPeek(out var next, out _))
        {
            if (!IsSendable(next))
            {
                source.Held.Dequeue(); // dropped, failed or placed meanwhile
                continue;
            }
            next.AddsValue = next.Spec.Priority >= 0 && !FreesAnInput(next);
            if (!HasRoomFor(next, target)) return null;
            source.Held.Dequeue();
            return next;
        }
        return null;
    }

    /// <summary>Whether a worker that is not retiring is registered: otherwise ready tasks wait for one.</summary>
    private bool AnyTakesTasks()
    {
        foreach (var worker in workers.All)
            if (!worker.Retiring) return true;
        return false;
    }

    /// <summary>Whether a held task may still go out: not dropped or failed, not placed, and its inputs are there.</summary>
    private static bool IsSendable(PendingTask task) => task.Current && task.AssignedTo is null && task.WaitingFor == 0;

    /// <summary>
    /// The worker holding most of the task's input bytes, unless it is much busier than the least busy
    /// worker (moving inputs is cheaper than waiting behind a long queue); otherwise the least busy.
    /// </summary>
    private WorkerEntry Choose(PendingTask? task, bool balance = true)
    {
        WorkerEntry? leastBusy = null;
        foreach (var worker in workers.All)
            if (!worker.Retiring && (leastBusy is null || worker.Busyness < leastBusy.Busyness)) leastBusy = worker;
        if (task is null || task.Spec.Dependencies.Count == 0) return leastBusy!;
        WorkerEntry? holder = null;
        long holderBytes = -1;
        Dictionary<WorkerEntry, long>? bytes = null;
        foreach (var dependency in task.Spec.Dependencies)
        {
            if (!keys.TryGet(dependency, out var key)) continue;
            bytes ??= [];
            foreach (var h in key.Holders)
            {
                if (h.Retiring) continue;
                var total = bytes[h] = bytes.GetValueOrDefault(h) + Math.Max(1, key.Size);
                if (total > holderBytes) (holder, holderBytes) = (h, total);
            }
        }
        if (holder is null) return leastBusy!;
        return !balance || holder.Busyness <= leastBusy!.Busyness + settings.BusyMargin ? holder : leastBusy!;
    }
}
