using System.Diagnostics;
using System.Net.Sockets;
using System.Text;
using Distributed.Hosting;
using Distributed.Tests.Programs;

namespace Distributed.Tests.Dashboard;

/// <summary>
/// The dashboard's port of a real dcenter under abuse: garbage bytes, oversized request lines and
/// headers, hundreds of idle connections and slowloris connections. The center keeps running and its
/// dashboard keeps answering throughout, and Kestrel's limits close what would tie it up.
/// </summary>
[ProcessTier]
public sealed class DashboardFuzzTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task Garbage_huge_headers_idle_and_slowloris_connections_leave_the_center_running_and_serving()
    {
        await using var processes = new ProgramProcesses();
        var port = LocalCluster.FreePort();
        var dashboardPort = LocalCluster.FreePort();
        var center = processes.Start("dcenter", "--host", "127.0.0.1", "--port", port.ToString(), "--dashboard-port", dashboardPort.ToString());
        await center.WaitForLineAsync(l => l.StartsWith("Dashboard at", StringComparison.Ordinal), Patience);
        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{dashboardPort}/"), Timeout = TimeSpan.FromSeconds(20) };
        async Task AssertServesAsync(string when)
        {
            Assert.False(center.HasExited, $"dcenter exited {when}: {string.Join("\n", center.Output)}");
            using var response = await http.GetAsync("api/workers");
            Assert.True(response.IsSuccessStatusCode, $"/api/workers answered {(int)response.StatusCode} {when}");
        }
        await AssertServesAsync("at start");

        // Garbage: random bytes, and random bytes after a valid start, each on a connection of its own.
        var random = new Random(14);
        var blobs = Enumerable.Range(0, 150).Select(i =>
        {
            var bytes = new byte[random.Next(1, 8_192)];
            random.NextBytes(bytes);
            return i % 3 == 0 ? [.. "GET /api/state HTTP/1.1\r\nHost: x\r\n"u8, .. bytes] : i % 3 == 1 ? [.. "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"u8, .. bytes] : bytes;
        }).ToList();
        foreach (var chunk in blobs.Chunk(25))
            await Task.WhenAll(chunk.Select(blob => SendAndReadAsync(dashboardPort, blob)));
        await AssertServesAsync("after garbage");

        // Oversized parts are answered with their status, not read on for ever.
        Assert.StartsWith("HTTP/1.1 431", await SendAndReadAsync(dashboardPort, Request($"X-Big: {new string('a', 20_000)}\r\n")));
        Assert.StartsWith("HTTP/1.1 431", await SendAndReadAsync(dashboardPort, Request(string.Concat(Enumerable.Range(0, 80).Select(i => $"X-{i}: v\r\n")))));
        Assert.StartsWith("HTTP/1.1 414", await SendAndReadAsync(dashboardPort, Encoding.ASCII.GetBytes($"GET /{new string('a', 10_000)} HTTP/1.1\r\nHost: x\r\n\r\n")));
        Assert.StartsWith("HTTP/1.1 431", await SendAndReadAsync(dashboardPort, Request($"X-Huge: {new string('a', 1_000_000)}\r\n")));
        await AssertServesAsync("after oversized requests");

        // Idle connections (never a byte) and slowloris ones (a header line every second): the
        // dashboard answers meanwhile, and closes the slow ones once their headers are late.
        var idle = new List<TcpClient>();
        var slow = new List<TcpClient>();
        try
        {
            for (var i = 0; i < 200; i++)
            {
                var client = new TcpClient();
                await client.ConnectAsync("127.0.0.1", dashboardPort);
                idle.Add(client);
            }
            for (var i = 0; i < 20; i++)
            {
                var client = new TcpClient();
                await client.ConnectAsync("127.0.0.1", dashboardPort);
                await client.GetStream().WriteAsync("GET /api/workers HTTP/1.1\r\nHost: x\r\n"u8.ToArray());
                slow.Add(client);
            }
            var watch = Stopwatch.StartNew();
            using var stopDripping = new CancellationTokenSource();
            var drips = slow.Select(c => DripAsync(c, stopDripping.Token)).ToList();
            await AssertServesAsync("with 200 idle and 20 slowloris connections open");
            var closedAfter = await Task.WhenAll(drips);
            await stopDripping.CancelAsync();
            // RequestHeadersTimeout is 5 s (Kestrel checks once a second); Kestrel's default would be 30 s.
            Assert.All(closedAfter, seconds => Assert.True(seconds < 12, $"a slowloris connection was kept {seconds:0.0} s"));
            var idleClosed = await Task.WhenAll(idle.Select(c => ClosedWithinAsync(c, TimeSpan.FromSeconds(25))));
            Assert.True(idleClosed.All(c => c), $"{idleClosed.Count(c => !c)} of 200 idle connections were still open after {watch.Elapsed.TotalSeconds:0} s");
            await AssertServesAsync("after the idle and slowloris connections");
        }
        finally
        {
            foreach (var client in idle.Concat(slow)) client.Dispose();
        }
        await AssertServesAsync("at the end");
    }

    private static byte[] Request(string headers) => Encoding.ASCII.GetBytes($"GET /api/workers HTTP/1.1\r\nHost: x\r\n{headers}\r\n");

    /// <summary>Sends <paramref name="bytes"/> on a new connection and returns what comes back until it closes (or 10 s pass).</summary>
    private static async Task<string> SendAndReadAsync(int port, byte[] bytes)
    {
        using var client = new TcpClient();
        await client.ConnectAsync("127.0.0.1", port);
        var stream = client.GetStream();
        using var limit = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        try { await stream.WriteAsync(bytes, limit.Token); }
        catch (IOException) { } // the server may close before reading it all: what it answered is still there
        var answer = new MemoryStream();
        var buffer = new byte[4096];
        try
        {
            int read;
            while ((read = await stream.ReadAsync(buffer, limit.Token)) > 0) answer.Write(buffer, 0, read);
        }
        catch (Exception e) when (e is IOException or OperationCanceledException) { }
        return Encoding.ASCII.GetString(answer.ToArray());
    }

    /// <summary>Sends one header line a second until the server closes the connection; the seconds it took.</summary>
    private static async Task<double> DripAsync(TcpClient client, CancellationToken stop)
    {
        var watch = Stopwatch.StartNew();
        var stream = client.GetStream();
        var reading = stream.ReadAsync(new byte[4096], stop).AsTask();
        for (var i = 0; i < 60 && !stop.IsCancellationRequested; i++)
        {
            try
            {
                await stream.WriteAsync(Encoding.ASCII.GetBytes($"X-Drip-{i}: d\r\n"), stop);
            }
            catch (IOException) { return watch.Elapsed.TotalSeconds; }
            if (await Task.WhenAny(reading, Task.Delay(1_000, stop)) == reading) return watch.Elapsed.TotalSeconds;
        }
        return watch.Elapsed.TotalSeconds;
    }

    /// <summary>Whether the server closes the connection within <paramref name="limit"/>.</summary>
    private static async Task<bool> ClosedWithinAsync(TcpClient client, TimeSpan limit)
    {
        using var timeout = new CancellationTokenSource(limit);
        try
        {
            var buffer = new byte[1024];
            while (await client.GetStream().ReadAsync(buffer, timeout.Token) > 0) { }
            return true;
        }
        catch (IOException) { return true; }
        catch (OperationCanceledException) { return false; }
    }
}
