using System.Net.Sockets;
using Distributed.Hosting;
using Distributed.Tests.Hosting;
using Distributed.Worker;

namespace Distributed.Tests.Cluster;

/// <summary>
/// What a worker keeps on disk is its user's alone (folders 0700, files 0600), and its executor
/// socket serves only the executor process the worker started.
/// </summary>
[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
[ProcessTier]
public sealed class PrivateWorkerFilesTests
{
    private const UnixFileMode Folder = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;
    private const UnixFileMode File600 = UnixFileMode.UserRead | UnixFileMode.UserWrite;
    private static readonly TimeSpan Slow = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task Every_folder_a_worker_makes_is_0700_and_every_file_0600()
    {
        // 4 MB of values in a worker that keeps 1 MB in memory: it spills. The lambda's assembly ships.
        await using var cluster = await LocalCluster.StartAsync(workers: 1, threadsPerWorker: 1, workerArguments: ["--memory-limit", "1MB"]);
        await using var pool = await cluster.ConnectAsync();
        var blocks = pool.Map(i => Enumerable.Repeat((byte)i, 400_000).ToArray(), Enumerable.Range(0, 10));
        await pool.GatherAsync(blocks).WaitAsync(Slow);
        var worker = cluster.Workers[0];
        var (work, spill) = FoldersOf(worker);

        Assert.NotEmpty(Directory.GetFiles(spill));
        Assert.NotEmpty(Directory.GetFiles(Path.Combine(work, "assemblies"), "*.dll", SearchOption.AllDirectories));
        Assert.Equal(Folder, File.GetUnixFileMode(WorkerFolders.Root));
        var made = new[] { work, spill }
            .SelectMany(f => Directory.GetFileSystemEntries(f, "*", SearchOption.AllDirectories).Append(f))
            .Append(WorkerFolders.LockFileOf(worker.Id))
            .ToList();
        var loose = made
            .Select(path => (Path: path, Mode: File.GetUnixFileMode(path), Expected: Directory.Exists(path) ? Folder : File600))
            .Where(e => e.Mode != e.Expected)
            .Select(e => $"{e.Path}: {Convert.ToString((int)e.Mode, 8)}, expected {Convert.ToString((int)e.Expected, 8)}")
            .ToList();
        Assert.True(loose.Count == 0, $"Of the {made.Count} files and folders the worker made, these are not private:{Environment.NewLine}{string.Join(Environment.NewLine, loose)}");
    }

    [Fact]
    public async Task A_process_other_than_the_started_executor_is_refused_on_the_executor_socket_and_the_worker_keeps_computing()
    {
        await using var cluster = await LocalCluster.StartAsync(workers: 1, threadsPerWorker: 1);
        await using var pool = await cluster.ConnectAsync();
        var worker = cluster.Workers[0];
        var (work, _) = FoldersOf(worker);
        using var intruder = new SocketIntruder(work);

        // The spare executor takes this code; a new spare, with a new socket, starts 2 s later, and
        // the intruder connects to it before its executor process (which takes a while to start) can.
        Assert.Equal(Enumerable.Range(1, 20), await pool.GatherAsync(pool.Map(x => x + 1, Enumerable.Range(0, 20))).WaitAsync(Slow));
        await Eventually.TrueAsync(() => worker.Output.Any(IsRefusal),
            () => $"the worker logged no refusal; the intruder connected to [{string.Join(", ", intruder.Connected)}]. Worker output:{Environment.NewLine}{string.Join(Environment.NewLine, worker.Output)}", Slow);
        await Eventually.TrueAsync(() => intruder.ClosedByWorker > 0, () => "the worker did not close the intruder's connection", Slow);

        // Every executor goes: the worker runs the next tasks on the refused spare or on new ones
        // (each of which the intruder tries too), and computes them all.
        var killed = ProcessTree.ChildrenOf(worker.Id);
        var goneBefore = worker.Output.Count(IsExecutorGone);
        foreach (var executor in killed) ProcessTree.Kill(executor);
        // Tasks sent to an executor before its worker saw it die fail (ExecutorCrashedTests): wait until it has.
        await Eventually.TrueAsync(() => worker.Output.Count(IsExecutorGone) >= goneBefore + killed.Count,
            () => $"the worker did not notice that its {killed.Count} executor(s) died", Slow);
        Assert.Equal(Enumerable.Range(0, 20).Select(x => x * 3), await pool.GatherAsync(pool.Map(x => x * 3, Enumerable.Range(0, 20))).WaitAsync(Slow));
        Assert.False(worker.HasExited);
    }

    private static bool IsExecutorGone(string line) => line.Contains("is gone: ", StringComparison.Ordinal);

    private static bool IsRefusal(string line) => line.Contains("Refused a connection on the executor socket", StringComparison.Ordinal);

    /// <summary>A worker's work and spill folders, named by its process id and its port (from its start line).</summary>
    internal static (string Work, string Spill) FoldersOf(ClusterProcess worker)
    {
        var start = worker.Output.First(l => l.StartsWith("Start worker at:", StringComparison.Ordinal));
        var port = start[(start.LastIndexOf(':') + 1)..].Trim();
        var work = Path.Combine(WorkerFolders.Root, $"worker-{worker.Id}-{port}");
        return (work, work + "-spill");
    }

    /// <summary>Watches a work folder and connects to every executor socket that appears there, as fast as it can.</summary>
    private sealed class SocketIntruder : IDisposable
    {
        private readonly CancellationTokenSource _stop = new();
        private readonly List<Socket> _sockets = [];
        private readonly HashSet<string> _tried = [];
        private int _closedByWorker;

        public SocketIntruder(string folder) => _ = Task.Run(() => Watch(folder));

        public IReadOnlyList<string> Connected { get { lock (_sockets) return _tried.ToList(); } }

        public int ClosedByWorker => Volatile.Read(ref _closedByWorker);

        private async Task Watch(string folder)
        {
            while (!_stop.IsCancellationRequested)
            {
                string[] sockets;
                try { sockets = Directory.GetFiles(folder, "executor-*.sock"); }
                catch (DirectoryNotFoundException) { sockets = []; }
                foreach (var path in sockets)
                {
                    lock (_sockets) if (!_tried.Add(path)) continue;
                    var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
                    try
                    {
                        socket.Connect(new UnixDomainSocketEndPoint(path));
                        lock (_sockets) _sockets.Add(socket);
                        _ = Task.Run(() => WaitForClose(socket));
                    }
                    catch (SocketException)
                    {
                        socket.Dispose(); // the executor was first, and the socket is gone
                    }
                }
                await Task.Delay(2);
            }
        }

        private async Task WaitForClose(Socket socket)
        {
            var buffer = new byte[1 << 16];
            try
            {
                // An intruder taken for the executor would be sent tasks (and code); refused, it reads the end.
                while (await socket.ReceiveAsync(buffer, SocketFlags.None, _stop.Token) > 0) { }
                Interlocked.Increment(ref _closedByWorker);
            }
            catch (Exception e) when (e is SocketException or OperationCanceledException or ObjectDisposedException) { }
        }

        public void Dispose()
        {
            _stop.Cancel();
            lock (_sockets) _sockets.ForEach(s => s.Dispose());
        }
    }
}
