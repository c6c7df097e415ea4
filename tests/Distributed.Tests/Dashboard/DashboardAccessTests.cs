using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography.X509Certificates;
using Akka.Actor;
using Distributed.Center.Dashboard;
using Distributed.Hosting;
using Distributed.Protocol.Security;

namespace Distributed.Tests.Dashboard;

/// <summary>Who may see the dashboard: the policy by address, and a real HTTPS dashboard that refuses an anonymous request.</summary>
public sealed class DashboardAccessTests
{
    [Fact]
    public void On_loopback_the_dashboard_is_plain_HTTP_for_anyone_on_this_machine()
    {
        var access = DashboardAccess.For("127.0.0.1", credentials: null);

        Assert.Equal(new DashboardAccess("127.0.0.1", Https: false, RequiresCredentials: false), access);
        Assert.True(access.Allows(null, null, null, null, null));
    }

    [Fact]
    public void Off_loopback_with_credentials_it_is_HTTPS_and_refuses_anyone_without_them()
    {
        using var credentials = ClusterCredentials.CreateInMemory();
        using var stranger = ClusterCredentials.CreateInMemory();
        var access = DashboardAccess.For("192.0.2.10", credentials);

        Assert.Equal(new DashboardAccess("192.0.2.10", Https: true, RequiresCredentials: true), access);
        Assert.False(access.Allows(credentials, null, null, null, null), "an anonymous request");
        Assert.False(access.Allows(credentials, stranger.Certificate, null, null, null), "another cluster's certificate");
        Assert.False(access.Allows(credentials, null, $"Bearer {DashboardAccess.TokenOf(stranger)}", null, null), "another cluster's token");
        Assert.False(access.Allows(credentials, null, "Bearer ", null, null), "an empty token");
        Assert.True(access.Allows(credentials, credentials.Certificate, null, null, null), "the cluster's certificate");
        Assert.True(access.Allows(credentials, null, $"Bearer {DashboardAccess.TokenOf(credentials)}", null, null), "the token as a bearer");
        Assert.True(access.Allows(credentials, null, null, DashboardAccess.TokenOf(credentials), null), "the token as a cookie");
        Assert.True(access.Allows(credentials, null, null, null, DashboardAccess.TokenOf(credentials)), "the token in the query");
    }

    [Fact]
    public void Off_loopback_without_credentials_it_listens_on_loopback_only_and_says_why()
    {
        var access = DashboardAccess.For("192.0.2.10", credentials: null);

        Assert.Equal("127.0.0.1", access.BindHost);
        Assert.False(access.Https);
        Assert.Contains("--insecure", access.Note);
    }

    [Fact]
    public void The_token_is_the_same_for_every_holder_of_the_credentials_and_differs_between_clusters()
    {
        var folder = Directory.CreateTempSubdirectory("distributed-dashboard-token-").FullName;
        try
        {
            using var created = ClusterCredentials.Create(Path.Combine(folder, "cluster"));
            using var loaded = ClusterCredentials.Load(Path.Combine(folder, "cluster"));
            using var other = ClusterCredentials.CreateInMemory();

            Assert.Equal(DashboardAccess.TokenOf(created), DashboardAccess.TokenOf(loaded));
            Assert.NotEqual(DashboardAccess.TokenOf(created), DashboardAccess.TokenOf(other));
            Assert.Matches("^[0-9a-f]{64}$", DashboardAccess.TokenOf(created));
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    [Fact]
    public async Task A_dashboard_that_requires_credentials_refuses_an_anonymous_request_and_answers_the_cluster()
    {
        using var credentials = ClusterCredentials.CreateInMemory();
        using var stranger = ClusterCredentials.CreateInMemory();
        using var system = ActorSystem.Create("dashboard-access");
        await using var dashboard = await DashboardServer.StartAsync(system, "127.0.0.1", credentials,
            new DashboardSettings(LocalCluster.FreePort(), RequireCredentials: true));
        Assert.StartsWith("https://127.0.0.1:", dashboard.Url, StringComparison.Ordinal);

        using var anonymous = Client(credentials, clientCertificate: null);
        var refused = await anonymous.GetAsync(new Uri(dashboard.Url + "api/events"));
        Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
        Assert.Contains("credentials", await refused.Content.ReadAsStringAsync());
        Assert.Equal(HttpStatusCode.Unauthorized, (await anonymous.GetAsync(new Uri(dashboard.Url + "metrics"))).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await anonymous.GetAsync(new Uri(dashboard.Url))).StatusCode);

        using var foreign = Client(credentials, stranger.Certificate);
        Assert.Equal(HttpStatusCode.Unauthorized, (await foreign.GetAsync(new Uri(dashboard.Url + "api/events"))).StatusCode);

        using var member = Client(credentials, credentials.Certificate);
        Assert.Equal(HttpStatusCode.OK, (await member.GetAsync(new Uri(dashboard.Url + "api/events"))).StatusCode);

        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(dashboard.Url + "api/events"));
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", DashboardAccess.TokenOf(credentials));
        Assert.Equal(HttpStatusCode.OK, (await anonymous.SendAsync(request)).StatusCode);

        // A browser opens /?token=… once: it gets the token as a cookie and the address without it.
        var opened = await anonymous.GetAsync(new Uri(dashboard.Url + "?token=" + DashboardAccess.TokenOf(credentials)));
        Assert.Equal(HttpStatusCode.Redirect, opened.StatusCode);
        Assert.Contains(opened.Headers.GetValues("Set-Cookie"), c => c.StartsWith(DashboardAccess.Cookie + "=", StringComparison.Ordinal) && c.Contains("httponly", StringComparison.OrdinalIgnoreCase));

        // Plain HTTP on its port gets no page.
        using var plain = new HttpClient();
        await Assert.ThrowsAnyAsync<HttpRequestException>(() => plain.GetAsync(new Uri(dashboard.Url.Replace("https://", "http://", StringComparison.Ordinal) + "api/events")));
    }

    [Fact]
    public async Task A_taken_port_is_an_error_when_asked_for_and_the_next_free_one_by_default()
    {
        using var system = ActorSystem.Create("dashboard-ports");
        var port = LocalCluster.FreePort();
        var held = new System.Net.Sockets.TcpListener(IPAddress.Loopback, port);
        held.Start();
        try
        {
            await Assert.ThrowsAsync<Protocol.Hosting.PortInUseException>(() => DashboardServer.StartAsync(system, "127.0.0.1", null, new DashboardSettings(port)));

            await using var moved = await DashboardServer.StartAsync(system, "127.0.0.1", null, new DashboardSettings(port, NextFreeIfTaken: true));
            var url = new Uri(moved.Url);
            Assert.NotEqual(port, url.Port);
            using var http = new HttpClient();
            Assert.Equal(HttpStatusCode.OK, (await http.GetAsync(new Uri(url, "api/events"))).StatusCode);
        }
        finally
        {
            held.Stop();
        }
    }

    /// <summary>A client that trusts the cluster's certificate only, presenting <paramref name="clientCertificate"/> if given.</summary>
    private static HttpClient Client(ClusterCredentials cluster, X509Certificate2? clientCertificate)
    {
        var handler = new HttpClientHandler
        {
            AllowAutoRedirect = false,
            UseCookies = false,
            ServerCertificateCustomValidationCallback = (_, certificate, _, _) => cluster.IsMember(certificate, out _),
        };
        if (clientCertificate is not null)
        {
            handler.ClientCertificateOptions = ClientCertificateOption.Manual;
            handler.ClientCertificates.Add(clientCertificate);
        }
        return new HttpClient(handler) { Timeout = TimeSpan.FromSeconds(30) };
    }
}
