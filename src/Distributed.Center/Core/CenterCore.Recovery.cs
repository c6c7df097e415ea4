using Distributed.Protocol;

namespace Distributed.Center.Core;

/// <summary>Recovery: a worker gone (its values made again from their lineage, its tasks run elsewhere) and inputs that could not be fetched.</summary>
public sealed partial class CenterCore
{
    /// <summary>Workers whose data port is being probed: tasks taken back for an input loss wait for them.</summary>
    private int _probing;

    private void OnWorkerConnectionDropped(WorkerConnectionDropped e)
    {
        // A killed worker's connection drops at once, long before heartbeats are missed: look closer.
        if (_workers.TryGet(e.Worker, out var worker)) Probe(worker);
    }

    /// <summary>
    /// Has the worker's data port probed. Refused means its process is gone (the kernel answers for a
    /// live or paused one): it is downed at once. A timeout proves nothing and is left to the failure
    /// detector.
    /// </summary>
    private void Probe(WorkerEntry worker)
    {
        if (worker.Probing) return;
        worker.Probing = true;
        _probing++;
        _commands.Add(new ProbeWorker(worker.Id, worker.Data));
    }

    private void OnWorkerProbed(WorkerProbed e)
    {
        if (_workers.TryGet(e.Worker, out var worker) && worker.Probing)
        {
            worker.Probing = false;
            _probing--;
            if (!e.Alive)
            {
                _commands.Add(new DownWorker(worker.Id));
                OnWorkerGone(worker.Id, "downed: its data port refuses connections, so its process is gone");
            }
        }
        if (_probing == 0) PlaceParked();
    }

    private void OnWorkerGone(WorkerId id, string how = "left the cluster")
    {
        if (!_workers.Remove(id, out var worker)) return;
        if (worker.Probing)
        {
            worker.Probing = false;
            _probing--;
        }
        _commands.Add(new WorkerForgotten(worker.Id));
        DropScattersTo(worker);
        if (_retirements.Count > 0 || _handOvers.Count > 0) RetirementWorkerGone(worker);
        foreach (var (replicationId, replication) in _replications.Where(r => r.Value.Target == worker).ToList())
        {
            _replications.Remove(replicationId);
            Tell(replication.Asker, new ReplicationFinished(replication.Keys, $"Worker {worker.Name} left the cluster.", replication.RequestId));
        }
        var lost = _keys.RemoveHolder(worker); // key → reads it still owed
        // Every value whose only copy died is made again from its lineage, upstream as far as needed,
        // without telling its client, which already has its completion.
        var ready = new List<PendingTask>();
        var remakes = new HashSet<PendingTask>();
        var unrecoverable = new List<FailedTask>();
        foreach (var (keyName, consumers) in lost) Remake(keyName, consumers, worker, ready, remakes, unrecoverable);
        // Tasks that have not run yet and read a lost value wait for it again; those that were running
        // on the dead worker run again elsewhere. Tasks sent to live workers are left alone: an input
        // they cannot fetch brings them back (RetryAfterInputLoss).
        var killers = new List<FailedTask>();
        foreach (var task in _tasks.All)
        {
            if (remakes.Contains(task)) continue;
            var wasRunningThere = task.AssignedTo == worker;
            if (task.AssignedTo is not null && !wasRunningThere) continue;
            if (wasRunningThere) worker.Unload(task); // gives its resources back, on an entry that is gone anyway
            task.AssignedTo = null;
            // A task that takes its worker down every time must not take the cluster down worker by worker.
            if (wasRunningThere && ++task.WorkerDeaths >= _settings.MaxWorkerDeaths)
            {
                killers.Add(new FailedTask(task.Spec.Key, Error(ErrorKind.WorkerDeath,
                    $"{task.Spec.Key} was running on {task.WorkerDeaths} workers that died (the last: {worker.Name}); it is not run again.")));
                continue;
            }
            foreach (var input in Inputs.Unique(task.Spec.Dependencies))
                if (lost.ContainsKey(input)) _tasks.WaitFor(task, input);
            if (wasRunningThere && task.WaitingFor == 0) ready.Add(task);
        }
        // One line per worker that goes, at information, with what the cluster does about it: a killed
        // worker is routine and recovered from, nothing a user must act on.
        Log($"Worker {worker.Name} at {worker.Address} {how}{RecoverySummary(ready.Count, remakes.Count, unrecoverable.Count + killers.Count)}");
        Placement.TakeHeld(worker, ready); // never sent: they wait for another worker
        if (killers.Count > 0) FailTasks(killers, null);
        if (unrecoverable.Count > 0) FailDependents(unrecoverable);
        _placement.Place(ready);
        AnswerWaitingWhoHas();
    }

    /// <summary>What recovering from a worker's loss takes, for its log line ("" when it held nothing in flight).</summary>
    internal static string RecoverySummary(int rerun, int remade, int failed)
    {
        var parts = new List<string>(3);
        if (rerun > 0) parts.Add($"{rerun} task{(rerun == 1 ? "" : "s")} to run again elsewhere");
        if (remade > 0) parts.Add($"{remade} lost value{(remade == 1 ? "" : "s")} to make again from lineage");
        if (failed > 0) parts.Add($"{failed} task{(failed == 1 ? "" : "s")} failed (see the errors)");
        return parts.Count == 0 ? "" : "; " + string.Join(", ", parts);
    }

    /// <summary>
    /// Makes <paramref name="keyName"/> again from the task that made it, after its only copy died
    /// with <paramref name="worker"/>; its inputs that are gone too are made again first.
    /// </summary>
    private void Remake(string keyName, int consumers, WorkerEntry worker, List<PendingTask> ready, HashSet<PendingTask> remakes, List<FailedTask> unrecoverable)
    {
        if (_tasks.TryGet(keyName, out var existing))
        {
            // Already being made again: one more reader, unless it is kept anyway (0 = until released).
            if (existing.RemakeForConsumers is > 0) existing.RemakeForConsumers += consumers;
            return;
        }
        if (_lineage.ProducerOf(keyName) is not { } producer || !_clients.TryGet(producer.Client, out var client))
        {
            var why = ScatteredLoss(keyName, worker) ?? (_keys.Adopted.Remove(keyName)
                ? $"{keyName} was lost with worker {worker.Name} and cannot be made again: it was made before the center restarted, so the task that made it is not known."
                : $"{keyName} was lost with worker {worker.Name} and cannot be made again (its task is not known any more).");
            // Remembered for the client that keeps it, until it releases it; a value nobody keeps
            // (an unclaimed adopted one, an intermediate) would never be released, so it is not.
            if (KeptByAnyone(keyName)) _keys.Lost[keyName] = why;
            unrecoverable.Add(new FailedTask(keyName, Error(ErrorKind.DataLost, why)));
            return;
        }
        var task = new PendingTask(producer.Spec, producer.Client, producer.Code) { RemakeForConsumers = consumers, InputShare = producer.InputShare };
        _tasks.Add(task, client);
        if (_published.ContainsKey(keyName)) _remakingPublished.Add(keyName);
        remakes.Add(task);
        foreach (var input in Inputs.Unique(producer.Spec.Dependencies))
        {
            if (_keys.TryGet(input, out var key))
            {
                if (key.RemainingConsumers > 0) key.RemainingConsumers++; // this run reads it once more
                continue;
            }
            Remake(input, 1, worker, ready, remakes, unrecoverable);
            _tasks.WaitFor(task, input);
        }
        if (task.WaitingFor == 0) ready.Add(task);
    }

    /// <summary>
    /// Takes back a task whose worker could not fetch an input: it waits for inputs being made
    /// again, and the holders of the others are probed; it goes out again once they are sorted out.
    /// </summary>
    private void RetryAfterInputLoss(PendingTask task, WorkerEntry reporter)
    {
        task.InputRetries++;
        reporter.Unload(task);
        task.AssignedTo = null;
        foreach (var input in Inputs.Unique(task.Spec.Dependencies))
        {
            if (_keys.TryGet(input, out var key))
            {
                foreach (var holder in key.Holders) if (holder != reporter) Probe(holder);
                continue;
            }
            if (!_tasks.Contains(input)) continue; // gone for good: running it again reports that
            _tasks.WaitFor(task, input);
        }
        _tasks.Park(task);
        if (_probing == 0) PlaceParked(); // nothing to wait for: the input is there again
    }

    /// <summary>Sends out again the tasks taken back for an input loss that wait for nothing now.</summary>
    private void PlaceParked() => _placement.Place(_tasks.TakeParked());
}
