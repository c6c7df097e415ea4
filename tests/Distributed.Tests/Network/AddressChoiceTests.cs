using System.Net;
using System.Net.Sockets;
using Distributed.Center;
using Distributed.Data;
using Distributed.Hosting;
using Distributed.Protocol;
using Distributed.Protocol.Hosting;

namespace Distributed.Tests.Network;

/// <summary>
/// Issue 16, "Addresses" and "Ports and firewalls", in the fast tier: where a center and a worker listen
/// and what they advertise (on a machine described by the test), the one-line errors, port ranges, the
/// center telling which address it answers to, and the data channel's fixed port.
/// </summary>
public sealed class AddressChoiceTests
{
    private static readonly IPAddress Lan = IPAddress.Parse("10.0.0.5");

    /// <summary>A machine with loopback and 10.0.0.5, where "center.lan" is 10.0.0.1 and every route leaves through 10.0.0.5.</summary>
    private static MachineNetwork Machine(IPAddress? primary = null) => new(
        [IPAddress.Loopback, Lan], primary ?? Lan,
        name => name switch
        {
            "center.lan" => [IPAddress.Parse("10.0.0.1")],
            "me.lan" => [Lan],
            _ => throw new SocketException((int)SocketError.HostNotFound),
        },
        remote => IPAddress.IsLoopback(remote) ? IPAddress.Loopback : remote.Equals(Lan) ? Lan : Lan);

    [Fact]
    public void A_center_on_every_address_advertises_the_primary_one_and_says_so()
    {
        var chosen = NodeAddresses.ForCenter("0.0.0.0", null, Machine());

        Assert.Equal(new NodeAddress("0.0.0.0", "10.0.0.5",
            "listening on 0.0.0.0, every address of this machine; 10.0.0.5 is its primary address: choose another with --advertise"), chosen);
    }

    [Fact]
    public void A_center_advertises_what_it_is_told_and_a_name_given_to_host_as_its_address()
    {
        Assert.Equal(new NodeAddress("0.0.0.0", "192.168.1.7"), NodeAddresses.ForCenter("0.0.0.0", "192.168.1.7", Machine()));
        Assert.Equal(new NodeAddress("10.0.0.5", "10.0.0.5"), NodeAddresses.ForCenter("me.lan", null, Machine()));
        Assert.Equal(new NodeAddress("10.0.0.5", "10.0.0.5"), NodeAddresses.ForCenter(null, null, Machine()));
        Assert.Equal(new NodeAddress("127.0.0.1", "127.0.0.1"), NodeAddresses.ForCenter("127.0.0.1", null, Machine()));
    }

    [Fact]
    public void An_address_not_on_the_machine_is_one_line_naming_the_machine_s_addresses()
    {
        var error = Assert.Throws<AddressNotLocalException>(() => NodeAddresses.ForCenter("10.231.7.250", null, Machine()));

        Assert.Equal("10.231.7.250 is not an address of this machine (its addresses: 127.0.0.1, 10.0.0.5); give one of them to --host, or 0.0.0.0 to listen on all of them.", error.Message);
        Assert.Throws<AddressNotLocalException>(() => NodeAddresses.ForWorker("10.231.7.250", null, new HostPort("center.lan", 8787), Machine()));
    }

    [Fact]
    public void A_name_that_does_not_resolve_is_one_line_naming_it_and_what_it_was_for()
    {
        var error = Assert.Throws<NameNotResolvedException>(() => NodeAddresses.ForWorker(null, null, new HostPort("no-such-host.invalid", 8787), Machine()));

        Assert.StartsWith("The name 'no-such-host.invalid' (the center's address) does not resolve to an IPv4 address: ", error.Message);
        Assert.EndsWith(". Check the name, or give an address.", error.Message);
        Assert.Contains("(--host)", Assert.Throws<NameNotResolvedException>(() => NodeAddresses.ForCenter("nowhere.invalid", null, Machine())).Message);
    }

    [Fact]
    public void An_unspecified_address_is_never_advertised()
    {
        var error = Assert.Throws<AddressChoiceException>(() => NodeAddresses.ForCenter("0.0.0.0", "0.0.0.0", Machine()));

        Assert.Equal("--advertise 0.0.0.0 is not an address a peer can dial; give this machine's address as the others reach it (e.g. 10.0.0.5).", error.Message);
    }

    [Fact]
    public void A_worker_on_every_address_advertises_the_one_that_routes_to_the_center()
    {
        var chosen = NodeAddresses.ForWorker("0.0.0.0", null, new HostPort("center.lan", 8787), Machine());

        Assert.Equal(new NodeAddress("0.0.0.0", "10.0.0.5",
            "listening on 0.0.0.0, every address of this machine; 10.0.0.5 routes to the center: choose another with --advertise"), chosen);
        Assert.Equal(new NodeAddress("10.0.0.5", "10.0.0.5"), NodeAddresses.ForWorker(null, null, new HostPort("10.0.0.1", 8787), Machine()));
        Assert.Equal(new NodeAddress("0.0.0.0", "203.0.113.9"), NodeAddresses.ForWorker("0.0.0.0", "203.0.113.9", new HostPort("10.0.0.1", 8787), Machine()));
    }

    [Fact]
    public void A_worker_never_advertises_loopback_to_a_center_on_another_machine()
    {
        var error = Assert.Throws<LoopbackAdvertisedException>(() => NodeAddresses.ForWorker("127.0.0.1", null, new HostPort("10.0.0.1", 8787), Machine()));

        Assert.Equal("--host 127.0.0.1 is a loopback address, which the center at 10.0.0.1:8787 and the other machines cannot reach; " +
            "listen on an address they reach (--host 10.0.0.5, the one that routes to the center) or on all (--host 0.0.0.0).", error.Message);
        Assert.Throws<LoopbackAdvertisedException>(() => NodeAddresses.ForWorker("0.0.0.0", "127.0.0.1", new HostPort("10.0.0.1", 8787), Machine()));
        // A center on this machine (loopback, or one of its addresses) may have loopback workers.
        Assert.Equal(new NodeAddress("127.0.0.1", "127.0.0.1"), NodeAddresses.ForWorker("127.0.0.1", null, new HostPort("127.0.0.1", 8787), Machine()));
        Assert.Equal(new NodeAddress("127.0.0.1", "127.0.0.1"), NodeAddresses.ForWorker("127.0.0.1", null, new HostPort("10.0.0.5", 8787), Machine()));
    }

    [Theory]
    [InlineData("9000", 9000, 9000)]
    [InlineData("9000-9099", 9000, 9099)]
    [InlineData(" 9000 - 9001 ", 9000, 9001)]
    public void A_port_range_is_a_port_or_first_dash_last(string text, int first, int last) =>
        Assert.Equal(new PortRange(first, last), PortRange.Parse(text, "--data-ports"));

    [Theory]
    [InlineData("9099-9000", "--data-ports 9099-9000 is a range that ends before it starts; expected FIRST-LAST with FIRST <= LAST.")]
    [InlineData("0-10", "--data-ports 0-10 is not a port or a range of ports; expected e.g. 9000 or 9000-9099, each a number from 1 to 65535.")]
    [InlineData("9000-", "--data-ports 9000- is not a port or a range of ports; expected e.g. 9000 or 9000-9099, each a number from 1 to 65535.")]
    [InlineData("a-b", "--data-ports a-b is not a port or a range of ports; expected e.g. 9000 or 9000-9099, each a number from 1 to 65535.")]
    public void A_bad_port_range_is_one_line(string text, string message) =>
        Assert.Equal(message, Assert.Throws<FormatException>(() => PortRange.Parse(text, "--data-ports")).Message);

    [Fact]
    public void An_association_step_carries_the_origin_both_ways()
    {
        var frame = CenterIdentity.AssociateFrame(secure: true, "10.231.7.1", 8787, 0x0123456789ABCDEF);

        Assert.Equal(frame.Length - 4, BitConverter.ToInt32(frame, 0));
        Assert.Equal(new HostPort("10.231.7.1", 8787), CenterIdentity.OriginOfAssociate(frame.AsSpan(4)));
        Assert.Null(CenterIdentity.OriginOfAssociate([0x12, 0x7F, 0x01])); // a field longer than the message
        Assert.Null(CenterIdentity.OriginOfAssociate([0x0A, 0x01, 0x00])); // a payload, not an instruction
    }

    [Fact]
    public async Task A_center_named_by_a_host_name_says_which_address_it_answers_to()
    {
        var port = LocalCluster.FreePort();
        var center = await CenterNode.StartAsync("127.0.0.1", port);
        try
        {
            var answersTo = await NetworkAddresses.CenterAnswersToAsync(new HostPort("localhost", port), TimeSpan.FromSeconds(10), CancellationToken.None);

            Assert.Equal(new HostPort("127.0.0.1", port), answersTo);
        }
        finally
        {
            await center.StopAsync();
        }
    }

    [Fact]
    public async Task A_center_reached_at_an_address_it_does_not_answer_to_is_one_line_naming_both()
    {
        // Bound to every address, advertised as 127.0.0.2 (loopback, so no credentials are needed), dialed at 127.0.0.1.
        var port = LocalCluster.FreePort();
        var center = await CenterNode.StartAsync("127.0.0.1", port, advertise: "127.0.0.2");
        try
        {
            var error = await Assert.ThrowsAsync<CenterElsewhereException>(() =>
                NetworkAddresses.ProbeCenterAnsweringAsync(new HostPort("127.0.0.1", port), TimeSpan.FromSeconds(10), CancellationToken.None));

            Assert.Equal($"The center reached at 127.0.0.1:{port} answers only to 127.0.0.2:{port} (its advertised address); name it 127.0.0.2:{port}, " +
                "or start the center with --advertise 127.0.0.1 if that is the address every node reaches it at.", error.Message);
        }
        finally
        {
            await center.StopAsync();
        }
    }

    [Fact]
    public async Task The_data_channel_takes_its_fixed_port_or_the_first_free_of_a_range_and_says_when_it_cannot()
    {
        using var held = new TcpListener(IPAddress.Loopback, 0);
        held.Start();
        var taken = ((IPEndPoint)held.LocalEndpoint).Port;
        var store = new DataStore();

        var error = Assert.Throws<PortInUseException>(() => new DataServer("127.0.0.1", store, new TransferCounters(), ports: new PortRange(taken, taken)));
        Assert.Equal($"Data port {taken} on 127.0.0.1 is already in use (is another worker running there?). Choose another with --data-port, or a range with --data-ports FIRST-LAST.", error.Message);

        // A range whose first port is taken: the next free one of it, named by the advertised address.
        await using (var server = new DataServer("127.0.0.1", store, new TransferCounters(), advertisedHost: "192.0.2.10", ports: new PortRange(taken, Math.Min(taken + 20, 65535))))
        {
            Assert.InRange(server.Endpoint.Port, taken + 1, taken + 20);
            Assert.Equal("192.0.2.10", server.Endpoint.Host); // advertised, not bound
        }

        Assert.Throws<AddressNotLocalException>(() => new DataServer("10.231.7.250", store, new TransferCounters(), ports: new PortRange(9000, 9999)));
    }
}
