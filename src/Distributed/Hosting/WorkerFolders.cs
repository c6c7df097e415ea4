using System.Diagnostics;
using System.Diagnostics.CodeAnalysis;
using System.Text.RegularExpressions;

namespace Distributed.Hosting;

/// <summary>
/// The folders a worker process keeps under <c>/tmp/distributed/</c> (<c>worker-PID-PORT/</c>, its work
/// folder, and <c>worker-PID-PORT-spill/</c>, its spilled values), and the removal of those left by
/// workers that were killed. A worker holds an exclusive lock on <c>worker-PID.lock</c> for as long
/// as it runs, taken before it makes any folder: a folder is removed only if its owner's lock can be
/// taken, so a live worker's folders are never touched, whatever process now has that PID.
/// </summary>
/// <remarks>
/// Lock files are never deleted (a few bytes of metadata each): deleting one would let a process that
/// opened it just before take a lock on a file that no longer guards anything, while a new worker
/// with the same PID locks a new file of the same name.
/// </remarks>
public static partial class WorkerFolders
{
    private static readonly object Gate = new();
    private static FileStream? _ownLock;

    /// <summary>Where every worker of this machine keeps its folders.</summary>
    public static string Root { get; } = Path.Combine(Path.GetTempPath(), "distributed");

    /// <summary>This worker process's work folder (executor sockets, assemblies) for its node on <paramref name="port"/>.</summary>
    public static string WorkFolder(int port) => Path.Combine(Root, $"worker-{Environment.ProcessId}-{port}");

    /// <summary>This worker process's folder of spilled values for its node on <paramref name="port"/>.</summary>
    public static string SpillFolder(int port) => WorkFolder(port) + "-spill";

    /// <summary>The lock file that a live worker with process id <paramref name="processId"/> holds.</summary>
    public static string LockFileOf(int processId) => Path.Combine(Root, $"worker-{processId}.lock");

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
            Directory.CreateDirectory(Root);
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

    private static IReadOnlyList<string> RemoveAbandoned(Action<string> log)
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
            stream = new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
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
