using Akka.Event;

namespace Distributed.Protocol.Hosting;

/// <summary>
/// Akka's reports of a peer that went away: a connection closed, the address gated, a downed node's
/// identity quarantined. When a worker dies or a client leaves, each node writes four or five of these
/// at warning or error (some with stack traces), although nothing is wrong: the center says what
/// happened in one line of its own (which worker, how, what is redone). So they are written at debug.
/// A peer that stays unreachable still shows: Akka's "Marking node(s) as UNREACHABLE" of a member not
/// yet downed keeps its level.
/// </summary>
public static class PeerLossEvents
{
    /// <summary>The level <paramref name="e"/> is written at: debug for an expected peer loss, else its own.</summary>
    public static Akka.Event.LogLevel LevelOf(LogEvent e)
    {
        var level = e.LogLevel();
        return level > Akka.Event.LogLevel.DebugLevel && IsPeerLoss(e) ? Akka.Event.LogLevel.DebugLevel : level;
    }

    /// <summary>Whether <paramref name="e"/> reports a peer going away, which the cluster handles on its own.</summary>
    public static bool IsPeerLoss(LogEvent e)
    {
        // Akka's own types for these are internal: matched by name.
        if (e.Cause?.GetType().Name is "EndpointDisassociatedException" or "ShutDownAssociation") return true;
        var text = e.Message?.ToString() ?? "";
        if (text.StartsWith("Disassociated", StringComparison.Ordinal)) return true;
        // A closed or refused connection: Akka retries after the gate and the failure detector decides.
        if (text.Contains("address is now gated", StringComparison.Ordinal)) return true;
        if (text.StartsWith("Tried to associate with unreachable remote address", StringComparison.Ordinal)) return true;
        // The identity of a node the cluster already removed.
        if (text.Contains("is irrecoverably failed. UID is now quarantined", StringComparison.Ordinal)) return true;
        // Unreachable members that are all Down already: the center downed them; the gossip catches up.
        if (text.Contains("Marking node(s) as UNREACHABLE", StringComparison.Ordinal))
            return !text.Contains("status = Up", StringComparison.Ordinal) && !text.Contains("status = Joining", StringComparison.Ordinal)
                && !text.Contains("status = WeaklyUp", StringComparison.Ordinal) && text.Contains("status = Down", StringComparison.Ordinal);
        return false;
    }
}
