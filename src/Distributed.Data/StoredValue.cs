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
    private readonly byte[] _buffer;
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
        try { source.ReadExactly(value.Buffer, 0, length); }
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
    public ReadOnlyMemory<byte> Memory => _buffer.AsMemory(0, Length);

    /// <summary>The value's bytes.</summary>
    public ReadOnlySpan<byte> Span => _buffer.AsSpan(0, Length);

    /// <summary>A copy of the value's bytes in an array of their exact length.</summary>
    public byte[] ToArray() => Span.ToArray();

    /// <summary>Whether the buffer goes back to a pool once the value is released (for tests).</summary>
    internal bool IsPooled => Volatile.Read(ref _pool) is not null;

    /// <summary>References held now: the owner's and the leases' (for tests).</summary>
    internal int ReferenceCount => Volatile.Read(ref _references);

    /// <summary>The buffer behind the value (for tests of reuse).</summary>
    internal byte[] Buffer => _buffer;

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
        if (left == 0 && Interlocked.Exchange(ref _pool, null) is { } pool) pool.Return(_buffer);
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

    private readonly object _gate = new();
    private readonly Dictionary<long, Stack<byte[]>> _idle = [];
    private long _idleBytes;

    /// <summary>A pool that keeps at most <paramref name="maxIdleBytes"/> bytes of idle buffers.</summary>
    public ValueBufferPool(long maxIdleBytes)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(maxIdleBytes);
        MaxIdleBytes = maxIdleBytes;
    }

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

    /// <summary>A value of <paramref name="length"/> bytes in a rented buffer (its contents arbitrary until the caller fills it), owned by the caller.</summary>
    internal StoredValue RentValue(int length, string typeName) => new(Rent(length), length, typeName, this);

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
