using System.CommandLine;
using Distributed.Hosting;

var hostOption = new Option<string?>("--host") { Description = "Address to bind and advertise (default: this machine's primary IPv4 address)." };
var portOption = new Option<int>("--port") { Description = "Port of the center.", DefaultValueFactory = _ => 8787 };
portOption.Validators.Add(result =>
{
    if (result.GetValueOrDefault<int>() is < 1 or > 65535)
        result.AddError($"--port {result.GetValueOrDefault<int>()} is not a port; a port is a number from 1 to 65535.");
});
var root = new RootCommand("Starts the center of a Distributed cluster: it knows every worker and what data each holds, and places the tasks.")
{
    hostOption,
    portOption,
};
root.SetAction((parse, cancellation) =>
{
    var host = parse.GetValue(hostOption) ?? NetworkAddresses.PrimaryIPv4();
    var port = parse.GetValue(portOption);
    return ProgramRunner.RunAsync(
        start: token => CenterNode.StartAsync(host, port, token),
        whenEnded: node => node.System.WhenTerminated,
        stop: node => node.StopAsync(),
        announce: node => Console.WriteLine($"Start center at {node.Address}"));
});
return await root.Parse(args).InvokeAsync();
