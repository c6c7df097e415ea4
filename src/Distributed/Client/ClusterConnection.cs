using System.Net.Sockets;
using Akka.Actor;
using Akka.Cluster;
using Akka.Cluster.Tools.Singleton;
using Distributed.Hosting;
using Distributed.Protocol;

namespace Distributed.Client;

/// <summary>A client's membership in the cluster: its actor system, and the proxy to the center.</summary>
internal sealed class ClusterConnection
{
    private ClusterConnection(ActorSystem system, IActorRef center, HostPort address)
    {
        System = system;
        Center = center;
        Address = address;
    }

    public ActorSystem System { get; }
    public IActorRef Center { get; }
    public HostPort Address { get; }

    /// <summary>Joins the cluster of the center at <paramref name="address"/>, failing with a clear message when it cannot.</summary>
    public static async Task<ClusterConnection> OpenAsync(HostPort address, TimeSpan timeout, CancellationToken cancellation)
    {
        await NetworkAddresses.ProbeCenterAsync(address, timeout, cancellation).ConfigureAwait(false);
        var host = NetworkAddresses.LocalAddressToward(address);
        var system = ActorSystem.Create(ClusterConfig.SystemName, ClusterConfig.For(Role.Client, host, 0, address));
        try
        {
            var up = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            Cluster.Get(system).RegisterOnMemberUp(() => up.TrySetResult());
            var joined = await Task.WhenAny(up.Task, Task.Delay(timeout, cancellation)).ConfigureAwait(false);
            cancellation.ThrowIfCancellationRequested();
            if (joined != up.Task)
                throw new CenterUnreachableException($"Could not join the cluster of the center at {address} within {timeout.TotalSeconds:0} s.");
            var center = system.ActorOf(ClusterSingletonProxy.Props("/user/center", ClusterSingletonProxySettings.Create(system)), "center-proxy");
            return new ClusterConnection(system, center, address);
        }
        catch
        {
            await system.Terminate().ConfigureAwait(false);
            throw;
        }
    }


    /// <summary>Leaves the cluster (so nobody waits for a failure detector) and stops the actor system.</summary>
    public async Task CloseAsync()
    {
        try
        {
            await CoordinatedShutdown.Get(System).Run(CoordinatedShutdown.ClrExitReason.Instance).WaitAsync(TimeSpan.FromSeconds(10)).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            await System.Terminate().ConfigureAwait(false);
        }
    }
}
