using Akka.Actor;
using Akka.Event;

namespace Distributed.Protocol;

/// <summary>
/// The messages an actor refused because their sender may not send them (a worker's commands from
/// anyone but its center, another client's keys, ...). Each refusal is a warning the first time a
/// peer sends that kind of message, and only counted after, so that a peer that floods refused
/// messages cannot flood the log; nothing refused is ever acted on.
/// </summary>
public sealed class Refusals(ILoggingAdapter log, string who)
{
    /// <summary>Peers and kinds remembered; past this, new ones are counted without a line (a bound on memory).</summary>
    private const int MaxRemembered = 4_096;

    private readonly HashSet<(string Peer, string Kind)> _logged = [];

    /// <summary>Every refusal so far, logged or not.</summary>
    public long Count { get; private set; }

    /// <summary>Refuses <paramref name="message"/> from <paramref name="sender"/>, saying <paramref name="why"/> the first time for this peer and kind.</summary>
    public void Refuse(IActorRef sender, object message, string why) => Refuse(sender, message.GetType().Name, why);

    /// <summary>Refuses a message of kind <paramref name="kind"/> (its type's name) from <paramref name="sender"/>.</summary>
    public void Refuse(IActorRef sender, string kind, string why)
    {
        Count++;
        var peer = sender.Path.ToStringWithAddress();
        if (_logged.Count >= MaxRemembered || !_logged.Add((peer, kind))) return;
        log.Warning("{0} refused {1} from {2}: {3} (further {1} refused from this sender are not logged)", who, kind, peer, why);
    }
}

/// <summary>Who a message comes from, told by its sender's path.</summary>
public static class Peers
{
    /// <summary>
    /// Whether <paramref name="sender"/> is the actor at <paramref name="expected"/> (address and path,
    /// whatever its incarnation): the center, for the workers and clients that were told where it is.
    /// </summary>
    public static bool IsAt(IActorRef sender, ActorPath expected) =>
        sender.Path.Address.Equals(expected.Address) && sender.Path.Elements.SequenceEqual(expected.Elements, StringComparer.Ordinal);
}
