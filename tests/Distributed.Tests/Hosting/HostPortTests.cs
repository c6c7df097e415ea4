using Distributed.Protocol;

namespace Distributed.Tests.Hosting;

public sealed class HostPortTests
{
    [Theory]
    [InlineData("127.0.0.1:8787", "127.0.0.1", 8787)]
    [InlineData("192.168.1.100:9000", "192.168.1.100", 9000)]
    [InlineData("localhost:1", "localhost", 1)]
    public void Valid_addresses_parse(string text, string host, int port) =>
        Assert.Equal(new HostPort(host, port), HostPort.Parse(text));

    [Fact]
    public void A_missing_port_takes_the_default_when_there_is_one() =>
        Assert.Equal(new HostPort("10.0.0.1", 8787), HostPort.Parse("10.0.0.1", defaultPort: 8787));

    [Theory]
    [InlineData("", "empty")]
    [InlineData("127.0.0.1", "no port")]
    [InlineData("127.0.0.1:99999", "invalid port")]
    [InlineData("127.0.0.1:abc", "invalid port")]
    [InlineData("akka.tcp://x@127.0.0.1:1", "scheme")]
    [InlineData("bad host:80", "invalid host")]
    public void Malformed_addresses_are_refused_with_the_reason(string text, string reason)
    {
        var error = Assert.Throws<FormatException>(() => HostPort.Parse(text));
        Assert.Contains(reason, error.Message);
    }
}
