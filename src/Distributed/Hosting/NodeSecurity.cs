using System.Net;
using System.Net.Sockets;
using Akka.Actor;
using Akka.Remote;
using Distributed.Security;

namespace Distributed.Hosting;

/// <summary>
/// Whether a center or worker may run as asked: with credentials every connection is mutual TLS; without,
/// only on loopback, or off loopback when the operator said <c>--insecure</c>.
/// </summary>
public static class NodeSecurity
{
    /// <summary>The command that makes a cluster's credentials, as the error lines tell it.</summary>
    public const string CreateCommand = "dcenter credentials create DIR";

    /// <summary>
    /// Refuses (with <see cref="InsecureAddressException"/>) a node that would bind the non-loopback
    /// <paramref name="host"/> without credentials, unless <paramref name="insecure"/>. Checked before
    /// anything is bound. Returns the warning line to print at start when the node runs without TLS
    /// because of <paramref name="insecure"/>, else null.
    /// </summary>
    public static string? Check(string host, ClusterCredentials? credentials, bool insecure)
    {
        if (credentials is not null) return null;
        if (insecure)
            return $"--insecure: this node runs without credentials, so its connections at {host} are plain TCP and unauthenticated: " +
                "anyone who reaches its ports can run code on the cluster.";
        if (IsLoopback(host)) return null;
        throw new InsecureAddressException(host);
    }

    /// <summary>Whether every address of <paramref name="host"/> is a loopback address (so only this machine can reach it).</summary>
    public static bool IsLoopback(string host)
    {
        if (IPAddress.TryParse(host, out var address)) return IPAddress.IsLoopback(address);
        if (string.Equals(host, "localhost", StringComparison.OrdinalIgnoreCase)) return true;
        try
        {
            var addresses = Dns.GetHostAddresses(host);
            return addresses.Length > 0 && addresses.All(IPAddress.IsLoopback);
        }
        catch (SocketException)
        {
            return false;
        }
    }
}

/// <summary>A node was asked to bind a non-loopback address without credentials (and without <c>--insecure</c>).</summary>
public sealed class InsecureAddressException(string host) : Exception(
    $"refusing to listen on {host} without credentials: anyone who reaches it could run code on this cluster. " +
    $"Create credentials with `{NodeSecurity.CreateCommand}` and pass --credentials DIR (or set {ClusterCredentials.EnvironmentVariable}=DIR), " +
    "or pass --insecure to run without TLS anyway.")
{
    /// <summary>The address the node was asked to bind.</summary>
    public string Host { get; } = host;
}

/// <summary>
/// Watches a node's first Akka handshake with the center, so that a refused one is reported at once,
/// naming the center and the reason, instead of as a join that never completes. Give
/// <see cref="OnRejected"/> to <see cref="ClusterConfig.CreateSystem"/>, then <see cref="Watch"/> the system.
/// </summary>
internal sealed class CenterHandshake
{
    private readonly HostPort _center;
    private readonly bool _secure;
    private readonly TaskCompletionSource _answered = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _refused = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public CenterHandshake(HostPort center, bool secure)
    {
        _center = center;
        _secure = secure;
    }

    /// <summary>Completes when a handshake with the center's node succeeded; fails with <see cref="CenterUnreachableException"/> when one was refused.</summary>
    public Task Answered => _answered.Task;

    /// <summary>Fails like <see cref="Answered"/> when the handshake was refused; never completes otherwise.</summary>
    public Task Refused => _refused.Task;

    /// <summary>Our certificate validator refused a peer: when that peer is the center, the handshake failed.</summary>
    public void OnRejected(string remotePeer, string reason)
    {
        // Outbound connections are named by their Akka address (ssl.tcp://distributed@host:port).
        if (remotePeer.EndsWith($"@{_center.Host}:{_center.Port}", StringComparison.OrdinalIgnoreCase))
            Fail($"this node refused the center: {reason}; the center and this node must use the same cluster's credentials (made once by `{NodeSecurity.CreateCommand}`)");
    }

    /// <summary>Starts listening to <paramref name="system"/>'s association events.</summary>
    public void Watch(ActorSystem system) => system.ActorOf(Props.Create(() => new Listener(this)), "center-handshake");

    private void OnAssociationError(AssociationErrorEvent error)
    {
        if (error.IsInbound || error.RemoteAddress.Port != _center.Port || !string.Equals(error.RemoteAddress.Host, _center.Host, StringComparison.OrdinalIgnoreCase))
            return;
        var cause = Innermost(error.Cause);
        if (_secure)
            Fail($"{cause} (a center without credentials cannot answer TLS; one with other credentials refuses this node's certificate)");
        else
            // A TLS listener closes a connection whose first bytes are not TLS, and Akka reports only that it closed.
            Fail($"the center closed the connection ({cause}), as a center with credentials does to a node without them; " +
                $"give this node the cluster's credentials (--credentials DIR, or {ClusterCredentials.EnvironmentVariable}=DIR)");
    }

    private void Fail(string why)
    {
        if (_answered.Task.IsCompleted) return; // a later failure says nothing about the first handshake
        var refused = new CenterUnreachableException($"The {(_secure ? "TLS handshake" : "handshake")} with the center at {_center} failed: {why}.");
        if (_answered.TrySetException(refused)) _refused.TrySetException(refused);
    }

    private static string Innermost(Exception? e)
    {
        if (e is null) return "no reason given";
        while (e.InnerException is not null) e = e.InnerException;
        return e.Message.TrimEnd('.');
    }

    private sealed class Listener : ReceiveActor
    {
        public Listener(CenterHandshake watch)
        {
            Receive<AssociatedEvent>(_ =>
            {
                watch._answered.TrySetResult();
                Context.Stop(Self);
            });
            Receive<AssociationErrorEvent>(error =>
            {
                watch.OnAssociationError(error);
                if (watch.Answered.IsCompleted) Context.Stop(Self);
            });
        }

        protected override void PreStart()
        {
            Context.System.EventStream.Subscribe(Self, typeof(AssociatedEvent));
            Context.System.EventStream.Subscribe(Self, typeof(AssociationErrorEvent));
        }

        protected override void PostStop() => Context.System.EventStream.Unsubscribe(Self);
    }
}
