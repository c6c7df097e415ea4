using Distributed.Hosting;
using Distributed.Tests.Programs;
using static Distributed.Tests.Programs.ProgramProcesses;

namespace Distributed.Tests.Security;

/// <summary>
/// dcenter and dworker without credentials: refused off loopback (before anything is bound) unless
/// told --insecure, which they then say. Nothing is bound before the refusal, and the worker's
/// center is a free port on 127.0.0.1.
/// </summary>
[ProcessTier]
public sealed class InsecureAddressTests
{
    public static TheoryData<string> Programs => new() { "dcenter", "dworker" };

    private static string[] Arguments(string program, params string[] more) =>
        program == "dworker" ? [$"127.0.0.1:{LocalCluster.FreePort()}", "--nthreads", "1", .. more] : [.. more];

    [Theory]
    [MemberData(nameof(Programs))]
    public async Task A_node_without_credentials_refuses_a_non_loopback_address_in_one_line(string program)
    {
        // Every address of the machine (an address not on it is refused earlier, as not the machine's).
        var run = await RunToExitAsync(program, TimeSpan.FromSeconds(60), Arguments(program, "--host", "0.0.0.0", "--port", LocalCluster.FreePort().ToString()));

        Assert.True(run.ExitCode != 0, run.ToString());
        var error = Assert.Single(run.StandardError.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith("error: refusing to listen on 0.0.0.0", error);
        Assert.Contains("dcenter credentials create DIR", error);
        Assert.Contains("--credentials DIR", error);
        Assert.Contains("--insecure", error);
        Assert.Equal("", run.StandardOutput);
    }

    [Theory]
    [MemberData(nameof(Programs))]
    public async Task A_bad_credentials_folder_is_one_line_and_an_error_exit(string program)
    {
        var missing = Path.Combine(Path.GetTempPath(), "no-such-credentials-" + Guid.NewGuid().ToString("N"));

        var run = await RunToExitAsync(program, TimeSpan.FromSeconds(60), Arguments(program, "--host", "127.0.0.1", "--credentials", missing));

        Assert.True(run.ExitCode != 0, run.ToString());
        var error = Assert.Single(run.StandardError.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Contains(missing, error);
        Assert.Contains("dcenter credentials create", error);
    }

    /// <summary>
    /// The programs check their own certificate beside their start rather than before it: a center that
    /// has started, and a worker whose start failed on it, still end with the credentials' error, and
    /// neither is announced.
    /// </summary>
    [Theory]
    [MemberData(nameof(Programs))]
    public async Task Credentials_of_two_clusters_in_one_folder_are_one_line_and_an_error_exit(string program)
    {
        var parent = Directory.CreateTempSubdirectory("distributed-mixed-credentials-").FullName;
        try
        {
            var mixed = Path.Combine(parent, "mixed");
            using (Protocol.Security.ClusterCredentials.Create(mixed)) { }
            using (Protocol.Security.ClusterCredentials.Create(Path.Combine(parent, "other"))) { }
            var authority = Protocol.Security.ClusterCredentials.AuthorityFile;
            File.Copy(Path.Combine(parent, "other", authority), Path.Combine(mixed, authority), overwrite: true);

            var run = await RunToExitAsync(program, TimeSpan.FromSeconds(60),
                Arguments(program, "--host", "127.0.0.1", "--port", LocalCluster.FreePort().ToString(), "--credentials", mixed));

            Assert.True(run.ExitCode != 0, run.ToString());
            // The worker's node may log its failed dial of the (absent) center before the error.
            var errors = run.StandardError.Split('\n', StringSplitOptions.RemoveEmptyEntries);
            Assert.StartsWith("error: The member certificate in " + mixed + " is not valid for its own authority", errors[^1]);
            Assert.Single(errors, l => l.StartsWith("error:", StringComparison.Ordinal));
            Assert.Equal("", run.StandardOutput);
        }
        finally
        {
            Directory.Delete(parent, recursive: true);
        }
    }

    [Fact]
    public async Task Insecure_nodes_say_so_in_one_warning_line_at_start()
    {
        await using var processes = new ProgramProcesses();
        var port = LocalCluster.FreePort();

        var center = processes.Start("dcenter", "--host", "127.0.0.1", "--port", port.ToString(), "--insecure");
        await center.WaitForLineAsync(l => l.StartsWith("Start center at", StringComparison.Ordinal), TimeSpan.FromSeconds(60));
        var worker = await processes.StartWorkerAsync($"127.0.0.1:{port}", "--insecure");

        foreach (var node in new[] { center, worker })
        {
            var warning = Assert.Single(node.Output, l => l.StartsWith("warning:", StringComparison.Ordinal));
            Assert.Contains("--insecure", warning);
            Assert.Contains("127.0.0.1", warning);
            Assert.Contains("without credentials", warning);
        }
    }
}
