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

/// <summary>An address or port option that cannot be used as given; the message says why and what to give instead.</summary>
public class AddressChoiceException(string message) : NodeStartException(message);

/// <summary>An address to listen on that is not one of this machine's: binding it fails with "address not available" on every port.</summary>
public sealed class AddressNotLocalException(string address, string option, IReadOnlyList<System.Net.IPAddress> machineAddresses)
    : AddressChoiceException($"{address} is not an address of this machine (its addresses: {string.Join(", ", machineAddresses)}); " +
        $"give one of them to {option}, or 0.0.0.0 to listen on all of them.")
{
    /// <summary>The address asked for.</summary>
    public string Address { get; } = address;
}

/// <summary>A host name that does not resolve to an IPv4 address.</summary>
public sealed class NameNotResolvedException(string name, string role, string reason)
    : AddressChoiceException($"The name '{name}' ({role}) does not resolve to an IPv4 address: {reason.TrimEnd('.')}. Check the name, or give an address.")
{
    /// <summary>The name.</summary>
    public string Name { get; } = name;
}

/// <summary>A worker would advertise a loopback address to a center on another machine, where every peer would dial itself.</summary>
public sealed class LoopbackAdvertisedException(string advertised, HostPort center, string routed, string given)
    : AddressChoiceException($"{given} {advertised} is a loopback address, which the center at {center} and the other machines cannot reach; " +
        $"listen on an address they reach (--host {routed}, the one that routes to the center) or on all (--host 0.0.0.0).");
