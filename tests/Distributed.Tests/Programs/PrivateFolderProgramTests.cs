using System.Diagnostics;
using Distributed.Hosting;
using Distributed.Protocol.Security;
using static Distributed.Tests.Programs.ProgramProcesses;
using Distributed.Worker;

namespace Distributed.Tests.Programs;

/// <summary>
/// Where a worker keeps its folders, and what it does when that folder is not private: another
/// user's is refused, its own opened to others is made private again. The dworkers here get their
/// own XDG_RUNTIME_DIR, so that the real per-user folder of this machine is never touched.
/// </summary>
[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
[ProcessTier]
public sealed class PrivateFolderProgramTests : IDisposable
{
    private const UnixFileMode Private = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;
    private const int Nobody = 65534;

    // Short: a socket path in it must fit in 107 bytes.
    private readonly string _runtime = Path.Combine("/tmp", "xdg-" + Guid.NewGuid().ToString("N")[..10]);

    public PrivateFolderProgramTests() => Directory.CreateDirectory(_runtime, Private);

    public void Dispose()
    {
        try { Directory.Delete(_runtime, recursive: true); }
        catch (IOException) { }
    }

    [Fact]
    public void The_folder_is_under_XDG_RUNTIME_DIR_only_when_that_is_a_private_folder_of_this_user()
    {
        FileOwnership? Owned(uint owner, UnixFileMode mode, bool directory = true) => new(owner, mode, directory);

        Assert.Equal("/run/user/1000/distributed", WorkerFolders.ChooseRoot("/run/user/1000", "/tmp/", 1000, _ => Owned(1000, Private)));
        Assert.Equal("/tmp/distributed-1000", WorkerFolders.ChooseRoot(null, "/tmp/", 1000, _ => Owned(1000, Private)));
        Assert.Equal("/tmp/distributed-1000", WorkerFolders.ChooseRoot("", "/tmp/", 1000, _ => Owned(1000, Private)));
        Assert.Equal("/tmp/distributed-1000", WorkerFolders.ChooseRoot("relative/dir", "/tmp/", 1000, _ => Owned(1000, Private)));
        Assert.Equal("/tmp/distributed-1000", WorkerFolders.ChooseRoot("/run/user/1000", "/tmp/", 1000, _ => null)); // missing
        Assert.Equal("/tmp/distributed-1000", WorkerFolders.ChooseRoot("/run/user/1000", "/tmp/", 1000, _ => Owned(0, Private))); // another user's
        Assert.Equal("/tmp/distributed-1000", WorkerFolders.ChooseRoot("/run/user/1000", "/tmp/", 1000, _ => Owned(1000, Private | UnixFileMode.OtherExecute)));
        Assert.Equal("/tmp/distributed-1000", WorkerFolders.ChooseRoot("/run/user/1000", "/tmp/", 1000, _ => Owned(1000, Private, directory: false)));
        Assert.Equal("/tmp/distributed-1000", WorkerFolders.ChooseRoot("/" + new string('x', 40), "/tmp/", 1000, _ => Owned(1000, Private))); // no room for socket paths
    }

    [Fact]
    public void A_new_folder_is_made_0700_and_an_own_folder_open_to_others_is_made_0700_again()
    {
        var root = Path.Combine(_runtime, "distributed");
        var said = new List<string>();

        WorkerFolders.EnsurePrivate(root, UnixIdentity.EffectiveUserId(), said.Add);
        Assert.Equal(Private, File.GetUnixFileMode(root));
        Assert.Empty(said);

        File.SetUnixFileMode(root, (UnixFileMode)0b111_111_111);
        WorkerFolders.EnsurePrivate(root, UnixIdentity.EffectiveUserId(), said.Add);
        Assert.Equal(Private, File.GetUnixFileMode(root));
        Assert.Contains("777", Assert.Single(said));
    }

    [Fact]
    public void A_link_in_place_of_the_folder_is_refused()
    {
        var target = Directory.CreateDirectory(Path.Combine(_runtime, "elsewhere")).FullName;
        var root = Path.Combine(_runtime, "distributed");
        File.CreateSymbolicLink(root, target);

        var refused = Assert.Throws<UnsafeFolderException>(() => WorkerFolders.EnsurePrivate(root, UnixIdentity.EffectiveUserId(), _ => { }));
        Assert.Contains(root, refused.Message);
    }

    [Fact]
    public async Task Dworker_refuses_a_folder_of_another_user_with_one_line_and_exits_with_an_error()
    {
        Assert.True(UnixIdentity.EffectiveUserId() == 0, "this test gives a folder to another user, which only root can do");
        var root = Path.Combine(_runtime, "distributed");
        Directory.CreateDirectory(root, Private);
        File.SetUnixFileMode(root, (UnixFileMode)0b111_111_111);
        Chown(root, Nobody);

        var run = await RunWorkerToExitAsync();

        Assert.True(run.ExitCode != 0, run.ToString());
        var error = Assert.Single(run.StandardError.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith("error:", error);
        Assert.Contains(root, error);
        Assert.Contains($"user {Nobody}", error);
        Assert.Empty(Directory.GetFileSystemEntries(root)); // nothing of the worker's went into it
        Assert.DoesNotContain("Start worker at", run.StandardOutput);
    }

    [Fact]
    public async Task Dworker_makes_its_own_folder_that_others_may_enter_private_again()
    {
        var root = Path.Combine(_runtime, "distributed");
        Directory.CreateDirectory(root, Private);
        File.SetUnixFileMode(root, (UnixFileMode)0b111_111_111);

        // No center there: it stops after its folder checks, at the center.
        var run = await RunWorkerToExitAsync();

        Assert.Equal(Private, File.GetUnixFileMode(root));
        Assert.Contains(run.StandardError.Split('\n'), l => l.StartsWith("warning:", StringComparison.Ordinal) && l.Contains(root, StringComparison.Ordinal) && l.Contains("private", StringComparison.Ordinal));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(Path.Combine(root, $"worker-{run.ProcessId}.lock")));
    }

    /// <summary>A dworker with this test's XDG_RUNTIME_DIR, pointed at a port where no center listens.</summary>
    private async Task<(int ExitCode, int ProcessId, string StandardOutput, string StandardError)> RunWorkerToExitAsync()
    {
        var center = $"127.0.0.1:{LocalCluster.FreePort()}";
        var worker = ClusterProcess.Start(Bin, "dworker", [center, "--host", "127.0.0.1", "--nthreads", "1"],
            new Dictionary<string, string> { ["XDG_RUNTIME_DIR"] = _runtime });
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        try
        {
            await worker.WaitForExitAsync(deadline.Token);
        }
        catch (OperationCanceledException)
        {
            worker.Kill();
            Assert.Fail($"dworker was still running after 60 s:{Environment.NewLine}{Show(worker.Output)}");
        }
        // Both streams go to Output; errors and warnings are the lines that say so.
        var lines = worker.Output;
        var errors = lines.Where(l => l.StartsWith("error:", StringComparison.Ordinal) || l.StartsWith("warning:", StringComparison.Ordinal) || l.StartsWith("   at ", StringComparison.Ordinal));
        return (worker.ExitCode, worker.Id, string.Join('\n', lines.Except(errors)), string.Join('\n', errors));
    }

    private static void Chown(string path, int owner)
    {
        Protocol.ChildProcessSwitch.ThrowIfForbidden("chown");
        using var chown = Process.Start(new ProcessStartInfo("chown", [owner.ToString(), path]) { UseShellExecute = false })!;
        chown.WaitForExit();
        Assert.Equal(0, chown.ExitCode);
    }
}
