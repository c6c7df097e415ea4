using System.CommandLine;
using Distributed.Data;
using Distributed.Protocol;
using Distributed.Protocol.Security;
using Distributed.Worker.Executor;
using Distributed.Protocol.Hosting;
using Distributed.Worker;

Distributed.Protocol.Hosting.StartTrace.Mark(args.Length > 0 && args[0] == ExecutorHost.Verb ? "executor main" : "dworker main");
// A worker starts its executors as copies of itself with this verb: user code runs there.
if (args.Length > 0 && args[0] == ExecutorHost.Verb) return ExecutorHost.Run(args[1..]);

var centerArgument = new Argument<string>("center") { Description = "Address of the center, host:port (e.g. 192.168.1.100:8787)." };
var hostOption = new Option<string?>("--host") { Description = "Address to listen on: one of this machine's, or 0.0.0.0 for all of them (default: the one that reaches the center)." };
var advertiseOption = new Option<string?>("--advertise")
{
    Description = "Address the center, the other workers and clients dial this worker at (default: the --host address; with --host 0.0.0.0, the one that reaches the center). Never a loopback address with a center on another machine.",
};
var dataPortOption = new Option<int?>("--data-port") { Description = "Port of the data channel, which other workers and clients fetch values from (default: any free port)." };
dataPortOption.Validators.Add(result =>
{
    if (result.GetValueOrDefault<int?>() is < 1 or > 65535)
        result.AddError($"--data-port {result.GetValueOrDefault<int?>()} is not a port; a port is a number from 1 to 65535.");
});
var dataPortsOption = new Option<string?>("--data-ports") { Description = "A range of ports for the data channel, FIRST-LAST (e.g. 9000-9099): the first free one is taken (for firewalls, with several workers on a machine)." };
var portOption = new Option<int?>("--port") { Description = "Port of the worker (default: 8788, or the next free port)." };
portOption.Validators.Add(result =>
{
    if (result.GetValueOrDefault<int?>() is < 1 or > 65535)
        result.AddError($"--port {result.GetValueOrDefault<int?>()} is not a port; a port is a number from 1 to 65535.");
});
var threadsOption = new Option<int?>("--nthreads") { Description = "Threads that run tasks (default: the number of cores)." };
var nameOption = new Option<string?>("--name") { Description = "Name of the worker (default: host:port)." };
var memoryLimitOption = new Option<string?>("--memory-limit")
{
    Description = $"Bytes of stored values to keep in memory, e.g. 2GB, 512MB, 64MiB; past it the least recently used spill to disk (default: {WorkerOptions.DefaultMemoryShare * 100:0}% of the machine's memory).",
};
var credentialsOption = new Option<string?>("--credentials")
{
    Description = $"Folder of the cluster's credentials (made by `dcenter credentials create DIR`; default: ${ClusterCredentials.EnvironmentVariable}). With them every connection is mutual TLS.",
};
var insecureOption = new Option<bool>("--insecure") { Description = "Run without credentials on a non-loopback address: plain TCP that anyone who reaches it can use to run code." };
var dataConnectionsOption = new Option<int?>("--data-connections")
{
    Description = $"Connections the data channel keeps open at once; past it a new peer takes the place of the least recently active idle one (default: {DataChannelSettings.Default.MaxConnections}).",
};
var resourcesOption = new Option<string?>("--resources")
{
    Description = "What this worker offers to tasks that ask for resources, NAME=AMOUNT[,NAME=AMOUNT...] (e.g. GPU=1,MEM=8e9): a task asking for GPU=1 runs here only while one is free.",
};
var waitForCenterOption = new Option<double?>("--wait-for-center")
{
    Description = "Seconds to keep trying a center that refuses the connection (one started at the same time, not listening yet) before giving up (default: 0, a refused center is an error at once).",
};
var root = new RootCommand("Starts a worker of a Distributed cluster: it keeps data in memory and runs tasks on it.")
{
    centerArgument, hostOption, advertiseOption, portOption, dataPortOption, dataPortsOption, threadsOption, nameOption, memoryLimitOption, credentialsOption, insecureOption, dataConnectionsOption, resourcesOption,
    waitForCenterOption,
};
var operations = new Distributed.Programs.OperationsOptions(root, Role.Worker);
// Supervised workers (issue 14): --nworkers N runs N workers as child processes and starts again one that dies.
var workersOption = new Option<int?>("--nworkers") { Description = "Run N workers as child processes of this one, each started again when it dies (with back-off); SIGTERM stops them all. --name and --port, when given, are numbered per worker." };
root.Options.Add(workersOption);
root.SetAction((parse, cancellation) =>
{
    // A supervisor of N workers (--nworkers) reads no credentials: each of its workers does.
    var readingCredentials = parse.GetValue(workersOption) is null
        ? ProgramRunner.StartReadingCredentials(parse.GetValue(credentialsOption))
        : Task.FromResult<ClusterCredentials?>(null);
    if (!operations.TryStart(parse)) return Task.FromResult(2);
    if (parse.GetValue(workersOption) is { } workers)
    {
        if (workers < 1)
        {
            Console.Error.WriteLine("error: --nworkers must be at least 1.");
            return Task.FromResult(2);
        }
        var port = parse.GetValue(portOption);
        var name = parse.GetValue(nameOption);
        var dataPort = parse.GetValue(dataPortOption);
        return Distributed.Programs.Worker.WorkerSupervisor.RunAsync(workers,
            i => [.. Distributed.Programs.Worker.SupervisedArguments.Without(args, "--nworkers", "--port", "--name", "--data-port"),
                  .. port is { } first ? new[] { "--port", (first + i - 1).ToString() } : [],
                  .. dataPort is { } firstData ? new[] { "--data-port", (firstData + i - 1).ToString() } : [],
                  .. name is { } given ? new[] { "--name", $"{given}-{i}" } : []],
            prefixErrors: parse.GetValue<string?>("--log-format") != "json");
    }
    HostPort center;
    try
    {
        center = HostPort.Parse(parse.GetValue(centerArgument)!, defaultPort: 8787);
    }
    catch (FormatException e)
    {
        Console.Error.WriteLine($"error: {e.Message}");
        return Task.FromResult(2);
    }
    var threads = parse.GetValue(threadsOption);
    if (threads is < 1)
    {
        Console.Error.WriteLine("error: --nthreads must be at least 1.");
        return Task.FromResult(2);
    }
    long? memoryLimit = null;
    if (parse.GetValue(memoryLimitOption) is { } limitText)
    {
        try
        {
            memoryLimit = ByteSize.Parse(limitText);
        }
        catch (FormatException e)
        {
            Console.Error.WriteLine($"error: --memory-limit {e.Message}");
            return Task.FromResult(2);
        }
    }
    var dataConnections = parse.GetValue(dataConnectionsOption);
    if (dataConnections is < 1)
    {
        Console.Error.WriteLine("error: --data-connections must be at least 1.");
        return Task.FromResult(2);
    }
    IReadOnlyDictionary<string, double>? resources = null;
    if (parse.GetValue(resourcesOption) is { } resourcesText)
    {
        try
        {
            resources = ResourceAmounts.Parse(resourcesText);
        }
        catch (FormatException e)
        {
            Console.Error.WriteLine($"error: --resources {e.Message}");
            return Task.FromResult(2);
        }
    }
    PortRange? dataPorts = null;
    try
    {
        if (parse.GetValue(dataPortOption) is { } fixedPort)
        {
            if (parse.GetValue(dataPortsOption) is not null) throw new FormatException("--data-port and --data-ports cannot both be given: one port, or a range.");
            dataPorts = new PortRange(fixedPort, fixedPort);
        }
        else if (parse.GetValue(dataPortsOption) is { } rangeText) dataPorts = PortRange.Parse(rangeText, "--data-ports");
    }
    catch (FormatException e)
    {
        Console.Error.WriteLine($"error: {e.Message}");
        return Task.FromResult(2);
    }
    var waitForCenter = parse.GetValue(waitForCenterOption) ?? 0;
    if (!double.IsFinite(waitForCenter) || waitForCenter is < 0 or > 86_400)
    {
        Console.Error.WriteLine("error: --wait-for-center must be a number of seconds from 0 to 86400.");
        return Task.FromResult(2);
    }
    if (!ProgramRunner.TryResolveCredentials(readingCredentials, out var credentials, out var credentialsChecked)) return Task.FromResult(2);
    var options = new WorkerOptions(center, parse.GetValue(hostOption), parse.GetValue(portOption), threads, parse.GetValue(nameOption), memoryLimit,
        credentials, parse.GetValue(insecureOption),
        dataConnections is { } cap ? DataChannelSettings.Default with { MaxConnections = cap } : null, resources,
        parse.GetValue(advertiseOption), dataPorts)
    {
        WaitForCenter = TimeSpan.FromSeconds(waitForCenter),
    };
    return ProgramRunner.RunAsync(
        start: token => WorkerNode.StartAsync(options, token),
        // A worker retired by a client's call leaves as one stopped by a signal does.
        whenEnded: node => Task.WhenAny(node.System.WhenTerminated, node.Retired),
        // SIGTERM: the values only this worker holds go to other workers first (graceful retirement).
        stop: async node =>
        {
            Distributed.Protocol.Hosting.StartTrace.Mark("worker: stop requested");
            if (!node.Retired.IsCompleted) await node.RetireAsync(RetirementLimit);
            Distributed.Protocol.Hosting.StartTrace.Mark("worker: retirement answered");
            await node.StopAsync();
            Distributed.Protocol.Hosting.StartTrace.Mark("worker: stopped");
        },
        endedForGood: node => node.Retired.IsCompleted,
        announce: node =>
        {
            Console.WriteLine($"Start worker at:            {node.Address}" + (node.AddressNote is { } how ? $" ({how})"
                : node.Bound != node.Address ? $" (listening on {node.Bound})" : ""));
            Console.WriteLine($"Data channel at:            {node.DataEndpoint.Host}:{node.DataEndpoint.Port}");
            Console.WriteLine($"Registered with center at:  {node.Center}");
            var limit = ByteSize.Format(node.MemoryLimit);
            Console.WriteLine(memoryLimit is null
                ? $"Memory limit:               {limit} (default: {WorkerOptions.DefaultMemoryShare * 100:0}% of {ByteSize.Format(WorkerOptions.MachineMemory)})"
                : $"Memory limit:               {limit}");
            if (resources is { Count: > 0 }) Console.WriteLine($"Resources:                  {ResourceAmounts.Format(resources)}");
        },
        // A worker whose center was lost (or that was downed while paused) joins again with its store:
        // a restarted center adopts the values; the center that downed it has them deleted, as it
        // made them again elsewhere.
        restart: node => token => WorkerNode.RejoinAsync(options with { Port = node.Address.Port }, node, token),
        credentialsChecked: credentialsChecked);
});
return await root.Parse(args).InvokeAsync();

internal static partial class Program
{
    /// <summary>
    /// How long a stopping worker waits for the center to answer its retirement before it stops anyway. The
    /// center's own limit (distributed.center.retirement-timeout, 20 s by default) ends a retirement sooner;
    /// this is for an answer that never comes. A supervised worker is killed sooner (the supervisor's grace).
    /// </summary>
    private static readonly TimeSpan RetirementLimit = TimeSpan.FromMinutes(5);
}
