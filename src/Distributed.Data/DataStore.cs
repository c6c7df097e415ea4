using System.Text;
using Distributed.Protocol;
using Distributed.Protocol.Security;

namespace Distributed.Data;

/// <summary>
/// A worker's key → value store, limited in memory: past <see cref="MemoryLimit"/> bytes it spills the
/// least recently used values (by last Put or Get) to files in its spill directory and reads them
/// back on demand. Only the worker actor writes it; the data server's connection threads read it
/// concurrently to serve values without passing every byte through the actor.
/// </summary>
/// <remarks>
/// A spilled value is served from its file and stays on disk: bringing it back would spill another
/// value in the middle of a read, on a reader's thread, while the bytes just read are on their way to
/// a peer, a client or an executor, which hold them anyway. A value larger than the whole limit goes
/// straight to disk, without pushing the others out. When a spill file cannot be written (disk full)
/// the value stays in memory and the error is logged: the store never loses a value to a spill.
/// The store owns the memory of its values: values fetched into, and values adopted by, its
/// <see cref="Buffers"/> go back there when they are deleted, replaced or spilled and no
/// <see cref="ValueLease"/> holds them any more, for the next value to reuse.
/// </remarks>
public sealed class DataStore
{
    private readonly object _gate = new();      // the index and the LRU order; held briefly, never during file I/O
    private readonly object _writeGate = new(); // one writer at a time (the worker actor), so a spill's file I/O can run outside _gate
    private readonly Dictionary<string, Entry> _entries = [];
    private readonly LinkedList<Entry> _inMemoryByUse = []; // least recently used first
    private readonly string? _spillDirectory;
    private readonly Action<string> _logError;
    private long _bytes, _inMemoryBytes, _spilledBytes;
    private int _count, _peakCount, _spilledCount;
    private long _spillsWritten, _readsFromDisk, _nextSpillFile;
    private bool _spillFailing;

    /// <summary>Idle value buffers a store keeps for reuse by default, at most (and at most a quarter of its memory limit).</summary>
    public const long DefaultMaxIdleBufferBytes = 1L << 30;

    /// <summary>A store with no memory limit: nothing is ever spilled.</summary>
    public DataStore() : this(long.MaxValue, null) { }

    /// <summary>A store that keeps at most <paramref name="memoryLimit"/> bytes of values in memory and spills the rest to <paramref name="spillDirectory"/>.</summary>
    /// <param name="memoryLimit">Bytes of values kept in memory; <see cref="long.MaxValue"/> for no limit.</param>
    /// <param name="spillDirectory">Where spilled values go; created on the first spill.</param>
    /// <param name="logError">Where spill and read-back failures are reported (they never throw out of <see cref="Put"/>).</param>
    /// <param name="buffers">The pool values' buffers are reused from; by default one of its own that keeps up to <see cref="DefaultMaxIdleBufferBytes"/> idle.</param>
    public DataStore(long memoryLimit, string? spillDirectory, Action<string>? logError = null, ValueBufferPool? buffers = null)
    {
        if (memoryLimit <= 0) throw new ArgumentOutOfRangeException(nameof(memoryLimit), memoryLimit, "The memory limit of a data store must be more than 0 bytes.");
        if (memoryLimit != long.MaxValue && string.IsNullOrEmpty(spillDirectory))
            throw new ArgumentException("A data store with a memory limit needs a spill directory.", nameof(spillDirectory));
        MemoryLimit = memoryLimit;
        _spillDirectory = spillDirectory;
        _logError = logError ?? (message => Console.Error.WriteLine($"error: {message}"));
        Buffers = buffers ?? new ValueBufferPool(Math.Min(DefaultMaxIdleBufferBytes, memoryLimit / 4));
    }

    /// <summary>Where the buffers of this store's values come from and go back to: a worker fetches values into them.</summary>
    public ValueBufferPool Buffers { get; }

    /// <summary>The chunk size of values read back from disk: <see cref="StoredValue.MaxChunkBytes"/> but in tests of chunking.</summary>
    internal int ChunkBytes { get; init; } = StoredValue.MaxChunkBytes;

    /// <summary>How many bytes of values may stay in memory before the least recently used are spilled.</summary>
    public long MemoryLimit { get; }

    /// <summary>Number of keys held (in memory and on disk).</summary>
    public int Count { get { lock (_gate) return _count; } }

    /// <summary>The most keys held at once since the worker started (how well intermediates are collected).</summary>
    public int PeakCount { get { lock (_gate) return _peakCount; } }

    /// <summary>Bytes held (in memory and on disk).</summary>
    public long Bytes { get { lock (_gate) return _bytes; } }

    /// <summary>Bytes of values held in memory.</summary>
    public long InMemoryBytes { get { lock (_gate) return _inMemoryBytes; } }

    /// <summary>Bytes of values held on disk.</summary>
    public long SpilledBytes { get { lock (_gate) return _spilledBytes; } }

    /// <summary>Number of values held on disk.</summary>
    public int SpilledCount { get { lock (_gate) return _spilledCount; } }

    /// <summary>The counts and sizes above, read together so that they agree with each other.</summary>
    public StoreUsage Usage()
    {
        lock (_gate) return new StoreUsage(_count, _peakCount, _bytes, _inMemoryBytes, _spilledBytes, _spilledCount);
    }

    /// <summary>How many values were written to disk since the store was made.</summary>
    public long SpillsWritten => Interlocked.Read(ref _spillsWritten);

    /// <summary>How many reads of a value were served from disk since the store was made.</summary>
    public long ReadsFromDisk => Interlocked.Read(ref _readsFromDisk);

    /// <summary>
    /// Stores or replaces a value, then spills the least recently used values until the memory limit
    /// holds. The store takes over the caller's reference to <paramref name="value"/>: a pooled value's
    /// buffer goes back to the pool once the key is deleted, replaced or spilled (and no lease holds it).
    /// </summary>
    public void Put(string key, StoredValue value)
    {
        ArgumentNullException.ThrowIfNull(key);
        ArgumentNullException.ThrowIfNull(value);
        lock (_writeGate)
        {
            // Larger than the whole limit: to disk at once, rather than pushing everything else out first.
            var spillPath = value.Length > MemoryLimit ? TryWriteSpillFile(key, value) : null;
            var entry = new Entry(key, value.Length, value.TypeName);
            Entry? replaced;
            lock (_gate)
            {
                replaced = RemoveEntry(key);
                _entries[key] = entry;
                _bytes += entry.Size;
                _count++;
                if (_count > _peakCount) _peakCount = _count;
                if (spillPath is null)
                {
                    entry.Value = value;
                    entry.UseNode = _inMemoryByUse.AddLast(entry);
                    _inMemoryBytes += entry.Size;
                }
                else
                {
                    entry.SpillPath = spillPath;
                    _spilledBytes += entry.Size;
                    _spilledCount++;
                }
            }
            if (spillPath is not null) value.Release();
            Forget(replaced);
            SpillUntilWithinLimit();
        }
    }

    /// <summary>
    /// The value of <paramref name="key"/> (read from disk when spilled), or null when it is not held.
    /// The caller may keep it as long as it likes: its buffer is never reused (prefer <see cref="Lease"/>;
    /// a value in a shared segment comes as a copy).
    /// </summary>
    public StoredValue? Get(string key) => Read(key, lease: false);

    /// <summary>
    /// The value of <paramref name="key"/> (read from disk into a pooled buffer when spilled), or null
    /// when it is not held. Its buffer is not reused until the lease is disposed, whatever happens to the key meanwhile.
    /// </summary>
    public ValueLease? Lease(string key) => Read(key, lease: true) is { } value ? new ValueLease(value) : null;

    /// <summary>
    /// The value of <paramref name="key"/> to be read once from start to end (to be served): a lease of it
    /// when in memory, its spill file opened when on disk, so that a spilled value is streamed from its
    /// file and never loaded whole. Null when it is not held. The caller disposes it.
    /// </summary>
    public StoredValueReader? OpenRead(string key) =>
        Find(key,
            inMemory => new StoredValueReader(new ValueLease(Referenced(inMemory, key))),
            path => new StoredValueReader(OpenSpillFile(path, out var typeName, out var length), typeName, length));

    /// <summary>A value, with a reference of the caller's own when <paramref name="lease"/> (one it must release), else one never reused.</summary>
    private StoredValue? Read(string key, bool lease)
    {
        var found = Find(key,
            inMemory =>
            {
                // A shared value is never handed out for good: its segment must be unmapped some day, and
                // only the reference count knows when nobody reads it, so such a reader gets a copy.
                if (lease || inMemory.Segment is not null) return Referenced(inMemory, key);
                inMemory.KeepForever();
                return inMemory;
            },
            path => ReadSpillFile(path, lease ? Buffers : null));
        if (lease || found?.Segment is null) return found;
        // Copied outside the lock, under a reference of its own.
        try { return new StoredValue(found.ToArray(), found.TypeName); }
        finally { found.Release(); }
    }

    /// <summary>
    /// Looks <paramref name="key"/> up: an in-memory value is handed to <paramref name="inMemory"/> under
    /// the index's lock (so the store cannot release it meanwhile) and becomes the most recently used; a
    /// spilled one's file path to <paramref name="fromSpillFile"/>, outside the lock. Null when not held.
    /// </summary>
    private T? Find<T>(string key, Func<StoredValue, T> inMemory, Func<string, T> fromSpillFile) where T : class
    {
        while (true)
        {
            string path;
            string typeName;
            lock (_gate)
            {
                if (!_entries.TryGetValue(key, out var entry)) return null;
                if (entry.Value is { } value)
                {
                    // Most recently used now: the last to be spilled.
                    _inMemoryByUse.Remove(entry.UseNode!);
                    _inMemoryByUse.AddLast(entry.UseNode!);
                    return inMemory(value);
                }
                path = entry.SpillPath!;
                typeName = entry.TypeName;
            }
            try
            {
                var read = fromSpillFile(path);
                Interlocked.Increment(ref _readsFromDisk);
                return read;
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or InvalidDataException)
            {
                // Deleted, or replaced, between the lookup and the read (the writer deletes a file a
                // reader is about to open): look again, the index says what is held now.
                lock (_gate)
                    if (!_entries.TryGetValue(key, out var now) || now.SpillPath != path) continue;
                _logError($"Could not read the spilled value {key} ({typeName}) back from {path}: {e.Message}");
                return null;
            }
        }
    }

    /// <summary>
    /// <paramref name="value"/> with one more reference, the caller's. Under _gate: the store releases its own
    /// reference only after it took the value out of the index, so while it is indexed the buffer cannot
    /// have gone back to the pool.
    /// </summary>
    private static StoredValue Referenced(StoredValue value, string key) =>
        value.TryAddReference() ? value : throw new InvalidOperationException($"The stored value {key} was released while still indexed.");

    /// <summary>Whether the key is held (in memory or on disk).</summary>
    public bool Contains(string key)
    {
        lock (_gate) return _entries.ContainsKey(key);
    }

    /// <summary>Whether the key is held on disk rather than in memory.</summary>
    public bool IsSpilled(string key)
    {
        lock (_gate) return _entries.TryGetValue(key, out var entry) && entry.SpillPath is not null;
    }

    /// <summary>Deletes a key if held, and its spill file; its buffer goes back to the pool once no lease holds it.</summary>
    public void Delete(string key)
    {
        lock (_writeGate)
        {
            Entry? removed;
            lock (_gate) removed = RemoveEntry(key);
            Forget(removed);
        }
    }

    /// <summary>Lets go of a removed entry: its spill file, or the store's reference to its value. Under _writeGate, outside _gate.</summary>
    private void Forget(Entry? removed)
    {
        if (removed is null) return;
        if (removed.SpillPath is { } file) DeleteSpillFile(file);
        removed.Value?.Release();
    }

    /// <summary>Every key held, in memory or on disk.</summary>
    public IReadOnlyList<StoredKey> Keys()
    {
        lock (_gate) return _entries.Values.Select(e => new StoredKey(e.Key, e.Size, e.TypeName)).ToList();
    }

    /// <summary>Takes an entry out of the index and the counts; the caller deletes its file. Under _gate.</summary>
    private Entry? RemoveEntry(string key)
    {
        if (!_entries.Remove(key, out var entry)) return null;
        _bytes -= entry.Size;
        _count--;
        if (entry.Value is not null)
        {
            _inMemoryByUse.Remove(entry.UseNode!);
            _inMemoryBytes -= entry.Size;
        }
        else
        {
            _spilledBytes -= entry.Size;
            _spilledCount--;
        }
        return entry;
    }

    /// <summary>Spills least recently used values until the in-memory bytes are within the limit. Under _writeGate.</summary>
    private void SpillUntilWithinLimit()
    {
        while (true)
        {
            Entry victim;
            StoredValue value;
            lock (_gate)
            {
                if (_inMemoryBytes <= MemoryLimit || _inMemoryByUse.First is not { } first) return;
                victim = first.Value;
                value = victim.Value!;
            }
            // Written outside _gate: readers keep getting the value from memory meanwhile.
            if (TryWriteSpillFile(victim.Key, value) is not { } path) return; // logged; it stays in memory
            lock (_gate)
            {
                // Only this writer changes entries, so the victim is still held and in memory; a Get
                // may have made it recently used meanwhile, but it is written already: spill it.
                _inMemoryByUse.Remove(victim.UseNode!);
                victim.UseNode = null;
                victim.Value = null;
                victim.SpillPath = path;
                _inMemoryBytes -= victim.Size;
                _spilledBytes += victim.Size;
                _spilledCount++;
            }
            value.Release(); // on disk now: the buffer may serve another value once no reader holds it
        }
    }

    /// <summary>Writes a value to a new spill file and returns its path, or logs why it could not and returns null.</summary>
    private string? TryWriteSpillFile(string key, StoredValue value)
    {
        if (_spillDirectory is null) return null;
        // A new file name for every spill: a reader may still be reading an older file of the same key.
        var path = Path.Combine(_spillDirectory, $"{Interlocked.Increment(ref _nextSpillFile):x8}.spill");
        try
        {
            // 0700 folder, 0600 files: spilled values are readable by this user only.
            PrivateFiles.CreateDirectory(_spillDirectory);
            using (var file = PrivateFiles.Create(path, 1 << 16))
            {
                using (var writer = new BinaryWriter(file, Encoding.UTF8, leaveOpen: true))
                {
                    writer.Write(value.TypeName);
                    writer.Write(value.Length);
                }
                value.CopyTo(file); // chunk by chunk: a value longer than one array never needs one
            }
            Interlocked.Increment(ref _spillsWritten);
            if (_spillFailing)
            {
                _spillFailing = false;
                _logError($"Spilling to {_spillDirectory} works again.");
            }
            return path;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            try { File.Delete(path); } catch (Exception cleanup) when (cleanup is IOException or UnauthorizedAccessException) { }
            // Once per run of failures: every Put would otherwise repeat it.
            if (!_spillFailing)
                _logError($"Could not spill the value {key} ({value.Length} bytes) to {path}: {e.Message}. Values stay in memory, over the limit of {MemoryLimit} bytes, until spilling works again.");
            _spillFailing = true;
            return null;
        }
    }

    /// <summary>A spilled value, in buffers of <paramref name="buffers"/> (owned by the caller) or, without, in arrays of its own.</summary>
    private StoredValue ReadSpillFile(string path, ValueBufferPool? buffers)
    {
        using var file = OpenSpillFile(path, out var typeName, out var length);
        try
        {
            return StoredValue.ReadFrom(file, length, typeName, buffers, ChunkBytes);
        }
        catch (EndOfStreamException)
        {
            throw new InvalidDataException($"The spill file {path} is truncated.");
        }
    }

    /// <summary>A spill file opened at its value's first byte, with the value's type name and length read from its head.</summary>
    private static FileStream OpenSpillFile(string path, out string typeName, out long length)
    {
        // FileShare.Delete: the writer may delete the file while it is read; the open handle keeps the bytes.
        var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read | FileShare.Delete, 1 << 16);
        try
        {
            using var reader = new BinaryReader(file, Encoding.UTF8, leaveOpen: true);
            typeName = reader.ReadString();
            length = reader.ReadInt64();
            if (length < 0 || length > file.Length - file.Position) throw new InvalidDataException($"The spill file {path} is truncated.");
            return file;
        }
        catch (EndOfStreamException)
        {
            file.Dispose();
            throw new InvalidDataException($"The spill file {path} is truncated.");
        }
        catch
        {
            file.Dispose();
            throw;
        }
    }

    private void DeleteSpillFile(string path)
    {
        try { File.Delete(path); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            _logError($"Could not delete the spill file {path}: {e.Message}");
        }
    }

    /// <summary>The index entry of a key: its value in memory, or the file it was spilled to.</summary>
    private sealed class Entry(string key, long size, string typeName)
    {
        public string Key { get; } = key;
        public long Size { get; } = size;
        public string TypeName { get; } = typeName;
        public StoredValue? Value { get; set; }
        public string? SpillPath { get; set; }
        public LinkedListNode<Entry>? UseNode { get; set; }
    }
}

/// <summary>
/// A stored value opened to be read once, start to end: a lease of it in memory, or its spill file
/// (positioned at its first byte; deleting the key meanwhile does not cut the read short).
/// </summary>
public sealed class StoredValueReader : IDisposable
{
    /// <summary>The pieces a spilled value is streamed in.</summary>
    private const int FilePieceBytes = 1 << 20;

    private readonly ValueLease? _lease;
    private readonly FileStream? _file;

    internal StoredValueReader(ValueLease lease)
    {
        _lease = lease;
        TypeName = lease.Value.TypeName;
        Length = lease.Value.Length;
    }

    internal StoredValueReader(FileStream file, string typeName, long length)
    {
        _file = file;
        TypeName = typeName;
        Length = length;
    }

    /// <summary>The name of the value's type.</summary>
    public string TypeName { get; }

    /// <summary>The value's size in bytes.</summary>
    public long Length { get; }

    /// <summary>The value in memory, or null when it is read from its spill file.</summary>
    public StoredValue? InMemory => _lease?.Value;

    /// <summary>
    /// Writes the value's bytes to <paramref name="destination"/> in pieces of at most <paramref name="pieceBytes"/>,
    /// calling <paramref name="progress"/> after each: from memory as they are, from a file through one pooled buffer.
    /// </summary>
    public async Task CopyToAsync(Stream destination, int pieceBytes, Action progress, CancellationToken cancellation = default)
    {
        if (_lease is not null)
        {
            foreach (var chunk in _lease.Value.Chunks)
                for (var at = 0; at < chunk.Length; at += pieceBytes)
                {
                    await destination.WriteAsync(chunk.Slice(at, Math.Min(pieceBytes, chunk.Length - at)), cancellation).ConfigureAwait(false);
                    progress();
                }
            return;
        }
        var piece = System.Buffers.ArrayPool<byte>.Shared.Rent(Math.Min(pieceBytes, FilePieceBytes));
        try
        {
            for (var left = Length; left > 0;)
            {
                var take = (int)Math.Min(left, piece.Length);
                await _file!.ReadExactlyAsync(piece.AsMemory(0, take), cancellation).ConfigureAwait(false);
                await destination.WriteAsync(piece.AsMemory(0, take), cancellation).ConfigureAwait(false);
                left -= take;
                progress();
            }
        }
        finally
        {
            System.Buffers.ArrayPool<byte>.Shared.Return(piece);
        }
    }

    /// <inheritdoc />
    public void Dispose()
    {
        _lease?.Dispose();
        _file?.Dispose();
    }
}

/// <summary>What a data store holds at one moment: keys and bytes in all, and how they split between memory and disk.</summary>
public sealed record StoreUsage(int Count, int PeakCount, long Bytes, long InMemoryBytes, long SpilledBytes, int SpilledCount);

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

    private long _receivedThroughSharedMemory, _sentThroughSharedMemory;

    /// <summary>Of <see cref="ReceivedFromWorkers"/>, the bytes copied out of a peer's shared segment on this machine instead of sent over the channel.</summary>
    public long ReceivedThroughSharedMemory => Interlocked.Read(ref _receivedThroughSharedMemory);

    /// <summary>Bytes of values this worker answered with a reference to their shared segment (a peer on this machine copied them).</summary>
    public long SentThroughSharedMemory => Interlocked.Read(ref _sentThroughSharedMemory);

    internal void AddReceivedThroughSharedMemory(long bytes) => Interlocked.Add(ref _receivedThroughSharedMemory, bytes);

    internal void AddSentThroughSharedMemory(long bytes) => Interlocked.Add(ref _sentThroughSharedMemory, bytes);

    private long _cancelledBeforeStart;

    /// <summary>Tasks this worker was sent and that were cancelled before they started (their client cancelled, released them or died).</summary>
    public long CancelledBeforeStart => Interlocked.Read(ref _cancelledBeforeStart);

    internal void AddCancelledBeforeStart(int tasks) => Interlocked.Add(ref _cancelledBeforeStart, tasks);

    private long _executorsStarted;
    private long _spareExecutorsTaken;

    /// <summary>Executor processes this worker started, spares included.</summary>
    public long ExecutorsStarted => Interlocked.Read(ref _executorsStarted);

    /// <summary>Executors that were already started and warm when a code version first needed one.</summary>
    public long SpareExecutorsTaken => Interlocked.Read(ref _spareExecutorsTaken);

    internal void AddExecutorStarted() => Interlocked.Increment(ref _executorsStarted);

    internal void AddSpareExecutorTaken() => Interlocked.Increment(ref _spareExecutorsTaken);

    private long _tasksRun;

    /// <summary>Tasks whose function an executor of this worker ran to a result or an error (cancelled ones not counted).</summary>
    public long TasksRun => Interlocked.Read(ref _tasksRun);

    internal void AddTaskRun() => Interlocked.Increment(ref _tasksRun);

    private long _tasksTakenDirectly;

    /// <summary>Tasks a client handed to this worker straight over the data channel that it took (not through the center).</summary>
    public long TasksTakenDirectly => Interlocked.Read(ref _tasksTakenDirectly);

    internal void AddTaskTakenDirectly() => Interlocked.Increment(ref _tasksTakenDirectly);

    private int _peakTasksInFlight;

    /// <summary>The most tasks this worker had at once, received and not finished: how far ahead the center sent work.</summary>
    public int PeakTasksInFlight => Volatile.Read(ref _peakTasksInFlight);

    /// <summary>Called by the worker's actor only, so a plain compare suffices.</summary>
    internal void RecordTasksInFlight(int tasks)
    {
        if (tasks > _peakTasksInFlight) Volatile.Write(ref _peakTasksInFlight, tasks);
    }

    private long _inputBytesShared, _inputBytesCopied, _resultBytesShared, _resultBytesCopied;

    /// <summary>Bytes of input values handed to executors by reference to a shared segment (not copied).</summary>
    public long InputBytesShared => Interlocked.Read(ref _inputBytesShared);
    /// <summary>Bytes of input values copied to executors over their socket.</summary>
    public long InputBytesCopied => Interlocked.Read(ref _inputBytesCopied);
    /// <summary>Bytes of results stored straight from the segment the executor wrote them into (not copied).</summary>
    public long ResultBytesShared => Interlocked.Read(ref _resultBytesShared);
    /// <summary>Bytes of results copied from executors over their socket.</summary>
    public long ResultBytesCopied => Interlocked.Read(ref _resultBytesCopied);

    internal void AddInputToExecutor(long bytes, bool shared) => Interlocked.Add(ref shared ? ref _inputBytesShared : ref _inputBytesCopied, bytes);
    internal void AddResultFromExecutor(long bytes, bool shared) => Interlocked.Add(ref shared ? ref _resultBytesShared : ref _resultBytesCopied, bytes);

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
/// <param name="SentToWorkers">Bytes of values this worker served to other workers.</param>
/// <param name="SentToClients">Bytes of values this worker served to clients.</param>
/// <param name="ReceivedFromWorkers">Bytes of values this worker fetched from other workers.</param>
/// <param name="KeyCount">Keys held, in memory and on disk.</param>
/// <param name="StoredBytes">Bytes held, in memory and on disk.</param>
/// <param name="AssembliesReceived">The user assemblies this worker received, as "name:hash", in arrival order.</param>
/// <param name="PeakKeyCount">The most keys held at once since the worker started.</param>
/// <param name="MemoryLimit">Bytes of values the worker keeps in memory before it spills to disk.</param>
/// <param name="InMemoryBytes">Bytes of values held in memory.</param>
/// <param name="SpilledBytes">Bytes of values held on disk.</param>
/// <param name="SpilledCount">Values held on disk.</param>
/// <param name="ReadsFromDisk">Reads of a value served from disk since the worker started.</param>
/// <param name="CancelledBeforeStart">Tasks cancelled on this worker before they started.</param>
/// <param name="ExecutorsStarted">Executor processes this worker started, spares included.</param>
/// <param name="SpareExecutorsTaken">Times a code version's first tasks found a spare executor already started and warm.</param>
/// <param name="PeakTasksInFlight">The most tasks the worker had at once, received and not finished.</param>
/// <param name="TasksRun">Tasks whose function an executor of this worker ran, to a result or an error.</param>
/// <param name="TasksTakenDirectly">Tasks a client handed to this worker over the data channel that it took.</param>
/// <param name="InputBytesShared">Bytes of inputs handed to executors by reference to a shared segment.</param>
/// <param name="InputBytesCopied">Bytes of inputs copied to executors over their socket.</param>
/// <param name="ResultBytesShared">Bytes of results stored from the segment an executor wrote them into, without a copy.</param>
/// <param name="ResultBytesCopied">Bytes of results copied from executors over their socket.</param>
/// <param name="SharedSegmentsInUse">Shared segments held now by values, leases and executors (idle ones not counted).</param>
/// <param name="ReceivedThroughSharedMemory">Of <paramref name="ReceivedFromWorkers"/>, bytes copied from a peer's shared segment on the same machine.</param>
/// <param name="SentThroughSharedMemory">Bytes of values answered with a reference to their shared segment, for a peer on the same machine to copy.</param>
public sealed record WorkerTransferStats(long SentToWorkers, long SentToClients, long ReceivedFromWorkers, int KeyCount, long StoredBytes, IReadOnlyList<string> AssembliesReceived, int PeakKeyCount = 0,
    long MemoryLimit = long.MaxValue, long InMemoryBytes = 0, long SpilledBytes = 0, int SpilledCount = 0, long ReadsFromDisk = 0, long CancelledBeforeStart = 0,
    long ExecutorsStarted = 0, long SpareExecutorsTaken = 0, int PeakTasksInFlight = 0, long TasksRun = 0, long TasksTakenDirectly = 0,
    long InputBytesShared = 0, long InputBytesCopied = 0, long ResultBytesShared = 0, long ResultBytesCopied = 0, int SharedSegmentsInUse = 0,
    long ReceivedThroughSharedMemory = 0, long SentThroughSharedMemory = 0);
