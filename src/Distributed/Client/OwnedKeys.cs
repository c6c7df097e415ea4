using System.Collections.Concurrent;

namespace Distributed.Client;

/// <summary>
/// The keys a pool owns on the cluster, as the center must hear of them: those of its live
/// RemoteData (claimed from a restarted center), those collected by the garbage collector (released
/// in one message a second), and those abandoned while the center was lost (told to the next one).
/// </summary>
internal sealed class OwnedKeys
{
    /// <summary>At most this many collected keys go in one release message.</summary>
    private const int MaxDroppedPerRelease = 100_000;

    /// <summary>The live keys, each with the number of RemoteData that hold it (a named or pure key may have several).</summary>
    private readonly Dictionary<string, int> _live = new(StringComparer.Ordinal);
    private readonly ConcurrentQueue<string> _dropped = new();
    /// <summary>The keys in <see cref="_dropped"/> still to be released (a reclaimed one is taken out).</summary>
    private readonly HashSet<string> _droppedNotSent = new(StringComparer.Ordinal);
    private readonly ConcurrentQueue<string> _abandoned = new();

    /// <summary>A result the caller now holds one more RemoteData of.</summary>
    public void Keep(string key)
    {
        lock (_live) _live[key] = _live.GetValueOrDefault(key) + 1;
    }

    /// <summary>Released by the caller: no longer this pool's to claim after a center restart, however many RemoteData held it.</summary>
    public void Forget(IReadOnlyList<string> keys)
    {
        lock (_live)
            foreach (var key in keys) _live.Remove(key);
    }

    /// <summary>
    /// A RemoteData of it was collected: only queued here (a finalizer calls it), released later, once
    /// no other RemoteData holds the key.
    /// </summary>
    public void Drop(string key)
    {
        lock (_live)
        {
            if (_live.TryGetValue(key, out var holders) && holders > 1)
            {
                _live[key] = holders - 1;
                return;
            }
            _live.Remove(key);
            if (!_droppedNotSent.Add(key)) return;
        }
        _dropped.Enqueue(key);
    }

    /// <summary>
    /// A named or pure key asked for again before its collected RemoteData's release went out: it is
    /// not released, the new RemoteData takes it over.
    /// </summary>
    public void Reclaim(string key)
    {
        lock (_live) _droppedNotSent.Remove(key);
    }

    /// <summary>The collected keys not yet released, up to one message's worth; empty when there are none.</summary>
    public List<string> TakeDropped()
    {
        if (_dropped.IsEmpty) return [];
        var keys = new List<string>();
        lock (_live)
            while (keys.Count < MaxDroppedPerRelease && _dropped.TryDequeue(out var key))
                if (_droppedNotSent.Remove(key)) keys.Add(key); // else reclaimed meanwhile
        return keys;
    }

    /// <summary>Keys the lost center could not be told to release: the next center is told.</summary>
    public void Abandon(IEnumerable<string> keys)
    {
        foreach (var key in keys) _abandoned.Enqueue(key);
    }

    /// <summary>The abandoned keys, once: they go to the center being joined.</summary>
    public List<string> TakeAbandoned()
    {
        var keys = new List<string>();
        while (_abandoned.TryDequeue(out var key)) keys.Add(key);
        return keys;
    }

    /// <summary>The live keys now, to claim from a restarted center.</summary>
    public IReadOnlyList<string> Live()
    {
        lock (_live) return _live.Keys.ToList();
    }

    /// <summary>How many RemoteData hold <paramref name="key"/> now (for tests).</summary>
    internal int Holders(string key)
    {
        lock (_live) return _live.GetValueOrDefault(key);
    }
}
