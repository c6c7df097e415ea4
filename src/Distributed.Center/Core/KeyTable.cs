namespace Distributed.Center.Core;

/// <summary>
/// The stored values: each key's holders and size, plus what the center remembers of values it
/// cannot describe by holders (lost for good, adopted after a restart, released before reported).
/// </summary>
internal sealed class KeyTable
{
    private readonly Dictionary<string, KeyEntry> _keys = [];

    /// <summary>Values reported by workers that rejoined after a center restart: they have no lineage.</summary>
    public HashSet<string> Adopted { get; } = [];

    /// <summary>Keys a client released while the center was down, not reported yet: deleted when a worker reports them.</summary>
    public HashSet<string> ReleasedBeforeReport { get; } = [];

    /// <summary>Values lost for good with a worker, and why, until their client releases them.</summary>
    public Dictionary<string, string> Lost { get; } = [];

    public int Count => _keys.Count;
    public IEnumerable<KeyEntry> All => _keys.Values;
    public bool Contains(string key) => _keys.ContainsKey(key);
    public bool TryGet(string key, out KeyEntry entry) => _keys.TryGetValue(key, out entry!);
    public void Add(KeyEntry entry) => _keys[entry.Key] = entry;

    /// <summary>Adds <paramref name="worker"/> to the key's holders, counting the value in the worker's memory.</summary>
    public static void AddHolder(KeyEntry key, WorkerEntry worker)
    {
        if (key.Holders.Contains(worker)) return;
        key.Holders.Add(worker);
        worker.Keys.Add(key.Key);
        worker.StoredBytes += key.Size;
        if (key.RemainingConsumers > 0) key.IsIntermediate = true;
        if (key.IsIntermediate) worker.HeldIntermediates++;
    }

    /// <summary>Forgets a worker as a holder of everything it held; returns the keys whose only copy it was (and how many reads each still owed), now gone.</summary>
    public Dictionary<string, int> RemoveHolder(WorkerEntry worker)
    {
        var lost = new Dictionary<string, int>();
        foreach (var keyName in worker.Keys)
        {
            if (!_keys.TryGetValue(keyName, out var key)) continue;
            key.Holders.Remove(worker);
            if (key.Holders.Count > 0) continue;
            lost[keyName] = key.RemainingConsumers;
            _keys.Remove(keyName);
        }
        return lost;
    }

    /// <summary>Forgets <paramref name="worker"/> as a holder of the values other workers hold too (it is retired and about to leave).</summary>
    public void DropCopiesOf(WorkerEntry worker)
    {
        foreach (var keyName in worker.Keys.ToList())
        {
            if (!_keys.TryGetValue(keyName, out var key) || key.Holders.Count < 2 || !key.Holders.Remove(worker)) continue;
            worker.Keys.Remove(keyName);
            worker.StoredBytes -= key.Size;
            if (key.IsIntermediate) worker.HeldIntermediates--;
        }
    }

    /// <summary>
    /// Deletes a value: it leaves its holders' accounts (and the copies the workers were told to
    /// fetch), and each holder is added to <paramref name="deletions"/> with the key to delete there.
    /// </summary>
    public void Delete(string keyName, IEnumerable<WorkerEntry> workers, Dictionary<WorkerEntry, List<string>> deletions)
    {
        Adopted.Remove(keyName);
        Lost.Remove(keyName);
        if (!_keys.Remove(keyName, out var key)) return;
        foreach (var worker in workers) worker.ExpectedCopies.Remove(keyName);
        foreach (var holder in key.Holders)
        {
            holder.Keys.Remove(keyName);
            holder.StoredBytes -= key.Size;
            if (key.IsIntermediate) holder.HeldIntermediates--;
            if (!deletions.TryGetValue(holder, out var list)) deletions[holder] = list = [];
            list.Add(keyName);
        }
    }
}
