using Akka.Actor;
using Akka.Cluster;
using Akka.Cluster.Tools.Singleton;
using Distributed.Protocol;
using Distributed.Protocol.Security;

namespace Distributed.Client;

/// <summary>A client's membership in the cluster: its actor system, and the proxy to the center.</summary>
internal sealed class ClusterConnection
{
    private ClusterConnection(ActorSystem system, IActorRef center, HostPort address, ActorPath centerPath)
    {
        System = system;
        Center = center;
        Address = address;
        CenterPath = centerPath;
    }

    public ActorSystem System { get; }

    /// <summary>The proxy through which messages reach the center.</summary>
    public IActorRef Center { get; }

    public HostPort Address { get; }

    /// <summary>Where the center actor is: completions and answers are taken from it alone.</summary>
    public ActorPath CenterPath { get; }

    /// <summary>
    /// Joins the cluster of the center at <paramref name="address"/>, over mutual TLS when given
    /// <paramref name="credentials"/>, failing with a clear message when it cannot (a refused TLS
    /// handshake is reported at once, naming the center and the reason).
    /// </summary>
    public static async Task<ClusterConnection> OpenAsync(HostPort address, ClusterCredentials? credentials, TimeSpan timeout, CancellationToken cancellation)
    {
        // A center named by a host name answers only to its own address: learn it before the node names the center.
        address = await NetworkAddresses.CenterAnswersToAsync(address, timeout, cancellation, credentials).ConfigureAwait(false);
        // The probe runs while the actor system starts (each takes a few hundred milliseconds of a connection).
        var probe = NetworkAddresses.ProbeCenterAnsweringAsync(address, timeout, cancellation, credentials);
        var host = NetworkAddresses.LocalAddressToward(address);
        var handshake = new CenterHandshake(address, credentials is not null);
        var system = await NetworkAddresses.StartWhileProbingAsync(probe, async () =>
        {
            var created = ClusterConfig.CreateSystem(Role.Client, host, 0, address, credentials, handshake.OnRejected);
            try { handshake.Watch(created); }
            catch
            {
                await created.Terminate().ConfigureAwait(false);
                throw;
            }
            Distributed.Protocol.Hosting.StartTrace.Mark("client: actor system created");
            return created;
        }, created => created.Terminate()).ConfigureAwait(false);
        Distributed.Protocol.Hosting.StartTrace.Mark("client: center probed");
        try
        {
            var up = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            Cluster.Get(system).RegisterOnMemberUp(() => up.TrySetResult());
            var refused = handshake.Refused;
            var joined = await Task.WhenAny(up.Task, refused, Task.Delay(timeout, cancellation)).ConfigureAwait(false);
            cancellation.ThrowIfCancellationRequested();
            if (joined == refused) await refused.ConfigureAwait(false); // throws the reason
            if (joined != up.Task)
            {
                var hint = credentials is null ? "" : " (over TLS: does the center run with the same credentials?)";
                throw new CenterUnreachableException($"Could not join the cluster of the center at {address} within {timeout.TotalSeconds:0} s{hint}.");
            }
            Distributed.Protocol.Hosting.StartTrace.Mark("client: member up");
            var center = system.ActorOf(ClusterSingletonProxy.Props("/user/center", ClusterSingletonProxySettings.Create(system)), "center-proxy");
            return new ClusterConnection(system, center, address, ClusterConfig.CenterPath(address, secure: credentials is not null));
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
