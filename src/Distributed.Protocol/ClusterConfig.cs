using System.Net;
using System.Net.Security;
using System.Security.Authentication;
using System.Net.NetworkInformation;
using System.Net.Sockets;
using System.Reflection;
using System.Text.Json;
using Akka.Actor;
using Akka.Configuration;
using Distributed.Protocol.Security;

namespace Distributed.Protocol;

/// <summary>The roles of a process in the cluster; each has its HOCON file in <c>hocon/</c>.</summary>
public enum Role
{
    /// <summary>The center (seed node, singleton host).</summary>
    Center,
    /// <summary>A worker.</summary>
    Worker,
    /// <summary>A client (a Pool).</summary>
    Client,
}

/// <summary>Builds the Akka configuration of each role from the embedded HOCON files.</summary>
public static class ClusterConfig
{
    /// <summary>The actor system name shared by every node of a Distributed cluster.</summary>
    public const string SystemName = "distributed";

    /// <summary>An environment variable holding HOCON text that overrides the embedded settings of any role (e.g. in tests).</summary>
    public const string OverridesVariable = "DISTRIBUTED_HOCON";

    /// <summary>
    /// Settings a program gives every actor system of its process, above the environment and the files
    /// (dcenter and dworker: their log, from <c>--log-level</c>). Empty in a client's process.
    /// </summary>
    public static Config ProgramSettings { get; set; } = Config.Empty;

    /// <summary>
    /// The configuration of <paramref name="role"/> bound to <paramref name="host"/>:<paramref name="port"/>, joining
    /// <paramref name="center"/>; <paramref name="secure"/> turns on Akka.Remote's TLS (see <see cref="CreateSystem"/>).
    /// <paramref name="member"/> false: a node that only speaks to the center over Akka.Remote and never joins
    /// the cluster (a client that only dials out: nobody needs to reach its port).
    /// <paramref name="advertise"/> is the address peers know it by (Akka's public-hostname), by default <paramref name="host"/>.
    /// <paramref name="joinAtStart"/> false: no seed node, and the node joins when its program says so
    /// (<see cref="JoinCenter"/>): a worker joins once its probe found the center listening, since a join
    /// sent to a port nobody listens on yet gets the center's address gated for seconds.
    /// </summary>
    public static Config For(Role role, string host, int port, HostPort center, bool secure = false, bool member = true, string? advertise = null, bool joinAtStart = true)
    {
        var overrides = ConfigurationFactory.ParseString($$"""
            akka.actor.provider = {{(member ? "cluster" : "remote")}}
            akka.remote.dot-netty.tcp.hostname = "{{host}}"
            akka.remote.dot-netty.tcp.public-hostname = "{{advertise ?? host}}"
            akka.remote.dot-netty.tcp.port = {{port}}
            akka.remote.dot-netty.tcp.enable-ssl = {{(secure ? "on" : "off")}}
            akka.cluster.seed-nodes = [{{(joinAtStart ? $"\"{SeedAddress(center, secure)}\"" : "")}}]
            """);
        return overrides
            .WithFallback(Settings(role, EnvironmentVariables(), ProgramSettings, FileSettings))
            .WithFallback(Akka.Cluster.Tools.Singleton.ClusterSingleton.DefaultConfig());
    }

    /// <summary>
    /// The settings of <paramref name="role"/> from our layers, the first that has a key winning:
    /// <paramref name="program"/> (the command line), the environment (<see cref="EnvironmentPrefix"/>
    /// variables, then <see cref="OverridesVariable"/>'s HOCON), <paramref name="file"/> (<c>--config</c>),
    /// then the embedded <c>hocon/</c> files of the role and the common one. Akka's own defaults are not in it.
    /// </summary>
    public static Config Settings(Role role, IReadOnlyDictionary<string, string> environment, Config? program = null, Config? file = null) =>
        new[]
        {
            program ?? Config.Empty,
            FromEnvironmentVariables(environment),
            FromOverridesVariable(environment.GetValueOrDefault(OverridesVariable)),
            file ?? Config.Empty,
            Embedded(role.ToString().ToLowerInvariant()),
        }.Where(layer => !layer.IsEmpty).Reverse().Aggregate(Embedded("common"), (below, layer) => layer.WithFallback(below));

    /// <summary>The settings of <paramref name="role"/> in this process: <see cref="Settings(Role, IReadOnlyDictionary{string, string}, Config?, Config?)"/> with its environment, program and file settings.</summary>
    public static Config Settings(Role role) => Settings(role, EnvironmentVariables(), ProgramSettings, FileSettings);

    /// <summary>
    /// Environment variables that set one setting each: <c>DISTRIBUTED__</c> then the setting's HOCON path with
    /// <c>__</c> for each dot and <c>_</c> for each hyphen, any case. A path that does not start with
    /// <c>AKKA</c> is under <c>distributed</c>: <c>DISTRIBUTED__CENTER__UNCLAIMED_KEYS_GRACE=300s</c> sets
    /// <c>distributed.center.unclaimed-keys-grace</c>, <c>DISTRIBUTED__AKKA__CLUSTER__GOSSIP_INTERVAL=1s</c>
    /// sets <c>akka.cluster.gossip-interval</c>. A value in brackets or braces is HOCON (a list, an object).
    /// </summary>
    public const string EnvironmentPrefix = "DISTRIBUTED__";

    /// <summary>The settings a <c>--config</c> file gives this process (<see cref="UseConfigFile"/>); empty without one.</summary>
    public static Config FileSettings { get; private set; } = Config.Empty;

    /// <summary>
    /// Reads <paramref name="path"/>, HOCON with the keys of the embedded <c>hocon/</c> files, as this process's
    /// <see cref="FileSettings"/>; a <see cref="FormatException"/> says what is wrong with it.
    /// </summary>
    public static void UseConfigFile(string path)
    {
        string text;
        try
        {
            text = File.ReadAllText(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new FormatException($"The configuration file {path} cannot be read: {e.Message}", e);
        }
        try
        {
            FileSettings = ConfigurationFactory.ParseString(text);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            throw new FormatException($"The configuration file {path} is not valid HOCON: {e.Message}", e);
        }
    }

    /// <summary>The settings the <see cref="EnvironmentPrefix"/> variables among <paramref name="environment"/> set.</summary>
    public static Config FromEnvironmentVariables(IReadOnlyDictionary<string, string> environment)
    {
        var lines = new List<string>();
        foreach (var (name, value) in environment.OrderBy(v => v.Key, StringComparer.Ordinal))
        {
            if (!name.StartsWith(EnvironmentPrefix, StringComparison.OrdinalIgnoreCase)) continue;
            var segments = name[EnvironmentPrefix.Length..].Split("__").Select(s => s.ToLowerInvariant().Replace('_', '-')).ToList();
            if (segments.Any(s => s.Length == 0 || !s.All(c => char.IsAsciiLetterOrDigit(c) || c == '-')))
                throw new FormatException($"The environment variable {name} names no setting: after {EnvironmentPrefix} come the parts of a setting's path, letters, digits and _, separated by __.");
            if (segments[0] != "akka") segments.Insert(0, "distributed");
            var trimmed = value.Trim();
            var hocon = trimmed.StartsWith('[') || trimmed.StartsWith('{') ? trimmed : JsonSerializer.Serialize(value);
            lines.Add($"{string.Join('.', segments)} = {hocon}");
        }
        if (lines.Count == 0) return Config.Empty;
        try
        {
            return ConfigurationFactory.ParseString(string.Join('\n', lines));
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            throw new FormatException($"The {EnvironmentPrefix} environment variables do not make valid settings: {e.Message}", e);
        }
    }

    /// <summary>This process's environment variables.</summary>
    public static IReadOnlyDictionary<string, string> EnvironmentVariables() =>
        Environment.GetEnvironmentVariables().Cast<System.Collections.DictionaryEntry>()
            .ToDictionary(e => (string)e.Key, e => (string?)e.Value ?? "", StringComparer.Ordinal);

    /// <summary>
    /// The actor system of <paramref name="role"/> bound to <paramref name="host"/>:<paramref name="port"/>, joining
    /// <paramref name="center"/>. With <paramref name="credentials"/>, every Akka.Remote connection is mutual TLS
    /// and a peer is accepted only when its certificate chains to the cluster's authority; without, plain TCP.
    /// <paramref name="onRejected"/> hears of every peer refused (its address and the reason), as well as the log.
    /// <paramref name="member"/> false: the system does not join the cluster (see <see cref="For"/>).
    /// <paramref name="advertise"/> is the address peers know it by, by default <paramref name="host"/>.
    /// <paramref name="settings"/>, when given, win over every other layer (a test's own serializers, say).
    /// <paramref name="joinAtStart"/> false: the program joins later (<see cref="JoinCenter"/>).
    /// </summary>
    public static ActorSystem CreateSystem(Role role, string host, int port, HostPort center, ClusterCredentials? credentials,
        Action<string, string>? onRejected = null, bool member = true, string? advertise = null, Config? settings = null, bool joinAtStart = true)
    {
        var config = For(role, host, port, center, secure: credentials is not null, member, advertise, joinAtStart);
        if (settings is not null) config = settings.WithFallback(config);
        if (credentials is null) return ActorSystem.Create(SystemName, config);
        // Validation is ours alone: the machine's trust store and host names play no part, only the chain
        // to this cluster's own authority (see Remoting.SocketTransport).
        var tls = new Remoting.ClusterTlsSetup(credentials, onRejected);
        return ActorSystem.Create(SystemName, BootstrapSetup.Create().WithConfig(config).And(tls));
    }

    /// <summary>
    /// The path of the center actor at <paramref name="center"/> (the singleton the center node's
    /// ClusterSingletonManager runs): workers and clients take commands and completions from it alone.
    /// </summary>
    public static Akka.Actor.ActorPath CenterPath(HostPort center, bool secure = false) =>
        Akka.Actor.ActorPath.Parse($"{SeedAddress(center, secure)}/user/center/center");

    /// <summary>Joins the cluster of the center at <paramref name="center"/>: for a system created without joining at start.</summary>
    public static void JoinCenter(ActorSystem system, HostPort center, bool secure)
    {
        ArgumentNullException.ThrowIfNull(system);
        Akka.Cluster.Cluster.Get(system).JoinSeedNodes([Akka.Actor.Address.Parse(SeedAddress(center, secure))]);
    }

    /// <summary>The Akka address of the center at <paramref name="center"/>; over TLS Akka's scheme is <c>akka.ssl.tcp</c>.</summary>
    public static string SeedAddress(HostPort center, bool secure = false) =>
        $"{(secure ? "akka.ssl.tcp" : "akka.tcp")}://{SystemName}@{center.Host}:{center.Port}";

    private static Config FromOverridesVariable(string? text)
    {
        if (string.IsNullOrWhiteSpace(text)) return Config.Empty;
        try
        {
            return ConfigurationFactory.ParseString(text);
        }
        catch (Exception e)
        {
            throw new FormatException($"The environment variable {OverridesVariable} is not valid HOCON: {e.Message}", e);
        }
    }

    private static Config Embedded(string name)
    {
        var resource = $"hocon/{name}.hocon";
        using var stream = Assembly.GetExecutingAssembly().GetManifestResourceStream(resource)
            ?? throw new InvalidOperationException($"The configuration {resource} is missing from the Distributed assembly.");
        using var reader = new StreamReader(stream);
        return ConfigurationFactory.ParseString(reader.ReadToEnd());
    }
}

/// <summary>A host and port, as written on command lines: <c>192.168.1.100:8787</c>.</summary>
public sealed record HostPort(string Host, int Port)
{
    /// <summary>Parses <c>host:port</c>; a missing port means <paramref name="defaultPort"/>.</summary>
    public static HostPort Parse(string text, int? defaultPort = null)
    {
        if (string.IsNullOrWhiteSpace(text)) throw new FormatException("The address is empty; expected host:port, e.g. 127.0.0.1:8787.");
        text = text.Trim();
        if (text.Contains("://")) throw new FormatException($"'{text}' is not an address of the form host:port (leave out the scheme).");
        var colon = text.LastIndexOf(':');
        string host;
        int port;
        if (colon < 0)
        {
            if (defaultPort is null) throw new FormatException($"'{text}' has no port; expected host:port, e.g. 127.0.0.1:8787.");
            host = text;
            port = defaultPort.Value;
        }
        else
        {
            host = text[..colon];
            if (!int.TryParse(text[(colon + 1)..], out port) || port is < 1 or > 65535)
                throw new FormatException($"'{text}' has an invalid port '{text[(colon + 1)..]}'; a port is a number from 1 to 65535.");
        }
        if (host.Length == 0 || host.Any(char.IsWhiteSpace) || Uri.CheckHostName(host) == UriHostNameType.Unknown)
            throw new FormatException($"'{text}' has an invalid host '{host}'.");
        return new HostPort(host, port);
    }

    /// <inheritdoc />
    public override string ToString() => $"{Host}:{Port}";
}

/// <summary>Finds addresses to bind and to advertise.</summary>
public static class NetworkAddresses
{
    /// <summary>The machine's primary IPv4 address: the one on an up, non-loopback interface with a gateway; 127.0.0.1 if none.</summary>
    public static string PrimaryIPv4()
    {
        var candidates = NetworkInterface.GetAllNetworkInterfaces()
            .Where(n => n.OperationalStatus == OperationalStatus.Up && n.NetworkInterfaceType != NetworkInterfaceType.Loopback)
            .Select(n => n.GetIPProperties())
            .OrderByDescending(p => p.GatewayAddresses.Count > 0)
            .SelectMany(p => p.UnicastAddresses)
            .Select(a => a.Address)
            .Where(a => a.AddressFamily == AddressFamily.InterNetwork && !IPAddress.IsLoopback(a));
        return candidates.FirstOrDefault()?.ToString() ?? "127.0.0.1";
    }

    /// <summary>The local address this machine uses to reach <paramref name="remote"/> (loopback for a local center).</summary>
    public static string LocalAddressToward(HostPort remote)
    {
        try
        {
            var address = Dns.GetHostAddresses(remote.Host).First(a => a.AddressFamily == AddressFamily.InterNetwork);
            if (IPAddress.IsLoopback(address)) return "127.0.0.1";
            using var probe = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
            probe.Connect(address, remote.Port); // UDP connect sends nothing; it only picks a route
            return ((IPEndPoint)probe.LocalEndPoint!).Address.ToString();
        }
        catch (Exception e) when (e is SocketException or InvalidOperationException)
        {
            return PrimaryIPv4();
        }
    }

    /// <summary>
    /// Whether a TCP port can be bound on <paramref name="host"/> right now. An address that is not this
    /// machine's is an <see cref="Hosting.AddressNotLocalException"/>, not a taken port: every port of it would fail.
    /// </summary>
    public static bool IsPortFree(string host, int port)
    {
        try
        {
            var listener = new TcpListener(Resolve(host), port);
            listener.Start();
            listener.Stop();
            return true;
        }
        catch (SocketException e) when (e.SocketErrorCode == SocketError.AddressNotAvailable)
        {
            throw new Hosting.AddressNotLocalException(host, "--host", Hosting.MachineNetwork.Local().Addresses);
        }
        catch (SocketException)
        {
            return false;
        }
    }

    /// <summary>The IPv4 address of a host name or address text (e.g. <c>localhost</c>).</summary>
    public static IPAddress Resolve(string host) =>
        IPAddress.TryParse(host, out var address)
            ? address
            : Dns.GetHostAddresses(host).FirstOrDefault(a => a.AddressFamily == AddressFamily.InterNetwork)
              ?? throw new FormatException($"The host '{host}' has no IPv4 address.");

    /// <summary>
    /// Starts a node (its actor system) while <paramref name="probe"/> (<see cref="ProbeCenterAsync"/>)
    /// runs, since each takes a few hundred milliseconds; the probe's verdict still comes first: a
    /// start that fails is reported after a failed probe, and a failed probe stops the started node.
    /// </summary>
    public static async Task<T> StartWhileProbingAsync<T>(Task probe, Func<Task<T>> start, Func<T, Task> stop)
    {
        ArgumentNullException.ThrowIfNull(probe);
        ArgumentNullException.ThrowIfNull(start);
        ArgumentNullException.ThrowIfNull(stop);
        T started;
        try
        {
            started = await start().ConfigureAwait(false);
        }
        catch
        {
            await probe.ConfigureAwait(false);
            throw;
        }
        try
        {
            await probe.ConfigureAwait(false);
        }
        catch
        {
            await stop(started).ConfigureAwait(false);
            throw;
        }
        return started;
    }

    /// <summary>
    /// A TCP connect to the center before joining the cluster: a refused or silent center is reported
    /// at once, naming the address, instead of after Akka's join attempts time out. With
    /// <paramref name="credentials"/> it is a mutual-TLS handshake too, so that a center of another
    /// cluster (or one without credentials) is named with the reason, and the center sees a
    /// well-formed connection rather than one that closes mid-handshake. Returns the address the center
    /// answers to (<see cref="CenterIdentity"/>), or null when it did not say.
    /// A center that refuses the connection is tried again for up to <paramref name="waitForListener"/>
    /// (a center started at the same time as this node, not listening yet); the default: refused is an error at once.
    /// </summary>
    public static async Task<HostPort?> ProbeCenterAsync(HostPort center, TimeSpan timeout, CancellationToken cancellation, ClusterCredentials? credentials = null,
        TimeSpan waitForListener = default)
    {
        var waiting = global::System.Diagnostics.Stopwatch.StartNew();
        var pause = FirstListenerPause;
        while (true)
        {
            try
            {
                return await ProbeCenterOnceAsync(center, timeout, cancellation, credentials).ConfigureAwait(false);
            }
            catch (CenterUnreachableException e) when (e.InnerException is SocketException { SocketErrorCode: SocketError.ConnectionRefused } && waitForListener > TimeSpan.Zero)
            {
                if (waiting.Elapsed + pause > waitForListener)
                    throw new CenterUnreachableException($"The center at {center} did not start listening within {waitForListener.TotalSeconds:0.#} s: {e.InnerException.Message}.", e.InnerException);
                await Task.Delay(pause, cancellation).ConfigureAwait(false);
                pause = TimeSpan.FromTicks(Math.Min(pause.Ticks * 2, LastListenerPause.Ticks));
            }
        }
    }

    /// <summary>The pauses between connects to a center that is not listening yet: short at first, as a center starts in about half a second.</summary>
    private static readonly TimeSpan FirstListenerPause = TimeSpan.FromMilliseconds(20), LastListenerPause = TimeSpan.FromMilliseconds(250);

    private static async Task<HostPort?> ProbeCenterOnceAsync(HostPort center, TimeSpan timeout, CancellationToken cancellation, ClusterCredentials? credentials)
    {
        using var tcp = new TcpClient();
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellation);
        deadline.CancelAfter(timeout);
        try
        {
            await tcp.ConnectAsync(center.Host, center.Port, deadline.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!cancellation.IsCancellationRequested)
        {
            throw new CenterUnreachableException($"Could not reach the center at {center}: no answer within {timeout.TotalSeconds:0} s.");
        }
        catch (SocketException e)
        {
            throw new CenterUnreachableException($"Could not reach the center at {center}: {e.Message}.", e);
        }
        var local = (IPEndPoint)tcp.Client.LocalEndPoint!;
        if (credentials is not null) return await TlsHandshakeAsync(tcp, center, credentials, deadline.Token, cancellation).ConfigureAwait(false);
        return await AskIdentityAsync(tcp.GetStream(), secure: false, local, deadline.Token).ConfigureAwait(false);
    }

    /// <summary>The address the center answers to, or null when it did not say in time (the probe's verdict stands: it answered).</summary>
    private static async Task<HostPort?> AskIdentityAsync(Stream stream, bool secure, IPEndPoint local, CancellationToken deadline)
    {
        try
        {
            return await CenterIdentity.AskAsync(stream, secure, local, deadline).ConfigureAwait(false);
        }
        catch (Exception e) when (e is IOException or OperationCanceledException or SocketException)
        {
            return null;
        }
    }

    /// <summary>
    /// The address the center <paramref name="center"/> answers to: itself when it is an IP address; when it
    /// is a host name, the center is asked (<see cref="ProbeCenterAsync"/>) before any node names it, as a
    /// node that names the center otherwise than the center names itself is never answered. A name that
    /// does not resolve is a <see cref="Hosting.NameNotResolvedException"/>, at once.
    /// </summary>
    public static async Task<HostPort> CenterAnswersToAsync(HostPort center, TimeSpan timeout, CancellationToken cancellation, ClusterCredentials? credentials = null,
        TimeSpan waitForListener = default)
    {
        if (IPAddress.TryParse(center.Host, out _)) return center;
        var resolved = Hosting.MachineNetwork.Local().Resolve(center.Host, "the center's address");
        var answered = await ProbeCenterAsync(center, timeout, cancellation, credentials, waitForListener).ConfigureAwait(false);
        return answered ?? center with { Host = resolved.ToString() };
    }

    /// <summary>
    /// <see cref="ProbeCenterAsync"/>, failing with one line (<see cref="CenterElsewhereException"/>) when the center
    /// says it answers to another address than <paramref name="center"/>.
    /// </summary>
    public static async Task ProbeCenterAnsweringAsync(HostPort center, TimeSpan timeout, CancellationToken cancellation, ClusterCredentials? credentials = null,
        TimeSpan waitForListener = default) =>
        CheckAnswersTo(center, await ProbeCenterAsync(center, timeout, cancellation, credentials, waitForListener).ConfigureAwait(false));

    /// <summary>
    /// Fails with one line when the center probed at <paramref name="dialed"/> said it answers to another
    /// address (<paramref name="answered"/>): every message a node sent it at <paramref name="dialed"/> would be dropped.
    /// </summary>
    public static void CheckAnswersTo(HostPort dialed, HostPort? answered)
    {
        if (answered is null || answered == dialed) return;
        throw new CenterElsewhereException(dialed, answered);
    }

    private static async Task<HostPort?> TlsHandshakeAsync(TcpClient tcp, HostPort center, ClusterCredentials credentials, CancellationToken deadline, CancellationToken cancellation)
    {
        var refused = "";
        var options = credentials.ClientOptions(center.Host);
        options.RemoteCertificateValidationCallback = (_, certificate, _, _) => credentials.IsMember(certificate, out refused);
        await using var tls = new SslStream(tcp.GetStream(), leaveInnerStreamOpen: false);
        try
        {
            await tls.AuthenticateAsClientAsync(options, deadline).ConfigureAwait(false);
            var answered = await AskIdentityAsync(tls, secure: true, (IPEndPoint)tcp.Client.LocalEndPoint!, deadline).ConfigureAwait(false);
            await tls.ShutdownAsync().ConfigureAwait(false);
            return answered;
        }
        catch (OperationCanceledException) when (!cancellation.IsCancellationRequested)
        {
            // A center without credentials reads the handshake as the start of a frame and waits for the rest.
            throw new CenterUnreachableException($"The TLS handshake with the center at {center} did not complete (does the center run without credentials?).");
        }
        catch (Exception e) when (e is AuthenticationException or IOException)
        {
            var why = refused.Length > 0
                ? $"this node refused the center: {refused}; the center and this node must use the same cluster's credentials (made once by `{ClusterCredentials.CreateCommand}`)"
                : $"{Innermost(e)} (the center refused this node's certificate, or runs without credentials)";
            throw new CenterUnreachableException($"The TLS handshake with the center at {center} failed: {why}.", e);
        }
    }

    /// <summary>The message of the innermost exception, without its final period: what a one-line error says.</summary>
    internal static string Innermost(Exception e)
    {
        while (e.InnerException is not null) e = e.InnerException;
        return e.Message.TrimEnd('.');
    }

    /// <summary>The first free port from <paramref name="first"/> upward.</summary>
    public static int FirstFreePort(string host, int first)
    {
        for (var port = first; port < Math.Min(first + 1000, 65536); port++)
            if (IsPortFree(host, port)) return port;
        throw new InvalidOperationException($"Every port on {host} from {first} to {Math.Min(first + 999, 65535)} is in use; choose one with --port.");
    }
}
