using System.Net.Sockets;
using System.Runtime.InteropServices;

namespace Distributed.Protocol.Security;

/// <summary>
/// Who this process is and who owns a file or the other end of a Unix socket, read from the kernel
/// (Linux): what decides whether a folder is private to this user and whether a peer is the process
/// we started.
/// </summary>
internal static partial class UnixIdentity
{
    private const int AtCurrentDirectory = -100; // AT_FDCWD
    private const int AtSymlinkNoFollow = 0x100; // AT_SYMLINK_NOFOLLOW: a link is reported as a link
    private const uint StatxBasicStats = 0x7ff;
    private const int SolSocket = 1;
    private const int SoPeerCredentials = 17; // SO_PEERCRED
    private const uint FileTypeMask = 0xF000; // S_IFMT
    private const uint DirectoryType = 0x4000; // S_IFDIR

    /// <summary>The effective user id of this process (0 on Windows, where it means nothing).</summary>
    public static uint EffectiveUserId() => OperatingSystem.IsWindows() ? 0 : geteuid();

    /// <summary>
    /// The owner and permission bits of <paramref name="path"/> itself (a symbolic link is not
    /// followed: it is reported as what it is, not a directory), or null when it does not exist.
    /// Linux only: elsewhere the owner cannot be read and this throws <see cref="PlatformNotSupportedException"/>.
    /// </summary>
    public static FileOwnership? Ownership(string path)
    {
        if (!OperatingSystem.IsLinux()) throw new PlatformNotSupportedException("Reading a file's owner is implemented for Linux only.");
        if (statx(AtCurrentDirectory, path, AtSymlinkNoFollow, StatxBasicStats, out var buffer) == 0)
            return new FileOwnership(buffer.Uid, (UnixFileMode)(buffer.Mode & 0xFFF), (buffer.Mode & FileTypeMask) == DirectoryType);
        var error = Marshal.GetLastPInvokeError();
        if (error == 2) return null; // ENOENT
        throw new IOException($"Cannot read the owner of {path}: {Marshal.GetPInvokeErrorMessage(error)}.");
    }

    /// <summary>
    /// The process and user at the other end of a connected Unix domain socket (SO_PEERCRED: the
    /// kernel's record of who connected, which the peer cannot forge); null where the kernel does
    /// not say (not Linux).
    /// </summary>
    public static PeerCredentials? PeerOf(Socket socket)
    {
        if (!OperatingSystem.IsLinux()) return null;
        Span<byte> credentials = stackalloc byte[12]; // struct ucred { pid_t pid; uid_t uid; gid_t gid; }
        var length = socket.GetRawSocketOption(SolSocket, SoPeerCredentials, credentials);
        if (length < 12) return null;
        return new PeerCredentials(BitConverter.ToInt32(credentials[..4]), BitConverter.ToUInt32(credentials[4..8]));
    }

    [LibraryImport("libc")]
    private static partial uint geteuid();

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int statx(int directory, string path, int flags, uint mask, out StatxBuffer buffer);

    /// <summary>The start of the kernel's <c>struct statx</c> (256 bytes, the same layout on every architecture).</summary>
    [StructLayout(LayoutKind.Explicit, Size = 256)]
    private struct StatxBuffer
    {
        [FieldOffset(20)] public uint Uid;
        [FieldOffset(28)] public ushort Mode;
    }
}

/// <summary>Who owns a file, its permission bits, and whether it is a directory (not a link to one).</summary>
internal sealed record FileOwnership(uint Owner, UnixFileMode Mode, bool IsDirectory);

/// <summary>The process id and user id of the peer of a Unix domain socket, as the kernel recorded them at connect.</summary>
internal sealed record PeerCredentials(int ProcessId, uint UserId);
