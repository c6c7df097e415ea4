using System.Diagnostics;
using System.Text.RegularExpressions;
using static Distributed.Tests.Programs.ProgramProcesses;

namespace Distributed.Tests.Programs;

/// <summary>dworker --nworkers N: real worker processes under a supervisor that starts again one that dies.</summary>
[ProcessTier]
public sealed partial class SupervisedWorkersTests
{
    private static readonly TimeSpan Slow = TimeSpan.FromSeconds(90);

    [Fact]
    public async Task A_killed_worker_is_replaced_and_SIGTERM_stops_every_worker()
    {
        await using var processes = new ProgramProcesses();
        var (_, center) = await processes.StartCenterAsync();
        var supervisor = processes.Start("dworker", center, "--host", "127.0.0.1", "--nthreads", "1", "--nworkers", "2");
        await WaitUntilAsync(() => Registered(supervisor) == 2, Slow, () => $"the supervisor's two workers did not register:{Environment.NewLine}{Show(supervisor.Output)}");
        await using var pool = await Pool.ConnectAsync(center);
        Assert.Equal(2, pool.Workers().Count);
        var first = ChildIds(supervisor);
        Assert.Equal(2, first.Count);

        using (var victim = Process.GetProcessById(first[0])) victim.Kill(); // SIGKILL, as a crash
        await WaitUntilAsync(() => ChildIds(supervisor).Count == 3 && Registered(supervisor) == 3 && pool.Workers().Count == 2, Slow,
            () => $"no replacement registered; the pool sees {pool.Workers().Count} workers:{Environment.NewLine}{Show(supervisor.Output)}");
        Assert.Equal([1, 2, 1], StartedIndexes(supervisor)); // worker 1 again, not a third one
        Assert.Equal(Enumerable.Range(1, 20), await pool.GatherAsync(pool.Map(x => x + 1, Enumerable.Range(0, 20))));

        Assert.Equal(0, supervisor.Signal(SigTerm));
        using (var deadline = new CancellationTokenSource(Slow)) await supervisor.WaitForExitAsync(deadline.Token);

        Assert.True(supervisor.ExitCode == 0, $"the supervisor exited with {supervisor.ExitCode}:{Environment.NewLine}{Show(supervisor.Output)}");
        Assert.All(ChildIds(supervisor), id => Assert.False(IsRunning(id), $"worker pid {id} still runs after its supervisor stopped."));
        await WaitUntilAsync(() => pool.Workers().Count == 0, Slow, () => $"the center still lists {pool.Workers().Count} workers");
        AssertNoStackTrace(supervisor.Output, "dworker --nworkers");
    }

    [Fact]
    public async Task A_worker_that_dies_at_every_start_is_given_up_with_one_line()
    {
        // 192.0.2.1 (TEST-NET-1) is no address of this machine: the worker cannot listen and exits at once.
        var run = await RunToExitAsync("dworker", Slow, $"127.0.0.1:{Distributed.Hosting.LocalCluster.FreePort()}", "--host", "192.0.2.1", "--nworkers", "1");

        Assert.True(run.ExitCode == 1, run.ToString());
        var starts = run.StandardOutput.Split('\n').Count(l => l.StartsWith("Started worker 1 ", StringComparison.Ordinal));
        Assert.Equal(5, starts);
        var givenUp = Assert.Single(run.StandardError.Split('\n'), l => l.Contains("is not started again", StringComparison.Ordinal));
        Assert.StartsWith("error: worker 1 died before it registered 5 times in a row", givenUp, StringComparison.Ordinal);
        Assert.Contains("192.0.2.1", givenUp, StringComparison.Ordinal); // its last error says why
        AssertNoStackTrace(run.Lines, "dworker --nworkers");
    }

    private static int Registered(Distributed.Hosting.ClusterProcess supervisor) =>
        supervisor.Output.Count(l => l.Contains("] Registered with center at:", StringComparison.Ordinal));

    private static List<int> ChildIds(Distributed.Hosting.ClusterProcess supervisor) =>
        supervisor.Output.Select(l => StartedLine().Match(l)).Where(m => m.Success).Select(m => int.Parse(m.Groups[2].Value)).ToList();

    private static List<int> StartedIndexes(Distributed.Hosting.ClusterProcess supervisor) =>
        supervisor.Output.Select(l => StartedLine().Match(l)).Where(m => m.Success).Select(m => int.Parse(m.Groups[1].Value)).ToList();

    private static bool IsRunning(int id)
    {
        try
        {
            using var process = Process.GetProcessById(id);
            return !process.HasExited;
        }
        catch (ArgumentException)
        {
            return false;
        }
    }

    [GeneratedRegex(@"^Started worker (\d+) \(pid (\d+)\)$")]
    private static partial Regex StartedLine();
}
