using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using Akka.Actor;
using Distributed.Hosting;
using Distributed.Protocol;
using Distributed.Protocol.Security;

namespace Distributed.Tests.Fuzz;

/// <summary>
/// A real dcenter and dworker (with credentials, as LocalCluster starts them) take random and mutated
/// frames on their Akka ports: TCP noise and broken TLS handshakes from strangers, and mutated real
/// protocol frames from a peer that holds the credentials. Afterwards both still run, the values
/// stored before are all there, and a new client runs a Map.
/// </summary>
[ProcessTier]
public sealed class AkkaEndpointFuzzTests
{
    private const int NoiseConnectionsPerPort = 1_500;
    private const int MutatedMessagesPerActor = 3_000;
    private const int TlsSessionsPerPort = 50;
    private const int FramesPerSession = 20;
    private static readonly TimeSpan Slow = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task Center_and_worker_survive_random_and_mutated_frames_and_keep_every_value()
    {
        await using var cluster = await LocalCluster.StartAsync(workers: 1, threadsPerWorker: 1);
        var credentials = cluster.Credentials ?? throw new InvalidOperationException("LocalCluster runs with credentials by default.");
        var pool = await cluster.ConnectAsync();
        var stored = pool.Map(x => x * x, Enumerable.Range(0, 40));
        var expected = pool.Gather(stored);
        var centerPort = HostPort.Parse(cluster.Address).Port;
        var workerPort = HostPort.Parse(pool.Workers().Single().Address).Port;
        var workerAddress = $"akka.ssl.tcp://{ClusterConfig.SystemName}@127.0.0.1:{workerPort}";

        // (a) Strangers: noise, mutated TLS client hellos, and a real hello followed by garbage.
        var hello = await RecordClientHelloAsync(credentials);
        var sent = 0;
        foreach (var port in new[] { centerPort, workerPort })
            sent += await SendNoiseAsync(port, hello, NoiseConnectionsPerPort, seed: port);

        // (b) Inside TLS sessions made with the cluster's own credentials: mutations of the length-prefixed
        // Akka transport frames (association handshake, message envelopes) that a real node wrote.
        var frames = await RecordAkkaFramesAsync(credentials);
        Assert.True(frames.Count >= 2, $"recorded only {frames.Count} Akka frames");
        foreach (var port in new[] { centerPort, workerPort })
            sent += await ReplayMutatedFramesAsync(port, credentials, frames, sessions: TlsSessionsPerPort, framesPerSession: FramesPerSession, seed: port + 1);

        // (c) A peer with the credentials sends mutated real protocol frames to the center and the worker.
        MutatingSerializers.Reset(seed: 7);
        var random = new Random(11);
        var cutOff = 0;
        for (var batch = 0; batch < MutatedMessagesPerActor / 500; batch++)
        {
            // A fresh attacking system per batch: an endpoint may well drop the association of a peer that
            // sends it garbage, and that is its right; what matters is that it keeps running and serving.
            var attacker = CreateAttacker(credentials, new HostPort("127.0.0.1", centerPort));
            try
            {
                var sink = attacker.ActorOf(Props.Empty, "sink");
                var messages = WireSamples.All(sink).OfType<IProtocolMessage>()
                    // A registration that decodes would add a worker that never runs anything: not what this test is about.
                    .Where(m => m is not RegisterWorker).ToList();
                var center = attacker.ActorSelection($"akka.ssl.tcp://{ClusterConfig.SystemName}@127.0.0.1:{centerPort}/user/center/center");
                var worker = attacker.ActorSelection($"{workerAddress}/user/worker");
                await Task.WhenAll(IdentifyAsync(center, Slow), IdentifyAsync(worker, Slow));
                for (var i = 0; i < 500; i++)
                {
                    center.Tell(messages[random.Next(messages.Count)]);
                    worker.Tell(messages[random.Next(messages.Count)]);
                }
                // Messages on one association arrive in order: once these answer, every mutated frame was read.
                var answered = await Task.WhenAll(IdentifyAsync(center, TimeSpan.FromSeconds(15)), IdentifyAsync(worker, TimeSpan.FromSeconds(15)));
                cutOff += answered.Count(a => !a);
            }
            finally
            {
                await attacker.Terminate();
            }
        }
        sent += MutatingSerializers.Mutated;
        Console.WriteLine($"Akka endpoint fuzz: {sent} frames in all, {MutatingSerializers.Mutated} mutated protocol frames; {cutOff} of {2 * MutatedMessagesPerActor / 500} batches ended with the association dropped");

        Assert.True(sent >= 10_000, $"only {sent} frames were sent");
        Assert.False(cluster.Center.HasExited, $"the center exited: {string.Join(Environment.NewLine, cluster.Center.Output.TakeLast(30))}");
        Assert.False(cluster.Workers.Single().HasExited, $"the worker exited: {string.Join(Environment.NewLine, cluster.Workers.Single().Output.TakeLast(30))}");
        Assert.Equal(expected, await pool.GatherAsync(stored));
        await pool.DisposeAsync();
        Pool connected;
        try
        {
            connected = await cluster.ConnectAsync();
        }
        catch (CenterUnreachableException e)
        {
            throw new InvalidOperationException($"A fresh client could not connect ({e.Message}); the center's last lines:{Environment.NewLine}{string.Join(Environment.NewLine, cluster.Center.Output.TakeLast(30))}", e);
        }
        await using var fresh = connected;
        Assert.Equal(Enumerable.Range(1, 20).ToList(), fresh.Gather(fresh.Map(x => x + 1, Enumerable.Range(0, 20))));
    }

    private static async Task<bool> IdentifyAsync(ActorSelection selection, TimeSpan timeout)
    {
        try
        {
            return (await selection.Ask<ActorIdentity>(new Identify(null), timeout)).Subject is not null;
        }
        catch (AskTimeoutException)
        {
            return false;
        }
    }

    /// <summary>
    /// An actor system like a member client's, but with the serializers of <see cref="MutatingSerializers"/>.
    /// A member on purpose: members that come and go while the center drops their associations are part
    /// of what the center must live through.
    /// </summary>
    private static ActorSystem CreateAttacker(ClusterCredentials credentials, HostPort center) =>
        ClusterConfig.CreateSystem(Role.Client, "127.0.0.1", 0, center, credentials, settings: MutatingSerializers.Config);

    /// <summary>The first bytes a TLS client with the cluster's credentials sends: a real client hello.</summary>
    private static async Task<byte[]> RecordClientHelloAsync(ClusterCredentials credentials)
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        try
        {
            var port = ((IPEndPoint)listener.LocalEndpoint).Port;
            var accepted = listener.AcceptTcpClientAsync();
            using var client = new TcpClient();
            await client.ConnectAsync(IPAddress.Loopback, port);
            await using var tls = new SslStream(client.GetStream());
            var handshake = tls.AuthenticateAsClientAsync(credentials.ClientOptions("127.0.0.1"));
            using var server = await accepted;
            var buffer = new byte[4096];
            var read = await server.GetStream().ReadAsync(buffer).AsTask().WaitAsync(Slow);
            server.Close();
            try { await handshake.WaitAsync(Slow); } catch (Exception e) when (e is IOException or System.Security.Authentication.AuthenticationException) { }
            return buffer[..read];
        }
        finally
        {
            listener.Stop();
        }
    }

    /// <summary>
    /// The frames a real node writes to a peer: an in-test actor system with the cluster's credentials
    /// sends protocol messages through a TLS relay of this test to a second in-test system, and the relay
    /// splits what passes from the first to the second into Akka.Remote's frames (a 4-byte little-endian
    /// length, then the frame), from the association handshake on.
    /// </summary>
    private static async Task<List<byte[]>> RecordAkkaFramesAsync(ClusterCredentials credentials)
    {
        var targetPort = LocalCluster.FreePort();
        var target = ClusterConfig.CreateSystem(Role.Client, "127.0.0.1", targetPort, new HostPort("127.0.0.1", targetPort), credentials);
        var relay = new TcpListener(IPAddress.Loopback, 0);
        relay.Start();
        var recorded = new MemoryStream();
        var recording = Task.Run(async () =>
        {
            using var inbound = await relay.AcceptTcpClientAsync();
            await using var fromNode = new SslStream(inbound.GetStream());
            await fromNode.AuthenticateAsServerAsync(credentials.ServerOptions());
            using var outbound = new TcpClient();
            await outbound.ConnectAsync(IPAddress.Loopback, targetPort);
            await using var toTarget = new SslStream(outbound.GetStream());
            await toTarget.AuthenticateAsClientAsync(credentials.ClientOptions("127.0.0.1"));
            var back = toTarget.CopyToAsync(fromNode); // the target's half of the handshake, so that the node sends its messages
            var buffer = new byte[1 << 16];
            using var quiet = new CancellationTokenSource(TimeSpan.FromSeconds(20));
            try
            {
                for (int read; (read = await fromNode.ReadAsync(buffer, quiet.Token)) > 0;)
                {
                    lock (recorded) recorded.Write(buffer, 0, read);
                    await toTarget.WriteAsync(buffer.AsMemory(0, read), quiet.Token);
                }
            }
            catch (Exception e) when (e is OperationCanceledException or IOException) { }
            try { await back.WaitAsync(TimeSpan.FromSeconds(1)); } catch (Exception e) when (e is IOException or TimeoutException or ObjectDisposedException) { }
        });
        var relayPort = ((IPEndPoint)relay.LocalEndpoint).Port;
        var node = ClusterConfig.CreateSystem(Role.Client, "127.0.0.1", 0, new HostPort("127.0.0.1", relayPort), credentials);
        try
        {
            var sink = node.ActorOf(Props.Empty, "sink");
            var peer = node.ActorSelection($"akka.ssl.tcp://{ClusterConfig.SystemName}@127.0.0.1:{relayPort}/user/worker");
            foreach (var message in WireSamples.All(sink).OfType<IProtocolMessage>()) peer.Tell(message);
            await Eventually.TrueAsync(() => { lock (recorded) return SplitFrames(recorded.ToArray()).Count >= 10; },
                () => $"the relay recorded {recorded.Length} bytes, not 10 Akka frames", Slow);
        }
        finally
        {
            await Task.WhenAll(node.Terminate(), target.Terminate());
            relay.Stop();
        }
        lock (recorded) return SplitFrames(recorded.ToArray());
    }

    private static List<byte[]> SplitFrames(byte[] stream)
    {
        var frames = new List<byte[]>();
        for (var at = 0; at + 4 <= stream.Length;)
        {
            var length = System.Buffers.Binary.BinaryPrimitives.ReadInt32LittleEndian(stream.AsSpan(at));
            if (length < 0 || at + 4 + length > stream.Length) break;
            frames.Add(stream[(at + 4)..(at + 4 + length)]);
            at += 4 + length;
        }
        return frames;
    }

    private static async Task<int> ReplayMutatedFramesAsync(int port, ClusterCredentials credentials, List<byte[]> frames, int sessions, int framesPerSession, int seed)
    {
        var mutations = new Mutations(seed);
        var sent = 0;
        for (var session = 0; session < sessions; session++)
        {
            using var stream = new MemoryStream();
            for (var i = 0; i < framesPerSession; i++)
            {
                // The handshake first, mutated or not, so that later frames get past it as often as not.
                var real = i == 0 ? frames[0] : frames[mutations.Random.Next(frames.Count)];
                var frame = i == 0 && mutations.Random.Next(2) == 0 ? real : mutations.Mutate(real, frames[mutations.Random.Next(frames.Count)]);
                var length = mutations.Random.Next(20) == 0 ? mutations.Random.Next() : frame.Length; // now and then a lying length
                var prefix = new byte[4];
                System.Buffers.Binary.BinaryPrimitives.WriteInt32LittleEndian(prefix, length);
                stream.Write(prefix);
                stream.Write(frame);
                sent++;
            }
            using var client = new TcpClient();
            try
            {
                await client.ConnectAsync(IPAddress.Loopback, port);
                await using var tls = new SslStream(client.GetStream());
                await tls.AuthenticateAsClientAsync(credentials.ClientOptions("127.0.0.1")).WaitAsync(Slow);
                await tls.WriteAsync(stream.ToArray());
                await tls.FlushAsync();
            }
            catch (Exception e) when (e is SocketException or IOException)
            {
                // The endpoint closed the connection on a bad frame: that is its answer.
            }
        }
        return sent;
    }

    private static async Task<int> SendNoiseAsync(int port, byte[] hello, int connections, int seed)
    {
        var mutations = new Mutations(seed);
        var payloads = Enumerable.Range(0, connections).Select(i => (i % 3) switch
        {
            0 => mutations.Noise(2048),
            1 => mutations.Mutate(hello, hello),
            _ => [.. hello, .. mutations.Noise(512)],
        }).ToList();
        await Parallel.ForEachAsync(payloads, new ParallelOptions { MaxDegreeOfParallelism = 8 }, async (payload, cancellation) =>
        {
            using var client = new TcpClient();
            try
            {
                await client.ConnectAsync(IPAddress.Loopback, port, cancellation);
                await client.GetStream().WriteAsync(payload, cancellation);
            }
            catch (Exception e) when (e is SocketException or IOException)
            {
                // The endpoint may close a connection before all of the garbage is written: that is its answer.
            }
        });
        return payloads.Count;
    }
}
