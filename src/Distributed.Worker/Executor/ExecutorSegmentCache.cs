using Distributed.Data;
using Distributed.Protocol.Hosting;

namespace Distributed.Worker.Executor;

/// <summary>
/// The worker's shared segments as one executor process has them mapped, kept across batches: a
/// segment the worker's pool reuses for value after value (and lends for result after result) is opened
/// and mapped once, its pages faulted in once, instead of once per batch. Keyed by the worker's segment
/// id, which is never reused for another memory file (a descriptor number is).
/// </summary>
/// <remarks>
/// A mapping holds the memory file alive, so the worker says when it lets a segment go
/// (<see cref="Forget"/>): the mapping goes then, or when the last use of it ends. In case that word
/// never comes, mappings nobody uses are also unmapped, least recently used first, past
/// <see cref="MaxIdleBytes"/> (the next use of such a segment maps it again: the worker's reference
/// names its descriptor). Nothing reads a mapping outside a <see cref="Use"/>, and the worker reuses a
/// segment only after every task that read it (or the result written into it) has answered.
/// </remarks>
internal sealed class ExecutorSegmentCache : IDisposable
{
    /// <summary>Idle mappings kept by default: beyond the worker's own idle segments, only ones it forgot to forget hold memory.</summary>
    public const long DefaultMaxIdleBytes = 4L << 30;

    private readonly Func<int, int, SharedSegment> _open;
    private readonly Lock _gate = new();
    private readonly Dictionary<long, Entry> _entries = [];
    private long _idleBytes;
    private long _clock;
    private bool _disposed;

    /// <param name="open">Maps the memory file the worker holds as a descriptor, at least a length long (<see cref="SharedSegment.OpenWhole"/>).</param>
    /// <param name="maxIdleBytes">Mapped bytes that no use holds kept at most.</param>
    public ExecutorSegmentCache(Func<int, int, SharedSegment> open, long maxIdleBytes = DefaultMaxIdleBytes)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(maxIdleBytes);
        _open = open;
        MaxIdleBytes = maxIdleBytes;
    }

    /// <summary>A cache of the segments of worker process <paramref name="workerProcessId"/> (through its /proc entry).</summary>
    public static ExecutorSegmentCache OfWorker(int workerProcessId) =>
        new((descriptor, length) => SharedSegment.OpenWhole(workerProcessId, descriptor, length));

    /// <summary>Mapped bytes that no use holds kept at most.</summary>
    public long MaxIdleBytes { get; }

    /// <summary>Times a segment was opened and mapped (the rest of the uses found it mapped).</summary>
    public long Opened { get; private set; }

    /// <summary>Segments mapped now.</summary>
    public int MappedCount { get { lock (_gate) return _entries.Count; } }

    /// <summary>
    /// The first <paramref name="length"/> bytes of the worker's segment <paramref name="segmentId"/>, which it
    /// holds as <paramref name="descriptor"/>, mapped (once) with those pages faulted in; readable and writable
    /// until the use is disposed. Throws <see cref="IOException"/> when the segment cannot be mapped.
    /// </summary>
    public SegmentUse Use(long segmentId, int descriptor, int length)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(length);
        Entry entry;
        int populated;
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (!_entries.TryGetValue(segmentId, out entry!) || entry.Mapping.Capacity < length)
            {
                if (entry is not null) Remove(segmentId, entry); // shorter than the worker says: not the same file, map it afresh
                // Opened under the lock: rare (once per segment), and two uses of one new segment map it once.
                var opening = System.Diagnostics.Stopwatch.GetTimestamp();
                var mapping = _open(descriptor, length);
                HopTrace.Once(opening, $"executor: segment {segmentId} of {mapping.Capacity >> 20} MiB opened and mapped");
                if (mapping.Capacity < length)
                {
                    mapping.Release();
                    throw new IOException($"The shared segment {segmentId} holds {mapping.Capacity} bytes, not the {length} it should.");
                }
                entry = new Entry(segmentId, mapping);
                _entries[segmentId] = entry;
                Opened++;
            }
            else if (entry.Users == 0) _idleBytes -= entry.Mapping.Capacity;
            entry.Users++;
            entry.LastUsed = ++_clock;
            populated = entry.Populated;
        }
        if (length > populated)
        {
            // Outside the lock: faulting in fresh pages is the slow part of a first use.
            var populating = System.Diagnostics.Stopwatch.GetTimestamp();
            entry.Mapping.Populate(length);
            HopTrace.Once(populating, $"executor: {(length - populated) >> 20} MiB of segment {segmentId} faulted in");
            lock (_gate) entry.Populated = Math.Max(entry.Populated, length);
        }
        return new SegmentUse(this, entry, length);
    }

    /// <summary>The worker let these segments go: their mappings go now, or when their last use ends.</summary>
    public void Forget(IEnumerable<long> segmentIds)
    {
        lock (_gate)
            foreach (var id in segmentIds)
                if (_entries.TryGetValue(id, out var entry)) Remove(id, entry);
    }

    /// <summary>Unmaps every segment; uses still open keep theirs until they end.</summary>
    public void Dispose()
    {
        lock (_gate)
        {
            _disposed = true;
            foreach (var (id, entry) in _entries.ToList()) Remove(id, entry);
        }
    }

    /// <summary>Takes an entry out of the cache (under the lock): unmapped now when unused, else by its last use.</summary>
    private void Remove(long id, Entry entry)
    {
        _entries.Remove(id);
        entry.Removed = true;
        if (entry.Users > 0) return;
        _idleBytes -= entry.Mapping.Capacity;
        entry.Mapping.Release();
    }

    private void EndUse(Entry entry)
    {
        lock (_gate)
        {
            entry.LastUsed = ++_clock; // used until now: a long use does not make it the oldest
            if (--entry.Users > 0) return;
            if (entry.Removed)
            {
                entry.Mapping.Release();
                return;
            }
            _idleBytes += entry.Mapping.Capacity;
            if (_idleBytes <= MaxIdleBytes) return;
            // Past the cap: the least recently used idle mappings go (not in use, so nothing reads them).
            foreach (var idle in _entries.Values.Where(e => e.Users == 0).OrderBy(e => e.LastUsed).ToList())
            {
                if (_idleBytes <= MaxIdleBytes) break;
                Remove(idle.Id, idle);
            }
        }
    }

    internal sealed class Entry(long id, SharedSegment mapping)
    {
        public long Id { get; } = id;
        public SharedSegment Mapping { get; } = mapping;
        public int Users { get; set; }
        public long LastUsed { get; set; }
        public int Populated { get; set; } // bytes from the start whose pages were faulted in
        public bool Removed { get; set; }  // forgotten or evicted: unmapped when the last use ends
    }

    /// <summary>One use of a mapped segment: its bytes stay mapped until it is disposed (once).</summary>
    internal sealed class SegmentUse : IDisposable
    {
        private ExecutorSegmentCache? _cache;
        private readonly Entry _entry;

        internal SegmentUse(ExecutorSegmentCache cache, Entry entry, int length)
        {
            _cache = cache;
            _entry = entry;
            Length = length;
        }

        /// <summary>The bytes used.</summary>
        public int Length { get; }

        /// <summary>The mapping behind the use (for tests: whether it was unmapped).</summary>
        internal SharedSegment Mapping => _entry.Mapping;

        /// <summary>The first <see cref="Length"/> bytes of the segment, while the use lasts.</summary>
        public Memory<byte> Memory => _cache is null ? throw new ObjectDisposedException(nameof(SegmentUse)) : _entry.Mapping.Memory[..Length];

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _cache, null) is { } cache) cache.EndUse(_entry);
        }
    }
}
