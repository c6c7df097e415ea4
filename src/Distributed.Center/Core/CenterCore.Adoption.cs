using Distributed.Protocol;

namespace Distributed.Center.Core;

/// <summary>
/// Adoption after a restart of the center: workers that rejoin report the values they kept, and
/// clients that reconnect claim theirs; what nobody claims within a grace period is deleted.
/// </summary>
public sealed partial class CenterCore
{
    private const string HolderGoneDuringRestart = "The value was held by a worker that is no longer on the cluster (it did not come back after the center restarted) " +
        "and cannot be made again: it was made before the restart, so the task that made it is not known.";

    /// <summary>Values adopted from a rejoining worker, by the timer that deletes those still unclaimed.</summary>
    private readonly Dictionary<long, IReadOnlyList<string>> _unclaimedTimers = [];
    private long _nextTimer;

    /// <summary>
    /// Records the values a worker kept across a restart of the center. They have no lineage (the
    /// task that made each is unknown here): lost with their last holder, they cannot be made again.
    /// </summary>
    private void AdoptKeys(WorkerEntry worker, IReadOnlyList<StoredKey> held)
    {
        var refused = new List<string>();
        foreach (var stored in held)
        {
            // Being made again (the new value counts), or released by its client while the center was down.
            if (_tasks.Contains(stored.Key) || _keys.ReleasedBeforeReport.Remove(stored.Key)) { refused.Add(stored.Key); continue; }
            // A value this center made and knows the holders of is not taken from a report: a rejoining
            // worker adds itself only to values kept across the restart (a copy of one, say).
            if (_keys.Contains(stored.Key) && !_keys.Adopted.Contains(stored.Key))
            {
                _commands.Add(new RefuseWorker(worker.Id, nameof(RegisterWorker), $"it reported holding {stored.Key}, a value this center made elsewhere"));
                continue;
            }
            if (!_keys.TryGet(stored.Key, out var key))
            {
                _keys.Add(key = new KeyEntry(stored.Key, stored.Size, stored.TypeName));
                _keys.Adopted.Add(stored.Key);
                _keys.Lost.Remove(stored.Key);
            }
            KeyTable.AddHolder(key, worker);
        }
        if (refused.Count > 0) Tell(worker, new DeleteKeys(refused));
        Log($"Worker {worker.Name} rejoined with {held.Count - refused.Count} values kept across a restart of the center");
        // A value whose client died or dropped it while the center was down is claimed by nobody and
        // would stay on the worker forever; live clients claim theirs when they reconnect.
        var adopted = held.Select(k => k.Key).Where(_keys.Adopted.Contains).ToList();
        if (adopted.Count == 0) return;
        var timer = ++_nextTimer;
        _unclaimedTimers[timer] = adopted;
        _commands.Add(new StartTimer(timer, _settings.UnclaimedKeysGrace));
    }

    private void OnTimerFired(TimerFired e)
    {
        if (RetirementTimedOut(e.Timer)) return;
        if (!_unclaimedTimers.Remove(e.Timer, out var keys)) return;
        // Released or lost meanwhile, a key is no longer adopted; claimed, it is in its client's keys.
        var unclaimed = keys.Where(k => _keys.Adopted.Contains(k) && !KeptByAnyone(k)).ToList(); // a dataset claims too
        if (unclaimed.Count == 0) return;
        // A warning, so that it shows at the default log level: data was deleted without a client asking.
        Warn($"Released {unclaimed.Count} values kept across a restart of the center that no client claimed within {_settings.UnclaimedKeysGrace.TotalSeconds} s");
        Release(unclaimed);
    }

    private void OnKeysClaimed(KeysClaimedBy e)
    {
        if (!_clients.TryGet(e.Client, out var client)) return;
        // A client claims (or releases) only what no other client has: its own values, kept across a
        // restart of the center, which this center knows no owner of.
        var keys = Claimable(client, e.Keys);
        if (e.Released is { Count: > 0 } releasedKeys && Claimable(client, releasedKeys) is { Count: > 0 } released)
        {
            _keys.ReleasedBeforeReport.UnionWith(released.Where(k => !_keys.Contains(k)));
            Release(released);
        }
        // Claimed before its worker rejoined, a key is the client's as soon as it is reported.
        client.Keys.UnionWith(keys);
        // Until a worker reports it (which clears this), a claimed value's only known story is that its
        // holder did not come back: it died while the center was down, and this center has no lineage.
        // One shared reason, not one string per key: a dead worker may have held millions of values.
        foreach (var key in keys)
            if (!_keys.Contains(key) && !_tasks.Contains(key))
                _keys.Lost.TryAdd(key, HolderGoneDuringRestart);
        Tell(e.Client, new KeysClaimed(keys.Where(k => !_keys.Contains(k)).ToList(), e.RequestId));
    }

    /// <summary>The keys <paramref name="client"/> may claim: its own, or kept across a restart and no other client's.</summary>
    private List<string> Claimable(ClientEntry client, IReadOnlyList<string> keys)
    {
        var claimable = new List<string>(keys.Count);
        foreach (var key in keys)
        {
            if (client.Owns(key)) claimable.Add(key);
            else if (_clients.OwnedByAnother(client, key) || (_keys.Contains(key) && !_keys.Adopted.Contains(key)) || _tasks.Contains(key))
                _commands.Add(new RefuseClient(client.Id, nameof(ClaimKeys), $"the key {key} belongs to another client"));
            else claimable.Add(key);
        }
        return claimable;
    }
}
