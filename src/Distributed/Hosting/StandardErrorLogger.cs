using Akka.Actor;
using Akka.Event;

namespace Distributed.Hosting;

/// <summary>Akka's log, written to standard error so that standard output stays the program's own.</summary>
public sealed class StandardErrorLogger : ReceiveActor
{
    /// <summary>Creates the logger.</summary>
    public StandardErrorLogger()
    {
        Receive<InitializeLogger>(_ => Sender.Tell(new LoggerInitialized()));
        Receive<LogEvent>(e => Console.Error.WriteLine(e.ToString()));
    }
}
