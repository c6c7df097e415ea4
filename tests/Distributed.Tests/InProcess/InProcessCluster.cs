using System.Net;
using System.Net.Sockets;
using Akka.Actor;
using Distributed.Center;
using Distributed.Protocol;
using Distributed.Protocol.Hosting;
using Distributed.Worker;

namespace Distributed.Tests.InProcess;

/// <summary>
/// A real center and real workers inside the test process, each node its own actor system on
/// 127.0.0.1 and a free port, joined as one Akka cluster; the workers keep their values in real
/// stores behind real data channels. Executors are played by <see cref="EchoExecutor"/>, as child
/// processes are forbidden in the fast tier. Plain TCP on loopback (no credentials), as a
/// <c>LocalCluster</c> started with <c>secure: false</c>.
/// </summary>
public sealed class InProcessCluster : IAsyncDisposable
{
    private readonly List<InProcessWorker> _workers = [];
    private readonly int _centerPort;

    private InProcessCluster(CenterNode center, int centerPort)
    {
        Center = center;
        _centerPort = centerPort;
    }

    /// <summary>The center node (a new one after <see cref="RestartCenterAsync"/>).</summary>
    public CenterNode Center { get; private set; }

    /// <summary>The center's address, host:port.</summary>
    public string Address => $"127.0.0.1:{_centerPort}";

    /// <summary>The workers, in the order they were started.</summary>
    public IReadOnlyList<InProcessWorker> Workers => _workers;

    /// <summary>The tasks the workers' stand-in executors ran.</summary>
    public ExecutionLog Executions { get; } = new();

    /// <summary>Starts a center and <paramref name="workers"/> workers named worker-1, worker-2, …</summary>
    public static async Task<InProcessCluster> StartAsync(int workers)
    {
        var port = FreePort();
        var cluster = new InProcessCluster(await CenterNode.StartAsync("127.0.0.1", port), port);
        try
        {
            for (var i = 1; i <= workers; i++) await cluster.AddWorkerAsync($"worker-{i}");
            return cluster;
        }
        catch
        {
            await cluster.DisposeAsync();
            throw;
        }
    }

    /// <summary>
    /// Starts one more worker, returning once the center has registered it. Without
    /// <paramref name="echoExecutors"/> it starts executor processes as dworker does, which this tier refuses.
    /// </summary>
    public async Task<InProcessWorker> AddWorkerAsync(string name, bool echoExecutors = true)
    {
        var options = new WorkerOptions(new HostPort("127.0.0.1", _centerPort), Host: "127.0.0.1", Port: FreePort(), Threads: 1, Name: name,
            MemoryLimit: 64L << 20)
        {
            ExecutorStandIn = echoExecutors ? EchoExecutor.For(name, Executions) : null,
        };
        var worker = await InProcessWorker.StartAsync(options);
        _workers.Add(worker);
        return worker;
    }

    /// <summary>A client of this cluster.</summary>
    public Task<Pool> ConnectAsync() => Pool.ConnectAsync(Address, (Protocol.Security.ClusterCredentials?)null);

    /// <summary>The worker named <paramref name="name"/>.</summary>
    public InProcessWorker Worker(string name) => _workers.Single(w => w.Name == name);

    /// <summary>
    /// The center lost as a killed process is (its actor system aborted: no leave, no goodbye), and a
    /// new one started at the same address. The workers and clients notice on their own, down their
    /// nodes and join the new center, as the programs do.
    /// </summary>
    public async Task RestartCenterAsync()
    {
        var lost = Center;
        ((ExtendedActorSystem)lost.System).Abort();
        await lost.System.WhenTerminated.WaitAsync(TimeSpan.FromSeconds(10));
        var waiting = System.Diagnostics.Stopwatch.StartNew();
        while (true)
        {
            try
            {
                Center = await CenterNode.StartAsync("127.0.0.1", _centerPort);
                return;
            }
            // The aborted node's listener may take a moment to let go of the port.
            catch (PortInUseException) when (waiting.Elapsed < TimeSpan.FromSeconds(5))
            {
                await Task.Delay(100);
            }
        }
    }

    /// <summary>What the cluster's nodes are doing, for a failed wait's message.</summary>
    public string Describe() => string.Join(Environment.NewLine,
        [$"center {Address} (terminated: {Center.System.WhenTerminated.IsCompleted})", .. _workers.Select(w => w.Describe())]);

    /// <summary>Ends every node at once (a graceful leave, one node after the other, only adds seconds) and deletes the workers' folders.</summary>
    public async ValueTask DisposeAsync()
    {
        await Task.WhenAll(_workers.Select(w => w.DisposeAsync().AsTask()));
        ((ExtendedActorSystem)Center.System).Abort();
        await Center.System.WhenTerminated.WaitAsync(TimeSpan.FromSeconds(10));
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}

/// <summary>
/// A worker node in the test process that, like <c>dworker</c>, starts its node again with the
/// store it kept when the node ends by itself (the center was lost), until it is killed or disposed.
/// </summary>
public sealed class InProcessWorker : IAsyncDisposable
{
    private readonly WorkerOptions _options;
    private readonly CancellationTokenSource _stopping = new();
    private volatile WorkerNode _node;
    private volatile bool _nodeStopped;
    private volatile bool _killed;
    private volatile Exception? _rejoinFailure;
    private int _rejoins;
    private Task _supervision = Task.CompletedTask;

    private InProcessWorker(WorkerOptions options, WorkerNode node)
    {
        _options = options;
        _node = node;
    }

    /// <summary>The worker's name, as it asked to be called (and the center kept).</summary>
    public string Name => _options.Name!;

    /// <summary>The running node (a new one after each rejoin).</summary>
    public WorkerNode Node => _node;

    /// <summary>How many times the node joined again after it ended.</summary>
    public int Rejoins => Volatile.Read(ref _rejoins);

    public static async Task<InProcessWorker> StartAsync(WorkerOptions options)
    {
        var worker = new InProcessWorker(options, await WorkerNode.StartAsync(options));
        worker._supervision = worker.SuperviseAsync();
        return worker;
    }

    /// <summary>What dworker's ProgramRunner does when its node ends without being told to: stop it, then rejoin with its store.</summary>
    private async Task SuperviseAsync()
    {
        try
        {
            while (true)
            {
                var node = _node;
                await node.System.WhenTerminated.WaitAsync(_stopping.Token);
                await node.StopAsync();
                _nodeStopped = true;
                _node = await WorkerNode.RejoinAsync(_options with { Port = node.Address.Port }, node, _stopping.Token);
                _nodeStopped = false;
                Interlocked.Increment(ref _rejoins);
            }
        }
        catch (OperationCanceledException) when (_stopping.IsCancellationRequested)
        {
        }
        catch (Exception e)
        {
            _rejoinFailure = e;
        }
    }

    /// <summary>Kills the worker as SIGKILL kills dworker: its node drops out without leaving, its data port closes, and it does not come back.</summary>
    public async Task KillAsync()
    {
        _killed = true;
        await _stopping.CancelAsync();
        await _supervision;
        await _node.KillAsync().WaitAsync(TimeSpan.FromSeconds(10));
    }

    public string Describe() =>
        $"worker {Name} at {_node.Address} (killed: {_killed}, node ended: {_node.System.WhenTerminated.IsCompleted}, rejoins: {Rejoins}" +
        (_rejoinFailure is { } failure ? $", rejoin failed: {failure.Message}" : "") + ")";

    public async ValueTask DisposeAsync()
    {
        await _stopping.CancelAsync();
        await _supervision;
        if (!_killed && !_nodeStopped) await _node.KillAsync().WaitAsync(TimeSpan.FromSeconds(10));
        _stopping.Dispose();
        // A killed worker leaves its folders, as a killed process does; the test cleans up after it.
        foreach (var folder in new[] { WorkerFolders.WorkFolder(_options.Port!.Value), WorkerFolders.SpillFolder(_options.Port!.Value) })
        {
            try { if (Directory.Exists(folder)) Directory.Delete(folder, recursive: true); }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
        }
    }
}
