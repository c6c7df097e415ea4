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

    private readonly ConcurrentDictionary<string, byte> _live = new();
    private readonly ConcurrentQueue<string> _dropped = new();
    private readonly ConcurrentQueue<string> _abandoned = new();

    /// <summary>A result the caller now holds a RemoteData of.</summary>
    public void Keep(string key) => _live.TryAdd(key, 0);

    /// <summary>Released by the caller: no longer this pool's to claim after a center restart.</summary>
    public void Forget(IReadOnlyList<string> keys)
    {
        foreach (var key in keys) _live.TryRemove(key, out _);
    }

    /// <summary>Its RemoteData was collected: only queued here (a finalizer calls it), released later.</summary>
    public void Drop(string key)
    {
        _live.TryRemove(key, out _);
        _dropped.Enqueue(key);
    }

    /// <summary>The collected keys not yet released, up to one message's worth; empty when there are none.</summary>
    public List<string> TakeDropped()
    {
        if (_dropped.IsEmpty) return [];
        var keys = new List<string>();
        while (keys.Count < MaxDroppedPerRelease && _dropped.TryDequeue(out var key)) keys.Add(key);
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
    public IReadOnlyList<string> Live() => _live.Keys.ToList();
}
