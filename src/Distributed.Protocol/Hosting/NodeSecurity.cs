using System.Net;
using System.Net.Sockets;
using Distributed.Protocol.Security;

namespace Distributed.Protocol.Hosting;

/// <summary>
/// Whether a center or worker may run as asked: with credentials every connection is mutual TLS; without,
/// only on loopback, or off loopback when the operator said <c>--insecure</c>.
/// </summary>
public static class NodeSecurity
{
    /// <summary>The command that makes a cluster's credentials, as the error lines tell it.</summary>
    public const string CreateCommand = ClusterCredentials.CreateCommand;

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
public sealed class InsecureAddressException(string host) : NodeStartException(
    $"refusing to listen on {host} without credentials: anyone who reaches it could run code on this cluster. " +
    $"Create credentials with `{NodeSecurity.CreateCommand}` and pass --credentials DIR (or set {ClusterCredentials.EnvironmentVariable}=DIR), " +
    "or pass --insecure to run without TLS anyway.")
{
    /// <summary>The address the node was asked to bind.</summary>
    public string Host { get; } = host;
}
