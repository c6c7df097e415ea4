using Distributed.Protocol;

namespace Distributed.Center.Core;

/// <summary>
/// Values a client scatters (puts on the workers itself, over their data channels, with no task) and
/// named datasets (values kept for any client under a name until unpublished).
/// </summary>
/// <remarks>
/// A scatter goes in three steps: the client asks where (<see cref="ScatterAsked"/>: the keys become
/// its own at once, so that no other client can take them meanwhile), puts the values on the workers
/// named, and asks to hear when they are recorded (<see cref="ScatterAwaited"/>). A worker's report of
/// a scatter (<see cref="CopiesStored"/> with the scatter's id) is the only way a scattered value gets
/// a holder: a worker put values on by anybody else, or under a key it was not planned for, is told to
/// delete them. A dataset's keys are kept while it is published, whoever released them meanwhile; a
/// client that gets a dataset owns its keys too (it may read them and compute on them, not replace them).
/// </remarks>
public sealed partial class CenterCore
{
    /// <summary>Values one client puts on one worker, under one id, until the worker reports them.</summary>
    private sealed record PendingScatter(ClientId Client, WorkerEntry Target, Dictionary<string, long> Keys);

    private readonly Dictionary<long, PendingScatter> _scatters = [];
    private readonly List<ScatterAwaited> _scatterWaiting = [];

    /// <summary>Keys whose values came from a client (no lineage): a loss says so.</summary>
    private readonly HashSet<string> _scattered = new(StringComparer.Ordinal);

    private readonly Dictionary<string, IReadOnlyList<string>> _datasets = new(StringComparer.Ordinal);

    /// <summary>For each published key, how many datasets hold it.</summary>
    private readonly Dictionary<string, int> _published = new(StringComparer.Ordinal);

    /// <summary>Where a scattered value goes: each new key to the worker with the fewest bytes (counting this plan), or to every worker for a broadcast.</summary>
    private void OnScatterAsked(ScatterAsked e)
    {
        if (!_clients.TryGet(e.Client, out var client)) return;
        var refused = new Dictionary<string, string>(StringComparer.Ordinal);
        var planned = new Dictionary<WorkerEntry, Dictionary<string, long>>();
        var workers = _workers.ByName().Where(w => !w.Retiring).ToArray();
        var bytes = workers.ToDictionary(w => w, w => w.StoredBytes);
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var stored in e.Keys)
        {
            var keyName = stored.Key;
            if (!seen.Add(keyName)) continue;
            if (keyName.Length == 0 || stored.Size < 0)
            {
                refused[keyName] = "A scattered value needs a key and a size.";
                continue;
            }
            if (_clients.OwnedByAnother(client, keyName) && !client.Owns(keyName) && !_published.ContainsKey(keyName))
            {
                refused[keyName] = $"The key {keyName} belongs to another client.";
                _commands.Add(new RefuseClient(client.Id, nameof(ScatterKeys), $"the key {keyName} belongs to another client"));
                continue;
            }
            if (_tasks.Contains(keyName))
            {
                refused[keyName] = $"The key {keyName} is the key of a task that has not finished.";
                continue;
            }
            var known = _keys.TryGet(keyName, out var key);
            if (known && !client.Owns(keyName) && !_published.ContainsKey(keyName))
            {
                // Stored and kept by nobody (adopted, not claimed yet): not the client's to take.
                refused[keyName] = $"The key {keyName} already exists on the cluster.";
                continue;
            }
            if (workers.Length == 0)
            {
                refused[keyName] = "There is no worker to put the value on.";
                continue;
            }
            var going = _scatters.Values.Where(s => s.Keys.ContainsKey(keyName)).Select(s => s.Target).ToHashSet();
            IEnumerable<WorkerEntry> targets;
            if (e.Broadcast) targets = workers.Where(w => !(known && key.Holders.Contains(w)) && !going.Contains(w));
            else if ((known && key.Holders.Count > 0) || going.Count > 0) targets = []; // the same value (or name) again: one copy
            else targets = [workers.MinBy(w => bytes[w])!]; // ties: the first by name, and the plan's own bytes spread the next
            client.Keys.Add(keyName);
            foreach (var target in targets)
            {
                if (!planned.TryGetValue(target, out var list)) planned[target] = list = new Dictionary<string, long>(StringComparer.Ordinal);
                list[keyName] = stored.Size;
                bytes[target] += stored.Size;
            }
        }
        var plan = new List<ScatterTarget>(planned.Count);
        foreach (var (target, keys) in planned)
        {
            var id = ++_nextReplication; // one id space with replications: a worker reports both as KeysAdded
            _scatters[id] = new PendingScatter(client.Id, target, keys);
            plan.Add(new ScatterTarget(target.Describe(), id, keys.Keys.ToList()));
        }
        Tell(e.Client, new ScatterPlan(plan, refused.Count == 0 ? null : refused, e.RequestId));
    }

    private void OnScatterAwaited(ScatterAwaited e)
    {
        if (!_clients.Contains(e.Client)) return;
        _scatterWaiting.Add(e);
        AnswerWaitingScatters();
    }

    /// <summary>Answers the clients waiting for scattered keys none of which is still on its way.</summary>
    private void AnswerWaitingScatters()
    {
        if (_scatterWaiting.Count == 0) return;
        for (var i = _scatterWaiting.Count - 1; i >= 0; i--)
        {
            var waiting = _scatterWaiting[i];
            if (!_clients.TryGet(waiting.Client, out var client))
            {
                _scatterWaiting.RemoveAt(i);
                continue;
            }
            if (_scatters.Values.Any(s => s.Client == waiting.Client && waiting.Keys.Any(s.Keys.ContainsKey))) continue;
            _scatterWaiting.RemoveAt(i);
            Dictionary<string, string>? missing = null;
            foreach (var keyName in waiting.Keys)
            {
                if (client.Keys.Contains(keyName) && _keys.TryGet(keyName, out var key) && key.Holders.Count > 0) continue;
                (missing ??= new(StringComparer.Ordinal))[keyName] = _keys.Lost.TryGetValue(keyName, out var why) ? why
                    : client.Keys.Contains(keyName) ? $"The value of {keyName} was not stored: its worker refused it or left the cluster."
                    : $"The key {keyName} was released (or refused) before its value was stored.";
            }
            Tell(waiting.Client, new ScatterStored(missing, waiting.RequestId));
        }
    }

    /// <summary>A worker reports the values of a scatter: those still wanted get it as their holder, the others are deleted there.</summary>
    private void OnScatterStored(WorkerEntry worker, PendingScatter scatter, CopiesStored e)
    {
        _clients.TryGet(scatter.Client, out var client);
        List<string>? unwanted = null;
        foreach (var stored in e.Keys)
        {
            if (!scatter.Keys.Remove(stored.Key) || client is null || !client.Keys.Contains(stored.Key))
            {
                // Not planned here, or released (or its client gone) while it was put: nobody keeps it.
                if (!(_keys.TryGet(stored.Key, out var held) && held.Holders.Contains(worker))) (unwanted ??= []).Add(stored.Key);
                continue;
            }
            if (!_keys.TryGet(stored.Key, out var key))
            {
                key = new KeyEntry(stored.Key, stored.Size, stored.TypeName);
                _keys.Add(key);
                _scattered.Add(stored.Key);
            }
            _keys.Lost.Remove(stored.Key);
            KeyTable.AddHolder(key, worker);
        }
        if (e.Error is { } error) Warn($"Worker {worker.Name} could not store values scattered to it: {error}");
        if (unwanted is not null) Tell(worker, new DeleteKeys(unwanted));
        AnswerWaitingScatters();
    }

    /// <summary>Scatters to a worker that left will never be reported: their keys are missing now.</summary>
    private void DropScattersTo(WorkerEntry worker)
    {
        foreach (var (id, scatter) in _scatters.Where(s => s.Value.Target == worker).ToList()) _scatters.Remove(id);
        AnswerWaitingScatters();
    }

    /// <summary>Scatters of a client that left: their values are deleted when reported (nobody keeps them).</summary>
    private void ForgetScattersOf(ClientId client)
    {
        _scatterWaiting.RemoveAll(w => w.Client == client);
    }

    /// <summary>Published values being made again after their only copy died (rarely any: checked after every event only then).</summary>
    private readonly HashSet<string> _remakingPublished = new(StringComparer.Ordinal);

    /// <summary>
    /// A published value whose remaking ended without a value (its task failed, or its client left and
    /// took the task with it) is remembered as lost, so that the dataset's readers are told why.
    /// </summary>
    private void SettleRemakingPublished()
    {
        foreach (var keyName in _remakingPublished.ToList())
        {
            if (_tasks.Contains(keyName)) continue;
            _remakingPublished.Remove(keyName);
            if (!_keys.Contains(keyName) && _published.ContainsKey(keyName) && !_keys.Lost.ContainsKey(keyName))
                _keys.Lost[keyName] = $"{keyName} was lost with its worker and could not be made again (its task failed, or the client that made it left first).";
        }
    }

    /// <summary>Whether a value is kept by a dataset or by any client (after one client let go of it).</summary>
    private bool KeptByAnyone(string keyName) => _published.ContainsKey(keyName) || _clients.AnyKeeps(keyName);

    private void OnDatasetPublished(DatasetPublished e)
    {
        if (!_clients.TryGet(e.Client, out var client)) return;
        string? error = null;
        if (string.IsNullOrEmpty(e.Name)) error = "A dataset needs a name.";
        else if (_datasets.ContainsKey(e.Name) && !e.Overwrite) error = $"A dataset named {e.Name} already exists (unpublish it first, or publish with overwrite).";
        else if (e.Keys.FirstOrDefault(k => !client.Keys.Contains(k) || !_keys.Contains(k)) is { } notStored)
            error = _clients.OwnedByAnother(client, notStored) && !client.Owns(notStored)
                ? $"The key {notStored} belongs to another client."
                : $"The key {notStored} is not a value of this client on the cluster (released, lost, or not finished yet).";
        if (error is not null)
        {
            Tell(e.Client, new DatasetReply(error, [], [], e.RequestId));
            return;
        }
        var keys = e.Keys.Distinct(StringComparer.Ordinal).ToList();
        // The new keys are counted before the replaced dataset's are let go: values in both stay.
        foreach (var keyName in keys) _published[keyName] = _published.GetValueOrDefault(keyName) + 1;
        if (_datasets.Remove(e.Name, out var replaced)) Unpublish(replaced);
        _datasets[e.Name] = keys;
        Log($"Dataset {e.Name} published: {keys.Count} values");
        Tell(e.Client, new DatasetReply(null, [], [], e.RequestId));
    }

    private void OnDatasetUnpublished(DatasetUnpublished e)
    {
        if (!_clients.Contains(e.Client)) return;
        if (!_datasets.Remove(e.Name, out var keys))
        {
            Tell(e.Client, new DatasetReply($"There is no dataset named {e.Name}.", [], [], e.RequestId));
            return;
        }
        Unpublish(keys);
        Log($"Dataset {e.Name} unpublished");
        Tell(e.Client, new DatasetReply(null, [], [], e.RequestId));
    }

    /// <summary>Lets go of a dataset's keys: those no other dataset and no client keeps are released.</summary>
    private void Unpublish(IReadOnlyList<string> keys)
    {
        var free = new List<string>();
        foreach (var keyName in keys)
        {
            if (_published.GetValueOrDefault(keyName) > 1)
            {
                _published[keyName]--;
                continue;
            }
            _published.Remove(keyName);
            if (!_clients.AnyKeeps(keyName)) free.Add(keyName);
        }
        if (free.Count > 0) Release(free);
    }

    private void OnDatasetAsked(DatasetAsked e)
    {
        if (!_clients.TryGet(e.Client, out var client)) return;
        if (!_datasets.TryGetValue(e.Name, out var keys))
        {
            Tell(e.Client, new DatasetReply($"There is no dataset named {e.Name}.", [], [], e.RequestId));
            return;
        }
        // The asker keeps them too from now on (to read, and to compute on), and releases them as its own.
        var described = new List<StoredKey>(keys.Count);
        foreach (var keyName in keys)
        {
            client.Keys.Add(keyName);
            described.Add(_keys.TryGet(keyName, out var key) ? new StoredKey(keyName, key.Size, key.TypeName) : new StoredKey(keyName, 0, ""));
        }
        Tell(e.Client, new DatasetReply(null, described, [], e.RequestId));
    }

    private void OnDatasetsListed(DatasetsListed e)
    {
        if (!_clients.Contains(e.Client)) return;
        Tell(e.Client, new DatasetReply(null, [], _datasets.Keys.Order(StringComparer.Ordinal).ToList(), e.RequestId));
    }

    /// <summary>Why a value without lineage cannot be made again, when it was scattered.</summary>
    private string? ScatteredLoss(string keyName, WorkerEntry worker) =>
        _scattered.Contains(keyName)
            ? $"{keyName} was lost with worker {worker.Name} and cannot be made again: it was scattered from a client, so no task can make it."
            : null;
}
