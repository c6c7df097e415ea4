using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using Distributed.Protocol;

namespace Distributed.Hosting;

/// <summary>
/// A center and workers started as real <c>dcenter</c>/<c>dworker</c> processes on 127.0.0.1 with
/// free ports, for the quickstart, the tests and the benchmark. They are stopped by process id. By
/// default the cluster makes temporary credentials of its own, so that every connection is mutual TLS
/// as on a real network; they are deleted when it is disposed.
/// </summary>
/// <example>
/// <code>
/// await using var cluster = await LocalCluster.StartAsync(workers: 4, threadsPerWorker: 2);
/// await using var pool = await cluster.ConnectAsync();
/// var squares = await pool.GatherAsync(await pool.MapAsync(x => x * x, Enumerable.Range(0, 10)));
/// </code>
/// </example>
public sealed partial class LocalCluster : IAsyncDisposable
{
    private readonly List<ClusterProcess> _workers = [];
    /// <summary>Each worker's Akka port: the center's log names a worker that leaves by its address.</summary>
    private readonly Dictionary<ClusterProcess, int> _workerPorts = [];
    private readonly string _centerDirectory;
    private readonly string _workerDirectory;
    private readonly int _threadsPerWorker;
    private readonly IReadOnlyList<string> _workerArguments;
    private readonly int _centerPort;
    private readonly string? _centerSettings;
    // the Pool StartAsync connected beside the workers' start (connectPool), until ConnectAsync hands it over
    private Task<Pool>? _earlyPool;
    /// <summary>
    /// Cancelled when the dispose begins (under the lock of <see cref="_workers"/>): ends the early pool's wait for a
    /// center that never came, and no worker starts after it (a start that failed is disposed while its workers wait).
    /// </summary>
    private readonly CancellationTokenSource _disposing = new();

    private LocalCluster(ClusterProcess center, int centerPort, string centerDirectory, string workerDirectory, int threadsPerWorker, IReadOnlyList<string> workerArguments, string? centerSettings,
        Protocol.Security.ClusterCredentials? credentials)
    {
        _centerSettings = centerSettings;
        Credentials = credentials;
        _workerArguments = workerArguments;
        Center = center;
        _centerPort = centerPort;
        Address = $"127.0.0.1:{centerPort}";
        _centerDirectory = centerDirectory;
        _workerDirectory = workerDirectory;
        _threadsPerWorker = threadsPerWorker;
    }

    /// <summary>The center's address, to give to a <see cref="Pool"/>.</summary>
    /// <example>
    /// <code>
    /// await using var cluster = await LocalCluster.StartAsync(secure: false);
    /// using var scheduler = new ClusterScheduler(cluster.Address); // e.g. 127.0.0.1:41235
    /// </code>
    /// </example>
    public string Address { get; }

    /// <summary>
    /// The credentials every process of this cluster presents, or null when it runs without TLS.
    /// Hand them to anything that connects to it (<see cref="ConnectAsync"/> does).
    /// </summary>
    /// <example>
    /// <code>
    /// await using var cluster = await LocalCluster.StartAsync();
    /// await using var second = await Pool.ConnectAsync(cluster.Address, cluster.Credentials); // mutual TLS, as ConnectAsync does
    /// </code>
    /// </example>
    public Protocol.Security.ClusterCredentials? Credentials { get; }

    /// <summary>
    /// Connects a <see cref="Pool"/> to this cluster, with its credentials. After a start with
    /// <c>connectPool</c>, the first call returns the Pool connected during the start (its
    /// <paramref name="timeout"/> and <paramref name="cancellation"/> were the start's).
    /// </summary>
    /// <example>
    /// <code>
    /// await using var cluster = await LocalCluster.StartAsync(connectPool: true);
    /// await using var pool = await cluster.ConnectAsync(); // the pool connected while the workers started
    /// </code>
    /// </example>
    public Task<Pool> ConnectAsync(TimeSpan? timeout = null, CancellationToken cancellation = default) =>
        Interlocked.Exchange(ref _earlyPool, null) ?? Pool.ConnectAsync(Address, Credentials, timeout, cancellation);

    /// <summary>
    /// The environment a program that connects to this cluster needs (<c>DISTRIBUTED_CREDENTIALS</c> naming
    /// its credentials folder), to give to <see cref="ClusterProcess.Start"/>; empty without TLS.
    /// </summary>
    /// <example>
    /// <code>
    /// await using var cluster = await LocalCluster.StartAsync();
    /// var client = ClusterProcess.Start(AppContext.BaseDirectory, "MyClient", [cluster.Address], cluster.ClientEnvironment);
    /// await client.WaitForExitAsync(cancellation);
    /// </code>
    /// </example>
    public IReadOnlyDictionary<string, string> ClientEnvironment =>
        Credentials?.Directory is { } directory
            ? new Dictionary<string, string> { [Protocol.Security.ClusterCredentials.EnvironmentVariable] = directory }
            : new Dictionary<string, string>();

    /// <summary>The center process (a new one after <see cref="RestartCenterAsync"/>).</summary>
    /// <example>
    /// <code>
    /// await using var cluster = await LocalCluster.StartAsync();
    /// Console.WriteLine($"dcenter is process {cluster.Center.Id}");
    /// </code>
    /// </example>
    public ClusterProcess Center { get; private set; }

    /// <summary>The worker processes, in the order they were started.</summary>
    /// <example>
    /// <code>
    /// await using var cluster = await LocalCluster.StartAsync(workers: 3);
    /// cluster.Workers[0].Kill(); // a worker crashes: its tasks are run again elsewhere
    /// </code>
    /// </example>
    public IReadOnlyList<ClusterProcess> Workers => _workers;

    /// <summary>
    /// Starts a center and <paramref name="workers"/> workers of <paramref name="threadsPerWorker"/> threads.
    /// The programs are looked up in <paramref name="binDirectory"/> when given, else in the folder <c>DISTRIBUTED_BIN</c> names,
    /// else beside this application, else as .NET tools: those of a tool manifest in the current folder or above
    /// (<c>dotnet new tool-manifest; dotnet tool install dcenter; dotnet tool install dworker</c>), then the global ones
    /// (<c>dotnet tool install --global</c>). When none has them, the error says how to install them.
    /// <paramref name="workerArguments"/> go to every dworker this cluster starts (e.g. <c>--memory-limit 32MB</c>);
    /// <paramref name="centerSettings"/> is HOCON that overrides the center's (e.g. <c>distributed.center.unclaimed-keys-grace = 5s</c>).
    /// With <paramref name="secure"/> (the default) the cluster makes temporary credentials (<see cref="Credentials"/>)
    /// and every connection is mutual TLS; without, it runs plain TCP on loopback.
    /// The workers start beside the center (<c>dworker --wait-for-center</c>: each tries it until it listens),
    /// so that their start overlaps its own. With <paramref name="connectPool"/>, a <see cref="Pool"/> connects
    /// beside them too, and the first <see cref="ConnectAsync"/> returns it; if it is never taken, disposing
    /// the cluster disposes it. A center that fails to start fails this call with its output, and stops the rest.
    /// </summary>
    /// <example>
    /// <code>
    /// await using var cluster = await LocalCluster.StartAsync(workers: 2, workerArguments: ["--memory-limit", "256MB"],
    ///     centerSettings: "distributed.center.unclaimed-keys-grace = 5s", cancellation: cancellation);
    /// </code>
    /// </example>
    public static async Task<LocalCluster> StartAsync(int workers = 2, int threadsPerWorker = 1, string? binDirectory = null, CancellationToken cancellation = default,
        IReadOnlyList<string>? workerArguments = null, string? centerSettings = null, bool secure = true, bool connectPool = false)
    {
        var programs = ClusterPrograms.OfThisProcess();
        var centerDirectory = programs.Locate("dcenter", binDirectory);
        var workerDirectory = programs.Locate("dworker", binDirectory);
        foreach (var (program, directory) in new[] { ("dcenter", centerDirectory), ("dworker", workerDirectory) })
            if (programs.VersionMismatch(program, directory) is { } warning) Console.Error.WriteLine(warning);
        var port = FreePort();
        var credentials = secure ? Protocol.Security.ClusterCredentials.CreateTemporary() : null;
        ClusterProcess? center = null;
        Distributed.Protocol.Hosting.StartTrace.Mark("localcluster: credentials ready");
        LocalCluster? cluster = null;
        try
        {
            center = StartCenter(centerDirectory, port, centerSettings, credentials);
            cluster = new LocalCluster(center, port, centerDirectory, workerDirectory, threadsPerWorker, workerArguments ?? [], centerSettings, credentials);
            // The workers start beside the center, each trying it until it listens: their start (the
            // runtime, their actor system) overlaps the center's instead of following it.
            var workersRegistered = Task.WhenAll(Enumerable.Range(0, workers).Select(_ => cluster.AddWorkerAsync(cancellation, WaitForCenterArguments)));
            if (connectPool)
            {
                var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellation, cluster._disposing.Token);
                cluster._earlyPool = Task.Run(async () =>
                {
                    using (stop) return await Pool.ConnectToStartingCenterAsync(cluster.Address, credentials, StartingCenterWait, stop.Token).ConfigureAwait(false);
                }, CancellationToken.None);
            }
            try
            {
                await WaitForCenterAsync(center, cancellation).ConfigureAwait(false);
            }
            catch
            {
                // The disposal below stops the workers; their start's own failure says nothing more.
                _ = workersRegistered.ContinueWith(t => t.Exception, CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted, TaskScheduler.Default);
                throw;
            }
            Distributed.Protocol.Hosting.StartTrace.Mark("localcluster: center ready");
            await workersRegistered.ConfigureAwait(false);
            Distributed.Protocol.Hosting.StartTrace.Mark("localcluster: workers registered");
            if (cluster._earlyPool is { } early) await early.ConfigureAwait(false);
            return cluster;
        }
        catch
        {
            if (cluster is not null) await cluster.DisposeAsync().ConfigureAwait(false);
            else
            {
                center?.Kill();
                DeleteCredentials(credentials);
            }
            throw;
        }
    }

    /// <summary>How long the workers and the pool started beside the center try it until it listens (it starts in about a second, more on a starved machine).</summary>
    private static readonly TimeSpan StartingCenterWait = TimeSpan.FromSeconds(60);

    private static readonly string[] WaitForCenterArguments = ["--wait-for-center", StartingCenterWait.TotalSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture)];

    private static ClusterProcess StartCenter(string binDirectory, int port, string? settings, Protocol.Security.ClusterCredentials? credentials) =>
        ClusterProcess.Start(binDirectory, "dcenter", ["--host", "127.0.0.1", "--port", port.ToString(), .. CredentialsArguments(credentials)],
            settings is null ? null : new Dictionary<string, string> { [ClusterConfig.OverridesVariable] = settings });

    private static string[] CredentialsArguments(Protocol.Security.ClusterCredentials? credentials) =>
        credentials?.Directory is { } directory ? ["--credentials", directory] : [];

    private static void DeleteCredentials(Protocol.Security.ClusterCredentials? credentials)
    {
        if (credentials is null) return;
        credentials.Dispose();
        try { if (credentials.Directory is { } directory) Directory.Delete(directory, recursive: true); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
    }

    private static Task<string> WaitForCenterAsync(ClusterProcess center, CancellationToken cancellation) =>
        center.WaitForLineAsync(l => l.StartsWith("Start center at", StringComparison.Ordinal), TimeSpan.FromSeconds(60), cancellation);

    /// <summary>
    /// Kills the center (SIGKILL, as a crash would), waits for its process to exit, and starts a new
    /// dcenter at the same address; returns once it accepts members. The workers keep running.
    /// <paramref name="whileDown"/> runs between the two (e.g. a client that goes away meanwhile).
    /// </summary>
    /// <example>
    /// <code>
    /// await using var cluster = await LocalCluster.StartAsync();
    /// await cluster.RestartCenterAsync(cancellation); // SIGKILL, then a new dcenter at the same address
    /// await using var pool = await cluster.ConnectAsync();
    /// </code>
    /// </example>
    public async Task RestartCenterAsync(CancellationToken cancellation = default, Func<Task>? whileDown = null)
    {
        Center.Kill();
        await Center.WaitForExitAsync(cancellation).ConfigureAwait(false);
        if (whileDown is not null) await whileDown().ConfigureAwait(false);
        Center = StartCenter(_centerDirectory, _centerPort, _centerSettings, Credentials);
        await WaitForCenterAsync(Center, cancellation).ConfigureAwait(false);
    }

    /// <summary>Starts one more worker and waits until the center has registered it.</summary>
    /// <example>
    /// <code>
    /// await using var cluster = await LocalCluster.StartAsync(workers: 1);
    /// ClusterProcess extra = await cluster.AddWorkerAsync(cancellation, "--memory-limit", "1GB");
    /// </code>
    /// </example>
    public async Task<ClusterProcess> AddWorkerAsync(CancellationToken cancellation = default, params string[] extraArguments)
    {
        for (var attempt = 1; ; attempt++)
        {
            var port = FreePort();
            string[] arguments = [Address, "--host", "127.0.0.1", "--port", port.ToString(), "--nthreads", _threadsPerWorker.ToString(),
                .. CredentialsArguments(Credentials), .. _workerArguments, .. extraArguments];
            ClusterProcess worker;
            lock (_workers)
            {
                ObjectDisposedException.ThrowIf(_disposing.IsCancellationRequested, this);
                worker = ClusterProcess.Start(_workerDirectory, "dworker", arguments);
                _workers.Add(worker);
                _workerPorts[worker] = port;
            }
            try
            {
                await worker.WaitForLineAsync(l => l.StartsWith("Registered with center at:", StringComparison.Ordinal), TimeSpan.FromSeconds(60), cancellation).ConfigureAwait(false);
                return worker;
            }
            catch (InvalidOperationException) when (attempt < 5 && worker.HasExited && !cancellation.IsCancellationRequested)
            {
                // A worker gives up after 10 s without the center's answer, which a starved machine
                // (a parallel build, say) can cause: start it again rather than fail the cluster.
                lock (_workers)
                {
                    _workers.Remove(worker);
                    _workerPorts.Remove(worker);
                }
            }
        }
    }

    /// <summary>Stops every process: SIGTERM first so that workers leave the cluster, then SIGKILL.</summary>
    /// <example>
    /// <code>
    /// var cluster = await LocalCluster.StartAsync();
    /// try { await using var pool = await cluster.ConnectAsync(); pool.Apply(() => 1); }
    /// finally { await cluster.DisposeAsync(); } // or: await using var cluster = ...
    /// </code>
    /// </example>
    public async ValueTask DisposeAsync()
    {
        Protocol.Hosting.StartTrace.Mark("localcluster: stopping");
        lock (_workers) _disposing.Cancel();
        if (Interlocked.Exchange(ref _earlyPool, null) is { } early)
        {
            try { await (await early.ConfigureAwait(false)).DisposeAsync().ConfigureAwait(false); }
            catch (Exception e) when (e is not OutOfMemoryException) { } // it failed to connect: nothing to leave
        }
        List<(ClusterProcess Worker, int Port)> running;
        lock (_workers) running = _workers.Where(w => !w.HasExited).Select(w => (w, _workerPorts[w])).ToList();
        var stopping = running.Select(r => r.Worker.StopAsync(TimeSpan.FromSeconds(10))).ToList();
        // A stopping worker first hands its values over, then has the center forget it (a line in the
        // center's log), then leaves the Akka cluster, most of its stop. Once the center has forgotten
        // them all, its own stop goes beside their leave. A center that does not say so in time (a
        // quieter log level, a retirement that takes long) is stopped after the workers, as before.
        if (await CenterForgotAsync(running).ConfigureAwait(false)) stopping.Add(Center.StopAsync(TimeSpan.FromSeconds(10)));
        await Task.WhenAll(stopping).ConfigureAwait(false);
        Protocol.Hosting.StartTrace.Mark("localcluster: workers stopped");
        await Center.StopAsync(TimeSpan.FromSeconds(10)).ConfigureAwait(false); // at once when it stopped beside them
        Protocol.Hosting.StartTrace.Mark("localcluster: center stopped");
        DeleteCredentials(Credentials);
    }

    /// <summary>How long a dispose waits for the center to say it forgot the stopping workers before it stops the center after them instead.</summary>
    private static readonly TimeSpan ForgetBound = TimeSpan.FromSeconds(3);

    /// <summary>Whether the center said, within <see cref="ForgetBound"/>, that each of these stopping workers left.</summary>
    private async Task<bool> CenterForgotAsync(IReadOnlyList<(ClusterProcess Worker, int Port)> stopping)
    {
        if (Center.HasExited) return false;
        try
        {
            await Task.WhenAll(stopping.Select(s => Center.WaitForLineAsync(line =>
                line.Contains($" at 127.0.0.1:{s.Port} left the cluster", StringComparison.Ordinal) || line.Contains($" at 127.0.0.1:{s.Port} downed", StringComparison.Ordinal),
                ForgetBound))).ConfigureAwait(false);
            return true;
        }
        catch (InvalidOperationException)
        {
            return false; // not said in time, or the center exited: the workers' stop goes first
        }
    }

    /// <summary>A port that was free a moment ago.</summary>
    /// <example>
    /// <code>
    /// int port = LocalCluster.FreePort();
    /// var center = ClusterProcess.Start(AppContext.BaseDirectory, "dcenter", ["--host", "127.0.0.1", "--port", port.ToString()]);
    /// </code>
    /// </example>
    public static int FreePort()
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return port;
    }
}

/// <summary>A started dcenter or dworker process, with its output kept for waiting and for diagnosis.</summary>
/// <example>
/// <code>
/// var center = ClusterProcess.Start(AppContext.BaseDirectory, "dcenter", ["--host", "127.0.0.1", "--port", "8786"]);
/// await center.WaitForLineAsync(line => line.StartsWith("Start center at"), TimeSpan.FromSeconds(30));
/// await center.StopAsync(TimeSpan.FromSeconds(10));
/// </code>
/// </example>
public sealed partial class ClusterProcess
{
    private readonly Process _process;
    private readonly List<string> _lines = [];
    private readonly List<(Func<string, bool> Match, TaskCompletionSource<string> Found)> _waiters = [];

    private ClusterProcess(Process process, string name)
    {
        _process = process;
        Name = name;
    }

    /// <summary>The program name.</summary>
    /// <example>
    /// <code>
    /// await using var cluster = await LocalCluster.StartAsync();
    /// foreach (var process in cluster.Workers.Prepend(cluster.Center)) Console.WriteLine($"{process.Name} {process.Id}"); // dcenter ..., dworker ...
    /// </code>
    /// </example>
    public string Name { get; }

    /// <summary>The process id.</summary>
    /// <example>
    /// <code>
    /// await using var cluster = await LocalCluster.StartAsync();
    /// Console.WriteLine($"kill -STOP {cluster.Workers[0].Id}"); // the pid, to inspect it from a shell
    /// </code>
    /// </example>
    public int Id => _process.Id;

    /// <summary>Whether the process has exited.</summary>
    /// <example>
    /// <code>
    /// await using var cluster = await LocalCluster.StartAsync(workers: 2);
    /// cluster.Workers[1].Kill();
    /// await cluster.Workers[1].WaitForExitAsync(cancellation);
    /// Console.WriteLine(cluster.Workers[1].HasExited); // True
    /// </code>
    /// </example>
    public bool HasExited => _process.HasExited;

    /// <summary>Everything the process printed so far (standard output and error).</summary>
    /// <example>
    /// <code>
    /// await using var cluster = await LocalCluster.StartAsync();
    /// foreach (var line in cluster.Center.Output) Console.WriteLine($"[dcenter] {line}");
    /// </code>
    /// </example>
    public IReadOnlyList<string> Output { get { lock (_lines) return _lines.ToList(); } }

    /// <summary>
    /// Starts <paramref name="program"/> from <paramref name="binDirectory"/> (as <c>dotnet program.dll</c>), with <paramref name="environment"/> added to its environment.
    /// A <paramref name="commandPrefix"/> runs it through another command, e.g. <c>ip netns exec NAME</c> to start it in a
    /// network namespace; the prefix must exec the program (as <c>ip netns exec</c> does), so that <see cref="Id"/> stays the program's.
    /// </summary>
    /// <example>
    /// <code>
    /// var worker = ClusterProcess.Start(AppContext.BaseDirectory, "dworker", ["127.0.0.1:8786", "--nthreads", "4"],
    ///     new Dictionary&lt;string, string&gt; { ["DISTRIBUTED_CREDENTIALS"] = "/etc/distributed/worker" });
    /// </code>
    /// </example>
    public static ClusterProcess Start(string binDirectory, string program, IEnumerable<string> arguments, IReadOnlyDictionary<string, string>? environment = null,
        IReadOnlyList<string>? commandPrefix = null)
    {
        Protocol.ChildProcessSwitch.ThrowIfForbidden(program);
        var dll = Path.Combine(binDirectory, program + ".dll");
        if (!File.Exists(dll))
            throw new FileNotFoundException($"{program}.dll is not in {binDirectory}; build the solution, or set DISTRIBUTED_BIN to the folder that holds it.", dll);
        var info = new ProcessStartInfo(commandPrefix is { Count: > 0 } ? commandPrefix[0] : "dotnet") { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        if (commandPrefix is { Count: > 0 })
        {
            foreach (var argument in commandPrefix.Skip(1)) info.ArgumentList.Add(argument);
            info.ArgumentList.Add("dotnet");
        }
        info.ArgumentList.Add(dll);
        foreach (var argument in arguments) info.ArgumentList.Add(argument);
        foreach (var (name, value) in environment ?? new Dictionary<string, string>()) info.Environment[name] = value;
        var process = new Process { StartInfo = info, EnableRaisingEvents = true };
        var started = new ClusterProcess(process, program);
        process.OutputDataReceived += (_, e) => started.OnLine(e.Data);
        process.ErrorDataReceived += (_, e) => started.OnLine(e.Data);
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return started;
    }

    private void OnLine(string? line)
    {
        if (line is null) return;
        // The children's start trace is shown with this process's (their output is otherwise kept).
        if (Protocol.Hosting.StartTrace.Enabled && line.Contains("[start-trace]", StringComparison.Ordinal)) Console.Error.WriteLine(line);
        List<TaskCompletionSource<string>> found = [];
        lock (_lines)
        {
            _lines.Add(line);
            foreach (var waiter in _waiters.Where(w => w.Match(line)).ToList())
            {
                _waiters.Remove(waiter);
                found.Add(waiter.Found);
            }
        }
        foreach (var f in found) f.TrySetResult(line);
    }

    /// <summary>Waits until the process prints a matching line; fails with its output if it exits or the time runs out.</summary>
    /// <example>
    /// <code>
    /// await using var cluster = await LocalCluster.StartAsync();
    /// var worker = await cluster.AddWorkerAsync(cancellation);
    /// string line = await worker.WaitForLineAsync(l => l.Contains("Registered"), TimeSpan.FromSeconds(60), cancellation);
    /// </code>
    /// </example>
    public async Task<string> WaitForLineAsync(Func<string, bool> match, TimeSpan timeout, CancellationToken cancellation = default)
    {
        var found = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (_lines)
        {
            if (_lines.FirstOrDefault(match) is { } line) return line;
            _waiters.Add((match, found));
        }
        var exited = _process.WaitForExitAsync(cancellation);
        var finished = await Task.WhenAny(found.Task, exited, Task.Delay(timeout, cancellation)).ConfigureAwait(false);
        if (finished == found.Task) return await found.Task.ConfigureAwait(false);
        cancellation.ThrowIfCancellationRequested();
        var why = finished == exited ? $"exited with code {_process.ExitCode}" : $"did not print the expected line within {timeout.TotalSeconds:0} s";
        throw new InvalidOperationException($"{Name} (pid {Id}) {why}. Its output:{Environment.NewLine}{string.Join(Environment.NewLine, Output)}");
    }

    /// <summary>Kills the process at once (SIGKILL), as a crash would.</summary>
    /// <example>
    /// <code>
    /// await using var cluster = await LocalCluster.StartAsync(workers: 3);
    /// await using var pool = await cluster.ConnectAsync();
    /// var futures = pool.SubmitMap(x => x * 2, Enumerable.Range(0, 100));
    /// cluster.Workers[0].Kill(); // as a crash would: the futures still complete, on the other workers
    /// </code>
    /// </example>
    public void Kill()
    {
        try { _process.Kill(entireProcessTree: true); }
        catch (InvalidOperationException) { }
    }

    /// <summary>Sends SIGTERM and waits for a clean exit; kills the process when it does not stop in time.</summary>
    /// <example>
    /// <code>
    /// await using var cluster = await LocalCluster.StartAsync(workers: 2);
    /// await cluster.Workers[0].StopAsync(TimeSpan.FromSeconds(10)); // SIGTERM: it leaves the cluster; SIGKILL if it is not gone in 10 s
    /// </code>
    /// </example>
    public async Task StopAsync(TimeSpan grace)
    {
        if (_process.HasExited) return;
        if (OperatingSystem.IsWindows() || SendSignal(_process.Id, SigTerm) != 0) { Kill(); return; }
        using var timeout = new CancellationTokenSource(grace);
        try { await _process.WaitForExitAsync(timeout.Token).ConfigureAwait(false); }
        catch (OperationCanceledException) { Kill(); }
    }

    /// <summary>Exit code, once exited.</summary>
    /// <example>
    /// <code>
    /// await using var cluster = await LocalCluster.StartAsync();
    /// await cluster.Workers[0].StopAsync(TimeSpan.FromSeconds(5));
    /// Console.WriteLine($"dworker exited with {cluster.Workers[0].ExitCode}");
    /// </code>
    /// </example>
    public int ExitCode => _process.ExitCode;

    /// <summary>When the process exited, in local time, once exited.</summary>
    /// <example>
    /// <code>
    /// await using var cluster = await LocalCluster.StartAsync();
    /// await cluster.Workers[0].StopAsync(TimeSpan.FromSeconds(5));
    /// Console.WriteLine($"dworker exited at {cluster.Workers[0].ExitTime:O}");
    /// </code>
    /// </example>
    public DateTime ExitTime => _process.ExitTime;

    /// <summary>Waits for the process to exit.</summary>
    /// <example>
    /// <code>
    /// await using var cluster = await LocalCluster.StartAsync();
    /// cluster.Center.Kill();
    /// await cluster.Center.WaitForExitAsync(cancellation);
    /// </code>
    /// </example>
    public Task WaitForExitAsync(CancellationToken cancellation = default) => _process.WaitForExitAsync(cancellation);

    /// <summary>Sends a POSIX signal to the process (e.g. SIGSTOP in failure tests).</summary>
    /// <example>
    /// <code>
    /// await using var cluster = await LocalCluster.StartAsync(workers: 2);
    /// cluster.Workers[0].Signal(19); // SIGSTOP: the worker hangs, as a stalled machine would
    /// cluster.Workers[0].Signal(18); // SIGCONT
    /// </code>
    /// </example>
    public int Signal(int signal) => SendSignal(_process.Id, signal);

    private const int SigTerm = 15;

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int SendSignal(int pid, int signal);
}
