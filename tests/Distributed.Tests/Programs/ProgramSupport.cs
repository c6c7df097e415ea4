using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Distributed.Hosting;

namespace Distributed.Tests.Programs;

/// <summary>
/// Starts the real dcenter and dworker programs (copied next to the tests) on 127.0.0.1, and stops
/// every process it started, by process id, when disposed.
/// </summary>
internal sealed class ProgramProcesses : IAsyncDisposable
{
    public const int SigInt = 2;
    public const int SigTerm = 15;

    private readonly List<ClusterProcess> _started = [];

    public static string Bin => AppContext.BaseDirectory;

    public ClusterProcess Start(string program, params string[] arguments) => StartWith(null, null, program, arguments);

    /// <summary>
    /// Starts <paramref name="program"/> through <paramref name="commandPrefix"/> (e.g. <c>ip netns exec NAME</c>, which
    /// execs it, so the process id stays the program's) with <paramref name="environment"/> added to its environment.
    /// </summary>
    public ClusterProcess StartWith(IReadOnlyList<string>? commandPrefix, IReadOnlyDictionary<string, string>? environment, string program, params string[] arguments)
    {
        var process = ClusterProcess.Start(Bin, program, arguments, environment, commandPrefix);
        lock (_started) _started.Add(process);
        return process;
    }

    /// <summary>A dcenter on a free port, once it has announced itself.</summary>
    public async Task<(ClusterProcess Process, string Address)> StartCenterAsync()
    {
        var port = LocalCluster.FreePort();
        var center = Start("dcenter", "--host", "127.0.0.1", "--port", port.ToString());
        await center.WaitForLineAsync(l => l.StartsWith("Start center at", StringComparison.Ordinal), TimeSpan.FromSeconds(60));
        return (center, $"127.0.0.1:{port}");
    }

    /// <summary>A dworker of the center at <paramref name="center"/>, once it has registered.</summary>
    public async Task<ClusterProcess> StartWorkerAsync(string center, params string[] arguments)
    {
        string[] threads = arguments.Contains("--nthreads") ? [] : ["--nthreads", "1"];
        var worker = Start("dworker", [center, "--host", "127.0.0.1", .. threads, .. arguments]);
        await worker.WaitForLineAsync(l => l.StartsWith("Registered with center at:", StringComparison.Ordinal), TimeSpan.FromSeconds(60));
        return worker;
    }

    public async ValueTask DisposeAsync()
    {
        List<ClusterProcess> started;
        lock (_started) started = [.. _started];
        // workers first, so that they leave a center that is still there
        await Task.WhenAll(started.Where(p => p.Name == "dworker").Select(p => p.StopAsync(TimeSpan.FromSeconds(10))));
        await Task.WhenAll(started.Where(p => p.Name != "dworker").Select(p => p.StopAsync(TimeSpan.FromSeconds(10))));
    }

    /// <summary>
    /// Runs a program that is expected to stop by itself (an error case), with its standard output and
    /// error kept apart, and kills it by process id when it is still running at the deadline.
    /// </summary>
    public static Task<ProgramRun> RunToExitAsync(string program, TimeSpan deadline, params string[] arguments) =>
        RunToExitWithAsync(null, null, program, deadline, arguments);

    /// <summary>
    /// <see cref="RunToExitAsync(string, TimeSpan, string[])"/> through <paramref name="commandPrefix"/> (e.g. <c>ip netns exec NAME</c>,
    /// which execs the program) and with <paramref name="environment"/> added to its environment.
    /// </summary>
    public static async Task<ProgramRun> RunToExitWithAsync(IReadOnlyList<string>? commandPrefix, IReadOnlyDictionary<string, string>? environment,
        string program, TimeSpan deadline, params string[] arguments)
    {
        Protocol.ChildProcessSwitch.ThrowIfForbidden(program);
        var info = new ProcessStartInfo(commandPrefix is { Count: > 0 } ? commandPrefix[0] : "dotnet") { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        if (commandPrefix is { Count: > 0 })
        {
            foreach (var argument in commandPrefix.Skip(1)) info.ArgumentList.Add(argument);
            info.ArgumentList.Add("dotnet");
        }
        info.ArgumentList.Add(Path.Combine(Bin, program + ".dll"));
        foreach (var argument in arguments) info.ArgumentList.Add(argument);
        foreach (var (name, value) in environment ?? new Dictionary<string, string>()) info.Environment[name] = value;
        using var process = new Process { StartInfo = info };
        var stdout = new List<string>();
        var stderr = new List<string>();
        long? firstError = null;
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (stdout) stdout.Add(e.Data); };
        process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is null) return;
            lock (stderr)
            {
                firstError ??= Stopwatch.GetTimestamp();
                stderr.Add(e.Data);
            }
        };
        var started = Stopwatch.GetTimestamp();
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        using var timeout = new CancellationTokenSource(deadline);
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
        }
        await process.WaitForExitAsync(); // and for the end of its output
        var commandLine = $"{program} {string.Join(' ', arguments)}";
        var run = new ProgramRun(commandLine, process.ExitCode, string.Join('\n', stdout), string.Join('\n', stderr),
            started, Stopwatch.GetElapsedTime(started), firstError);
        if (timeout.IsCancellationRequested) Assert.Fail($"{commandLine} was still running after {deadline.TotalSeconds:0} s (killed). {run}");
        return run;
    }

    /// <summary>Polls <paramref name="condition"/> until it holds; fails naming the phase and what was last seen.</summary>
    public static async Task WaitUntilAsync(Func<bool> condition, TimeSpan deadline, Func<string> describe)
    {
        var clock = Stopwatch.StartNew();
        while (!condition())
        {
            if (clock.Elapsed > deadline) Assert.Fail($"{describe()} (after {clock.Elapsed.TotalSeconds:0.0} s)");
            await Task.Delay(100);
        }
    }

    /// <summary>Holds a TCP port on 127.0.0.1 until disposed.</summary>
    public static TcpListener Hold(int port)
    {
        var listener = new TcpListener(IPAddress.Loopback, port);
        listener.Start();
        return listener;
    }

    /// <summary>Whether something accepts TCP connections on 127.0.0.1:<paramref name="port"/>.</summary>
    public static async Task<bool> AcceptsConnectionsAsync(int port)
    {
        using var client = new TcpClient();
        try
        {
            await client.ConnectAsync(IPAddress.Loopback, port).WaitAsync(TimeSpan.FromSeconds(5));
            return true;
        }
        catch (Exception e) when (e is SocketException or TimeoutException)
        {
            return false;
        }
    }

    public static void AssertNoStackTrace(IEnumerable<string> lines, string program)
    {
        var trace = lines.Where(l => l.StartsWith("   at ", StringComparison.Ordinal) || l.Contains("Unhandled exception", StringComparison.Ordinal)).ToList();
        Assert.True(trace.Count == 0, $"{program} printed a stack trace:{Environment.NewLine}{string.Join(Environment.NewLine, lines)}");
    }

    public static string Show(IEnumerable<string> lines) => string.Join(Environment.NewLine, lines.Select(l => "  | " + l));
}

/// <summary>How a program run to its end went.</summary>
/// <param name="CommandLine">The program and its arguments, as started.</param>
/// <param name="ExitCode">The process's exit code.</param>
/// <param name="StandardOutput">All it printed on standard output.</param>
/// <param name="StandardError">All it printed on standard error.</param>
/// <param name="Started">When the process was started (a <see cref="Stopwatch"/> timestamp).</param>
/// <param name="FirstError">When its first line of standard error arrived (a <see cref="Stopwatch"/> timestamp).</param>
/// <param name="Elapsed">From its start to its exit.</param>
internal sealed record ProgramRun(string CommandLine, int ExitCode, string StandardOutput, string StandardError, long Started, TimeSpan Elapsed, long? FirstError)
{
    /// <summary>How long after <paramref name="since"/> (a Stopwatch timestamp) the program printed its first error.</summary>
    public TimeSpan? FirstErrorAfter(long since) => FirstError is { } at ? Stopwatch.GetElapsedTime(since, at) : null;

    public IReadOnlyList<string> Lines => (StandardOutput + StandardError).Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.TrimEnd('\r')).ToList();

    public override string ToString() =>
        $"`{CommandLine}` exited with {ExitCode} after {Elapsed.TotalSeconds:0.0} s.{Environment.NewLine}" +
        $"stdout:{Environment.NewLine}{StandardOutput}{Environment.NewLine}stderr:{Environment.NewLine}{StandardError}";
}
