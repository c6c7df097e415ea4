namespace Distributed.Protocol.Hosting;

/// <summary>
/// A node could not start for a reason its operator can fix; the message says which and how.
/// The programs print it as one line and exit with code 1 instead of a stack trace.
/// </summary>
public abstract class NodeStartException(string message) : Exception(message);

/// <summary>The port a program was asked to bind is taken (or no port could be bound).</summary>
public sealed class PortInUseException(string host, int port, string? message = null)
    : NodeStartException(message ?? $"Port {port} on {host} is already in use (is another center or worker running there?). Choose another with --port.")
{
    /// <summary>The port.</summary>
    public int Port { get; } = port;
}
