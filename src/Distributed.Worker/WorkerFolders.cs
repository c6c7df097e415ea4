using System.Diagnostics;
using System.Diagnostics.CodeAnalysis;
using System.Text.RegularExpressions;
using Distributed.Protocol.Hosting;
using Distributed.Protocol.Security;

namespace Distributed.Worker;

/// <summary>
/// The folders a worker process keeps in its user's private <see cref="Root"/> (<c>worker-PID-PORT/</c>,
/// its work folder with its executor sockets and assemblies, and <c>worker-PID-PORT-spill/</c>, its
/// spilled values), and the removal of those left by workers that were killed. A worker holds an
/// exclusive lock on <c>worker-PID.lock</c> for as long as it runs, taken before it makes any folder:
/// a folder is removed only if its owner's lock can be taken, so a live worker's folders are never
/// touched, whatever process now has that PID. Every folder is 0700 and every file 0600: spilled
/// values and shipped code are nobody else's business.
/// </summary>
/// <remarks>
/// Lock files are never deleted (a few bytes of metadata each): deleting one would let a process that
/// opened it just before take a lock on a file that no longer guards anything, while a new worker
/// with the same PID locks a new file of the same name.
/// </remarks>
public static partial class WorkerFolders
{
    private const UnixFileMode PrivateFolder = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;
    private const UnixFileMode PrivateFile = UnixFileMode.UserRead | UnixFileMode.UserWrite;

    /// <summary>
    /// The longest root that leaves room for an executor socket's path inside a work folder: Linux
    /// takes at most 107 bytes for a Unix socket's path, and <c>/worker-PID-PORT/executor-….sock</c>
    /// takes up to 67 of them.
    /// </summary>
    internal const int MaxRootLength = 40;

    private static readonly object Gate = new();
    private static FileStream? _ownLock;
    private static readonly Lazy<string> ChosenRoot = new(() => ChooseRoot(
        Environment.GetEnvironmentVariable("XDG_RUNTIME_DIR"), Path.GetTempPath(), UnixIdentity.EffectiveUserId(),
        path => OperatingSystem.IsLinux() ? UnixIdentity.Ownership(path) : null));

    /// <summary>
    /// Where this user's workers keep their folders: <c>$XDG_RUNTIME_DIR/distributed</c> when that
    /// folder is set and private to this user, else <c>/tmp/distributed-UID</c> (UID: the effective
    /// user id). Private to the user: every worker checks it at start (<see cref="EnsurePrivateRoot"/>).
    /// </summary>
    public static string Root => ChosenRoot.Value;

    /// <summary>
    /// The root for a user: <c>RUNTIME/distributed</c> when <paramref name="runtimeDirectory"/> is an
    /// absolute path to a folder of that user that nobody else may enter (what XDG promises, checked
    /// rather than trusted) and short enough for socket paths, else <c>TEMP/distributed-UID</c>.
    /// </summary>
    internal static string ChooseRoot(string? runtimeDirectory, string temporaryDirectory, uint userId, Func<string, FileOwnership?> ownership)
    {
        if (OperatingSystem.IsWindows()) return Path.Combine(temporaryDirectory, "distributed"); // TEMP is per user there
        if (!string.IsNullOrEmpty(runtimeDirectory) && Path.IsPathFullyQualified(runtimeDirectory))
        {
            var candidate = Path.Combine(runtimeDirectory, "distributed");
            if (candidate.Length <= MaxRootLength && ownership(runtimeDirectory) is { IsDirectory: true } found && found.Owner == userId
                && (found.Mode & ~PrivateFolder) == 0)
                return candidate;
        }
        return Path.Combine(temporaryDirectory, $"distributed-{userId}");
    }

    /// <summary>
    /// Creates <see cref="Root"/> as 0700 when missing. An existing one must be a folder (not a link)
    /// of this user, or the worker refuses to start (<see cref="UnsafeFolderException"/>): in a shared
    /// <c>/tmp</c> another user could have made it first, to read or replace what workers put there.
    /// A folder of ours that others may enter is made 0700 again, and <paramref name="log"/> says so.
    /// </summary>
    public static void EnsurePrivateRoot(Action<string>? log = null) => EnsurePrivate(Root, UnixIdentity.EffectiveUserId(), log ?? (_ => { }));

    internal static void EnsurePrivate(string root, uint userId, Action<string> log)
    {
        if (OperatingSystem.IsWindows())
        {
            Directory.CreateDirectory(root);
            return;
        }
        Directory.CreateDirectory(root, PrivateFolder); // no-op when it exists, whoever made it: checked next
        if (OperatingSystem.IsLinux())
        {
            var found = UnixIdentity.Ownership(root) ?? throw new UnsafeFolderException($"The folder {root} vanished while the worker made it; start the worker again.");
            if (!found.IsDirectory)
                throw new UnsafeFolderException($"{root} is not a folder but a link or a file, which another user may have put there to catch the worker's files; remove it and start the worker again.");
            if (found.Owner != userId)
                throw new UnsafeFolderException($"The folder {root} belongs to user {found.Owner}, not to this user ({userId}), who could read or replace the worker's files there; remove it (or set XDG_RUNTIME_DIR to a private folder) and start the worker again.");
            if (found.Mode == PrivateFolder) return;
            File.SetUnixFileMode(root, PrivateFolder);
            log($"{root} was open to other users (mode {Convert.ToString((int)found.Mode, 8)}); made it private (700).");
            return;
        }
        // Elsewhere the owner cannot be read here; chmod succeeds only for the owner (or root).
        try { File.SetUnixFileMode(root, PrivateFolder); }
        catch (UnauthorizedAccessException)
        {
            throw new UnsafeFolderException($"The folder {root} belongs to another user, who could read or replace the worker's files there; remove it and start the worker again.");
        }
    }

    /// <summary>This worker process's work folder (executor sockets, assemblies) for its node on <paramref name="port"/>.</summary>
    public static string WorkFolder(int port) => Path.Combine(Root, $"worker-{Environment.ProcessId}-{port}");

    /// <summary>This worker process's folder of spilled values for its node on <paramref name="port"/>.</summary>
    public static string SpillFolder(int port) => WorkFolder(port) + "-spill";

    /// <summary>The lock file that a live worker with process id <paramref name="processId"/> holds.</summary>
    public static string LockFileOf(int processId) => Path.Combine(Root, $"worker-{processId}.lock");

    /// <summary>
    /// Takes this user's lock on choosing a port (<c>ports.lock</c> in <see cref="Root"/>), held until
    /// disposed: workers of one user started at the same moment on one host then choose and bind their
    /// ports one after the other, each seeing the others' listeners, instead of all choosing the same
    /// first free port. Waits up to <paramref name="timeout"/>, then gives null: a worker whose lock
    /// holder hangs still starts, and a port taken meanwhile fails its bind, which it survives too.
    /// </summary>
    public static async Task<IDisposable?> LockPortChoiceAsync(TimeSpan timeout, CancellationToken cancellation)
    {
        var path = Path.Combine(Root, "ports.lock");
        var waited = Stopwatch.StartNew();
        while (true)
        {
            if (TryLock(path, out var stream, out _)) return stream;
            if (waited.Elapsed > timeout) return null;
            await Task.Delay(20, cancellation).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Takes this process's lock (once; it is held until the process exits), then removes, in the
    /// background, the folders of workers whose lock can be taken: they are no longer running. The
    /// task gives the folders removed; a folder that cannot be removed is reported to
    /// <paramref name="log"/> and tried again at the next worker's start.
    /// </summary>
    public static Task<IReadOnlyList<string>> ClaimAndRemoveAbandoned(Action<string>? log = null)
    {
        lock (Gate)
        {
            if (_ownLock is not null) return Task.FromResult<IReadOnlyList<string>>([]);
            EnsurePrivateRoot(log);
            _ownLock = TakeOwnLock();
        }
        var report = log ?? (_ => { });
        // In the background: a killed worker may have left gigabytes, and the worker's start waits for nothing of it.
        return Task.Run(() =>
        {
            try { return RemoveAbandoned(report); }
            catch (Exception e)
            {
                report($"could not look for folders left by workers that are no longer running in {Root}: {e.Message}");
                return (IReadOnlyList<string>)[];
            }
        });
    }

    private static FileStream TakeOwnLock()
    {
        // Another worker's start may hold it for a moment, checking whether a worker that had this
        // PID before is gone: wait for it rather than fail.
        var waited = Stopwatch.StartNew();
        while (true)
        {
            if (TryLock(LockFileOf(Environment.ProcessId), out var stream, out var error)) return stream;
            if (waited.Elapsed > TimeSpan.FromSeconds(10))
                throw new IOException($"Could not lock {LockFileOf(Environment.ProcessId)}, which tells other workers that this one is running: {error}");
            Thread.Sleep(20);
        }
    }

    private static List<string> RemoveAbandoned(Action<string> log)
    {
        var removed = new List<string>();
        string[] folders;
        try { folders = Directory.GetDirectories(Root); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return removed; }
        foreach (var byOwner in folders.Select(f => (Folder: f, Owner: OwnerOf(f))).Where(f => f.Owner is { } pid && pid != Environment.ProcessId).GroupBy(f => f.Owner!.Value))
        {
            var lockFile = LockFileOf(byOwner.Key);
            // A folder without a lock file was made by a worker that did not take one (an older
            // version): without the lock to say so, only a process id that is not running proves it gone.
            var hadLock = File.Exists(lockFile);
            if (!hadLock && IsRunning(byOwner.Key)) continue;
            if (!TryLock(lockFile, out var ownerLock, out _)) continue; // its worker runs
            using (ownerLock)
            {
                foreach (var (folder, _) in byOwner)
                {
                    try
                    {
                        Directory.Delete(folder, recursive: true);
                        removed.Add(folder);
                    }
                    catch (DirectoryNotFoundException)
                    {
                        // Another worker starting beside this one removed it first.
                    }
                    catch (Exception e) when (e is IOException or UnauthorizedAccessException)
                    {
                        log($"could not remove {folder}, left by a worker that is no longer running: {e.Message}");
                    }
                }
            }
        }
        return removed;
    }

    /// <summary>The process id in a worker folder's name (<c>worker-PID-PORT</c> or <c>worker-PID-PORT-spill</c>); null for any other folder.</summary>
    public static int? OwnerOf(string folder)
    {
        var match = WorkerFolderName().Match(Path.GetFileName(folder));
        return match.Success && int.TryParse(match.Groups[1].ValueSpan, out var pid) ? pid : null;
    }

    private static bool TryLock(string path, [NotNullWhen(true)] out FileStream? stream, [NotNullWhen(false)] out string? error)
    {
        try
        {
            // FileShare.None is an exclusive advisory lock (flock) on Unix, released by the kernel when the process dies.
            var options = new FileStreamOptions { Mode = FileMode.OpenOrCreate, Access = FileAccess.ReadWrite, Share = FileShare.None };
            if (!OperatingSystem.IsWindows()) options.UnixCreateMode = PrivateFile;
            stream = new FileStream(path, options);
            error = null;
            return true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            stream = null;
            error = e.Message;
            return false;
        }
    }

    private static bool IsRunning(int processId)
    {
        try
        {
            using var process = Process.GetProcessById(processId);
            return !process.HasExited;
        }
        catch (ArgumentException)
        {
            return false;
        }
        catch (InvalidOperationException)
        {
            return false;
        }
    }

    /// <summary>The names <see cref="WorkFolder"/> and <see cref="SpillFolder"/> give, with the process id.</summary>
    [GeneratedRegex(@"^worker-(\d+)-\d+(-spill)?$")]
    private static partial Regex WorkerFolderName();
}

/// <summary>The worker's private folder is not private (another user's, a link, or open to others and not ours to fix): it does not start.</summary>
public sealed class UnsafeFolderException(string message) : NodeStartException(message);
