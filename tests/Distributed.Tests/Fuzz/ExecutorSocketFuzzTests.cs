using System.Net.Sockets;
using Distributed.Hosting;
using Distributed.Tests.Hosting;
using Distributed.Tests.Cluster;

namespace Distributed.Tests.Fuzz;

/// <summary>
/// The executor socket of a real worker, flooded by a process that is not the executor: every time a
/// socket appears (the worker starts a new executor for each one killed here), it connects as often as
/// it can and sends random bytes. The worker refuses each connection by the kernel's record of the peer
/// (SO_PEERCRED) before reading a byte, keeps its values and computes. Mutated frames from the right
/// process are fuzzed in-process (DecoderFuzzTests): a test cannot send from the executor's pid without
/// a way to make the worker launch another program, which would be a backdoor of its own.
/// </summary>
[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
[ProcessTier]
public sealed class ExecutorSocketFuzzTests
{
    private static readonly TimeSpan Slow = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task Foreign_connections_sending_random_bytes_to_the_executor_socket_are_refused_and_the_worker_keeps_its_values()
    {
        await using var cluster = await LocalCluster.StartAsync(workers: 1, threadsPerWorker: 1);
        await using var pool = await cluster.ConnectAsync();
        var stored = pool.Map(x => x * 7, Enumerable.Range(0, 30));
        var expected = await pool.GatherAsync(stored).WaitAsync(Slow);
        var worker = cluster.Workers[0];
        var (work, _) = PrivateWorkerFilesTests.FoldersOf(worker);

        using var stop = new CancellationTokenSource();
        var flood = Task.Run(() => Flood(work, stop.Token));
        // Each killed executor is replaced by a new process behind a new socket, which the flood finds first.
        for (var round = 0; round < 6; round++)
        {
            var killed = ProcessTree.ChildrenOf(worker.Id);
            var goneBefore = worker.Output.Count(IsExecutorGone);
            foreach (var executor in killed) ProcessTree.Kill(executor);
            // Tasks sent to an executor before its worker saw it die fail (ExecutorCrashTests): wait until it has.
            await Eventually.TrueAsync(() => worker.Output.Count(IsExecutorGone) >= goneBefore + killed.Count,
                () => $"round {round}: the worker did not notice that its {killed.Count} executor(s) died", Slow);
            Assert.Equal(Enumerable.Range(round, 10), await pool.GatherAsync(pool.Map(Add(round), Enumerable.Range(0, 10))).WaitAsync(Slow));
        }
        await stop.CancelAsync();
        var (connections, bytes) = await flood;

        Assert.True(connections > 0, "the flood never reached an executor socket");
        Assert.False(worker.HasExited, "the worker exited");
        Assert.Equal(expected, await pool.GatherAsync(stored).WaitAsync(Slow));
        Assert.Contains(worker.Output, IsRefusal);
        Console.WriteLine($"executor socket flood: {connections} connections, {bytes} random bytes, {worker.Output.Count(IsRefusal)} refusals logged");
    }

    // A closure of its own: one made in the test method would capture the test's processes too.
    private static Func<int, int> Add(int offset) => x => x + offset;

    private static bool IsExecutorGone(string line) => line.Contains("is gone: ", StringComparison.Ordinal);

    private static bool IsRefusal(string line) => line.Contains("Refused a connection on the executor socket", StringComparison.Ordinal);

    private static async Task<(int Connections, long Bytes)> Flood(string folder, CancellationToken stop)
    {
        var random = new Random(5);
        var connections = 0;
        long bytes = 0;
        while (!stop.IsCancellationRequested)
        {
            string[] sockets;
            try { sockets = Directory.GetFiles(folder, "executor-*.sock"); }
            catch (DirectoryNotFoundException) { sockets = []; }
            foreach (var path in sockets)
            {
                using var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
                try
                {
                    socket.Connect(new UnixDomainSocketEndPoint(path));
                    var noise = new byte[random.Next(1, 4096)];
                    random.NextBytes(noise);
                    // A frame tag the executor protocol knows now and then, so that noise looks like a frame.
                    noise[0] = random.Next(2) == 0 ? (byte)'R' : noise[0];
                    bytes += socket.Send(noise);
                    connections++;
                }
                catch (SocketException)
                {
                    // The executor connected first (the socket is gone), or the worker closed this one.
                }
            }
            if (sockets.Length == 0) await Task.Delay(1, CancellationToken.None);
        }
        return (connections, bytes);
    }

}
