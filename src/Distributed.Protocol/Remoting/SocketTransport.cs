using System.Collections.Concurrent;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography.X509Certificates;
using Akka.Actor;
using Akka.Actor.Setup;
using Akka.Configuration;
using Akka.Event;
using Akka.Remote.Transport;
using Distributed.Protocol.Security;

namespace Distributed.Protocol.Remoting;

/// <summary>
/// The TLS settings of <see cref="SocketTransport"/>: the cluster's credentials (every peer must chain to
/// its authority), and who hears of a peer refused (its address and the reason) besides the log.
/// </summary>
public sealed class ClusterTlsSetup(ClusterCredentials credentials, Action<string, string>? onRejected = null) : Setup
{
    /// <summary>The cluster's authority and this node's member certificate.</summary>
    public ClusterCredentials Credentials { get; } = credentials;

    /// <summary>Hears of every peer refused: its address and the reason.</summary>
    public Action<string, string>? OnRejected { get; } = onRejected;
}

/// <summary>
/// Akka.Remote's transport on plain sockets, with mutual TLS when the node has the cluster's credentials
/// (<see cref="ClusterTlsSetup"/>). Frames are Akka's own (a 4-byte little-endian length, then the
/// payload), so that nothing else on the wire changes. The default (<c>hocon/common.hocon</c>,
/// <c>akka.remote.dot-netty.tcp.transport-class</c>; <see cref="ClusterConfig.CreateSystem"/> hands it the
/// <see cref="ClusterTlsSetup"/>) instead of Akka's DotNetty transport, which shuts the whole node down
/// (Akka's coordinated shutdown, exit code 79) when any outbound TLS handshake fails, including when the
/// peer merely closed the connection mid-handshake: a client exiting while the center dialed it, or
/// whatever now listens on a lost worker's port, ended the center. Here a failed handshake fails that
/// one association, which Akka gates and retries as it does a refused connection, and a handshake has
/// a deadline on both sides.
/// </summary>
// It lives as long as its actor system; its cancellation source has no resources to release (no timer).
[global::System.Diagnostics.CodeAnalysis.SuppressMessage("Design", "CA1001", Justification = "Lives as long as its actor system; Shutdown cancels the source")]
public sealed class SocketTransport : Transport
{
    private readonly ILoggingAdapter _log;
    private readonly string _bindHost;
    private readonly string? _publicHost;
    private readonly int _port;
    private readonly int? _publicPort;
    private readonly int? _sendBufferBytes;
    private readonly int? _receiveBufferBytes;
    private readonly ClusterTlsSetup? _tls;
    private readonly TimeSpan _connectTimeout;
    private readonly TimeSpan _handshakeTimeout;
    private readonly TimeSpan _flushWait;
    private readonly CancellationTokenSource _stopping = new();
    private readonly TaskCompletionSource<IAssociationEventListener> _listenerPromise = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly ConcurrentDictionary<SocketAssociation, byte> _associations = new();
    private Socket? _listener;

    /// <summary>Called by Akka.Remote's endpoint manager with the transport's configuration section.</summary>
    public SocketTransport(ActorSystem system, Config config)
    {
        ArgumentNullException.ThrowIfNull(system);
        ArgumentNullException.ThrowIfNull(config);
        System = system;
        Config = config;
        _log = Logging.GetLogger(system, typeof(SocketTransport));
        _bindHost = config.GetString("hostname", "");
        if (string.IsNullOrEmpty(_bindHost)) _bindHost = IPAddress.Loopback.ToString();
        var publicHost = config.GetString("public-hostname", "");
        _publicHost = string.IsNullOrEmpty(publicHost) ? null : publicHost;
        _port = config.GetInt("port", 0);
        var publicPort = config.GetInt("public-port", 0);
        _publicPort = publicPort > 0 ? publicPort : null;
        _sendBufferBytes = BufferSize(config, "send-buffer-size");
        _receiveBufferBytes = BufferSize(config, "receive-buffer-size");
        _connectTimeout = config.GetTimeSpan("connection-timeout", TimeSpan.FromSeconds(15));
        _handshakeTimeout = config.GetTimeSpan("tls-handshake-timeout", TimeSpan.FromSeconds(10));
        _flushWait = system.Settings.Config.GetTimeSpan("akka.remote.flush-wait-on-shutdown", TimeSpan.FromSeconds(2));
        var frameBytes = config.GetByteSize("maximum-frame-size", 128_000) ?? 128_000;
        MaximumPayloadBytes = frameBytes;
        MaximumFrameBytes = (int)Math.Min(frameBytes, int.MaxValue);
        var secure = config.GetBoolean("enable-ssl", false);
        if (secure)
        {
            var setup = system.Settings.Setup.Get<ClusterTlsSetup>();
            if (!setup.HasValue)
                throw new ConfigurationException("akka.remote.dot-netty.tcp.enable-ssl is on, but the actor system was given no ClusterTlsSetup (ClusterConfig.CreateSystem gives it one with the cluster's credentials).");
            _tls = setup.Value;
        }
        SchemeIdentifier = secure ? "ssl.tcp" : "tcp";
    }

    /// <summary>The largest frame read or written; a peer announcing a larger one loses its connection.</summary>
    internal int MaximumFrameBytes { get; }

    internal ILoggingAdapter Log => _log;

    internal TimeSpan FlushWait => _flushWait;

    /// <inheritdoc />
    public override bool IsResponsibleFor(Address remote) => true;

    /// <inheritdoc />
    public override async Task<(Address, TaskCompletionSource<IAssociationEventListener>)> Listen()
    {
        var bind = new IPEndPoint(await ResolveAsync(_bindHost, CancellationToken.None).ConfigureAwait(false), _port);
        var listener = new Socket(bind.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            listener.Bind(bind);
            listener.Listen(1024);
        }
        catch (SocketException e)
        {
            listener.Dispose();
            throw new Akka.Remote.RemoteTransportException($"Failed to bind to [{bind}]: {e.Message}", e);
        }
        _listener = listener;
        var bound = (IPEndPoint)listener.LocalEndPoint!;
        var address = new Address(SchemeIdentifier, System.Name, _publicHost ?? HostText(bound.Address), _publicPort ?? bound.Port);
        // Connections wait in the backlog until Akka has registered its listener.
        _ = _listenerPromise.Task.ContinueWith(t => AcceptLoopAsync(listener, t.Result), CancellationToken.None,
            TaskContinuationOptions.OnlyOnRanToCompletion, TaskScheduler.Default);
        return (address, _listenerPromise);
    }

    /// <inheritdoc />
    public override async Task<AssociationHandle> Associate(Address remoteAddress)
    {
        ArgumentNullException.ThrowIfNull(remoteAddress);
        if (remoteAddress.Port is not { } port) throw new ArgumentException($"The address {remoteAddress} has no port.", nameof(remoteAddress));
        var peer = remoteAddress.ToString();
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(_stopping.Token);
        deadline.CancelAfter(_connectTimeout);
        Socket? socket = null;
        Stream? stream = null;
        try
        {
            var ip = await ResolveAsync(remoteAddress.Host, deadline.Token).ConfigureAwait(false);
            socket = NewSocket(ip.AddressFamily);
            await socket.ConnectAsync(new IPEndPoint(ip, port), deadline.Token).ConfigureAwait(false);
            stream = new NetworkStream(socket, ownsSocket: false);
            if (_tls is not null)
            {
                deadline.CancelAfter(_handshakeTimeout);
                var tls = new SslStream(stream, leaveInnerStreamOpen: false);
                stream = tls;
                var options = _tls.Credentials.ClientOptions(remoteAddress.Host);
                options.RemoteCertificateValidationCallback = (_, certificate, _, _) => Accepts(certificate, peer);
                await tls.AuthenticateAsClientAsync(options, deadline.Token).ConfigureAwait(false);
            }
            var local = (IPEndPoint)socket.LocalEndPoint!;
            var association = new SocketAssociation(this, socket, stream,
                new Address(SchemeIdentifier, System.Name, HostText(local.Address), local.Port), remoteAddress);
            Track(association);
            return association;
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            if (stream is not null) await stream.DisposeAsync().ConfigureAwait(false);
            socket?.Dispose();
            var why = e is OperationCanceledException
                ? _stopping.IsCancellationRequested ? "the transport is shutting down" : "no answer in time"
                : NetworkAddresses.Innermost(e);
            throw new InvalidAssociationException($"Could not associate with {remoteAddress}: {why}.", e);
        }
    }

    /// <inheritdoc />
    public override async Task<bool> Shutdown()
    {
        if (_stopping.IsCancellationRequested) return true;
        await _stopping.CancelAsync().ConfigureAwait(false);
        _listener?.Dispose();
        // Associations Akka closed are given the flush wait to send what they hold; the rest close now.
        var closing = _associations.Keys.Select(a => a.Draining).OfType<Task>().ToArray();
        if (closing.Length > 0) await Task.WhenAny(Task.WhenAll(closing), Task.Delay(_flushWait)).ConfigureAwait(false);
        foreach (var association in _associations.Keys) association.Abort();
        return true;
    }

    internal void Forget(SocketAssociation association) => _associations.TryRemove(association, out _);

    private void Track(SocketAssociation association)
    {
        _associations[association] = 0;
        if (_stopping.IsCancellationRequested) association.Abort();
    }

    private async Task AcceptLoopAsync(Socket listener, IAssociationEventListener associations)
    {
        while (!_stopping.IsCancellationRequested)
        {
            Socket accepted;
            try
            {
                accepted = await listener.AcceptAsync(_stopping.Token).ConfigureAwait(false);
            }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException)
            {
                return;
            }
            catch (SocketException e)
            {
                if (_stopping.IsCancellationRequested) return;
                // Out of descriptors, say: wait a little rather than spin.
                _log.Warning("Accepting a connection failed: {0}", e.Message);
                try { await Task.Delay(100, _stopping.Token).ConfigureAwait(false); }
                catch (OperationCanceledException) { return; }
                continue;
            }
            _ = InboundAsync(accepted, associations);
        }
    }

    private async Task InboundAsync(Socket socket, IAssociationEventListener associations)
    {
        var remote = socket.RemoteEndPoint as IPEndPoint;
        var peer = remote?.ToString() ?? "an unknown peer";
        Stream stream = new NetworkStream(socket, ownsSocket: false);
        var refused = false;
        try
        {
            Configure(socket);
            if (_tls is not null)
            {
                using var deadline = CancellationTokenSource.CreateLinkedTokenSource(_stopping.Token);
                deadline.CancelAfter(_handshakeTimeout);
                var tls = new SslStream(stream, leaveInnerStreamOpen: false);
                stream = tls;
                var options = _tls.Credentials.ServerOptions();
                options.RemoteCertificateValidationCallback = (_, certificate, _, _) =>
                {
                    var accepted = Accepts(certificate, peer);
                    refused = !accepted;
                    return accepted;
                };
                await tls.AuthenticateAsServerAsync(options, deadline.Token).ConfigureAwait(false);
            }
            var local = (IPEndPoint)socket.LocalEndPoint!;
            var association = new SocketAssociation(this, socket, stream,
                new Address(SchemeIdentifier, System.Name, HostText(local.Address), local.Port),
                new Address(SchemeIdentifier, System.Name, remote is null ? "unknown" : HostText(remote.Address), remote?.Port ?? 0));
            Track(association);
            associations.Notify(new InboundAssociation(association));
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            // Noise, a stranger, or a peer that gave up: this connection ends, nothing else does. A peer
            // whose certificate was refused has been logged already, with the reason.
            if (!_stopping.IsCancellationRequested && !refused)
                _log.Warning("Rejected incoming connection from [{0}]: {1} ({2}).", peer, _tls is null ? "it failed" : "the TLS handshake failed",
                    e is OperationCanceledException ? "not completed in time" : NetworkAddresses.Innermost(e));
            await stream.DisposeAsync().ConfigureAwait(false);
            socket.Dispose();
        }
    }

    private bool Accepts(X509Certificate? certificate, string peer)
    {
        var tls = _tls!;
        if (tls.Credentials.IsMember(certificate, out var reason)) return true;
        _log.Warning("Refused the TLS connection with {0}: {1}.", peer, reason);
        tls.OnRejected?.Invoke(peer, reason);
        return false;
    }

    private Socket NewSocket(AddressFamily family)
    {
        var socket = new Socket(family, SocketType.Stream, ProtocolType.Tcp);
        Configure(socket);
        return socket;
    }

    private void Configure(Socket socket)
    {
        socket.NoDelay = true;
        if (_sendBufferBytes is { } send) socket.SendBufferSize = send;
        if (_receiveBufferBytes is { } receive) socket.ReceiveBufferSize = receive;
    }

    private static int? BufferSize(Config config, string key) =>
        config.HasPath(key) && config.GetByteSize(key, null) is { } bytes and > 0 ? (int)Math.Min(bytes, int.MaxValue) : null;

    private static async Task<IPAddress> ResolveAsync(string host, CancellationToken cancellation)
    {
        if (IPAddress.TryParse(host, out var ip)) return ip;
        var addresses = await Dns.GetHostAddressesAsync(host, cancellation).ConfigureAwait(false);
        return addresses.FirstOrDefault(a => a.AddressFamily == AddressFamily.InterNetwork)
               ?? addresses.FirstOrDefault()
               ?? throw new SocketException((int)SocketError.HostNotFound);
    }

    private static string HostText(IPAddress address) =>
        (address.IsIPv4MappedToIPv6 ? address.MapToIPv4() : address).ToString();
}
