using Akka.Actor;
using Akka.Cluster;
using Akka.Cluster.Tools.Singleton;
using Distributed.Protocol;
using Distributed.Protocol.Security;
using Distributed.Protocol.Hosting;

namespace Distributed.Center;

/// <summary>A running center: the cluster's seed node with the <see cref="CenterActor"/> singleton.</summary>
public sealed class CenterNode
{
    private CenterNode(ActorSystem system, HostPort address)
    {
        System = system;
        Address = address;
    }

    /// <summary>The actor system of the center.</summary>
    public ActorSystem System { get; }

    /// <summary>Where the center accepts connections.</summary>
    public HostPort Address { get; }

    /// <summary>
    /// Starts a center on <paramref name="host"/>:<paramref name="port"/>, returning once it accepts members.
    /// With <paramref name="credentials"/> every connection is mutual TLS; without, a non-loopback
    /// <paramref name="host"/> is refused before anything is bound (<see cref="InsecureAddressException"/>)
    /// unless <paramref name="insecure"/>, which prints a warning instead.
    /// </summary>
    public static async Task<CenterNode> StartAsync(string host, int port, ClusterCredentials? credentials = null, bool insecure = false, CancellationToken cancellation = default)
    {
        if (NodeSecurity.Check(host, credentials, insecure) is { } warning) Console.Error.WriteLine($"warning: {warning}");
        if (!NetworkAddresses.IsPortFree(host, port))
            throw new PortInUseException(host, port);
        var address = new HostPort(host, port);
        CenterConfig.Read(ClusterConfig.For(Role.Center, host, port, address)); // a bad setting stops dcenter with one line, not the singleton
        Distributed.Protocol.Hosting.StartTrace.Mark("center: creating the actor system");
        var system = ClusterConfig.CreateSystem(Role.Center, host, port, address, credentials);
        Distributed.Protocol.Hosting.StartTrace.Mark("center: actor system created");
        var up = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Cluster.Get(system).RegisterOnMemberUp(() => up.TrySetResult());
        system.ActorOf(ClusterSingletonManager.Props(
            CenterActor.Props(),
            PoisonPill.Instance,
            ClusterSingletonManagerSettings.Create(system).WithRole("center").WithSingletonName("center")), "center");
        await up.Task.WaitAsync(TimeSpan.FromSeconds(30), cancellation).ConfigureAwait(false);
        Distributed.Protocol.Hosting.StartTrace.Mark("center: member up");
        return new CenterNode(system, address);
    }

    /// <summary>Stops the center.</summary>
    public Task StopAsync() => CoordinatedShutdown.Get(System).Run(CoordinatedShutdown.ClrExitReason.Instance);
}
