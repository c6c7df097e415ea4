using Distributed.Protocol.Security;
using static Distributed.Tests.Programs.ProgramProcesses;

namespace Distributed.Tests.Security;

/// <summary><c>dcenter credentials create DIR</c>, run as the real program.</summary>
[ProcessTier]
public sealed class CredentialsCommandTests : IDisposable
{
    private readonly string _parent = Directory.CreateTempSubdirectory("distributed-credentials-command-").FullName;

    private string Folder => Path.Combine(_parent, "cluster");

    public void Dispose() => Directory.Delete(_parent, recursive: true);

    [Fact]
    public async Task Credentials_create_writes_private_files_and_says_how_to_pass_them()
    {
        var run = await RunToExitAsync("dcenter", TimeSpan.FromSeconds(60), "credentials", "create", Folder);

        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Equal("", run.StandardError);
        foreach (var file in new[] { ClusterCredentials.AuthorityFile, ClusterCredentials.CertificateFile, ClusterCredentials.KeyFile })
        {
            var path = Path.Combine(Folder, file);
            Assert.True(File.Exists(path), $"{path} was not written. {run}");
            Assert.Contains(path, run.StandardOutput);
            if (!OperatingSystem.IsWindows()) Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(path));
        }
        if (!OperatingSystem.IsWindows()) Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(Folder));
        Assert.Contains($"--credentials {Folder}", run.StandardOutput);
        Assert.Contains($"{ClusterCredentials.EnvironmentVariable}={Folder}", run.StandardOutput);
        using var loaded = ClusterCredentials.Load(Folder);
        Assert.True(loaded.IsMember(loaded.Certificate, out var reason), reason);
    }

    [Fact]
    public async Task Credentials_create_refuses_a_folder_that_already_holds_credentials_with_one_line()
    {
        using (ClusterCredentials.Create(Folder)) { }
        var before = File.ReadAllText(Path.Combine(Folder, ClusterCredentials.KeyFile));

        var run = await RunToExitAsync("dcenter", TimeSpan.FromSeconds(60), "credentials", "create", Folder);

        Assert.True(run.ExitCode != 0, run.ToString());
        var error = Assert.Single(run.StandardError.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Contains("already holds credentials", error);
        Assert.Equal(before, File.ReadAllText(Path.Combine(Folder, ClusterCredentials.KeyFile)));
    }
}
