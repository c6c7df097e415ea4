using Distributed.Hosting;
using Distributed.Tests.Programs;
using static Distributed.Tests.Programs.ProgramProcesses;

namespace Distributed.Tests.Network;

/// <summary>
/// Issue 16 with the real programs on this machine: the one-line errors, compared as text (an address that
/// is not this machine's, a name that does not resolve, a data port in use), and a worker that names the
/// center by a host name (<c>localhost</c>, which this machine resolves to the center's 127.0.0.1) with a
/// fixed data port. Across hosts: <see cref="NamedCenterAcrossHostsTests"/>.
/// </summary>
[ProcessTier]
public sealed class AddressProgramTests
{
    /// <summary>In the test network's subnet, never an address of this machine's own namespace.</summary>
    private const string ForeignAddress = NamespaceNetwork.Subnet + ".250";

    private static readonly TimeSpan Slow = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task Dcenter_on_an_address_not_on_this_machine_says_so_in_one_line()
    {
        var run = await RunToExitAsync("dcenter", Slow, "--host", ForeignAddress, "--port", LocalCluster.FreePort().ToString(), "--insecure");

        AssertOneErrorLine(run, $"error: {ForeignAddress} is not an address of this machine (its addresses: ",
            "); give one of them to --host, or 0.0.0.0 to listen on all of them.");
    }

    [Fact]
    public async Task Dworker_on_an_address_not_on_this_machine_says_so_at_once_instead_of_trying_a_thousand_ports()
    {
        var run = await RunToExitAsync("dworker", Slow, $"127.0.0.1:{LocalCluster.FreePort()}", "--host", ForeignAddress, "--insecure");

        AssertOneErrorLine(run, $"error: {ForeignAddress} is not an address of this machine (its addresses: ",
            "); give one of them to --host, or 0.0.0.0 to listen on all of them.");
    }

    [Fact]
    public async Task Dworker_naming_a_center_that_does_not_resolve_says_so_in_one_line()
    {
        var run = await RunToExitAsync("dworker", Slow, "no-such-center.invalid:8787");

        AssertOneErrorLine(run, "error: The name 'no-such-center.invalid' (the center's address) does not resolve to an IPv4 address: ",
            ". Check the name, or give an address.");
    }

    [Fact]
    public async Task A_worker_naming_the_center_by_a_host_name_registers_and_its_fixed_data_port_serves_and_a_second_is_refused()
    {
        await using var processes = new ProgramProcesses();
        var (_, address) = await processes.StartCenterAsync();
        var port = address[(address.LastIndexOf(':') + 1)..];
        var dataPort = LocalCluster.FreePort();

        var worker = await processes.StartWorkerAsync($"localhost:{port}", "--port", LocalCluster.FreePort().ToString(), "--data-port", dataPort.ToString());

        Assert.Contains($"Registered with center at:  127.0.0.1:{port}", worker.Output);
        Assert.Contains($"Data channel at:            127.0.0.1:{dataPort}", worker.Output);
        Assert.True(await AcceptsConnectionsAsync(dataPort), $"the worker announced its data channel at port {dataPort}, but nothing accepts connections there.");

        var second = await RunToExitAsync("dworker", Slow, $"localhost:{port}", "--host", "127.0.0.1", "--nthreads", "1",
            "--port", LocalCluster.FreePort().ToString(), "--data-port", dataPort.ToString());
        AssertOneErrorLine(second, $"error: Data port {dataPort} on 127.0.0.1 is already in use (is another worker running there?). Choose another with --data-port, or a range with --data-ports FIRST-LAST.", "");
    }

    private static void AssertOneErrorLine(ProgramRun run, string start, string end)
    {
        Assert.True(run.ExitCode != 0, run.ToString());
        var error = Assert.Single(run.StandardError.Split('\n', StringSplitOptions.RemoveEmptyEntries), l => !l.StartsWith("warning: --insecure", StringComparison.Ordinal));
        Assert.StartsWith(start, error);
        Assert.EndsWith(end, error);
        AssertNoStackTrace(run.Lines, run.CommandLine);
        // At once: the process starts, checks and ends, with no scan and no wait for a center.
        Assert.True(run.Elapsed < TimeSpan.FromSeconds(15), $"it took {run.Elapsed.TotalSeconds:0.0} s. {run}");
    }
}
