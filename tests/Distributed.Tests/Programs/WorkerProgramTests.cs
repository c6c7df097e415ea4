using System.Net.Sockets;
using Distributed.Hosting;
using Distributed.Protocol;
using static Distributed.Tests.Programs.ProgramProcesses;
using Distributed.Protocol.Hosting;
using Distributed.Worker;

namespace Distributed.Tests.Programs;

/// <summary>One dcenter process and a Pool connected to it, shared by the worker program tests.</summary>
public sealed class RunningCenter : IAsyncLifetime
{
    private readonly ProgramProcesses _processes = new();

    public ClusterProcess Process { get; private set; } = null!;
    public string Address { get; private set; } = "";
    public Pool Pool { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        (Process, Address) = await _processes.StartCenterAsync();
        Pool = await Pool.ConnectAsync(Address, TimeSpan.FromSeconds(30));
    }

    public async Task DisposeAsync()
    {
        await Pool.DisposeAsync();
        await _processes.DisposeAsync();
    }

    /// <summary>The addresses of the workers the center knows, as "name@host:port".</summary>
    public IReadOnlyList<string> Workers() => Pool.Workers().Select(w => $"{w.Name}@{w.Address}").ToList();
}

/// <summary>The dworker program, run as a real process against a real dcenter.</summary>
[ProcessTier]
public sealed class WorkerProgramTests(RunningCenter center) : IClassFixture<RunningCenter>
{
    private const string StartLine = "Start worker at:            ";
    private const string RegisteredLine = "Registered with center at:  ";
    private const string DataLine = "Data channel at:            ";
    private const string MemoryLine = "Memory limit:               ";

    [Fact]
    public async Task Dworker_registers_and_then_prints_exactly_its_four_lines()
    {
        await using var processes = new ProgramProcesses();
        var port = LocalCluster.FreePort();

        var worker = await processes.StartWorkerAsync(center.Address, "--port", port.ToString());
        await worker.WaitForLineAsync(l => l.StartsWith(MemoryLine, StringComparison.Ordinal), TimeSpan.FromSeconds(10));

        var memory = $"{ByteSize.Format(WorkerOptions.DefaultMemoryLimit)} (default: 60% of {ByteSize.Format(WorkerOptions.MachineMemory)})";
        // The data channel's port is any free one: read from its line, which must name this worker's address.
        var dataLine = worker.Output.FirstOrDefault(l => l.StartsWith($"{DataLine}127.0.0.1:", StringComparison.Ordinal)) ?? $"{DataLine}(missing)";
        string[] expected = [$"{StartLine}127.0.0.1:{port}", dataLine, $"{RegisteredLine}{center.Address}", $"{MemoryLine}{memory}"];
        Assert.True(expected.SequenceEqual(worker.Output),
            $"dworker should print exactly{Environment.NewLine}{Show(expected)}{Environment.NewLine}but printed{Environment.NewLine}{Show(worker.Output)}");
    }

    [Fact]
    public async Task Dworker_with_a_memory_limit_prints_it()
    {
        // One worker: ByteSizeTests cover the other units.
        await using var processes = new ProgramProcesses();

        var worker = await processes.StartWorkerAsync(center.Address, "--port", LocalCluster.FreePort().ToString(), "--memory-limit", "64MiB");

        var line = await worker.WaitForLineAsync(l => l.StartsWith(MemoryLine, StringComparison.Ordinal), TimeSpan.FromSeconds(10));
        Assert.Equal($"{MemoryLine}67.1 MB", line);
    }

    [Theory]
    [InlineData("lots", "not a size")]
    [InlineData("2XB", "not a size")]
    [InlineData("0", "more than 0")]
    [InlineData("-1GB", "more than 0")]
    public async Task Dworker_with_a_bad_memory_limit_says_what_is_wrong_and_exits_with_an_error(string limit, string problem)
    {
        var run = await RunToExitAsync("dworker", TimeSpan.FromSeconds(60), center.Address, "--host", "127.0.0.1", "--memory-limit", limit);

        Assert.True(run.ExitCode != 0, run.ToString());
        var error = Assert.Single(run.StandardError.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Contains("--memory-limit", error);
        Assert.Contains($"'{limit}'", error);
        Assert.Contains(problem, error);
        AssertNoStackTrace(run.Lines, "dworker");
        Assert.DoesNotContain(StartLine.Trim(), run.StandardOutput);
    }

    [Fact]
    public async Task Dworker_with_resources_prints_them_and_the_center_lists_them()
    {
        await using var processes = new ProgramProcesses();
        var name = $"gpu-{Guid.NewGuid():N}";

        var worker = await processes.StartWorkerAsync(center.Address, "--port", LocalCluster.FreePort().ToString(), "--name", name, "--resources", "GPU=1, MEM=8e9");

        var line = await worker.WaitForLineAsync(l => l.StartsWith("Resources:", StringComparison.Ordinal), TimeSpan.FromSeconds(10));
        Assert.Equal("Resources:                  GPU=1,MEM=8000000000", line);
        var listed = center.Pool.Workers().Single(w => w.Name == name);
        Assert.Equal(new Dictionary<string, double> { ["GPU"] = 1, ["MEM"] = 8e9 }, listed.Resources);
    }

    [Theory]
    [InlineData("GPU", "not NAME=AMOUNT")]
    [InlineData("GPU=-1", "zero or more")]
    [InlineData("GPU=x", "not a number")]
    [InlineData("9GPU=1", "must start with a letter")]
    public async Task Dworker_with_bad_resources_says_what_is_wrong_and_exits_with_an_error(string resources, string problem)
    {
        var run = await RunToExitAsync("dworker", TimeSpan.FromSeconds(60), center.Address, "--host", "127.0.0.1", "--resources", resources);

        Assert.True(run.ExitCode != 0, run.ToString());
        var error = Assert.Single(run.StandardError.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Contains("--resources", error);
        Assert.Contains(problem, error);
        AssertNoStackTrace(run.Lines, "dworker");
        Assert.DoesNotContain(StartLine.Trim(), run.StandardOutput);
    }

    [Fact]
    public async Task The_center_lists_a_registered_worker_under_its_name_with_its_address_and_threads()
    {
        await using var processes = new ProgramProcesses();
        var port = LocalCluster.FreePort();
        var name = $"named-{Guid.NewGuid():N}";

        await processes.StartWorkerAsync(center.Address, "--port", port.ToString(), "--nthreads", "3", "--name", name);

        var listed = center.Pool.Workers().SingleOrDefault(w => w.Name == name);
        Assert.True(listed is not null, $"The center does not list a worker named {name}; it lists {string.Join(", ", center.Workers())}.");
        Assert.Equal($"127.0.0.1:{port}", listed.Address);
        Assert.Equal(3, listed.Cores);
    }

    [Fact]
    public async Task Dworker_without_a_port_skips_a_taken_8788_and_prints_the_port_it_took()
    {
        // 8788 may already be taken by another test run on this machine: then hold the first free port
        // above it, so that the worker still has a taken port in its way.
        using var held = HoldFirstFreePortFrom(WorkerOptions.DefaultPort);
        var heldPort = ((System.Net.IPEndPoint)held.LocalEndpoint).Port;
        await using var processes = new ProgramProcesses();
        var name = $"default-port-{Guid.NewGuid():N}";

        var worker = await processes.StartWorkerAsync(center.Address, "--name", name);

        var line = worker.Output.Single(l => l.StartsWith(StartLine, StringComparison.Ordinal));
        var printed = HostPort.Parse(line[StartLine.Length..]);
        Assert.Equal("127.0.0.1", printed.Host);
        Assert.True(printed.Port > WorkerOptions.DefaultPort && printed.Port != heldPort,
            $"The worker printed port {printed.Port}; expected a port above {WorkerOptions.DefaultPort} other than the held port {heldPort}.");
        Assert.True(await AcceptsConnectionsAsync(printed.Port), $"The worker printed port {printed.Port} but nothing accepts connections there.");
        var listed = center.Pool.Workers().SingleOrDefault(w => w.Name == name);
        Assert.True(listed is not null, $"The center does not list the worker {name}; it lists {string.Join(", ", center.Workers())}.");
        Assert.Equal(printed.ToString(), listed.Address);
    }

    [Theory]
    [InlineData(SigTerm, "SIGTERM")]
    [InlineData(SigInt, "SIGINT (Ctrl+C)")]
    public async Task Dworker_on_a_stop_signal_leaves_the_cluster_and_exits_with_code_0(int signal, string signalName)
    {
        await using var processes = new ProgramProcesses();
        var name = $"leaving-{Guid.NewGuid():N}";
        var worker = await processes.StartWorkerAsync(center.Address, "--port", LocalCluster.FreePort().ToString(), "--name", name);
        await WaitUntilAsync(() => center.Pool.Workers().Any(w => w.Name == name), TimeSpan.FromSeconds(10),
            () => $"Before {signalName}: the center should list {name}, it lists {string.Join(", ", center.Workers())}");

        Assert.Equal(0, worker.Signal(signal));
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        try
        {
            await worker.WaitForExitAsync(deadline.Token);
        }
        catch (OperationCanceledException)
        {
            Assert.Fail($"dworker did not exit within 10 s of {signalName}. Its output:{Environment.NewLine}{Show(worker.Output)}");
        }

        Assert.True(worker.ExitCode == 0, $"dworker exited with code {worker.ExitCode} on {signalName}; expected 0. Its output:{Environment.NewLine}{Show(worker.Output)}");
        AssertNoStackTrace(worker.Output, "dworker");
        await WaitUntilAsync(() => center.Pool.Workers().All(w => w.Name != name), TimeSpan.FromSeconds(5),
            () => $"After {signalName} and exit: the center should no longer list {name}, it lists {string.Join(", ", center.Workers())}");
    }

    [Fact]
    public async Task Dworker_on_an_explicit_port_in_use_says_so_and_exits_with_an_error()
    {
        var port = LocalCluster.FreePort();
        using var held = Hold(port);

        var run = await RunToExitAsync("dworker", TimeSpan.FromSeconds(60), center.Address, "--host", "127.0.0.1", "--port", port.ToString());

        Assert.True(run.ExitCode != 0, run.ToString());
        Assert.Contains(port.ToString(), run.StandardError);
        Assert.Contains("in use", run.StandardError);
        AssertNoStackTrace(run.Lines, "dworker");
        Assert.DoesNotContain(StartLine.Trim(), run.StandardOutput);
    }

    [Theory]
    [InlineData("70000")]
    [InlineData("0")]
    public async Task Dworker_with_a_port_out_of_range_says_so_and_exits_with_an_error(string port)
    {
        var run = await RunToExitAsync("dworker", TimeSpan.FromSeconds(60), center.Address, "--host", "127.0.0.1", "--port", port);

        Assert.True(run.ExitCode != 0, run.ToString());
        Assert.Contains($"--port {port}", run.StandardError);
        AssertNoStackTrace(run.Lines, "dworker");
    }

    [Fact]
    public async Task Dworker_says_within_10_s_that_a_center_refusing_connections_is_unreachable()
    {
        var port = LocalCluster.FreePort(); // nothing listens there
        var address = $"127.0.0.1:{port}";

        var run = await RunToExitAsync("dworker", TimeSpan.FromSeconds(60), address, "--host", "127.0.0.1", "--port", LocalCluster.FreePort().ToString());

        AssertUnreachableReported(run, address, since: run.Started, "the worker was started");
    }

    [Fact]
    public async Task Dworker_told_to_wait_for_its_center_registers_with_one_started_after_it()
    {
        await using var processes = new ProgramProcesses();
        var centerPort = LocalCluster.FreePort();
        var address = $"127.0.0.1:{centerPort}";
        var trace = new Dictionary<string, string> { [StartTrace.EnvironmentVariable] = "1" };
        var worker = processes.StartWith(null, trace, "dworker", address, "--host", "127.0.0.1", "--nthreads", "1", "--port", LocalCluster.FreePort().ToString(), "--wait-for-center", "60");
        // Its node is up, and nothing listens at the center's port yet: it has been refused at least once.
        await worker.WaitForLineAsync(l => l.Contains("worker: actor system created", StringComparison.Ordinal), TimeSpan.FromSeconds(60));
        Assert.False(worker.HasExited, string.Join(Environment.NewLine, worker.Output));

        var center = processes.Start("dcenter", "--host", "127.0.0.1", "--port", centerPort.ToString());

        await worker.WaitForLineAsync(l => l.StartsWith(RegisteredLine, StringComparison.Ordinal), TimeSpan.FromSeconds(60));
        await using var pool = await Pool.ConnectAsync(address, TimeSpan.FromSeconds(30));
        Assert.Equal(42, await pool.Apply(() => 42).GetAsync());
        AssertNoStackTrace(worker.Output.Concat(center.Output), "dworker and dcenter");
    }

    [Fact]
    public async Task Dworker_that_waited_for_its_center_in_vain_says_how_long_and_exits_with_an_error()
    {
        var address = $"127.0.0.1:{LocalCluster.FreePort()}"; // nothing listens there

        var run = await RunToExitAsync("dworker", TimeSpan.FromSeconds(60), address, "--host", "127.0.0.1", "--port", LocalCluster.FreePort().ToString(), "--wait-for-center", "1.5");

        Assert.True(run.ExitCode != 0, run.ToString());
        Assert.Contains($"The center at {address} did not start listening within 1.5 s", run.StandardError);
        AssertNoStackTrace(run.Lines, "dworker");
    }

    [Theory]
    [InlineData("-1")]
    [InlineData("NaN")]
    [InlineData("1e9")]
    public async Task Dworker_with_a_bad_wait_for_its_center_says_what_is_wrong_and_exits_with_an_error(string seconds)
    {
        var run = await RunToExitAsync("dworker", TimeSpan.FromSeconds(60), $"127.0.0.1:{LocalCluster.FreePort()}", "--host", "127.0.0.1", "--wait-for-center", seconds);

        Assert.True(run.ExitCode != 0, run.ToString());
        Assert.Contains("--wait-for-center", run.StandardError);
        AssertNoStackTrace(run.Lines, "dworker");
    }

    [Fact]
    public async Task Dworker_says_within_10_s_that_a_silent_center_is_unreachable()
    {
        // Something accepts TCP connections there but never answers: the worker's cluster join gets no
        // reply. The 10 s are counted from the worker's first connection, which the worker makes once
        // the runtime has started and it has read its arguments.
        var port = LocalCluster.FreePort();
        using var silent = Hold(port);
        var address = $"127.0.0.1:{port}";
        var firstConnection = AcceptAndHoldAsync(silent);

        var run = await RunToExitAsync("dworker", TimeSpan.FromSeconds(60), address, "--host", "127.0.0.1", "--port", LocalCluster.FreePort().ToString());

        Assert.True(firstConnection.IsCompletedSuccessfully, $"The worker never connected to {address}. {run}");
        AssertUnreachableReported(run, address, since: await firstConnection, "the worker first connected to it");
    }

    [Theory]
    [InlineData("not-an-address:xx", "port")]
    [InlineData("127.0.0.1:99999", "port")]
    [InlineData("127.0.0.1:", "port")]
    [InlineData(":8787", "host")]
    [InlineData("http://127.0.0.1:8787", "host:port")]
    public async Task Dworker_with_a_malformed_center_address_says_what_is_wrong_and_exits_with_an_error(string address, string problem)
    {
        var run = await RunToExitAsync("dworker", TimeSpan.FromSeconds(60), address, "--host", "127.0.0.1");

        Assert.True(run.ExitCode != 0, run.ToString());
        Assert.Contains(address, run.StandardError);
        Assert.Contains(problem, run.StandardError);
        AssertNoStackTrace(run.Lines, "dworker");
    }

    private static void AssertUnreachableReported(ProgramRun run, string address, long since, string sinceWhat)
    {
        Assert.True(run.ExitCode != 0, run.ToString());
        Assert.Contains(address, run.StandardError);
        Assert.Contains("center", run.StandardError);
        AssertNoStackTrace(run.Lines, "dworker");
        var after = run.FirstErrorAfter(since);
        Assert.True(after <= TimeSpan.FromSeconds(10),
            $"The worker should say within 10 s after {sinceWhat} that the center is unreachable; it said so after {after?.TotalSeconds:0.0} s. {run}");
    }

    /// <summary>Accepts connections and keeps them open without a word; completes with the time of the first (a Stopwatch timestamp).</summary>
    private static Task<long> AcceptAndHoldAsync(TcpListener listener)
    {
        var first = new TaskCompletionSource<long>(TaskCreationOptions.RunContinuationsAsynchronously);
        _ = Task.Run(async () =>
        {
            var held = new List<TcpClient>();
            try
            {
                while (true)
                {
                    held.Add(await listener.AcceptTcpClientAsync());
                    first.TrySetResult(System.Diagnostics.Stopwatch.GetTimestamp());
                }
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException)
            {
                // the listener was stopped at the end of the test
            }
            finally
            {
                held.ForEach(c => c.Dispose());
            }
        });
        return first.Task;
    }

    private static TcpListener HoldFirstFreePortFrom(int first)
    {
        for (var port = first; port < first + 1000; port++)
        {
            try
            {
                return Hold(port);
            }
            catch (SocketException)
            {
            }
        }
        throw new InvalidOperationException($"No free port from {first} to {first + 999}.");
    }
}
