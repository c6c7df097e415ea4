using Akka.Actor;
using Akka.Remote;
using Distributed.Protocol.Security;

namespace Distributed.Protocol;

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
            Fail($"this node refused the center: {reason}; the center and this node must use the same cluster's credentials (made once by `{ClusterCredentials.CreateCommand}`)");
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

    private static string Innermost(Exception? e) => e is null ? "no reason given" : NetworkAddresses.Innermost(e);

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
