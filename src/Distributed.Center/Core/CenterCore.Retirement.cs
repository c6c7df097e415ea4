using Distributed.Protocol;

namespace Distributed.Center.Core;

/// <summary>
/// Graceful retirement (dask's <c>retire_workers</c>): a retiring worker gets no more tasks (its queue
/// goes to the others), finishes what it was sent, and then the workers that remain copy every value
/// no other remaining worker holds, so nothing has to be made again from its lineage. Then it is told
/// <see cref="WorkerRetired"/>, is no longer named as a holder, and leaves. Values go to active workers
/// only: workers retiring together never hand values to each other. A retirement that outlasts
/// <see cref="CenterSettings.RetirementTimeout"/> ends with what was handed over by then.
/// </summary>
public sealed partial class CenterCore
{
    /// <summary>Hand-over rounds before a retirement gives up on the values it could not copy (copies can fail as their targets leave).</summary>
    private const int MaxHandOverRounds = 3;

    /// <summary>One worker's retirement, while it hands its values over.</summary>
    private sealed class Retirement(WorkerEntry worker)
    {
        public WorkerEntry Worker { get; } = worker;

        /// <summary>Copies asked of other workers and not yet reported, by replication id.</summary>
        public HashSet<long> OpenCopies { get; } = [];

        public int Rounds { get; set; }

        /// <summary>The timer that ends it when it takes too long (0: none).</summary>
        public long Timer { get; set; }

        /// <summary>Why the last round's copies failed, if they did.</summary>
        public string? CopyError { get; set; }
    }

    /// <summary>A client's request to retire some workers, answered when the last of them has.</summary>
    private sealed class RetirementRequest(ClientId asker, long requestId, IReadOnlyList<string> workers)
    {
        public ClientId Asker { get; } = asker;
        public long RequestId { get; } = requestId;
        public IReadOnlyList<string> Workers { get; } = workers;
        public HashSet<WorkerEntry> Waiting { get; } = [];
        public List<string> Errors { get; } = [];
    }

    /// <summary>Copies made for a retirement, by the replication id their worker reports them under.</summary>
    private sealed record HandOver(Retirement Retirement, WorkerEntry Target, IReadOnlyList<string> Keys);

    private readonly Dictionary<WorkerEntry, Retirement> _retirements = [];
    private readonly Dictionary<long, HandOver> _handOvers = [];
    private readonly List<RetirementRequest> _retirementRequests = [];
    private readonly Dictionary<long, Retirement> _retirementTimers = [];

    private void OnRetirementOffered(RetirementOffered e)
    {
        if (_workers.TryGet(e.Worker, out var worker)) Retire(worker);
    }

    private void OnRetirementAsked(RetirementAsked e)
    {
        if (!_clients.TryGet(e.Client, out _)) return;
        var targets = new List<WorkerEntry>();
        foreach (var name in e.Workers.Distinct(StringComparer.Ordinal))
        {
            if (!_workers.TryGet(name, out var worker))
            {
                Tell(e.Client, new WorkersRetired(e.Workers, $"There is no worker named {name}.", e.RequestId));
                return;
            }
            targets.Add(worker);
        }
        // Values must go somewhere: a client may not retire the last workers (a stopping worker may, and loses them).
        if (_workers.All.All(w => w.Retiring || targets.Contains(w)))
        {
            Tell(e.Client, new WorkersRetired(e.Workers, "No worker would remain to take their values: start another worker first.", e.RequestId));
            return;
        }
        var request = new RetirementRequest(e.Client, e.RequestId, e.Workers);
        request.Waiting.UnionWith(targets);
        _retirementRequests.Add(request);
        foreach (var worker in targets) Retire(worker);
    }

    private void Retire(WorkerEntry worker)
    {
        if (_retirements.ContainsKey(worker)) return;
        worker.Retiring = true;
        var retirement = _retirements[worker] = new Retirement(worker);
        Log($"Worker {worker.Name} at {worker.Address} retires: it gets no more tasks, and hands its {worker.Keys.Count} values to the other workers");
        if (_settings.RetirementTimeout is { } limit)
        {
            retirement.Timer = ++_nextTimer;
            _retirementTimers[retirement.Timer] = retirement;
            _commands.Add(new StartTimer(retirement.Timer, limit));
        }
        // Copies on their way to it for another retirement would only have to move again: that
        // retirement sends them to an active worker instead, in a round that does not count.
        var redirected = new HashSet<Retirement>();
        foreach (var (id, handOver) in _handOvers)
            if (handOver.Target == worker && handOver.Retirement.OpenCopies.Remove(id)) redirected.Add(handOver.Retirement);
        foreach (var other in redirected) other.Rounds = Math.Max(0, other.Rounds - 1);
        // Its queue goes to the workers that remain; what it was sent, it finishes first.
        var queued = new List<PendingTask>();
        Placement.TakeHeld(worker, queued);
        _placement.Place(queued);
    }

    /// <summary>Moves every retirement on: hands values over once the worker's tasks are done, and ends it once they are copied.</summary>
    private void AdvanceRetirements()
    {
        foreach (var retirement in _retirements.Values.ToList())
        {
            var worker = retirement.Worker;
            if (retirement.OpenCopies.Count > 0 || worker.Load > 0) continue;
            var alone = OnlyHeldBy(worker);
            if (alone.Count == 0)
            {
                EndRetirement(retirement, null);
                continue;
            }
            var remaining = _workers.All.Where(w => !w.Retiring).ToList();
            if (remaining.Count == 0)
            {
                EndRetirement(retirement, $"no other worker remains to take its values: {alone.Count} leave with it");
                continue;
            }
            if (retirement.Rounds == MaxHandOverRounds)
            {
                EndRetirement(retirement, $"{alone.Count} of its values could not be copied to another worker ({retirement.CopyError ?? "no reason given"})");
                continue;
            }
            retirement.Rounds++;
            retirement.CopyError = null;
            // The largest values first, each to the remaining worker with the fewest stored bytes so far.
            var planned = remaining.ToDictionary(w => w, w => w.StoredBytes);
            var byTarget = new Dictionary<WorkerEntry, List<RemoteInput>>();
            foreach (var key in alone.OrderByDescending(k => k.Size))
            {
                var target = planned.MinBy(p => p.Value).Key;
                planned[target] += Math.Max(1, key.Size);
                if (!byTarget.TryGetValue(target, out var inputs)) byTarget[target] = inputs = [];
                inputs.Add(new RemoteInput(key.Key, key.Holders.Select(h => h.Data).ToList()));
                target.ExpectedCopies.Add(key.Key);
            }
            foreach (var (target, inputs) in byTarget)
            {
                var id = ++_nextReplication; // one id space with replications and scatters: a worker reports all as KeysAdded
                _handOvers[id] = new HandOver(retirement, target, inputs.Select(i => i.Key).ToList());
                retirement.OpenCopies.Add(id);
                Tell(target, new FetchKeys(inputs, id));
            }
        }
    }

    /// <summary>
    /// The values <paramref name="worker"/> holds that no worker staying holds, and that no other retiring
    /// worker is handing over already (a copy one retiring worker made on another is handed over once).
    /// </summary>
    private List<KeyEntry> OnlyHeldBy(WorkerEntry worker)
    {
        HashSet<string>? handedOverByOthers = null;
        foreach (var handOver in _handOvers.Values)
            if (handOver.Retirement.Worker != worker && !handOver.Target.Retiring) (handedOverByOthers ??= new(StringComparer.Ordinal)).UnionWith(handOver.Keys);
        var alone = new List<KeyEntry>();
        foreach (var keyName in worker.Keys)
            if (_keys.TryGet(keyName, out var key) && !key.Holders.Any(h => h != worker && !h.Retiring) && handedOverByOthers?.Contains(keyName) != true)
                alone.Add(key);
        return alone;
    }

    /// <summary>A retirement's time is up: it ends with what was handed over so far, and the worker leaves.</summary>
    private bool RetirementTimedOut(long timer)
    {
        if (!_retirementTimers.Remove(timer, out var retirement)) return false;
        if (_retirements.GetValueOrDefault(retirement.Worker) == retirement)
        {
            var left = OnlyHeldBy(retirement.Worker).Count;
            EndRetirement(retirement, $"it did not finish retiring within {_settings.RetirementTimeout!.Value.TotalSeconds:0.#} s (distributed.center.retirement-timeout)"
                + (left > 0 ? $": {left} of its values were not handed over, and are made again from their lineage when needed" : ""));
        }
        return true;
    }

    /// <summary>Copies a hand-over asked for were reported: the retirement goes on at the end of this event.</summary>
    private void HandOverReported(long id, HandOver handOver, string? error)
    {
        _handOvers.Remove(id);
        handOver.Retirement.OpenCopies.Remove(id);
        if (error is not null) handOver.Retirement.CopyError = error;
    }

    /// <summary>A worker left: hand-overs to it are given up (the next round picks another), and its own retirement ends.</summary>
    private void RetirementWorkerGone(WorkerEntry worker)
    {
        foreach (var (id, handOver) in _handOvers.Where(h => h.Value.Target == worker).ToList())
            HandOverReported(id, handOver, $"worker {worker.Name} left while copying");
        if (_retirements.TryGetValue(worker, out var retirement))
            EndRetirement(retirement, "it left before its values were handed over");
    }

    private void EndRetirement(Retirement retirement, string? error)
    {
        var worker = retirement.Worker;
        _retirements.Remove(worker);
        _retirementTimers.Remove(retirement.Timer);
        if (_workers.TryGet(worker.Id, out _))
        {
            // The others hold its values now: it is named as a holder no more, so that nobody fetches from a worker about to exit.
            if (error is null) _keys.DropCopiesOf(worker);
            Log(error is null
                ? $"Worker {worker.Name} retired: every value it held is on another worker"
                : $"Worker {worker.Name} retired: {error}");
            Tell(worker, new WorkerRetired(error));
        }
        foreach (var request in _retirementRequests.Where(r => r.Waiting.Remove(worker)).ToList())
        {
            if (error is not null) request.Errors.Add($"{worker.Name}: {error}");
            if (request.Waiting.Count > 0) continue;
            _retirementRequests.Remove(request);
            Tell(request.Asker, new WorkersRetired(request.Workers, request.Errors.Count == 0 ? null : string.Join("; ", request.Errors), request.RequestId));
        }
    }
}
