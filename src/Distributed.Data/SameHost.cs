using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Text;

namespace Distributed.Data;

/// <summary>
/// Which machine and process namespace a process runs in, as a worker says it when it asks a peer for
/// references to shared segments instead of bytes: the kernel's boot id (random per boot of a machine)
/// and the inode of its pid namespace. Two processes that say the same may open each other's
/// <c>/proc/PID/fd</c> entries; any others cannot, or would reach another process than the one meant.
/// </summary>
public readonly record struct HostIdentity(Guid BootId, ulong PidNamespace)
{
    /// <summary>Bytes on the wire: the boot id, then the namespace's inode.</summary>
    public const int WireBytes = 16 + sizeof(ulong);

    /// <summary>Writes it to the first <see cref="WireBytes"/> of <paramref name="destination"/>.</summary>
    public void Write(Span<byte> destination)
    {
        if (!BootId.TryWriteBytes(destination)) throw new ArgumentException("Too short for a host identity.", nameof(destination));
        BinaryPrimitives.WriteUInt64LittleEndian(destination[16..], PidNamespace);
    }

    /// <summary>Reads one written by <see cref="Write"/>.</summary>
    public static HostIdentity Read(ReadOnlySpan<byte> source) => new(new Guid(source[..16]), BinaryPrimitives.ReadUInt64LittleEndian(source[16..WireBytes]));
}

/// <summary>
/// A holder's answer to a fetch from a peer on the same host: where the value's bytes are, instead of the
/// bytes. The holder's process (its pid, and its start time so that a pid reused by another process is
/// not mistaken for it), the descriptor of the memory file in that process, the file's identity (inode and
/// device, compared after the requester opened it), the machine's boot id, and the value's length.
/// </summary>
internal sealed record SegmentReference(int ProcessId, long ProcessStartTime, int Descriptor, ulong Inode, ulong Device, Guid BootId, int Length)
{
    /// <summary>Bytes on the wire (after the entry's type name and value length, which carry the length).</summary>
    public const int WireBytes = sizeof(int) + sizeof(long) + sizeof(int) + sizeof(ulong) + sizeof(ulong) + 16;
}

/// <summary>
/// Reads the identities that make a shared-segment reference safe to follow, and follows one: opens the
/// holder's memory file through <c>/proc</c>, checks that it is the file and the process the reference
/// names, and copies the value's bytes out of it (with <c>pread</c>, never a mapping: a file that shrinks
/// under a mapping kills the reader with SIGBUS, under a read it only ends the read early).
/// </summary>
internal static class SameHost
{
    /// <summary>The name every value segment's memory file carries (see <see cref="SharedSegment.TryCreate"/>), as /proc shows it.</summary>
    public const string SegmentFileName = "/memfd:" + SharedSegment.FileName + " ";

    private static readonly Lazy<HostIdentity?> LocalIdentity = new(ReadLocal);
    private static readonly Lazy<long?> OwnStartTimeValue = new(() => StartTimeOf(Environment.ProcessId));

    /// <summary>This process's machine and pid namespace; null where it cannot be read (not Linux, no /proc).</summary>
    public static HostIdentity? Local => LocalIdentity.Value;

    /// <summary>This process's start time (clock ticks after boot), as <see cref="StartTimeOf"/> reads it; null where unknown.</summary>
    public static long? OwnStartTime => OwnStartTimeValue.Value;

    private static HostIdentity? ReadLocal()
    {
        if (!OperatingSystem.IsLinux()) return null;
        try
        {
            var bootId = Guid.Parse(File.ReadAllText("/proc/sys/kernel/random/boot_id").Trim());
            return FileIdentityOf("/proc/self/ns/pid") is { } pidNamespace ? new HostIdentity(bootId, pidNamespace.Inode) : null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException)
        {
            return null;
        }
    }

    /// <summary>When process <paramref name="processId"/> started, in clock ticks after boot (field 22 of /proc/PID/stat); null when there is no such process.</summary>
    public static long? StartTimeOf(int processId)
    {
        if (processId <= 0 || !OperatingSystem.IsLinux()) return null;
        string stat;
        try { stat = File.ReadAllText($"/proc/{processId}/stat"); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return null; }
        // The command name (field 2) is in parentheses and may hold spaces and parentheses: count from the last ')'.
        var end = stat.LastIndexOf(')');
        if (end < 0) return null;
        var fields = stat[(end + 1)..].Split(' ', StringSplitOptions.RemoveEmptyEntries);
        const int StartTimeField = 22 - 3; // fields after the name start at field 3
        return fields.Length > StartTimeField && long.TryParse(fields[StartTimeField], out var ticks) ? ticks : null;
    }

    /// <summary>The inode and device of the file open as <paramref name="descriptor"/> in this process; null when it cannot be read.</summary>
    public static (ulong Inode, ulong Device)? FileIdentity(int descriptor) =>
        Statx(descriptor, "", Native.AT_EMPTY_PATH) is { } stat ? (stat.Inode, stat.Device) : null;

    private static (ulong Inode, ulong Device)? FileIdentityOf(string path) =>
        Statx(Native.AT_FDCWD, path, 0) is { } stat ? (stat.Inode, stat.Device) : null;

    /// <summary>
    /// Copies the value <paramref name="reference"/> points at into <paramref name="destination"/> (exactly its
    /// length); null when done, else why it could not be (the caller then asks for the bytes). Every check
    /// happens on what this process opened, so a reference that lies cannot make it read anything but a value
    /// segment of a process of its own user, on its own machine, that is the process named.
    /// </summary>
    public static unsafe string? TryCopy(SegmentReference reference, Span<byte> destination)
    {
        if (destination.Length != reference.Length) throw new ArgumentException($"The destination holds {destination.Length} bytes, the value {reference.Length}.", nameof(destination));
        if (Local is not { } local) return "this process cannot read its own machine's identity";
        if (reference.BootId != local.BootId) return "the holder runs on another machine (its boot id differs)";
        if (StartTimeOf(reference.ProcessId) != reference.ProcessStartTime) return $"process {reference.ProcessId} is not the holder (gone, or another process with its pid)";
        var path = $"/proc/{reference.ProcessId}/fd/{reference.Descriptor}";
        var file = Native.open(path, Native.O_RDONLY | Native.O_CLOEXEC);
        if (file < 0) return $"{path} cannot be opened (errno {Marshal.GetLastPInvokeError()})";
        try
        {
            if (Statx(file, "", Native.AT_EMPTY_PATH) is not { } stat) return $"{path} cannot be examined";
            if ((stat.Mode & Native.FileTypeMask) != Native.RegularFileType) return $"{path} is not a regular file";
            if (stat.Inode != reference.Inode || stat.Device != reference.Device) return $"{path} is another file than the holder named";
            if (stat.Owner != Native.geteuid()) return $"{path} belongs to another user";
            if (stat.Size < (ulong)reference.Length) return $"{path} holds {stat.Size} bytes, fewer than the value's {reference.Length}";
            // Named by this process's own descriptor: the name of the very file opened, whatever the holder did since.
            if (!IsValueSegment(file)) return $"{path} is not a value segment";
            // After the open: had the holder died and its pid been reused before it, the start time would differ now.
            if (StartTimeOf(reference.ProcessId) != reference.ProcessStartTime) return $"process {reference.ProcessId} ended while its segment was opened";
            fixed (byte* start = destination)
            {
                long copied = 0;
                while (copied < destination.Length)
                {
                    var read = Native.pread(file, start + copied, (nuint)(destination.Length - copied), copied);
                    if (read < 0)
                    {
                        var errno = Marshal.GetLastPInvokeError();
                        if (errno == Native.EINTR) continue;
                        return $"{path} could not be read (errno {errno})";
                    }
                    if (read == 0) return $"{path} ended after {copied} of the value's {destination.Length} bytes";
                    copied += read;
                }
            }
            return null;
        }
        finally
        {
            _ = Native.close(file);
        }
    }

    private static bool IsValueSegment(int descriptor)
    {
        var buffer = new byte[256];
        var length = Native.readlink($"/proc/self/fd/{descriptor}", buffer, (nuint)buffer.Length);
        if (length <= 0) return false;
        var name = Encoding.UTF8.GetString(buffer, 0, (int)length);
        // "/memfd:distributed-value (deleted)": a memory file has no path, so /proc always adds the suffix.
        return name.StartsWith(SegmentFileName, StringComparison.Ordinal);
    }

    private readonly record struct FileStat(ulong Inode, ulong Device, uint Mode, uint Owner, ulong Size);

    private static unsafe FileStat? Statx(int directory, string path, int flags)
    {
        if (!OperatingSystem.IsLinux()) return null;
        // struct statx has one layout on every architecture (unlike struct stat): 256 bytes.
        var buffer = stackalloc byte[256];
        if (Native.statx(directory, path, flags, Native.STATX_BASIC_STATS, buffer) != 0) return null;
        var span = new ReadOnlySpan<byte>(buffer, 256);
        var device = ((ulong)BinaryPrimitives.ReadUInt32LittleEndian(span[136..]) << 32) | BinaryPrimitives.ReadUInt32LittleEndian(span[140..]);
        return new FileStat(
            Inode: BinaryPrimitives.ReadUInt64LittleEndian(span[32..]),
            Device: device,
            Mode: BinaryPrimitives.ReadUInt16LittleEndian(span[28..]),
            Owner: BinaryPrimitives.ReadUInt32LittleEndian(span[20..]),
            Size: BinaryPrimitives.ReadUInt64LittleEndian(span[40..]));
    }

    private static unsafe class Native
    {
        public const int O_RDONLY = 0, O_CLOEXEC = 0x80000;
        public const int AT_FDCWD = -100, AT_EMPTY_PATH = 0x1000;
        public const uint STATX_BASIC_STATS = 0x7ff;
        public const uint FileTypeMask = 0xF000, RegularFileType = 0x8000;
        public const int EINTR = 4;

        [DllImport("libc", SetLastError = true)]
        public static extern int open([MarshalAs(UnmanagedType.LPUTF8Str)] string path, int flags);

        [DllImport("libc", SetLastError = true)]
        public static extern int close(int fd);

        [DllImport("libc", SetLastError = true)]
        public static extern nint pread(int fd, byte* buffer, nuint count, long offset);

        [DllImport("libc", SetLastError = true)]
        public static extern nint readlink([MarshalAs(UnmanagedType.LPUTF8Str)] string path, byte[] buffer, nuint size);

        [DllImport("libc", SetLastError = true)]
        public static extern int statx(int directory, [MarshalAs(UnmanagedType.LPUTF8Str)] string path, int flags, uint mask, byte* buffer);

        [DllImport("libc")]
        public static extern uint geteuid();
    }
}
