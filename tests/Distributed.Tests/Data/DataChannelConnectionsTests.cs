using System.Net.Sockets;
using Distributed.Hosting;

namespace Distributed.Tests.Data;

/// <summary>A real dworker's data channel under 10,000 idle connections: no thread per connection, and other peers still fetch.</summary>
[ProcessTier]
public sealed class DataChannelConnectionsTests
{
    private const int IdleConnections = 10_000;

    private static int Threads(int pid) =>
        int.Parse(File.ReadLines($"/proc/{pid}/status").First(line => line.StartsWith("Threads:"))["Threads:".Length..].Trim());

    private static int OpenFiles(int pid) => Directory.GetFiles($"/proc/{pid}/fd").Length;

    [Fact]
    public async Task Ten_thousand_idle_connections_add_no_threads_and_a_fetch_still_works()
    {
        // Plain TCP on loopback: 10,000 TLS handshakes would measure the handshake, not the listener.
        await using var cluster = await LocalCluster.StartAsync(workers: 1, threadsPerWorker: 1, secure: false);
        await using var pool = await cluster.ConnectAsync();
        var values = pool.Map(i => Enumerable.Range(0, 1_000).Select(j => i * j).ToArray(), Enumerable.Range(0, 4));
        var worker = cluster.Workers[0];
        var data = pool.Workers().Single().Data;
        var threadsBefore = Threads(worker.Id);
        var filesBefore = OpenFiles(worker.Id);

        var sockets = new List<Socket>(IdleConnections);
        try
        {
            for (var batch = 0; batch < IdleConnections; batch += 250)
            {
                var opened = await Task.WhenAll(Enumerable.Range(0, 250).Select(async _ =>
                {
                    var socket = new Socket(SocketType.Stream, ProtocolType.Tcp);
                    await socket.ConnectAsync("127.0.0.1", data.Port);
                    await socket.SendAsync(new byte[] { 0 }); // a client that never asks for anything
                    return socket;
                }));
                sockets.AddRange(opened);
            }
            // The default cap keeps 4,096 of them; the rest took the places of older ones.
            await Eventually.TrueAsync(() => OpenFiles(worker.Id) >= filesBefore + 4_000,
                () => $"the worker has {OpenFiles(worker.Id)} open files, {filesBefore} before {IdleConnections} connections were opened", TimeSpan.FromSeconds(30));

            var threadsWhileOpen = Threads(worker.Id);
            Assert.True(threadsWhileOpen - threadsBefore < 20,
                $"the worker went from {threadsBefore} to {threadsWhileOpen} threads with {OpenFiles(worker.Id) - filesBefore} more connections open");

            var gathered = pool.Gather(values);
            Assert.Equal(Enumerable.Range(0, 4).Select(i => Enumerable.Range(0, 1_000).Select(j => i * j).ToArray()), gathered);
            Assert.False(worker.HasExited);
            Assert.True(Threads(worker.Id) - threadsBefore < 20, $"the worker went from {threadsBefore} to {Threads(worker.Id)} threads after the fetch");
        }
        finally
        {
            foreach (var socket in sockets) socket.Dispose();
        }
    }
}
