using Akka.Actor;
using Akka.Cluster;
using Akka.Cluster.Tools.Singleton;
using Distributed.Center.Dashboard;
using Distributed.Protocol;
using Distributed.Protocol.Security;
using Distributed.Protocol.Hosting;

namespace Distributed.Center;

/// <summary>A running center: the cluster's seed node with the <see cref="CenterActor"/> singleton.</summary>
public sealed class CenterNode
{
    private CenterNode(ActorSystem system, HostPort address, HostPort bound, string? addressNote, DashboardServer? dashboard)
    {
        System = system;
        Address = address;
        Bound = bound;
        AddressNote = addressNote;
        Dashboard = dashboard;
    }

    /// <summary>Where the center listens: <see cref="Address"/>, or 0.0.0.0 (every address of the machine) with its port.</summary>
    public HostPort Bound { get; }

    /// <summary>How the advertised address was chosen when the user did not name it (bound to 0.0.0.0), else null.</summary>
    public string? AddressNote { get; }

    /// <summary>The web dashboard, if it was asked for.</summary>
    public DashboardServer? Dashboard { get; }

    /// <summary>The actor system of the center.</summary>
    public ActorSystem System { get; }

    /// <summary>The address workers and clients name the center by (Akka's public-hostname): the one it answers to.</summary>
    public HostPort Address { get; }

    /// <summary>
    /// Starts a center on <paramref name="host"/>:<paramref name="port"/>, returning once it accepts members.
    /// With <paramref name="credentials"/> every connection is mutual TLS; without, a non-loopback
    /// <paramref name="host"/> is refused before anything is bound (<see cref="InsecureAddressException"/>)
    /// unless <paramref name="insecure"/>, which prints a warning instead. With <paramref name="dashboard"/>
    /// (and a port other than 0) it serves the web dashboard too. <paramref name="host"/> (null: the machine's
    /// primary address) may be 0.0.0.0, every address of the machine; <paramref name="advertise"/> is the
    /// address peers name the center by (see <see cref="NodeAddresses.ForCenter"/>).
    /// </summary>
    public static async Task<CenterNode> StartAsync(string? host, int port, ClusterCredentials? credentials = null, bool insecure = false, CancellationToken cancellation = default,
        DashboardSettings? dashboard = null, string? advertise = null)
    {
        var chosen = NodeAddresses.ForCenter(host, advertise, MachineNetwork.Local());
        var bind = chosen.Bind;
        if (NodeSecurity.Check(bind, credentials, insecure) is { } warning) Console.Error.WriteLine($"warning: {warning}");
        if (!NetworkAddresses.IsPortFree(bind, port))
            throw new PortInUseException(bind, port);
        var address = new HostPort(chosen.Advertised, port);
        CenterConfig.Read(ClusterConfig.For(Role.Center, bind, port, address, advertise: chosen.Advertised)); // a bad setting stops dcenter with one line, not the singleton
        Distributed.Protocol.Hosting.StartTrace.Mark("center: creating the actor system");
        var system = ClusterConfig.CreateSystem(Role.Center, bind, port, address, credentials, advertise: chosen.Advertised);
        Distributed.Protocol.Hosting.StartTrace.Mark("center: actor system created");
        var up = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Cluster.Get(system).RegisterOnMemberUp(() => up.TrySetResult());
        system.ActorOf(ClusterSingletonManager.Props(
            CenterActor.Props(),
            PoisonPill.Instance,
            ClusterSingletonManagerSettings.Create(system).WithRole(CenterDowningProvider.CenterRole).WithSingletonName("center")), "center");
        // Kestrel starts while the cluster forms.
        var dashboardStart = dashboard is { Port: > 0 } ? StartDashboardAsync(system, bind, chosen.Advertised, credentials, dashboard, cancellation) : Task.FromResult<DashboardServer?>(null);
        try
        {
            await up.Task.WaitAsync(TimeSpan.FromSeconds(30), cancellation).ConfigureAwait(false);
            Distributed.Protocol.Hosting.StartTrace.Mark("center: member up");
            var server = await dashboardStart.ConfigureAwait(false);
            Distributed.Protocol.Hosting.StartTrace.Mark("center: dashboard up");
            return new CenterNode(system, address, new HostPort(bind, port), chosen.Note, server);
        }
        catch
        {
            await StopStartedAsync(dashboardStart).ConfigureAwait(false);
            await system.Terminate().ConfigureAwait(false);
            throw;
        }
    }

    private static async Task<DashboardServer?> StartDashboardAsync(ActorSystem system, string host, string advertised, ClusterCredentials? credentials, DashboardSettings settings, CancellationToken cancellation) =>
        await DashboardServer.StartAsync(system, host, credentials, settings, cancellation, advertised).ConfigureAwait(false);

    private static async Task StopStartedAsync(Task<DashboardServer?> starting)
    {
        try
        {
            if (await starting.ConfigureAwait(false) is { } started) await started.DisposeAsync().ConfigureAwait(false);
        }
        catch (Exception e) when (e is IOException or OperationCanceledException or NodeStartException) { } // it did not start: nothing to stop
    }

    /// <summary>Stops the center.</summary>
    public async Task StopAsync()
    {
        Distributed.Protocol.Hosting.StartTrace.Mark("center: stop requested");
        if (Dashboard is not null) await Dashboard.DisposeAsync().ConfigureAwait(false);
        Distributed.Protocol.Hosting.StartTrace.Mark("center: dashboard stopped");
        await CoordinatedShutdown.Get(System).Run(CoordinatedShutdown.ClrExitReason.Instance).ConfigureAwait(false);
        Distributed.Protocol.Hosting.StartTrace.Mark("center: left the cluster");
    }
}
