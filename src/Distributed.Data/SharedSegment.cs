using System.Buffers;
using System.Runtime.InteropServices;

namespace Distributed.Data;

/// <summary>
/// Memory a worker shares with its executor processes (Linux): an anonymous memory file
/// (<c>memfd_create</c>) mapped into this process. Another process of the same user maps the same pages
/// by opening <c>/proc/PID/fd/FD</c> of the process that holds the file, so a value in a segment reaches
/// an executor, or comes back from one, without being copied through a socket. The file has no name
/// in any folder: only this user's processes (and root) can reach it, through this process.
/// </summary>
/// <remarks>
/// The mapping is unmapped when the segment is released, never by a finalizer (a span over it may
/// outlive every reference to the segment): whoever releases it must know that nobody reads it any
/// more. Values own their segments through <see cref="StoredValue"/>'s reference count, which is what
/// makes that so; a shared value is never handed out for good (<see cref="DataStore.Get"/> copies it).
/// </remarks>
public sealed unsafe class SharedSegment : MemoryManager<byte>
{
    private static long _lastId;
    private static int _unsupported; // 1 once creating a segment failed: everyone falls back to arrays

    /// <summary>The name of every segment's memory file (what /proc shows as <c>/memfd:NAME</c>): a peer on the same host checks it before it reads one.</summary>
    internal const string FileName = "distributed-value";

    private readonly int _descriptor;
    private (ulong Inode, ulong Device)? _fileIdentity;
    private int _populatedBytes; // the first bytes whose pages this mapping has populated (Populate)
    private readonly nint _address;
    private int _disposed;

    private SharedSegment(int descriptor, nint address, int capacity, long id, bool writable)
    {
        _descriptor = descriptor;
        _address = address;
        Capacity = capacity;
        Id = id;
        Writable = writable;
    }

    /// <summary>Whether segments can be made here (Linux, and no earlier attempt failed).</summary>
    public static bool IsSupported => OperatingSystem.IsLinux() && Volatile.Read(ref _unsupported) == 0;

    /// <summary>Bytes the segment holds.</summary>
    public int Capacity { get; }

    /// <summary>An id unique in the process that made or opened it (for caches and references).</summary>
    public long Id { get; }

    /// <summary>The descriptor of the memory file in this process (what another process opens through /proc).</summary>
    public int Descriptor => _descriptor;

    /// <summary>
    /// The memory file's inode and device, which a peer that opens it through /proc compares with what it
    /// opened; null when they cannot be read. Read once: the descriptor names this file until the segment is released.
    /// </summary>
    internal (ulong Inode, ulong Device)? FileIdentity
    {
        get
        {
            ObjectDisposedException.ThrowIf(IsDisposed, this);
            return _fileIdentity ??= SameHost.FileIdentity(_descriptor);
        }
    }

    /// <summary>Whether this process may write it.</summary>
    public bool Writable { get; }

    /// <summary>Whether it was unmapped (for tests).</summary>
    internal bool IsDisposed => Volatile.Read(ref _disposed) != 0;

    /// <summary>A new segment of <paramref name="capacity"/> bytes, or null where segments cannot be made (then never tried again).</summary>
    public static SharedSegment? TryCreate(int capacity)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(capacity);
        if (!IsSupported) return null;
        var descriptor = Native.memfd_create(FileName, Native.MFD_CLOEXEC);
        if (descriptor < 0) return Unsupported();
        if (Native.ftruncate(descriptor, capacity) != 0)
        {
            // Out of memory for the file (a tmpfs limit): not a reason to stop trying for smaller ones.
            _ = Native.close(descriptor);
            return null;
        }
        var address = Native.mmap(0, (nuint)capacity, Native.PROT_READ | Native.PROT_WRITE, Native.MAP_SHARED, descriptor, 0);
        if (address == Native.MAP_FAILED)
        {
            _ = Native.close(descriptor);
            return null;
        }
        return new SharedSegment(descriptor, address, capacity, Interlocked.Increment(ref _lastId), writable: true);

        static SharedSegment? Unsupported()
        {
            Volatile.Write(ref _unsupported, 1);
            return null;
        }
    }

    /// <summary>
    /// Maps the first <paramref name="length"/> bytes of the memory file that process
    /// <paramref name="processId"/> holds as <paramref name="descriptor"/> (read-only unless
    /// <paramref name="writable"/>). Throws <see cref="IOException"/> when it cannot be opened or is shorter.
    /// </summary>
    public static SharedSegment Open(int processId, int descriptor, int length, bool writable)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(length);
        if (!OperatingSystem.IsLinux()) throw new PlatformNotSupportedException("Shared segments need Linux.");
        var path = $"/proc/{processId}/fd/{descriptor}";
        var file = Native.open(path, (writable ? Native.O_RDWR : Native.O_RDONLY) | Native.O_CLOEXEC);
        if (file < 0) throw new IOException($"Cannot open the shared segment {path} (errno {Marshal.GetLastPInvokeError()}).");
        var size = Native.lseek(file, 0, Native.SEEK_END);
        if (size < length)
        {
            _ = Native.close(file);
            throw new IOException($"The shared segment {path} holds {size} bytes, not the {length} it should.");
        }
        // Populated at once: one call faults in every page instead of one fault per 4 KiB page read.
        var address = Native.mmap(0, (nuint)length, Native.PROT_READ | (writable ? Native.PROT_WRITE : 0), Native.MAP_SHARED | Native.MAP_POPULATE, file, 0);
        if (address == Native.MAP_FAILED)
        {
            var errno = Marshal.GetLastPInvokeError();
            _ = Native.close(file);
            throw new IOException($"Cannot map the shared segment {path} (errno {errno}).");
        }
        return new SharedSegment(file, address, length, Interlocked.Increment(ref _lastId), writable);
    }

    /// <summary>
    /// Maps the whole memory file that process <paramref name="processId"/> holds as <paramref name="descriptor"/>,
    /// readable and writable, at least <paramref name="minimumLength"/> bytes long, without touching its pages
    /// (<see cref="Populate"/> does, for the part a caller is about to use). What an executor keeps mapped
    /// across batches: one mapping serves every value the segment holds in turn and every result written into it.
    /// Throws <see cref="IOException"/> when it cannot be opened or is shorter.
    /// </summary>
    public static SharedSegment OpenWhole(int processId, int descriptor, int minimumLength)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(minimumLength);
        if (!OperatingSystem.IsLinux()) throw new PlatformNotSupportedException("Shared segments need Linux.");
        var path = $"/proc/{processId}/fd/{descriptor}";
        var file = Native.open(path, Native.O_RDWR | Native.O_CLOEXEC);
        if (file < 0) throw new IOException($"Cannot open the shared segment {path} (errno {Marshal.GetLastPInvokeError()}).");
        var size = Native.lseek(file, 0, Native.SEEK_END);
        if (size < minimumLength || size > int.MaxValue)
        {
            _ = Native.close(file);
            throw new IOException($"The shared segment {path} holds {size} bytes, not the {minimumLength} (up to 2 GiB) it should.");
        }
        var address = Native.mmap(0, (nuint)size, Native.PROT_READ | Native.PROT_WRITE, Native.MAP_SHARED, file, 0);
        if (address == Native.MAP_FAILED)
        {
            var errno = Marshal.GetLastPInvokeError();
            _ = Native.close(file);
            throw new IOException($"Cannot map the shared segment {path} (errno {errno}).");
        }
        return new SharedSegment(file, address, (int)size, Interlocked.Increment(ref _lastId), writable: true);
    }

    /// <summary>
    /// Faults in the pages of the first <paramref name="length"/> bytes in one call (instead of one fault per
    /// 4 KiB page as they are read or written); where the kernel cannot (before Linux 5.14), they fault as used.
    /// </summary>
    public void Populate(int length)
    {
        ObjectDisposedException.ThrowIf(IsDisposed, this);
        ArgumentOutOfRangeException.ThrowIfGreaterThan((uint)length, (uint)Capacity, nameof(length));
        // Pages once populated stay in this mapping (a memory file's pages are never taken back while it lives):
        // walking them again costs ~8 ms per 200 MB for nothing.
        if (length <= Volatile.Read(ref _populatedBytes)) return;
        // Whole pages (the mapping's are), none past the mapping: length is at most its capacity.
        var pages = ((nuint)length + 4095) & ~(nuint)4095;
        if (Native.madvise(_address, pages, Writable ? Native.MADV_POPULATE_WRITE : Native.MADV_POPULATE_READ) == 0)
            Volatile.Write(ref _populatedBytes, Math.Max(length, Volatile.Read(ref _populatedBytes)));
    }

    /// <inheritdoc />
    public override Span<byte> GetSpan()
    {
        ObjectDisposedException.ThrowIf(IsDisposed, this);
        return new Span<byte>((void*)_address, Capacity);
    }

    /// <inheritdoc />
    public override MemoryHandle Pin(int elementIndex = 0)
    {
        ObjectDisposedException.ThrowIf(IsDisposed, this);
        ArgumentOutOfRangeException.ThrowIfGreaterThan((uint)elementIndex, (uint)Capacity, nameof(elementIndex));
        return new MemoryHandle((byte*)_address + elementIndex); // mapped memory never moves
    }

    /// <inheritdoc />
    public override void Unpin() { }

    /// <summary>Unmaps the segment and closes its descriptor; nobody may read it any more.</summary>
    public void Release() => ((IDisposable)this).Dispose();

    /// <inheritdoc />
    protected override void Dispose(bool disposing)
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        _ = Native.munmap(_address, (nuint)Capacity);
        _ = Native.close(_descriptor);
    }

    private static class Native
    {
        public const uint MFD_CLOEXEC = 1;
        public const int PROT_READ = 1, PROT_WRITE = 2;
        public const int MAP_SHARED = 1, MAP_POPULATE = 0x8000;
        public const int O_RDONLY = 0, O_RDWR = 2, O_CLOEXEC = 0x80000;
        public const int SEEK_END = 2;
        public const int MADV_POPULATE_READ = 22, MADV_POPULATE_WRITE = 23;
        public static readonly nint MAP_FAILED = -1;

        [DllImport("libc", SetLastError = true)]
        public static extern int memfd_create([MarshalAs(UnmanagedType.LPUTF8Str)] string name, uint flags);

        [DllImport("libc", SetLastError = true)]
        public static extern int ftruncate(int fd, long length);

        [DllImport("libc", SetLastError = true)]
        public static extern nint mmap(nint address, nuint length, int protection, int flags, int fd, long offset);

        [DllImport("libc", SetLastError = true)]
        public static extern int munmap(nint address, nuint length);

        [DllImport("libc", SetLastError = true)]
        public static extern int madvise(nint address, nuint length, int advice);

        [DllImport("libc", SetLastError = true)]
        public static extern int open([MarshalAs(UnmanagedType.LPUTF8Str)] string path, int flags);

        [DllImport("libc", SetLastError = true)]
        public static extern long lseek(int fd, long offset, int whence);

        [DllImport("libc", SetLastError = true)]
        public static extern int close(int fd);
    }
}
