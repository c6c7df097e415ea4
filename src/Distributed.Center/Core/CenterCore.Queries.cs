using Distributed.Protocol;

namespace Distributed.Center.Core;

/// <summary>The clients' questions (who holds which keys, which workers there are) and the copies they ask for.</summary>
public sealed partial class CenterCore
{
    /// <summary>Copies asked by a client, made by <see cref="Target"/>.</summary>
    private sealed record Replication(ClientId Asker, long RequestId, WorkerEntry Target, IReadOnlyList<string> Keys);

    /// <summary>Copies a client asked for, by the id their worker reports them under.</summary>
    private readonly Dictionary<long, Replication> _replications = [];
    private long _nextReplication;

    /// <summary>Questions about keys being made again, answered once they exist.</summary>
    private readonly List<(ClientId Asker, HoldersAsked Question)> _whoHasWaiting = [];

    private void OnHoldersAsked(HoldersAsked e)
    {
        if (!_clients.TryGet(e.Client, out var client)) return;
        OwnKeys(client, e.Keys, nameof(WhoHas)); // refuses (logs) a question about another client's keys
        // A value being made again (its only copy died) is answered once it exists again.
        if (e.Keys.Any(k => _tasks.Contains(k) && client.Owns(k)))
        {
            _whoHasWaiting.Add((e.Client, e));
            return;
        }
        AnswerWhoHas(e);
    }

    private void AnswerWaitingWhoHas()
    {
        if (_whoHasWaiting.Count == 0) return;
        var answerable = _whoHasWaiting.Where(w => !w.Question.Keys.Any(_tasks.Contains) || !_clients.Contains(w.Asker)).ToList();
        foreach (var waiting in answerable)
        {
            _whoHasWaiting.Remove(waiting);
            AnswerWhoHas(waiting.Question);
        }
    }

    private void AnswerWhoHas(HoldersAsked question)
    {
        if (!_clients.TryGet(question.Client, out var client)) return; // gone while it waited
        var holders = new Dictionary<string, IReadOnlyList<WorkerInfo>>();
        Dictionary<string, string>? lost = null;
        foreach (var key in question.Keys)
        {
            // Another client's key is answered as one nobody holds.
            if (!client.Owns(key))
            {
                holders[key] = [];
                continue;
            }
            holders[key] = _keys.TryGet(key, out var state) ? state.Holders.Select(h => h.Describe()).ToList() : [];
            if (_keys.Lost.TryGetValue(key, out var why)) (lost ??= [])[key] = why;
        }
        Tell(question.Client, new WhoHasReply(holders, lost, question.RequestId));
    }

    private void OnWorkersAsked(WorkersAsked e)
    {
        if (!_clients.TryGet(e.Client, out var client)) return;
        // A client sees the keys of its own values only: other clients' key names are theirs.
        var keys = e.IncludeKeys
            ? _workers.All.ToDictionary(w => w.Name, w => (IReadOnlyList<string>)w.Keys.Where(client.Keys.Contains).OrderBy(k => k, StringComparer.Ordinal).ToList())
            : new Dictionary<string, IReadOnlyList<string>>();
        Tell(e.Client, new WorkersReply(_workers.All.Select(w => w.Describe()).ToList(), keys, e.RequestId));
    }

    private void OnProgressAsked(ProgressAsked e)
    {
        if (!_clients.TryGet(e.Client, out _)) return;
        var clients = _clients.All.Select(c => new ClientProgress(c.Id.ToString(), c.Submitted, c.Finished, c.Failed, c.PendingTasks.Count, c.ResultBytes)).ToList();
        Tell(e.Client, new ProgressReply(clients, e.Client.ToString(), e.RequestId));
    }

    private void OnReplicationAsked(ReplicationAsked e)
    {
        if (!_clients.TryGet(e.Client, out var client)) return;
        if (!_workers.TryGet(e.Worker, out var target))
        {
            Tell(e.Client, new ReplicationFinished(e.Keys, $"There is no worker named {e.Worker}.", e.RequestId));
            return;
        }
        var inputs = new List<RemoteInput>();
        foreach (var keyName in e.Keys)
        {
            if (!client.Owns(keyName) || !_keys.TryGet(keyName, out var key) || key.Holders.Count == 0)
            {
                if (_clients.OwnedByAnother(client, keyName)) _commands.Add(new RefuseClient(e.Client, nameof(ReplicateKeys), $"the key {keyName} belongs to another client"));
                Tell(e.Client, new ReplicationFinished(e.Keys, $"The key {keyName} is not on the cluster.", e.RequestId));
                return;
            }
            if (!key.Holders.Contains(target)) inputs.Add(new RemoteInput(keyName, key.Holders.Select(h => h.Data).ToList()));
        }
        if (inputs.Count == 0)
        {
            Tell(e.Client, new ReplicationFinished(e.Keys, null, e.RequestId));
            return;
        }
        var id = ++_nextReplication;
        _replications[id] = new Replication(e.Client, e.RequestId, target, e.Keys);
        foreach (var input in inputs) target.ExpectedCopies.Add(input.Key);
        Tell(target, new FetchKeys(inputs, id));
    }

    private void OnCopiesStored(CopiesStored e)
    {
        if (!_workers.TryGet(e.Worker, out var worker)) return;
        // A scatter's report counts from the worker it was planned for only; from any other it is a forged one.
        if (e.ReplicationId is { } scatterId && _scatters.TryGetValue(scatterId, out var scatter) && scatter.Target == worker)
        {
            _scatters.Remove(scatterId);
            OnScatterStored(worker, scatter, e);
            return;
        }
        Replication? replication = null;
        HandOver? handOver = null;
        if (e.ReplicationId is { } handOverId && _handOvers.TryGetValue(handOverId, out handOver) && handOver.Target == worker)
            HandOverReported(handOverId, handOver, e.Error);
        else if (e.ReplicationId is { } id && (!_replications.TryGetValue(id, out replication) || replication.Target != worker))
        {
            _commands.Add(new RefuseWorker(worker.Id, nameof(KeysAdded), $"it answered replication {id}, which it was not asked for"));
            // Values put on it by someone the center did not send (a forged scatter): not kept there.
            var strays = e.Keys.Where(k => !(_keys.TryGet(k.Key, out var held) && held.Holders.Contains(worker)) && !worker.ExpectedCopies.Contains(k.Key)
                && !(_tasks.TryGet(k.Key, out var making) && making.AssignedTo == worker)).Select(k => k.Key).ToList();
            if (strays.Count > 0) Tell(worker, new DeleteKeys(strays));
            return;
        }
        if (replication is not null) _replications.Remove(e.ReplicationId!.Value);
        var unknown = new List<string>();
        List<string>? untracked = null;
        foreach (var stored in e.Keys)
        {
            // A worker holds a copy only of what this center told it to fetch: nobody else becomes a holder.
            if (!worker.ExpectedCopies.Remove(stored.Key))
            {
                var known = _keys.TryGet(stored.Key, out var held);
                if (known && held.Holders.Contains(worker)) continue; // fetched twice for two batches: one copy
                // Released while it was copied (the normal race), or never asked for: either way no
                // holder is recorded, so the copy is deleted there rather than left forever.
                if (known) _commands.Add(new RefuseWorker(worker.Id, nameof(KeysAdded), $"it reported a copy of {stored.Key}, which it was not told to fetch"));
                (untracked ??= []).Add(stored.Key);
                continue;
            }
            if (_keys.TryGet(stored.Key, out var key)) KeyTable.AddHolder(key, worker);
            // Being made again on this very worker (its only copy died meanwhile): the run, sent
            // before any delete could be, overwrites this copy and reports it. Made elsewhere or
            // released, the copy is deleted; a later run here comes after the delete.
            else if (!(_tasks.TryGet(stored.Key, out var making) && making.AssignedTo == worker)) unknown.Add(stored.Key);
        }
        if (unknown.Count > 0 || untracked is not null) Tell(worker, new DeleteKeys([.. unknown, .. untracked ?? []]));
        if (replication is null) return;
        var error = e.Error ?? (unknown.Count == 0 ? null : $"The keys {string.Join(", ", unknown)} were released while being copied.");
        Tell(replication.Asker, new ReplicationFinished(replication.Keys, error, replication.RequestId));
    }
}
