// Usage:
//   Distributed.NetworkProbe client CENTER [--once]
//   Distributed.NetworkProbe attack MODE --center HOST:PORT --akka HOST:PORT,... --data HOST:PORT,... --keys K,... [--credentials DIR]
//
// The programs the network-namespace tests start inside namespaces of their own, so that the client and
// the attacker reach the cluster over a real network path (veth pairs and a bridge), not over loopback.
// `client` presents the credentials named by DISTRIBUTED_CREDENTIALS (none when unset); see ClientProbe.
// `attack` tries to use the cluster without being a member; see AttackProbe. Both print one fact per line
// for the tests to read.
using Distributed.NetworkProbe;

return args switch
{
    ["client", var center, .. var rest] => await ClientProbe.RunAsync(center, once: rest.Contains("--once")),
    ["attack", var mode, .. var rest] => await AttackProbe.RunAsync(mode, Options(rest)),
    _ => Usage(),
};

static Dictionary<string, string> Options(string[] arguments)
{
    var options = new Dictionary<string, string>();
    for (var i = 0; i + 1 < arguments.Length; i += 2) options[arguments[i].TrimStart('-')] = arguments[i + 1];
    return options;
}

static int Usage()
{
    Console.Error.WriteLine("usage: Distributed.NetworkProbe client CENTER [--once]");
    Console.Error.WriteLine("       Distributed.NetworkProbe attack none|other-ca|plain --center HOST:PORT --akka HOST:PORT,... --data HOST:PORT,... --keys K,... [--credentials DIR]");
    return 2;
}
