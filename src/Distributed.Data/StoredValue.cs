using Distributed.Protocol.Hosting;
namespace Distributed.Data;

/// <summary>
/// A stored value: its encoded bytes (see <c>ValueCodec</c>) and the name of its type. Its bytes may
/// live in a buffer of a <see cref="ValueBufferPool"/>, longer than the value: read them through
/// <see cref="Memory"/> or <see cref="Span"/>, never past <see cref="Length"/>. A value longer than
/// <see cref="MaxChunkBytes"/> (a .NET array holds less than 2 GiB) is a list of chunks instead, each
/// a buffer of its own: read those through <see cref="Chunks"/> or <see cref="CopyTo"/>. A value of one
/// buffer may live in a <see cref="SharedSegment"/> instead of an array (see <see cref="Segment"/>), so
/// that executors read it in place; a chunked value never does.
/// </summary>
/// <remarks>
/// A pooled value counts its references: whoever made it holds the first, a <see cref="DataStore"/>
/// takes it over on <c>Put</c>, and every <see cref="ValueLease"/> holds one more. The buffers go back
/// to their pool only when the last is released, so a reader that still sends a value never sees its
/// buffers reused. A reference that is never released (a value dropped on the floor, or handed out
/// with <see cref="DataStore.Get"/>) only means that its buffers are left to the garbage collector.
/// </remarks>
public sealed class StoredValue
{
    /// <summary>The largest chunk of a value: values up to this size are one buffer, larger ones a list of chunks of this size.</summary>
    public const int MaxChunkBytes = 1 << 30;

    private readonly byte[]? _buffer;  // the only buffer, or the first chunk; null when the value is in a segment
    private readonly byte[][]? _chunks; // null: one buffer; else every chunk, each full but the last
    private readonly int _chunkBytes;   // the bytes of each chunk but the last
    private readonly SharedSegment? _segment; // the bytes live here instead of _buffer when the value is shared with executors (one buffer only)
    private ValueBufferPool? _pool; // null: the buffers are never reused (not pooled, or handed out for good)
    private int _references = 1;

    /// <summary>A value whose bytes are exactly <paramref name="bytes"/>; the array is never reused by a pool (the caller may keep it).</summary>
    public StoredValue(byte[] bytes, string typeName)
        : this(bytes, bytes.Length, typeName, pool: null) { }

    internal StoredValue(byte[] buffer, int length, string typeName, ValueBufferPool? pool)
    {
        ArgumentNullException.ThrowIfNull(buffer);
        ArgumentNullException.ThrowIfNull(typeName);
        if ((uint)length > (uint)buffer.Length) throw new ArgumentOutOfRangeException(nameof(length), length, $"The value is longer than its buffer ({buffer.Length} bytes).");
        _buffer = buffer;
        _chunkBytes = length;
        Length = length;
        TypeName = typeName;
        _pool = pool;
    }

    /// <summary>
    /// A value made of <paramref name="chunks"/>: each holds <paramref name="chunkBytes"/> of its bytes
    /// but the last, which holds the rest (its buffer may be longer). One chunk is a value like any other.
    /// </summary>
    internal StoredValue(byte[][] chunks, int chunkBytes, long length, string typeName, ValueBufferPool? pool)
    {
        ArgumentNullException.ThrowIfNull(chunks);
        ArgumentNullException.ThrowIfNull(typeName);
        var before = (long)chunkBytes * (chunks.Length - 1); // the bytes in the chunks before the last
        if (chunks.Length == 0 || chunkBytes <= 0 || length < 0 || (chunks.Length > 1 && length <= before)
            || length - before > chunks[^1].Length || chunks[..^1].Any(c => c.Length < chunkBytes))
            throw new ArgumentException($"{chunks.Length} chunks of {chunkBytes} bytes do not hold a value of {length} bytes.", nameof(chunks));
        _buffer = chunks[0];
        _chunks = chunks.Length > 1 ? chunks : null;
        _chunkBytes = chunks.Length > 1 ? chunkBytes : (int)length;
        Length = length;
        TypeName = typeName;
        _pool = pool;
    }

    /// <summary>A value whose bytes are the first <paramref name="length"/> of <paramref name="segment"/>; it goes back to <paramref name="pool"/> (or is unmapped) once released.</summary>
    internal StoredValue(SharedSegment segment, int length, string typeName, ValueBufferPool pool)
    {
        ArgumentNullException.ThrowIfNull(segment);
        ArgumentNullException.ThrowIfNull(typeName);
        if ((uint)length > (uint)segment.Capacity) throw new ArgumentOutOfRangeException(nameof(length), length, $"The value is longer than its segment ({segment.Capacity} bytes).");
        _segment = segment;
        _chunkBytes = length;
        Length = length;
        TypeName = typeName;
        _pool = pool;
    }

    /// <summary>
    /// A value that owns <paramref name="bytes"/>: once no one holds the value any more, the array may
    /// be reused by <paramref name="pool"/> for another value. The caller must not keep the array.
    /// </summary>
    public static StoredValue Adopt(byte[] bytes, string typeName, ValueBufferPool pool) => new(bytes, bytes.Length, typeName, pool);

    /// <summary>
    /// This value, its buffers owned by <paramref name="pool"/> from now on (they may serve another value
    /// once no one holds it). Only for a value that is not pooled yet and that no one else holds: the
    /// caller uses the value returned instead of this one.
    /// </summary>
    public StoredValue AdoptedBy(ValueBufferPool pool)
    {
        ArgumentNullException.ThrowIfNull(pool);
        if (IsPooled) throw new InvalidOperationException("The value's buffers belong to a pool already.");
        if (_segment is not null) throw new InvalidOperationException("A value in a shared segment belongs to the pool that lent it.");
        return _chunks is null ? new StoredValue(_buffer!, (int)Length, TypeName, pool) : new StoredValue(_chunks, _chunkBytes, Length, TypeName, pool);
    }

    /// <summary>
    /// Reads a value of <paramref name="length"/> bytes from <paramref name="source"/>: into buffers of
    /// <paramref name="buffers"/> when given (the caller owns the value; a failed read gives the buffers
    /// back at once), else into arrays of its own. A value longer than <paramref name="chunkBytes"/> is read
    /// into chunks of that size, each allocated only once the one before it is full, so a length that lies
    /// costs at most one chunk more than the bytes actually sent.
    /// </summary>
    internal static StoredValue ReadFrom(Stream source, long length, string typeName, ValueBufferPool? buffers, int chunkBytes = MaxChunkBytes)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(chunkBytes);
        if (length <= chunkBytes)
        {
            if (buffers is null)
            {
                var bytes = GC.AllocateUninitializedArray<byte>((int)length);
                source.ReadExactly(bytes);
                return new StoredValue(bytes, typeName);
            }
            var value = buffers.RentValue((int)length, typeName);
            var started = System.Diagnostics.Stopwatch.GetTimestamp();
            try { source.ReadExactly(value.Writable.Span); }
            catch
            {
                value.Release(); // read by no one else: back to the pool at once
                throw;
            }
            if (length >= 1 << 20) HopTrace.Once(started, $"data: {length >> 20} MiB read into a pooled {(value.Segment is null ? "array" : "segment")}");
            return value;
        }
        var chunks = new byte[(length + chunkBytes - 1) / chunkBytes][];
        var filled = 0;
        try
        {
            for (; filled < chunks.Length; filled++)
            {
                var size = (int)Math.Min(chunkBytes, length - (long)filled * chunkBytes);
                var chunk = buffers?.Rent(size) ?? GC.AllocateUninitializedArray<byte>(size);
                chunks[filled] = chunk;
                source.ReadExactly(chunk, 0, size);
            }
        }
        catch
        {
            if (buffers is not null)
                for (var i = 0; i <= filled && i < chunks.Length; i++)
                    if (chunks[i] is { } chunk) buffers.Return(chunk);
            throw;
        }
        return new StoredValue(chunks, chunkBytes, length, typeName, buffers);
    }

    /// <summary>The pieces a value read by <see cref="ReadFromAsync"/> arrives in, each allocated as the one before it is full.</summary>
    internal const int ArrivalPieceBytes = 4 << 20;

    /// <summary>
    /// Reads a value of <paramref name="length"/> bytes from <paramref name="source"/> asynchronously, for a
    /// peer that is not trusted with the memory it claims: the bytes arrive into pieces of
    /// <see cref="ArrivalPieceBytes"/>, each allocated only once the one before it is full, so a length that
    /// lies costs at most one piece more than the bytes actually sent. Once all are there they are laid
    /// out as <see cref="ReadFrom"/> lays out a value (one buffer, or chunks of <paramref name="chunkBytes"/>),
    /// in buffers of <paramref name="buffers"/> when given. <paramref name="progress"/> is called after each piece.
    /// </summary>
    internal static async Task<StoredValue> ReadFromAsync(Stream source, long length, string typeName, ValueBufferPool? buffers,
        Action progress, int chunkBytes = MaxChunkBytes, CancellationToken cancellation = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        if (length <= ArrivalPieceBytes)
        {
            var value = buffers?.RentValue((int)length, typeName) ?? new StoredValue(GC.AllocateUninitializedArray<byte>((int)length), typeName);
            try { await source.ReadExactlyAsync(value.Writable, cancellation).ConfigureAwait(false); }
            catch
            {
                value.Release();
                throw;
            }
            progress();
            return value;
        }
        var pieces = new List<byte[]>();
        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        try
        {
            for (var left = length; left > 0;)
            {
                var size = (int)Math.Min(ArrivalPieceBytes, left);
                var piece = System.Buffers.ArrayPool<byte>.Shared.Rent(size);
                pieces.Add(piece);
                await source.ReadExactlyAsync(piece.AsMemory(0, size), cancellation).ConfigureAwait(false);
                left -= size;
                progress();
            }
            HopTrace.Once(started, $"data: {length >> 20} MiB arrived in pieces");
            started = System.Diagnostics.Stopwatch.GetTimestamp();
            using var arrived = new PiecesStream(pieces, ArrivalPieceBytes, length);
            var value = ReadFrom(arrived, length, typeName, buffers, chunkBytes);
            HopTrace.Once(started, $"data: {length >> 20} MiB laid out from the pieces (segment: {value.Segment is not null})");
            return value;
        }
        finally
        {
            foreach (var piece in pieces) System.Buffers.ArrayPool<byte>.Shared.Return(piece);
        }
    }

    /// <summary>Reads pieces of equal size (but the last) as one stream.</summary>
    private sealed class PiecesStream(List<byte[]> pieces, int pieceBytes, long length) : Stream
    {
        private long _position;

        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => length;
        public override long Position { get => _position; set => throw new NotSupportedException(); }

        public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

        public override int Read(Span<byte> buffer)
        {
            var read = 0;
            while (read < buffer.Length && _position < length)
            {
                var piece = (int)(_position / pieceBytes);
                var at = (int)(_position % pieceBytes);
                var take = (int)Math.Min(Math.Min(pieceBytes - at, buffer.Length - read), length - _position);
                pieces[piece].AsSpan(at, take).CopyTo(buffer[read..]);
                read += take;
                _position += take;
            }
            return read;
        }

        public override void Flush() { }
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }

    /// <summary>The name of the value's type.</summary>
    public string TypeName { get; }

    /// <summary>The value's size in bytes.</summary>
    public long Length { get; }

    /// <summary>Whether the value is one buffer (an array or a shared segment), readable as <see cref="Memory"/> and <see cref="Span"/>.</summary>
    public bool IsSingleChunk => _chunks is null;

    /// <summary>The value's bytes, when it is one buffer (see <see cref="IsSingleChunk"/>).</summary>
    public ReadOnlyMemory<byte> Memory => Writable;

    /// <summary>The value's bytes, for whoever fills a value it just rented (one buffer only).</summary>
    internal Memory<byte> Writable => _chunks is not null ? throw TooLongForOneBuffer()
        : _segment is null ? _buffer.AsMemory(0, (int)Length) : _segment.Memory[..(int)Length];

    /// <summary>The shared segment the bytes live in, or null when they are in arrays.</summary>
    public SharedSegment? Segment => _segment;

    /// <summary>The value's bytes, when it is one buffer (see <see cref="IsSingleChunk"/>).</summary>
    public ReadOnlySpan<byte> Span => Writable.Span;

    /// <summary>How many chunks the value's bytes are in (one for a value of one buffer).</summary>
    public int ChunkCount => _chunks?.Length ?? 1;

    /// <summary>The bytes of chunk <paramref name="index"/>, in order: together they are the value.</summary>
    public ReadOnlyMemory<byte> Chunk(int index)
    {
        if (_chunks is null) return index == 0 ? Writable : throw new ArgumentOutOfRangeException(nameof(index));
        var start = (long)index * _chunkBytes;
        return _chunks[index].AsMemory(0, (int)Math.Min(_chunkBytes, Length - start));
    }

    /// <summary>The value's bytes, chunk by chunk in order.</summary>
    public IEnumerable<ReadOnlyMemory<byte>> Chunks
    {
        get
        {
            for (var i = 0; i < ChunkCount; i++) yield return Chunk(i);
        }
    }

    /// <summary>Writes the value's bytes to <paramref name="destination"/>, chunk by chunk.</summary>
    public void CopyTo(Stream destination)
    {
        for (var i = 0; i < ChunkCount; i++) destination.Write(Chunk(i).Span);
    }

    /// <summary>A copy of the value's bytes in an array of their exact length (a value of one buffer only).</summary>
    public byte[] ToArray() => Span.ToArray();

    private InvalidOperationException TooLongForOneBuffer() =>
        new($"The value ({TypeName}) is {Length:N0} bytes, in {ChunkCount} chunks: more than one buffer holds. Read it chunk by chunk (Chunks, CopyTo).");

    /// <summary>Whether the buffer goes back to a pool once the value is released (for tests).</summary>
    internal bool IsPooled => Volatile.Read(ref _pool) is not null;

    /// <summary>References held now: the owner's and the leases' (for tests).</summary>
    internal int ReferenceCount => Volatile.Read(ref _references);

    /// <summary>The array behind the value, its first chunk when it has several (for tests of reuse); a shared value has none.</summary>
    internal byte[] Buffer => _buffer ?? throw new InvalidOperationException("The value lives in a shared segment.");

    /// <summary>One more reference, unless the value was released already (its buffer may be reused).</summary>
    internal bool TryAddReference()
    {
        while (true)
        {
            var now = Volatile.Read(ref _references);
            if (now <= 0) return false;
            if (Interlocked.CompareExchange(ref _references, now + 1, now) == now) return true;
        }
    }

    /// <summary>Drops one reference; the last one returns the buffers to their pool.</summary>
    internal void Release()
    {
        var left = Interlocked.Decrement(ref _references);
        if (left != 0 || Interlocked.Exchange(ref _pool, null) is not { } pool) return;
        if (_segment is not null) pool.ReturnSegment(_segment);
        else if (_chunks is null) pool.Return(_buffer!);
        else foreach (var chunk in _chunks) pool.Return(chunk);
    }

    /// <summary>The buffers are never returned to a pool: for readers that keep the bytes for as long as they like.</summary>
    internal void KeepForever() => Volatile.Write(ref _pool, null);
}

/// <summary>
/// A reference to a stored value, taken with <see cref="DataStore.Lease"/>: while it is not disposed
/// the value's buffer is not reused, even if its key is deleted, replaced or spilled meanwhile.
/// </summary>
public sealed class ValueLease : IDisposable
{
    private StoredValue? _value;

    internal ValueLease(StoredValue value) => _value = value;

    /// <summary>The value held.</summary>
    public StoredValue Value => _value ?? throw new ObjectDisposedException(nameof(ValueLease));

    /// <inheritdoc />
    public void Dispose() => Interlocked.Exchange(ref _value, null)?.Release();
}

/// <summary>
/// Buffers for values, reused instead of allocated: on this kind of machine the first touch of fresh
/// memory costs more than copying the bytes into it (about 6 µs per 4 KiB page), so a value received
/// into a reused buffer moves several times faster. Buffers come in size classes (eight per power of
/// two, so at most an eighth is wasted); values smaller than <see cref="MinimumPooledBytes"/> get
/// arrays of their own. Idle buffers are kept up to <see cref="MaxIdleBytes"/>, the rest left to the
/// garbage collector. Thread-safe.
/// </summary>
public sealed class ValueBufferPool
{
    /// <summary>Values below this size are not worth pooling: their arrays are small and cheap.</summary>
    public const int MinimumPooledBytes = 64 << 10;

    /// <summary>
    /// Values from this size up live in shared segments when the pool is asked to share them: below it,
    /// a copy over the executor socket costs less than mapping a segment in the executor.
    /// </summary>
    public const int DefaultSharedMinimumBytes = 1 << 20;

    private readonly object _gate = new();
    private readonly Dictionary<long, Stack<byte[]>> _idle = [];
    private readonly Dictionary<long, Stack<SharedSegment>> _idleSegments = [];
    private long _idleBytes;
    private int _segmentsInUse;
    private long _segmentsCreated;

    /// <summary>
    /// A pool that keeps at most <paramref name="maxIdleBytes"/> bytes of idle buffers (arrays and
    /// segments together). Values of <paramref name="sharedMinimumBytes"/> or more are rented as
    /// <see cref="SharedSegment"/>s where the system makes them (else arrays, as all smaller ones).
    /// </summary>
    public ValueBufferPool(long maxIdleBytes, int sharedMinimumBytes = int.MaxValue)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(maxIdleBytes);
        ArgumentOutOfRangeException.ThrowIfLessThan(sharedMinimumBytes, MinimumPooledBytes);
        MaxIdleBytes = maxIdleBytes;
        SharedMinimumBytes = sharedMinimumBytes;
    }

    /// <summary>The size from which rented values live in shared segments (<see cref="int.MaxValue"/>: never).</summary>
    public int SharedMinimumBytes { get; }

    /// <summary>Whether values of <paramref name="length"/> bytes are rented in shared segments.</summary>
    public bool Shares(int length) => length >= SharedMinimumBytes && SharedSegment.IsSupported;

    /// <summary>Segments rented and not returned yet: held by values, leases or executors.</summary>
    public int SegmentsInUse => Volatile.Read(ref _segmentsInUse);

    /// <summary>Segments made since the pool was created (the rest of the rents reused one).</summary>
    public long SegmentsCreated => Interlocked.Read(ref _segmentsCreated);

    /// <summary>Idle segments held now.</summary>
    public int IdleSegmentCount { get { lock (_gate) return _idleSegments.Values.Sum(s => s.Count); } }

    /// <summary>The most bytes of idle buffers the pool keeps.</summary>
    public long MaxIdleBytes { get; }

    /// <summary>Bytes of idle buffers held now.</summary>
    public long IdleBytes { get { lock (_gate) return _idleBytes; } }

    /// <summary>Idle buffers held now.</summary>
    public int IdleCount { get { lock (_gate) return _idle.Values.Sum(s => s.Count); } }

    /// <summary>A buffer of at least <paramref name="length"/> bytes, reused when one of its class is idle. Its contents are arbitrary.</summary>
    public byte[] Rent(int length)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        if (length < MinimumPooledBytes) return GC.AllocateUninitializedArray<byte>(length);
        var size = ClassSize(length);
        lock (_gate)
        {
            if (_idle.TryGetValue(size, out var stack) && stack.TryPop(out var buffer))
            {
                _idleBytes -= buffer.Length;
                return buffer;
            }
        }
        return GC.AllocateUninitializedArray<byte>((int)size);
    }

    /// <summary>
    /// A value of <paramref name="length"/> bytes in a rented buffer, or segment when the pool shares
    /// values that large (its contents arbitrary until the caller fills it), owned by the caller.
    /// </summary>
    internal StoredValue RentValue(int length, string typeName) =>
        Shares(length) && RentSegment(length) is { } segment ? new(segment, length, typeName, this) : new(Rent(length), length, typeName, this);

    /// <summary>
    /// A shared segment of at least <paramref name="length"/> bytes, reused when one of its class is idle,
    /// or null when none can be made. The caller gives it back with <see cref="ReturnSegment"/> (or
    /// <see cref="DiscardSegment"/>) once nobody reads or writes it any more.
    /// </summary>
    public SharedSegment? RentSegment(int length)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(length);
        var size = ClassSize(length);
        lock (_gate)
        {
            if (_idleSegments.TryGetValue(size, out var stack) && stack.TryPop(out var idle))
            {
                _idleBytes -= idle.Capacity;
                Interlocked.Increment(ref _segmentsInUse);
                return idle;
            }
        }
        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        if (SharedSegment.TryCreate((int)size) is not { } segment) return null;
        HopTrace.Once(started, $"pool: a new segment of {size >> 20} MiB made");
        Interlocked.Increment(ref _segmentsCreated);
        Interlocked.Increment(ref _segmentsInUse);
        return segment;
    }

    /// <summary>A value that lives in <paramref name="segment"/>, a segment of this pool, which it owns from now on.</summary>
    public StoredValue AdoptSegment(SharedSegment segment, int length, string typeName) => new(segment, length, typeName, this);

    /// <summary>Takes a rented segment back for reuse, or unmaps it past the idle cap; the caller must not touch it any more.</summary>
    public void ReturnSegment(SharedSegment segment)
    {
        ArgumentNullException.ThrowIfNull(segment);
        lock (_gate)
        {
            Interlocked.Decrement(ref _segmentsInUse);
            if (_idleBytes + segment.Capacity <= MaxIdleBytes && !segment.IsDisposed)
            {
                var size = FloorClassSize(segment.Capacity);
                if (!_idleSegments.TryGetValue(size, out var stack)) _idleSegments[size] = stack = new Stack<SharedSegment>();
                stack.Push(segment);
                _idleBytes += segment.Capacity;
                return;
            }
        }
        Unmap(segment);
    }

    /// <summary>
    /// Raised with a segment's id once the pool has unmapped it for good (never to be rented again), on
    /// the thread that let it go: executors that keep it mapped let it go too, which frees its memory.
    /// </summary>
    public event Action<long>? SegmentUnmapped;

    private void Unmap(SharedSegment segment)
    {
        segment.Release();
        SegmentUnmapped?.Invoke(segment.Id);
    }

    /// <summary>
    /// Unmaps a rented segment that must never be reused (another process may still write it, as an
    /// executor killed while it filled one); its memory is freed once that process lets go too.
    /// </summary>
    public void DiscardSegment(SharedSegment segment)
    {
        ArgumentNullException.ThrowIfNull(segment);
        Interlocked.Decrement(ref _segmentsInUse);
        Unmap(segment);
    }

    /// <summary>Takes a buffer back for reuse; the caller must not touch it any more.</summary>
    public void Return(byte[] buffer)
    {
        ArgumentNullException.ThrowIfNull(buffer);
        if (buffer.Length < MinimumPooledBytes) return;
        // Filed under the largest class it can serve in full: adopted arrays need not be a class's size.
        var size = FloorClassSize(buffer.Length);
        lock (_gate)
        {
            if (_idleBytes + buffer.Length > MaxIdleBytes) return; // left to the garbage collector
            if (!_idle.TryGetValue(size, out var stack)) _idle[size] = stack = new Stack<byte[]>();
            stack.Push(buffer);
            _idleBytes += buffer.Length;
        }
    }

    /// <summary>The size of the class that holds <paramref name="length"/> bytes: the next of eight steps per power of two.</summary>
    internal static long ClassSize(long length)
    {
        if (length <= MinimumPooledBytes) return MinimumPooledBytes;
        var power = 63 - long.LeadingZeroCount(length - 1); // 2^power < length <= 2^(power+1)
        var step = 1L << (int)(power - 3);                        // an eighth of 2^power
        return Math.Min((length + step - 1) / step * step, Array.MaxLength);
    }

    /// <summary>The largest class size that is at most <paramref name="length"/> (at least <see cref="MinimumPooledBytes"/>).</summary>
    internal static long FloorClassSize(long length)
    {
        if (length >= Array.MaxLength) return Array.MaxLength;
        var power = 63 - long.LeadingZeroCount(length); // 2^power <= length < 2^(power+1)
        var step = 1L << (int)(power - 3);
        return length / step * step;
    }
}
