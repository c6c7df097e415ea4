using System.Collections.Concurrent;
using Distributed.Protocol;

namespace Distributed.Data;

/// <summary>A stored value: its encoded bytes (see <c>ValueCodec</c>) and the name of its type.</summary>
public sealed record StoredValue(byte[] Bytes, string TypeName);

/// <summary>
/// A worker's key → value store. Only the worker actor writes it; the data server's connection
/// threads read it concurrently to serve values without passing every byte through the actor.
/// </summary>
public sealed class DataStore
{
    private readonly ConcurrentDictionary<string, StoredValue> _values = new();
    private long _bytes;

    private int _count;
    private int _peakCount;

    /// <summary>Number of keys held.</summary>
    public int Count => Volatile.Read(ref _count);

    /// <summary>The most keys held at once since the worker started (how well intermediates are collected).</summary>
    public int PeakCount => Volatile.Read(ref _peakCount);

    /// <summary>Bytes held.</summary>
    public long Bytes => Interlocked.Read(ref _bytes);

    /// <summary>Stores or replaces a value.</summary>
    public void Put(string key, StoredValue value)
    {
        _values.AddOrUpdate(key,
            _ => { Interlocked.Add(ref _bytes, value.Bytes.Length); Interlocked.Increment(ref _count); return value; },
            (_, old) => { Interlocked.Add(ref _bytes, value.Bytes.Length - old.Bytes.Length); return value; });
        // Counted here rather than read from the dictionary, whose Count takes every lock.
        var count = Count;
        for (var peak = PeakCount; count > peak; peak = PeakCount)
            if (Interlocked.CompareExchange(ref _peakCount, count, peak) == peak) break;
    }

    /// <summary>The value of <paramref name="key"/>, or null.</summary>
    public StoredValue? Get(string key) => _values.TryGetValue(key, out var value) ? value : null;

    /// <summary>Whether the key is held.</summary>
    public bool Contains(string key) => _values.ContainsKey(key);

    /// <summary>Deletes a key if held.</summary>
    public void Delete(string key)
    {
        if (!_values.TryRemove(key, out var old)) return;
        Interlocked.Add(ref _bytes, -old.Bytes.Length);
        Interlocked.Decrement(ref _count);
    }

    /// <summary>Every key held.</summary>
    public IReadOnlyList<StoredKey> Keys() => _values.Select(kv => new StoredKey(kv.Key, kv.Value.Bytes.Length, kv.Value.TypeName)).ToList();
}

/// <summary>Bytes moved over a worker's data channel, for the locality checks and the benchmark.</summary>
public sealed class TransferCounters
{
    private long _sentToWorkers, _sentToClients, _receivedFromWorkers;

    /// <summary>Bytes of values this worker served to other workers.</summary>
    public long SentToWorkers => Interlocked.Read(ref _sentToWorkers);
    /// <summary>Bytes of values this worker served to clients.</summary>
    public long SentToClients => Interlocked.Read(ref _sentToClients);
    /// <summary>Bytes of values this worker fetched from other workers.</summary>
    public long ReceivedFromWorkers => Interlocked.Read(ref _receivedFromWorkers);

    internal void AddSent(PeerKind peer, long bytes)
    {
        if (peer == PeerKind.Worker) Interlocked.Add(ref _sentToWorkers, bytes);
        else Interlocked.Add(ref _sentToClients, bytes);
    }

    internal void AddReceivedFromWorker(long bytes) => Interlocked.Add(ref _receivedFromWorkers, bytes);

    private long _cancelledBeforeStart;

    /// <summary>Tasks this worker was sent and that were cancelled before they started (their client cancelled, released them or died).</summary>
    public long CancelledBeforeStart => Interlocked.Read(ref _cancelledBeforeStart);

    internal void AddCancelledBeforeStart(int tasks) => Interlocked.Add(ref _cancelledBeforeStart, tasks);

    private readonly List<string> _assemblies = [];

    /// <summary>The user assemblies this worker received, as "name:hash", in arrival order.</summary>
    public IReadOnlyList<string> AssembliesReceived { get { lock (_assemblies) return _assemblies.ToList(); } }

    internal void AddAssembly(string name, string hash) { lock (_assemblies) _assemblies.Add($"{name}:{hash}"); }
}

/// <summary>Who opened a data connection.</summary>
public enum PeerKind : byte
{
    /// <summary>A client (a <c>Pool</c>).</summary>
    Client = 0,
    /// <summary>Another worker.</summary>
    Worker = 1,
}

/// <summary>A worker's transfer counters and store size, as read over its data channel.</summary>
public sealed record WorkerTransferStats(long SentToWorkers, long SentToClients, long ReceivedFromWorkers, int KeyCount, long StoredBytes, IReadOnlyList<string> AssembliesReceived, int PeakKeyCount = 0, long CancelledBeforeStart = 0);
