using Akka.Actor;
using Akka.Event;
using Microsoft.Extensions.Logging;

namespace Distributed.Protocol.Hosting;

/// <summary>
/// An Akka logger (named in <c>akka.loggers</c> by <see cref="NodeLogging.AkkaSettings"/>) that hands
/// every log event to <see cref="NodeLogging.Factory"/>, under the category of the class that logged
/// it; without a factory it writes as <see cref="StandardErrorLogger"/> does.
/// </summary>
public sealed class AkkaLoggerBridge : ReceiveActor
{
    private readonly Dictionary<string, ILogger> _loggers = new(StringComparer.Ordinal);

    /// <summary>Creates the bridge.</summary>
    public AkkaLoggerBridge()
    {
        Receive<InitializeLogger>(_ => Sender.Tell(new LoggerInitialized()));
        Receive<LogEvent>(Forward);
    }

    private void Forward(LogEvent e)
    {
        if (NodeLogging.Factory is not { } factory)
        {
            StandardErrorLogger.Write(e, Logging.LogLevelFor(Context.System.Settings.LogLevel));
            return;
        }
        var category = e.LogClass?.FullName ?? e.LogSource ?? "Akka";
        if (!_loggers.TryGetValue(category, out var logger)) _loggers[category] = logger = factory.CreateLogger(category);
        // A peer that went away is Akka's warning but no news to the user (see PeerLossEvents).
        var peerLoss = PeerLossEvents.IsPeerLoss(e);
        var level = (peerLoss ? Akka.Event.LogLevel.DebugLevel : e.LogLevel()) switch
        {
            Akka.Event.LogLevel.DebugLevel => Microsoft.Extensions.Logging.LogLevel.Debug,
            Akka.Event.LogLevel.InfoLevel => Microsoft.Extensions.Logging.LogLevel.Information,
            Akka.Event.LogLevel.WarningLevel => Microsoft.Extensions.Logging.LogLevel.Warning,
            _ => Microsoft.Extensions.Logging.LogLevel.Error,
        };
        if (!logger.IsEnabled(level)) return;
        // The transport's refusals come with paragraphs and stack traces: one line says the same.
        var transport = peerLoss || StandardErrorLogger.IsTransport(e);
        var message = transport ? StandardErrorLogger.CondensedMessage(e) : e.Message?.ToString() ?? "";
        // Akka's text is already formatted: it is the state itself, no template of ours.
        logger.Log(level, default, message, transport ? null : e.Cause, static (text, _) => text);
    }
}
