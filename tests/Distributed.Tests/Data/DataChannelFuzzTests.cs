using System.Buffers.Binary;
using System.Diagnostics;
using System.Net.Security;
using System.Net.Sockets;
using Distributed.Data;
using Distributed.Hosting;
using Distributed.Protocol;
using Xunit.Abstractions;

namespace Distributed.Tests.Data;

/// <summary>
/// Random and mutated frames against a real dworker's data port, through TLS with the cluster's
/// credentials so that they reach the decoder: the worker keeps running, keeps every value byte for
/// byte, and serves the next client.
/// </summary>
[ProcessTier]
public sealed class DataChannelFuzzTests(ITestOutputHelper output)
{
    private const int Frames = 10_000;
    private const int Parallel = 4;

    [Fact]
    public async Task Ten_thousand_random_and_mutated_frames_leave_the_worker_running_with_every_value()
    {
        await using var cluster = await LocalCluster.StartAsync(workers: 1, threadsPerWorker: 1);
        var credentials = cluster.Credentials!;
        DataEndpoint endpoint;
        List<string> keys;
        List<StoredValue?> before;
        List<byte[]> expected = Enumerable.Range(0, 6).Select(i => Enumerable.Range(0, 100 << i).Select(j => (byte)(i + j)).ToArray()).ToList();
        await using (var pool = await cluster.ConnectAsync())
        {
            var values = pool.Map(i => Enumerable.Range(0, 100 << i).Select(j => (byte)(i + j)).ToArray(), Enumerable.Range(0, 6));
            // Kept alive for the whole test, so that the pool does not release them when collected.
            GC.KeepAlive(values);
            endpoint = pool.Workers().Single().Data;
            keys = values.Select(v => v.Key).ToList();
            using var reader = new DataClient(PeerKind.Client, credentials: credentials);
            before = reader.Get(endpoint, keys).ToList();
            Assert.All(before, v => Assert.NotNull(v));

            var corpus = RealFrames(keys);
            var random = new Random(20261202);
            var cases = Enumerable.Range(0, Frames).Select(_ => Mutate(corpus, random)).ToList();
            // One set of options (its certificate context is built once), as a real client keeps.
            var tlsOptions = credentials.ClientOptions(endpoint.Host);
            // The worker presents the cluster's one member certificate: comparing bytes is check enough here.
            tlsOptions.RemoteCertificateValidationCallback = (_, certificate, _, _) =>
                certificate is not null && certificate.GetRawCertData().AsSpan().SequenceEqual(credentials.Certificate.RawData);
            var watch = Stopwatch.StartNew();
            var next = -1;
            var answered = 0;
            await Task.WhenAll(Enumerable.Range(0, Parallel).Select(_ => Task.Run(async () =>
            {
                int i;
                while ((i = Interlocked.Increment(ref next)) < cases.Count)
                    if (await SendAsync(endpoint, tlsOptions, cases[i])) Interlocked.Increment(ref answered);
            })));
            output.WriteLine($"{cases.Count} frames in {watch.Elapsed.TotalSeconds:0.0} s; {answered} were answered with data");

            var worker = cluster.Workers[0];
            Assert.False(worker.HasExited, $"the worker exited: {string.Join("\n", worker.Output.TakeLast(20))}");
            Assert.Contains(worker.Output, line => line.Contains("bad frame"));
            using var fresh = new DataClient(PeerKind.Client, credentials: credentials);
            var after = fresh.Get(endpoint, keys);
            for (var i = 0; i < keys.Count; i++)
            {
                Assert.Equal(before[i]!.TypeName, after[i]!.TypeName);
                Assert.Equal(before[i]!.ToArray(), after[i]!.ToArray());
            }
            Assert.Equal(expected, pool.Gather(values));
        }
        await using var freshPool = await cluster.ConnectAsync();
        Assert.Single(freshPool.Workers());
    }

    /// <summary>Whole connections as a client sends them: the peer kind, then Get and Stats frames over the stored keys.</summary>
    private static List<byte[]> RealFrames(List<string> keys)
    {
        byte[] Connection(params IReadOnlyList<string>[] gets)
        {
            var stream = new MemoryStream();
            stream.WriteByte((byte)PeerKind.Worker);
            foreach (var get in gets) DataFrames.EncodeGet(get, DataChannelSettings.Default, stream);
            return stream.ToArray();
        }
        byte[] stats = [(byte)PeerKind.Client, DataFrames.Stats, 0, 0, 0, 0];
        // Puts as a client sends them: one over a stored key (refused: a put never replaces a value), one
        // of new keys the center never planned (stored, then deleted when the center refuses the report).
        byte[] Put(long scatterId, params string[] putKeys)
        {
            var stream = new MemoryStream();
            stream.WriteByte((byte)PeerKind.Client);
            DataFrames.EncodePut(scatterId, putKeys.Select(k => new PutEntry(k, "System.Byte[]", 100)).ToList(), DataChannelSettings.Default, stream);
            foreach (var _ in putKeys) stream.Write(Enumerable.Repeat((byte)0xEE, 100).ToArray());
            return stream.ToArray();
        }
        return
        [
            Connection(keys), Connection([keys[0]]), Connection(["missing", keys[1]]), Connection([keys[2]], [keys[3], "é-missing"]),
            Connection([]), stats, [.. Connection([keys[0]]), .. stats.AsSpan(1)],
            Put(1, keys[0]), Put(2, "fuzz-put-a", "fuzz-put-b"), [.. Put(3, "fuzz-put-c"), .. stats.AsSpan(1)],
        ];
    }

    /// <summary>A random frame, or a real one changed: bits flipped, cut short, an int32 field set to an extreme, spliced with another.</summary>
    private static byte[] Mutate(List<byte[]> corpus, Random random)
    {
        var frame = corpus[random.Next(corpus.Count)].ToArray();
        int[] extremes = [-1, 0, 1, int.MaxValue, int.MinValue, 0x7fff_fff0, 65_536, 65_537, 4 << 20, (4 << 20) + 1, 0x0100_0000];
        switch (random.Next(7))
        {
            case 0: // noise, with a plausible start or none
                var noise = new byte[random.Next(0, 80)];
                random.NextBytes(noise);
                if (noise.Length > 1 && random.Next(2) == 0) (noise[0], noise[1]) = ((byte)random.Next(2), random.Next(3) switch { 0 => DataFrames.Get, 1 => DataFrames.Stats, _ => DataFrames.Put });
                return noise;
            case 1: // bit flips
                for (var flips = random.Next(1, 9); flips > 0; flips--) frame[random.Next(frame.Length)] ^= (byte)(1 << random.Next(8));
                return frame;
            case 2: // truncated
                return frame[..random.Next(frame.Length)];
            case 3: // an int32 field (frame length, key count, key length) set to an extreme
            case 4:
                var at = random.Next(3) switch { 0 => 2, 1 => 6, _ => random.Next(1, Math.Max(2, frame.Length - 3)) };
                if (at + 4 <= frame.Length) BinaryPrimitives.WriteInt32LittleEndian(frame.AsSpan(at), extremes[random.Next(extremes.Length)]);
                return frame;
            case 5: // spliced: the start of one real frame, the end of another
                var other = corpus[random.Next(corpus.Count)];
                return [.. frame.AsSpan(0, random.Next(frame.Length + 1)), .. other.AsSpan(random.Next(other.Length + 1))];
            default: // bytes inserted or repeated
                var insertAt = random.Next(frame.Length + 1);
                var inserted = random.Next(2) == 0 ? frame.AsSpan(0, random.Next(frame.Length + 1)).ToArray() : [(byte)random.Next(256)];
                return [.. frame.AsSpan(0, insertAt), .. inserted, .. frame.AsSpan(insertAt)];
        }
    }

    /// <summary>Sends one connection's bytes over TLS, ends the stream, and reads until the worker closes; whether it answered anything.</summary>
    private static async Task<bool> SendAsync(DataEndpoint endpoint, SslClientAuthenticationOptions options, byte[] bytes)
    {
        using var tcp = new TcpClient { NoDelay = true };
        await tcp.ConnectAsync(endpoint.Host, endpoint.Port);
        await using var tls = new SslStream(tcp.GetStream());
        await tls.AuthenticateAsClientAsync(options);
        try
        {
            await tls.WriteAsync(bytes);
            await tls.ShutdownAsync();
            tcp.Client.Shutdown(SocketShutdown.Send);
        }
        catch (Exception e) when (e is IOException or SocketException) { } // closed while we wrote: a bad start
        var buffer = new byte[1 << 16];
        var answered = 0L;
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        try
        {
            int read;
            while ((read = await tls.ReadAsync(buffer, timeout.Token)) > 0) answered += read;
        }
        catch (IOException) { } // the worker closed the connection of a bad frame
        return answered > 0;
    }
}
