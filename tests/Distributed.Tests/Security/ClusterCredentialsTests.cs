using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using Distributed.Protocol.Security;

namespace Distributed.Tests.Security;

public sealed class ClusterCredentialsTests : IDisposable
{
    private readonly string _folder = Path.Combine(Path.GetTempPath(), "credentials-test-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(_folder)) Directory.Delete(_folder, recursive: true);
    }

    [Fact]
    public void Created_credentials_load_back_and_are_readable_only_by_their_owner()
    {
        using (ClusterCredentials.Create(_folder)) { }
        using var loaded = ClusterCredentials.Load(_folder);
        Assert.True(loaded.Certificate.HasPrivateKey);
        Assert.True(loaded.IsMember(loaded.Certificate, out _));
        if (OperatingSystem.IsWindows()) return;
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(_folder));
        foreach (var file in Directory.GetFiles(_folder))
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(file));
    }

    [Fact]
    public void Creating_over_existing_credentials_is_refused()
    {
        using (ClusterCredentials.Create(_folder)) { }
        var error = Assert.Throws<CredentialsException>(() => ClusterCredentials.Create(_folder));
        Assert.Contains("already holds credentials", error.Message);
    }

    [Fact]
    public void A_missing_folder_names_the_command_that_creates_credentials()
    {
        var error = Assert.Throws<CredentialsException>(() => ClusterCredentials.Load(_folder));
        Assert.Contains("dcenter credentials create", error.Message);
    }

    [Fact]
    public void A_certificate_of_another_authority_is_not_a_member()
    {
        using var ours = ClusterCredentials.CreateInMemory();
        using var theirs = ClusterCredentials.CreateInMemory();
        Assert.False(ours.IsMember(theirs.Certificate, out var reason));
        Assert.Contains("does not chain to this cluster's authority", reason);
        Assert.False(ours.IsMember(null, out reason));
        Assert.Contains("no certificate", reason);
    }

    [Fact]
    public async Task Mutual_TLS_connects_members_and_refuses_another_cluster()
    {
        using var ours = ClusterCredentials.CreateInMemory();
        using var theirs = ClusterCredentials.CreateInMemory();
        Assert.True(await HandshakeAsync(server: ours, client: ours));
        Assert.False(await HandshakeAsync(server: ours, client: theirs));
        Assert.False(await HandshakeAsync(server: theirs, client: ours));
    }

    [Fact]
    public async Task Credentials_read_from_their_files_connect_members_with_the_key_as_read()
    {
        using (ClusterCredentials.Create(_folder)) { }
        using var server = ClusterCredentials.Load(_folder);
        using var client = ClusterCredentials.LoadUnchecked(_folder);
        using var stranger = ClusterCredentials.CreateInMemory();
        Assert.True(await HandshakeAsync(server, client));
        Assert.False(await HandshakeAsync(server, stranger));
    }

    [Fact]
    public void Files_of_two_clusters_in_one_folder_load_unchecked_and_fail_their_own_check()
    {
        using (ClusterCredentials.Create(_folder)) { }
        var other = _folder + "-other";
        try
        {
            using (ClusterCredentials.Create(other)) { }
            File.Copy(Path.Combine(other, ClusterCredentials.AuthorityFile), Path.Combine(_folder, ClusterCredentials.AuthorityFile), overwrite: true);

            var error = Assert.Throws<CredentialsException>(() => ClusterCredentials.Load(_folder));
            Assert.Contains("is not valid for its own authority", error.Message);
            using var loaded = ClusterCredentials.LoadUnchecked(_folder);
            error = Assert.Throws<CredentialsException>(loaded.CheckOwnCertificate);
            Assert.Contains(_folder, error.Message);
            Assert.Contains("does not chain to this cluster's authority", error.Message);
        }
        finally
        {
            Directory.Delete(other, recursive: true);
        }
    }

    private static async Task<bool> HandshakeAsync(ClusterCredentials server, ClusterCredentials client)
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        try
        {
            var port = ((IPEndPoint)listener.LocalEndpoint).Port;
            var accepting = Task.Run(async () =>
            {
                using var socket = await listener.AcceptTcpClientAsync();
                using var tls = new SslStream(socket.GetStream());
                try { await tls.AuthenticateAsServerAsync(server.ServerOptions()); return true; }
                catch (Exception e) when (e is IOException or System.Security.Authentication.AuthenticationException) { return false; }
            });
            using var tcp = new TcpClient();
            await tcp.ConnectAsync(IPAddress.Loopback, port);
            using var stream = new SslStream(tcp.GetStream());
            bool connected;
            try { await stream.AuthenticateAsClientAsync(client.ClientOptions("127.0.0.1")); connected = true; }
            catch (Exception e) when (e is IOException or System.Security.Authentication.AuthenticationException) { connected = false; }
            if (!connected) tcp.Close();
            var accepted = await accepting.WaitAsync(TimeSpan.FromSeconds(30));
            return connected && accepted;
        }
        finally
        {
            listener.Stop();
        }
    }
}
