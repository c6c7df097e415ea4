namespace Distributed.Data;

/// <summary>
/// A stored value: its encoded bytes (see <c>ValueCodec</c>) and the name of its type. Its bytes may
/// live in a buffer of a <see cref="ValueBufferPool"/>, longer than the value: read them through
/// <see cref="Memory"/> or <see cref="Span"/>, never past <see cref="Length"/>.
/// </summary>
/// <remarks>
/// A pooled value counts its references: whoever made it holds the first, a <see cref="DataStore"/>
/// takes it over on <c>Put</c>, and every <see cref="ValueLease"/> holds one more. The buffer goes back
/// to its pool only when the last is released, so a reader that still sends a value never sees its
/// buffer reused. A reference that is never released (a value dropped on the floor, or handed out
/// with <see cref="DataStore.Get"/>) only means that its buffer is left to the garbage collector.
/// </remarks>
public sealed class StoredValue
{
    private readonly byte[]? _buffer;
    private readonly SharedSegment? _segment; // the bytes live here instead of _buffer when the value is shared with executors
    private ValueBufferPool? _pool; // null: the buffer is never reused (not pooled, or handed out for good)
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
    /// Reads a value of <paramref name="length"/> bytes from <paramref name="source"/>: into a buffer of
    /// <paramref name="buffers"/> when given (the caller owns the value; a failed read gives the buffer
    /// back at once), else into an array of its own.
    /// </summary>
    internal static StoredValue ReadFrom(Stream source, int length, string typeName, ValueBufferPool? buffers)
    {
        if (buffers is null)
        {
            var bytes = GC.AllocateUninitializedArray<byte>(length);
            source.ReadExactly(bytes);
            return new StoredValue(bytes, typeName);
        }
        var value = buffers.RentValue(length, typeName);
        try { source.ReadExactly(value.Writable.Span); }
        catch
        {
            value.Release(); // read by no one else: back to the pool at once
            throw;
        }
        return value;
    }

    /// <summary>The name of the value's type.</summary>
    public string TypeName { get; }

    /// <summary>The value's size in bytes.</summary>
    public int Length { get; }

    /// <summary>The value's bytes.</summary>
    public ReadOnlyMemory<byte> Memory => Writable;

    /// <summary>The value's bytes.</summary>
    public ReadOnlySpan<byte> Span => _segment is null ? _buffer.AsSpan(0, Length) : _segment.GetSpan()[..Length];

    /// <summary>The value's bytes, for whoever fills a value it just rented.</summary>
    internal Memory<byte> Writable => _segment is null ? _buffer.AsMemory(0, Length) : _segment.Memory[..Length];

    /// <summary>The shared segment the bytes live in, or null when they are in an array.</summary>
    public SharedSegment? Segment => _segment;

    /// <summary>A copy of the value's bytes in an array of their exact length.</summary>
    public byte[] ToArray() => Span.ToArray();

    /// <summary>Whether the buffer goes back to a pool once the value is released (for tests).</summary>
    internal bool IsPooled => Volatile.Read(ref _pool) is not null;

    /// <summary>References held now: the owner's and the leases' (for tests).</summary>
    internal int ReferenceCount => Volatile.Read(ref _references);

    /// <summary>The array behind the value (for tests of reuse); a shared value has none.</summary>
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

    /// <summary>Drops one reference; the last one returns the buffer to its pool.</summary>
    internal void Release()
    {
        var left = Interlocked.Decrement(ref _references);
        if (left != 0 || Interlocked.Exchange(ref _pool, null) is not { } pool) return;
        if (_segment is null) pool.Return(_buffer!);
        else pool.ReturnSegment(_segment);
    }

    /// <summary>The buffer is never returned to a pool: for readers that keep the bytes for as long as they like.</summary>
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
        if (SharedSegment.TryCreate((int)size) is not { } segment) return null;
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
        segment.Release();
    }

    /// <summary>
    /// Unmaps a rented segment that must never be reused (another process may still write it, as an
    /// executor killed while it filled one); its memory is freed once that process lets go too.
    /// </summary>
    public void DiscardSegment(SharedSegment segment)
    {
        ArgumentNullException.ThrowIfNull(segment);
        Interlocked.Decrement(ref _segmentsInUse);
        segment.Release();
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
