using Akka.Actor;
using Akka.Event;

namespace Distributed.Protocol.Hosting;

/// <summary>Akka's log, written to standard error so that standard output stays the program's own.</summary>
public sealed class StandardErrorLogger : ReceiveActor
{
    /// <summary>Creates the logger.</summary>
    public StandardErrorLogger()
    {
        var minimum = Logging.LogLevelFor(Context.System.Settings.LogLevel);
        Receive<InitializeLogger>(_ => Sender.Tell(new LoggerInitialized()));
        Receive<LogEvent>(e => Write(e, minimum));
    }

    /// <summary>
    /// Writes <paramref name="e"/> to standard error as one line when it is at <paramref name="minimum"/>
    /// or above. A peer that went away is Akka's warning but no news to the user (see
    /// <see cref="PeerLossEvents"/>): it is written at debug, as one line, when debug is asked for.
    /// </summary>
    internal static void Write(LogEvent e, Akka.Event.LogLevel minimum)
    {
        var level = PeerLossEvents.LevelOf(e);
        if (level < minimum) return;
        if (level == e.LogLevel()) Console.Error.WriteLine(IsTransport(e) ? Condensed(e) : e.ToString());
        else
        {
            var line = Condensed(e); // "[WARNING][time][thread][source] text": the level is the first field
            Console.Error.WriteLine("[DEBUG]" + line[(line.IndexOf(']') + 1)..]);
        }
    }

    /// <summary>
    /// The transport's reports of refused connections (a failed TLS handshake, a stranger's bytes) come
    /// with troubleshooting paragraphs and stack traces: one line each says the same, so that a
    /// refused peer reads as one line, and a scan of a port cannot flood the log.
    /// </summary>
    internal static bool IsTransport(LogEvent e) =>
        e.LogSource is { } source && (source.StartsWith("TcpServerHandler", StringComparison.Ordinal) || source.StartsWith("TcpClientHandler", StringComparison.Ordinal)
            || source.StartsWith("TcpTransport", StringComparison.Ordinal) || source.StartsWith("remoting", StringComparison.Ordinal)
            || source.Contains("/system/endpointManager/", StringComparison.Ordinal));

    /// <summary>The first line of the event, with the innermost reason of its exception.</summary>
    internal static string Condensed(LogEvent e) => Condense(e.ToString(), e);

    /// <summary>The message alone (no level, time and source), condensed as <see cref="Condensed"/> is.</summary>
    internal static string CondensedMessage(LogEvent e) => Condense(e.Message?.ToString() ?? "", e);

    private static string Condense(string text, LogEvent e)
    {
        var newline = text.IndexOf('\n');
        var first = (newline < 0 ? text : text[..newline]).TrimEnd('\r');
        if (e.Cause is not { } cause) return first;
        while (cause.InnerException is not null) cause = cause.InnerException;
        var reason = cause.Message.Split('\n')[0].Trim();
        if (reason.Length > 200) reason = reason[..200] + "...";
        return first.Contains(reason, StringComparison.Ordinal) ? first : $"{first} ({reason})";
    }
}
