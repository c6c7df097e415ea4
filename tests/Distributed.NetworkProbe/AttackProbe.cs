using System.Diagnostics;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Text;
using Distributed.Protocol.Security;

namespace Distributed.NetworkProbe;

/// <summary>
/// An attacker that can reach every port of the cluster but is not a member of it. MODE says what it holds:
/// <list type="bullet">
/// <item><c>none</c>: no credentials. It connects a <see cref="Pool"/> to the center and to each worker's Akka
/// port and runs a Map if one connects, and opens TLS without a client certificate on every port.</item>
/// <item><c>other-ca</c>: a valid-looking member certificate of another cluster (<c>--credentials DIR</c>): the same,
/// presenting it.</item>
/// <item><c>plain</c>: plain TCP to every port: data-channel requests for the stored keys and for the worker's
/// counters, the frames that used to crash a worker, and noise.</item>
/// </list>
/// Every attempt prints one <c>ATTEMPT</c> line; the last line is <c>SUMMARY pools=N values=N valueBytes=N</c>:
/// pools that connected, stored values read back and their bytes (all 0 when the cluster holds).
/// </summary>
internal static class AttackProbe
{
    private const byte ClientPeer = 0;
    private static readonly TimeSpan ConnectTimeout = TimeSpan.FromSeconds(15);
    private static readonly TimeSpan ReadTimeout = TimeSpan.FromSeconds(3);

    private static int _pools, _values;
    private static long _valueBytes;

    public static async Task<int> RunAsync(string mode, IReadOnlyDictionary<string, string> options)
    {
        var center = options["center"];
        var akka = options["akka"].Split(',', StringSplitOptions.RemoveEmptyEntries);
        var data = options["data"].Split(',', StringSplitOptions.RemoveEmptyEntries);
        var keys = options.GetValueOrDefault("keys")?.Split(',', StringSplitOptions.RemoveEmptyEntries) ?? [];
        using var credentials = options.TryGetValue("credentials", out var directory) ? ClusterCredentials.Load(directory) : null;
        switch (mode)
        {
            case "none" or "other-ca":
                if (mode == "other-ca" && credentials is null) return Fail("other-ca needs --credentials DIR (of another cluster)");
                await Task.WhenAll([TryPoolAsync(center, "center", credentials), .. akka.Select(a => TryPoolAsync(a, "worker-akka", credentials))]);
                await Task.WhenAll([.. new[] { center }.Concat(akka).Select(a => TryTlsAsync(a, "akka", credentials, keys)),
                    .. data.Select(d => TryTlsAsync(d, "data", credentials, keys))]);
                break;
            case "plain":
                await Task.WhenAll(new[] { center }.Concat(akka).Concat(data).Select(a => TryPlainAsync(a, keys)));
                break;
            default:
                return Fail($"unknown mode {mode}");
        }
        Console.WriteLine($"SUMMARY pools={_pools} values={_values} valueBytes={_valueBytes}");
        return 0;
    }

    private static int Fail(string message)
    {
        Console.Error.WriteLine($"error: {message}");
        return 2;
    }

    private static void Report(string target, string how, string outcome) =>
        Console.WriteLine($"ATTEMPT {target} {how} -> {outcome.ReplaceLineEndings(" ")}");

    /// <summary>Connects a Pool as a client would, and if it connects, runs a Map and lists what the center holds.</summary>
    private static async Task TryPoolAsync(string address, string role, ClusterCredentials? credentials)
    {
        var clock = Stopwatch.StartNew();
        Pool pool;
        try
        {
            pool = await Pool.ConnectAsync(address, credentials, ConnectTimeout);
        }
        catch (Exception e)
        {
            Report(address, $"pool({role})", $"refused after {clock.Elapsed.TotalSeconds:0.0} s: {e.GetType().Name}: {e.Message}");
            return;
        }
        Interlocked.Increment(ref _pools);
        await using (pool)
        {
            try
            {
                var ran = await pool.MapAsync(x => x + 1, Enumerable.Range(0, 4)).WaitAsync(ConnectTimeout);
                Report(address, $"pool({role})", $"CONNECTED and ran {ran.Count} tasks");
                var held = pool.HasWhat().Sum(w => w.Value.Count);
                Report(address, $"pool({role})", $"CONNECTED and listed {held} keys");
            }
            catch (Exception e)
            {
                Report(address, $"pool({role})", $"CONNECTED, then failed: {e.GetType().Name}: {e.Message}");
            }
        }
    }

    /// <summary>TLS with the attacker's certificate (or none); if the server lets it in, a data-channel request for the stored keys.</summary>
    private static async Task TryTlsAsync(string address, string port, ClusterCredentials? credentials, IReadOnlyList<string> keys)
    {
        var how = credentials is null ? $"tls({port}, no certificate)" : $"tls({port}, other authority)";
        try
        {
            using var tcp = await ConnectAsync(address);
            await using var tls = new SslStream(tcp.GetStream());
            var options = new SslClientAuthenticationOptions
            {
                TargetHost = address[..address.LastIndexOf(':')],
#pragma warning disable CA5359 // an attacker takes any server
                RemoteCertificateValidationCallback = (_, _, _, _) => true,
#pragma warning restore CA5359
                ClientCertificates = credentials is null ? null : [credentials.Certificate],
                EnabledSslProtocols = SslProtocols.None,
            };
            try
            {
                await tls.AuthenticateAsClientAsync(options).WaitAsync(ConnectTimeout);
            }
            catch (Exception e) when (e is AuthenticationException or IOException or TimeoutException)
            {
                Report(address, how, $"handshake refused: {e.GetType().Name}: {e.Message}");
                return;
            }
            // TLS 1.3 lets the server refuse the client's certificate after the client's side of the
            // handshake has finished; the refusal then shows as the first read failing.
            var read = await RequestValuesAsync(tls, keys);
            Report(address, how, $"handshake completed; the request read {read}");
        }
        catch (Exception e) when (e is SocketException or IOException or TimeoutException or OperationCanceledException)
        {
            Report(address, how, $"failed: {e.GetType().Name}: {e.Message}");
        }
    }

    /// <summary>Plain TCP: a request for the stored keys, one for the counters, the frames that crashed a worker, and noise; one connection each.</summary>
    private static async Task TryPlainAsync(string address, IReadOnlyList<string> keys)
    {
        var frames = new (string Name, Func<Stream, Task<string>> Send)[]
        {
            ("values", s => RequestValuesAsync(s, keys)),
            ("counters", async s => { await s.WriteAsync(new byte[] { ClientPeer, (byte)'S' }); return await DrainAsync(s); }),
            ("negative count", async s => { await s.WriteAsync(new byte[] { 0x00, 0x47, 0xff, 0xff, 0xff, 0xff }); return await DrainAsync(s); }),
            ("huge count", async s => { await s.WriteAsync(new byte[] { 0x00, 0x47, 0xff, 0xff, 0xff, 0x7f }); return await DrainAsync(s); }),
            ("noise", async s => { var noise = new byte[4096]; new Random(1).NextBytes(noise); await s.WriteAsync(noise); return await DrainAsync(s); }),
        };
        foreach (var (name, send) in frames)
        {
            try
            {
                using var tcp = await ConnectAsync(address);
                Report(address, $"plain({name})", await send(tcp.GetStream()));
            }
            catch (Exception e) when (e is SocketException or IOException or TimeoutException or OperationCanceledException)
            {
                Report(address, $"plain({name})", $"failed: {e.GetType().Name}: {e.Message}");
            }
        }
    }

    /// <summary>
    /// Sends the data channel's request for <paramref name="keys"/> (as a client), and reads the answer as a
    /// worker without credentials would give it; counts the values and bytes it got back.
    /// </summary>
    private static async Task<string> RequestValuesAsync(Stream stream, IReadOnlyList<string> keys)
    {
        var request = new MemoryStream();
        using (var writer = new BinaryWriter(request, Encoding.UTF8, leaveOpen: true))
        {
            writer.Write(ClientPeer);
            writer.Write((byte)'G');
            writer.Write(keys.Count);
            foreach (var key in keys) writer.Write(key);
        }
        await stream.WriteAsync(request.ToArray());
        await stream.FlushAsync();
        var answer = await ReadAllAsync(stream);
        var values = 0;
        long valueBytes = 0;
        try
        {
            using var reader = new BinaryReader(new MemoryStream(answer), Encoding.UTF8);
            for (var i = 0; i < keys.Count; i++)
            {
                // Only an answer shaped as the data channel's counts: a 0/1 flag and a printable type name
                // (a TLS alert or an Akka frame read this way is not a value).
                var found = reader.ReadByte();
                if (found > 1) break;
                if (found == 0) continue;
                var typeName = reader.ReadString();
                if (typeName.Length == 0 || typeName.Any(c => c < ' ' || c > '~')) break;
                var length = reader.ReadInt32();
                if (length < 0 || length > answer.Length) break;
                reader.ReadBytes(length);
                values++;
                valueBytes += length;
            }
        }
        catch (Exception e) when (e is EndOfStreamException or IOException or FormatException) { }
        Interlocked.Add(ref _values, values);
        Interlocked.Add(ref _valueBytes, valueBytes);
        return $"{answer.Length} bytes, {values} values ({valueBytes} value bytes)";
    }

    private static async Task<string> DrainAsync(Stream stream) => $"{(await ReadAllAsync(stream)).Length} bytes";

    /// <summary>Reads until the peer closes, a read fails, or nothing comes for <see cref="ReadTimeout"/>.</summary>
    private static async Task<byte[]> ReadAllAsync(Stream stream)
    {
        var received = new MemoryStream();
        var buffer = new byte[16384];
        while (true)
        {
            using var quiet = new CancellationTokenSource(ReadTimeout);
            int read;
            try { read = await stream.ReadAsync(buffer, quiet.Token); }
            catch (Exception e) when (e is OperationCanceledException or IOException or AuthenticationException or ObjectDisposedException) { break; }
            if (read == 0) break;
            received.Write(buffer, 0, read);
        }
        return received.ToArray();
    }

    private static async Task<TcpClient> ConnectAsync(string address)
    {
        var colon = address.LastIndexOf(':');
        var tcp = new TcpClient();
        try
        {
            await tcp.ConnectAsync(address[..colon], int.Parse(address[(colon + 1)..])).WaitAsync(ConnectTimeout);
            return tcp;
        }
        catch
        {
            tcp.Dispose();
            throw;
        }
    }
}
