using System.Net;
using System.Net.NetworkInformation;
using System.Net.Sockets;

namespace Distributed.Protocol.Hosting;

/// <summary>
/// Where a node listens and what it tells its peers, as Akka's <c>hostname</c> and <c>public-hostname</c>:
/// <paramref name="Bind"/> may be 0.0.0.0 (every address of the machine), <paramref name="Advertised"/> is
/// always an address a peer can dial. <paramref name="Note"/> says how the advertised address was chosen
/// when the user did not name it (for the start line), else null.
/// </summary>
public sealed record NodeAddress(string Bind, string Advertised, string? Note = null);

/// <summary>
/// What a node sees of its machine's network: its addresses, how names resolve, and which local address
/// routes toward a peer. <see cref="Local"/> is this machine; tests give their own.
/// </summary>
/// <param name="Addresses">The IPv4 addresses of the machine's interfaces that are up, loopback included.</param>
/// <param name="Primary">The machine's primary non-loopback IPv4 address (null when it has none).</param>
/// <param name="ResolveName">The IPv4 addresses of a host name; throws <see cref="SocketException"/> when it does not resolve.</param>
/// <param name="RouteToward">The local address the machine uses to reach an address (null when there is no route).</param>
public sealed record MachineNetwork(IReadOnlyList<IPAddress> Addresses, IPAddress? Primary, Func<string, IReadOnlyList<IPAddress>> ResolveName,
    Func<IPAddress, IPAddress?> RouteToward)
{
    /// <summary>This machine, read now.</summary>
    public static MachineNetwork Local()
    {
        var addresses = NetworkInterface.GetAllNetworkInterfaces()
            .Where(n => n.OperationalStatus == OperationalStatus.Up || n.NetworkInterfaceType == NetworkInterfaceType.Loopback)
            .SelectMany(n => n.GetIPProperties().UnicastAddresses)
            .Select(a => a.Address)
            .Where(a => a.AddressFamily == AddressFamily.InterNetwork)
            .Distinct()
            .ToList();
        var primary = NetworkAddresses.PrimaryIPv4();
        return new MachineNetwork(addresses, primary == "127.0.0.1" ? null : IPAddress.Parse(primary),
            name => Dns.GetHostAddresses(name).Where(a => a.AddressFamily == AddressFamily.InterNetwork).ToList(),
            RouteFromHere);
    }

    private static IPAddress? RouteFromHere(IPAddress remote)
    {
        if (IPAddress.IsLoopback(remote)) return IPAddress.Loopback;
        try
        {
            using var probe = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
            probe.Connect(remote, 9); // UDP connect sends nothing; it only picks a route
            return ((IPEndPoint)probe.LocalEndPoint!).Address;
        }
        catch (SocketException)
        {
            return null;
        }
    }

    /// <summary>The IPv4 address of <paramref name="host"/> (an address or a name), or a <see cref="NameNotResolvedException"/> naming <paramref name="role"/>.</summary>
    public IPAddress Resolve(string host, string role)
    {
        if (IPAddress.TryParse(host, out var address)) return address;
        IReadOnlyList<IPAddress> found;
        try
        {
            found = ResolveName(host);
        }
        catch (SocketException e)
        {
            throw new NameNotResolvedException(host, role, e.Message);
        }
        return found.Count > 0 ? found[0] : throw new NameNotResolvedException(host, role, "it has no IPv4 address");
    }

    /// <summary>Whether <paramref name="address"/> means every address of the machine (0.0.0.0 or ::).</summary>
    public static bool IsUnspecified(IPAddress address) => address.Equals(IPAddress.Any) || address.Equals(IPAddress.IPv6Any);

    /// <summary>Whether <paramref name="address"/> is one of this machine's (loopback ones included).</summary>
    public bool IsLocal(IPAddress address) => IPAddress.IsLoopback(address) || Addresses.Contains(address);

    /// <summary>Fails with one line when <paramref name="address"/> (to bind) is neither unspecified nor an address of this machine.</summary>
    public void CheckBindable(IPAddress address, string option)
    {
        if (IsUnspecified(address) || IsLocal(address)) return;
        throw new AddressNotLocalException(address.ToString(), option, Addresses);
    }
}

/// <summary>Chooses the <see cref="NodeAddress"/> of a center or a worker from the command line and the machine's network.</summary>
public static class NodeAddresses
{
    /// <summary>
    /// The center's addresses. <paramref name="host"/> (<c>--host</c>) is where it listens, by default the
    /// machine's primary address; <paramref name="advertise"/> (<c>--advertise</c>) is the one workers and
    /// clients name it by, by default <paramref name="host"/> as an address (a name given to <c>--host</c>
    /// is resolved, so that peers naming the center by the same name or by its address both reach it).
    /// Bound to 0.0.0.0 without <c>--advertise</c>, it advertises the machine's primary address and says so.
    /// </summary>
    public static NodeAddress ForCenter(string? host, string? advertise, MachineNetwork machine)
    {
        var bind = host is null ? machine.Primary ?? IPAddress.Loopback : machine.Resolve(host, "--host");
        machine.CheckBindable(bind, "--host");
        var bindText = bind.ToString();
        if (advertise is not null) return new NodeAddress(bindText, Advertisable(advertise, machine), null);
        if (!MachineNetwork.IsUnspecified(bind)) return new NodeAddress(bindText, bindText);
        var chosen = machine.Primary ?? IPAddress.Loopback;
        return new NodeAddress(bindText, chosen.ToString(),
            $"listening on 0.0.0.0, every address of this machine; {chosen} is its primary address: choose another with --advertise");
    }

    /// <summary>
    /// A worker's addresses. <paramref name="host"/> (<c>--host</c>) is where it listens, by default the
    /// local address that routes to <paramref name="center"/>; <paramref name="advertise"/> (<c>--advertise</c>)
    /// is the one the center, the other workers and clients dial, by default <paramref name="host"/>, or
    /// the routed address when it is 0.0.0.0. A loopback address is never advertised to a center on
    /// another machine: every other machine would dial itself there.
    /// </summary>
    public static NodeAddress ForWorker(string? host, string? advertise, HostPort center, MachineNetwork machine)
    {
        var centerAddress = machine.Resolve(center.Host, "the center's address");
        var routed = machine.RouteToward(centerAddress) ?? machine.Primary ?? IPAddress.Loopback;
        var bind = host is null ? routed : machine.Resolve(host, "--host");
        machine.CheckBindable(bind, "--host");
        var bindText = bind.ToString();
        string advertised;
        string? note = null;
        if (advertise is not null) advertised = Advertisable(advertise, machine);
        else if (MachineNetwork.IsUnspecified(bind))
        {
            advertised = routed.ToString();
            note = $"listening on 0.0.0.0, every address of this machine; {advertised} routes to the center: choose another with --advertise";
        }
        else advertised = bindText;
        var centerIsRemote = !machine.IsLocal(centerAddress);
        if (centerIsRemote && IPAddress.TryParse(advertised, out var shown) && IPAddress.IsLoopback(shown))
            throw new LoopbackAdvertisedException(advertised, center, routed.ToString(), given: advertise is not null ? "--advertise" : "--host");
        return new NodeAddress(bindText, advertised, note);
    }

    /// <summary>An address given to <c>--advertise</c>: any address or name but an unspecified one (a name is kept as given).</summary>
    private static string Advertisable(string advertise, MachineNetwork machine)
    {
        if (IPAddress.TryParse(advertise, out var address))
        {
            if (MachineNetwork.IsUnspecified(address))
                throw new AddressChoiceException($"--advertise {advertise} is not an address a peer can dial; give this machine's address as the others reach it (e.g. {machine.Primary ?? IPAddress.Loopback}).");
            return address.ToString();
        }
        machine.Resolve(advertise, "--advertise"); // a name must resolve here at least: peers will resolve it too
        return advertise;
    }
}

/// <summary>A port, or a range of ports to take the first free one of, as <c>9000</c> or <c>9000-9099</c>.</summary>
public sealed record PortRange(int First, int Last)
{
    /// <summary>Any free port the system picks.</summary>
    public static readonly PortRange Any = new(0, 0);

    /// <summary>Parses <c>N</c> or <c>FIRST-LAST</c>, each a port from 1 to 65535.</summary>
    public static PortRange Parse(string text, string option)
    {
        var parts = text.Split('-', StringSplitOptions.TrimEntries);
        if (parts.Length is < 1 or > 2 || !parts.All(p => int.TryParse(p, out var n) && n is >= 1 and <= 65535))
            throw new FormatException($"{option} {text} is not a port or a range of ports; expected e.g. 9000 or 9000-9099, each a number from 1 to 65535.");
        var first = int.Parse(parts[0]);
        var last = int.Parse(parts[^1]);
        if (last < first) throw new FormatException($"{option} {text} is a range that ends before it starts; expected FIRST-LAST with FIRST <= LAST.");
        return new PortRange(first, last);
    }

    /// <inheritdoc />
    public override string ToString() => First == Last ? $"{First}" : $"{First}-{Last}";
}
