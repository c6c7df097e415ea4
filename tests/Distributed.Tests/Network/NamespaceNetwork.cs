using System.Diagnostics;
using Distributed.Protocol.Security;

namespace Distributed.Tests.Network;

/// <summary>
/// A private network of Linux network namespaces, one per node, for tests that prove the cluster across
/// hosts: each node namespace has loopback and one veth link to a bridge in a hub namespace of its own,
/// with an address in <see cref="Subnet"/>.0/24. Nothing is added to the host's own namespace, and no
/// address outside the subnet is ever used. Names carry this process's id and a run number, so runs do
/// not collide, and namespaces left by a process that no longer exists are removed at the next run.
/// Dispose deletes every namespace it made (with their links).
/// </summary>
internal sealed class NamespaceNetwork : IDisposable
{
    /// <summary>The first three octets of every address of the network.</summary>
    public const string Subnet = "10.231.7";

    private const string Prefix = "distnet-";
    private static int _runs;

    private readonly string _run;
    private readonly List<string> _namespaces = [];
    private readonly Dictionary<string, string> _addresses = [];

    private NamespaceNetwork(string run) => _run = run;

    /// <summary>Why namespaces cannot be made here (not Linux, not root, no <c>ip</c>), or null when they can be tried.</summary>
    public static string? WhyUnavailable()
    {
        if (!OperatingSystem.IsLinux()) return "network namespaces need Linux";
        if (UnixIdentity.EffectiveUserId() != 0) return "creating network namespaces needs root (CI runs as root)";
        if (IpCommand() is null) return "the ip command (Debian package iproute2) is not installed";
        return null;
    }

    /// <summary>Creates the hub and one namespace per name in <paramref name="nodes"/>, addressed .1, .2, … in that order.</summary>
    public static NamespaceNetwork Create(params string[] nodes)
    {
        RemoveLeftovers();
        var network = new NamespaceNetwork($"{Prefix}{Environment.ProcessId}-{Interlocked.Increment(ref _runs)}");
        try
        {
            network.Build(nodes);
            return network;
        }
        catch
        {
            network.Dispose();
            throw;
        }
    }

    /// <summary>The address of <paramref name="node"/> on this network.</summary>
    public string Address(string node) => _addresses[node];

    /// <summary>The namespace of <paramref name="node"/>.</summary>
    public string Namespace(string node) => $"{_run}-{node}";

    /// <summary>The command prefix that runs a program inside <paramref name="node"/>'s namespace (<c>ip</c> execs it: the process id is the program's).</summary>
    public IReadOnlyList<string> Exec(string node) => [IpCommand()!, "netns", "exec", Namespace(node)];

    /// <summary>Why <see cref="DropInboundConnections"/> cannot work here (no <c>nft</c>, Debian package nftables), or null.</summary>
    public static string? WhyNoFirewall() =>
        FindCommand("nft") is null ? "the nft command (Debian package nftables) is not installed" : null;

    /// <summary>
    /// Firewalls <paramref name="node"/> as a laptop behind NAT is: every new TCP connection that arrives on its
    /// network link is dropped without an answer (a SYN without ACK), while the connections it opens work.
    /// </summary>
    public void DropInboundConnections(string node)
    {
        var rules = Path.Combine(Path.GetTempPath(), $"{Namespace(node)}.nft");
        File.WriteAllText(rules, """
            table inet inbound-firewall {
              chain input {
                type filter hook input priority 0; policy accept;
                iifname "eth0" tcp flags & (syn | ack) == syn counter drop
              }
            }
            """);
        try { Ip("netns", "exec", Namespace(node), FindCommand("nft")!, "-f", rules); }
        finally { File.Delete(rules); }
    }

    /// <summary>How many new connections the firewall of <see cref="DropInboundConnections"/> dropped on <paramref name="node"/> so far.</summary>
    public long DroppedInboundConnections(string node)
    {
        var (exit, output, error) = Run("netns", "exec", Namespace(node), FindCommand("nft")!, "list", "chain", "inet", "inbound-firewall", "input");
        if (exit != 0) throw new InvalidOperationException($"nft list chain failed with exit code {exit}: {error.Trim()}");
        var words = output.Split([' ', '\t', '\n'], StringSplitOptions.RemoveEmptyEntries);
        return long.Parse(words[Array.IndexOf(words, "packets") + 1], System.Globalization.CultureInfo.InvariantCulture);
    }

    /// <summary>
    /// What a TCP connection from <paramref name="fromNode"/> to <paramref name="host"/>:<paramref name="port"/> meets
    /// within 3 s: "accepted", "refused" (the kernel answered), or "no answer" (dropped).
    /// </summary>
    public string TryConnect(string fromNode, string host, int port)
    {
        var (exit, _, _) = Run("netns", "exec", Namespace(fromNode), "timeout", "3", "bash", "-c", $"exec 3<>/dev/tcp/{host}/{port}");
        return exit switch { 0 => "accepted", 124 => "no answer", _ => "refused" };
    }

    private void Build(string[] nodes)
    {
        var hub = Namespace("hub");
        AddNamespace(hub);
        Ip("-n", hub, "link", "add", "bridge", "type", "bridge");
        Ip("-n", hub, "link", "set", "bridge", "up");
        for (var i = 0; i < nodes.Length; i++)
        {
            var node = nodes[i];
            var name = Namespace(node);
            AddNamespace(name);
            Ip("-n", name, "link", "set", "lo", "up");
            // One end stays in the hub, on the bridge; the other becomes the node's eth0.
            var hubEnd = $"to-{i}";
            Ip("-n", hub, "link", "add", hubEnd, "type", "veth", "peer", "name", "eth0", "netns", name);
            Ip("-n", hub, "link", "set", hubEnd, "master", "bridge");
            Ip("-n", hub, "link", "set", hubEnd, "up");
            var address = $"{Subnet}.{i + 1}";
            Ip("-n", name, "addr", "add", $"{address}/24", "dev", "eth0");
            Ip("-n", name, "link", "set", "eth0", "up");
            _addresses[node] = address;
        }
    }

    private void AddNamespace(string name)
    {
        Ip("netns", "add", name);
        _namespaces.Add(name);
    }

    /// <summary>Where <c>ip netns exec</c> finds a namespace's own configuration files: it bind-mounts each over its namesake in /etc.</summary>
    private const string EtcNetns = "/etc/netns";

    /// <summary>
    /// Makes <paramref name="name"/> resolve to <paramref name="node"/>'s address inside every node's namespace,
    /// as a hosts file would on a real network: a <c>hosts</c> file in /etc/netns/NAMESPACE, which <c>ip netns exec</c>
    /// mounts over /etc/hosts for the program it runs (the host's own /etc/hosts is untouched). Removed by Dispose.
    /// </summary>
    public void AddHostName(string name, string node)
    {
        foreach (var each in _addresses.Keys)
        {
            var folder = Path.Combine(EtcNetns, Namespace(each));
            Directory.CreateDirectory(folder);
            File.AppendAllText(Path.Combine(folder, "hosts"), $"127.0.0.1 localhost\n{Address(node)} {name}\n");
        }
    }

    /// <summary>Deletes the namespaces (their veth links go with them); processes still inside must be stopped first.</summary>
    public void Dispose()
    {
        foreach (var node in _addresses.Keys) RemoveEtcFolder(Namespace(node));
        foreach (var name in Enumerable.Reverse(_namespaces)) TryIp("netns", "delete", name);
        _namespaces.Clear();
    }

    /// <summary>Namespaces of this kind whose creating process is gone (a test run that was killed).</summary>
    private static void RemoveLeftovers()
    {
        var (exit, output, _) = Run("netns", "list");
        if (exit != 0) return;
        foreach (var line in output.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            var name = line.Split(' ')[0];
            if (!name.StartsWith(Prefix, StringComparison.Ordinal)) continue;
            var pid = name[Prefix.Length..].Split('-')[0];
            if (int.TryParse(pid, out var id) && id != Environment.ProcessId && !Directory.Exists($"/proc/{id}")) TryIp("netns", "delete", name);
        }
        if (!Directory.Exists(EtcNetns)) return;
        foreach (var folder in Directory.GetDirectories(EtcNetns, Prefix + "*"))
        {
            var pid = Path.GetFileName(folder)[Prefix.Length..].Split('-')[0];
            if (int.TryParse(pid, out var id) && id != Environment.ProcessId && !Directory.Exists($"/proc/{id}")) RemoveEtcFolder(Path.GetFileName(folder));
        }
    }

    private static void RemoveEtcFolder(string name)
    {
        try
        {
            var folder = Path.Combine(EtcNetns, name);
            if (Directory.Exists(folder)) Directory.Delete(folder, recursive: true);
        }
        catch (IOException) { }
    }

    private static void Ip(params string[] arguments)
    {
        var (exit, output, error) = Run(arguments);
        if (exit != 0) throw new InvalidOperationException($"`ip {string.Join(' ', arguments)}` failed with exit code {exit}: {error.Trim()} {output.Trim()}");
    }

    private static void TryIp(params string[] arguments) => Run(arguments);

    private static (int Exit, string Output, string Error) Run(params string[] arguments)
    {
        Protocol.ChildProcessSwitch.ThrowIfForbidden("ip");
        var info = new ProcessStartInfo(IpCommand() ?? "ip") { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var argument in arguments) info.ArgumentList.Add(argument);
        using var process = Process.Start(info)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(TimeSpan.FromSeconds(30)))
        {
            process.Kill();
            return (-1, "", $"ip {string.Join(' ', arguments)} did not finish within 30 s");
        }
        return (process.ExitCode, output.Result, error.Result);
    }

    private static string? IpCommand() => FindCommand("ip");

    private static string? FindCommand(string name)
    {
        var path = Environment.GetEnvironmentVariable("PATH") ?? "";
        return path.Split(':', StringSplitOptions.RemoveEmptyEntries).Concat(["/usr/sbin", "/sbin", "/usr/bin", "/bin"])
            .Select(d => Path.Combine(d, name)).FirstOrDefault(File.Exists);
    }
}
