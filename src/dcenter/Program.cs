using System.CommandLine;
using Distributed.Protocol;
using Distributed.Protocol.Security;
using Distributed.Center;
using Distributed.Center.Dashboard;
using Distributed.Protocol.Hosting;

Distributed.Protocol.Hosting.StartTrace.Mark("dcenter main");
var hostOption = new Option<string?>("--host") { Description = "Address to listen on: one of this machine's, or 0.0.0.0 for all of them (default: this machine's primary IPv4 address)." };
var advertiseOption = new Option<string?>("--advertise")
{
    Description = "Address workers and clients name the center by, the only one it answers to (default: the --host address; with --host 0.0.0.0, this machine's primary IPv4 address).",
};
var portOption = new Option<int>("--port") { Description = "Port of the center.", DefaultValueFactory = _ => 8787 };
portOption.Validators.Add(result =>
{
    if (result.GetValueOrDefault<int>() is < 1 or > 65535)
        result.AddError($"--port {result.GetValueOrDefault<int>()} is not a port; a port is a number from 1 to 65535.");
});
var credentialsOption = new Option<string?>("--credentials")
{
    Description = $"Folder of the cluster's credentials (made by `dcenter credentials create DIR`; default: ${ClusterCredentials.EnvironmentVariable}). With them every connection is mutual TLS.",
};
var dashboardPortOption = new Option<int?>("--dashboard-port")
{
    Description = $"Port of the web dashboard and /metrics, on the center's address (default: {DashboardSettings.DefaultPort}, or the next free one; 0: no dashboard).",
};
dashboardPortOption.Validators.Add(result =>
{
    if (result.GetValueOrDefault<int?>() is < 0 or > 65535)
        result.AddError($"--dashboard-port {result.GetValueOrDefault<int?>()} is not a port; a port is a number from 1 to 65535, or 0 for no dashboard.");
});
var insecureOption = new Option<bool>("--insecure") { Description = "Run without credentials on a non-loopback address: plain TCP that anyone who reaches it can use to run code." };
var root = new RootCommand("Starts the center of a Distributed cluster: it knows every worker and what data each holds, and places the tasks.")
{
    hostOption,
    advertiseOption,
    portOption,
    credentialsOption,
    insecureOption,
    dashboardPortOption,
};
var operations = new Distributed.Programs.OperationsOptions(root, Role.Center);
root.SetAction(async (parse, cancellation) =>
{
    var readingCredentials = ProgramRunner.StartReadingCredentials(parse.GetValue(credentialsOption));
    if (!operations.TryStart(parse)) return 2;
    var host = parse.GetValue(hostOption);
    var port = parse.GetValue(portOption);
    var dashboardPort = parse.GetValue(dashboardPortOption);
    var dashboard = new DashboardSettings(dashboardPort ?? DashboardSettings.DefaultPort, NextFreeIfTaken: dashboardPort is null);
    if (!ProgramRunner.TryResolveCredentials(readingCredentials, out var credentials, out var credentialsChecked)) return 2;
    return await ProgramRunner.RunAsync(
        start: token => CenterNode.StartAsync(host, port, credentials, parse.GetValue(insecureOption), token, dashboard, parse.GetValue(advertiseOption)),
        whenEnded: node => node.System.WhenTerminated,
        stop: node => node.StopAsync(),
        announce: node =>
        {
            // The address peers must use comes first; where it listens, when that differs, after it.
            Console.WriteLine($"Start center at {node.Address}" + (node.AddressNote is { } how ? $" ({how})"
                : node.Bound != node.Address ? $" (listening on {node.Bound})" : ""));
            if (node.Dashboard is { } shown) Console.WriteLine($"Dashboard at {shown.Url}" + (shown.Access.Note is { } note ? $" ({note})" : ""));
        },
        credentialsChecked: credentialsChecked);
});

// dcenter credentials create DIR: the one-time step before a cluster runs on a real network.
var directoryArgument = new Argument<string>("DIR") { Description = "The folder to create the credentials in (made private: 0700, its files 0600)." };
var create = new Command("create", "Creates a new cluster's credentials: its own certificate authority and the certificate every center, worker and client presents.")
{
    directoryArgument,
};
create.SetAction(parse =>
{
    var directory = Path.GetFullPath(parse.GetValue(directoryArgument)!);
    try
    {
        using var created = ClusterCredentials.Create(directory);
    }
    catch (Exception e) when (e is CredentialsException or IOException or UnauthorizedAccessException)
    {
        Console.Error.WriteLine($"error: {e.Message}");
        return 1;
    }
    Console.WriteLine($"Created the credentials of a new cluster in {directory}:");
    string File(string name) => Path.Combine(directory, name).PadRight(directory.Length + 13);
    Console.WriteLine($"  {File(ClusterCredentials.AuthorityFile)} the cluster's authority (its private key was discarded once it signed the member certificate)");
    Console.WriteLine($"  {File(ClusterCredentials.CertificateFile)} the certificate every center, worker and client presents");
    Console.WriteLine($"  {File(ClusterCredentials.KeyFile)} its private key (0600: whoever holds it can join the cluster and run code on it)");
    Console.WriteLine("Copy the folder, kept private, to every machine of the cluster, and pass it to every program:");
    Console.WriteLine($"  dcenter --credentials {directory}");
    Console.WriteLine($"  dworker CENTER:PORT --credentials {directory}");
    Console.WriteLine($"or set {ClusterCredentials.EnvironmentVariable}={directory} (read by dcenter, dworker and by Pool in client programs).");
    return 0;
});
// dcenter credentials token DIR: what a browser or a Prometheus scraper presents to a dashboard off loopback.
var tokenDirectoryArgument = new Argument<string>("DIR") { Description = "The cluster's credentials folder." };
var token = new Command("token", "Prints the dashboard token of the cluster (derived from its key): send it as 'Authorization: Bearer TOKEN', or open the dashboard at /?token=TOKEN once.")
{
    tokenDirectoryArgument,
};
token.SetAction(parse =>
{
    try
    {
        using var credentials = ClusterCredentials.Load(Path.GetFullPath(parse.GetValue(tokenDirectoryArgument)!));
        Console.WriteLine(DashboardAccess.TokenOf(credentials));
        return 0;
    }
    catch (CredentialsException e)
    {
        Console.Error.WriteLine($"error: {e.Message}");
        return 1;
    }
});
root.Subcommands.Add(new Command("credentials", "Manages the credentials that make every connection of the cluster mutual TLS.") { create, token });
return await root.Parse(args).InvokeAsync();
