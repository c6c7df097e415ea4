using Akka.Actor;
using Akka.Cluster;
using Akka.Cluster.Tools.Singleton;
using Akka.Event;
using Distributed.Protocol;
using Distributed.Protocol.Security;

namespace Distributed.Client;

/// <summary>
/// A client's link to the cluster: its actor system, and the reference through which it reaches the
/// center. Either a member of the cluster (<see cref="ClientConnectionMode.Member"/>) or a system that
/// only dials the center and accepts no connection (<see cref="ClientConnectionMode.DialOut"/>).
/// </summary>
internal sealed class ClusterConnection
{
    /// <summary>The setting that chooses the <see cref="ClientConnectionMode"/> (see hocon/client.hocon).</summary>
    public const string ModeSetting = "distributed.client.connection";

    private ClusterConnection(ActorSystem system, IActorRef center, HostPort address, ActorPath centerPath, ClientConnectionMode mode)
    {
        System = system;
        Center = center;
        Address = address;
        CenterPath = centerPath;
        Mode = mode;
    }

    public ActorSystem System { get; }

    /// <summary>The proxy (member) or the center actor itself (dial-out) through which messages reach the center.</summary>
    public IActorRef Center { get; }

    public HostPort Address { get; }

    /// <summary>Where the center actor is: completions and answers are taken from it alone.</summary>
    public ActorPath CenterPath { get; }

    public ClientConnectionMode Mode { get; }

    /// <summary>The mode this process's settings choose (<see cref="ModeSetting"/>); a value we do not know fails with one line.</summary>
    public static ClientConnectionMode ConfiguredMode()
    {
        var text = ClusterConfig.Settings(Role.Client).GetString(ModeSetting, "dial-out");
        return text switch
        {
            "dial-out" => ClientConnectionMode.DialOut,
            "member" => ClientConnectionMode.Member,
            _ => throw new FormatException($"The setting {ModeSetting} is '{text}'; it is dial-out (the client only opens connections) or member (the client joins the cluster)."),
        };
    }

    /// <summary>
    /// Reaches the center at <paramref name="address"/> in <paramref name="mode"/>, over mutual TLS when given
    /// <paramref name="credentials"/>, failing with a clear message when it cannot (a refused TLS
    /// handshake is reported at once, naming the center and the reason). A center that refuses the connection
    /// is tried again for up to <paramref name="waitForCenter"/> (one starting beside this client; default: not).
    /// </summary>
    public static async Task<ClusterConnection> OpenAsync(HostPort address, ClusterCredentials? credentials, ClientConnectionMode mode, TimeSpan timeout, CancellationToken cancellation,
        TimeSpan waitForCenter = default)
    {
        var member = mode == ClientConnectionMode.Member;
        // A center named by a host name answers only to its own address: learn it before the node names the center.
        address = await NetworkAddresses.CenterAnswersToAsync(address, timeout, cancellation, credentials, waitForCenter).ConfigureAwait(false);
        // The probe runs while the actor system starts (each takes a few hundred milliseconds of a connection).
        var probe = NetworkAddresses.ProbeCenterAnsweringAsync(address, timeout, cancellation, credentials, waitForCenter);
        var host = NetworkAddresses.LocalAddressToward(address);
        var handshake = new CenterHandshake(address, credentials is not null);
        var system = await NetworkAddresses.StartWhileProbingAsync(probe, async () =>
        {
            // A member joins once the probe found the center listening (see ClusterConfig.For).
            var created = ClusterConfig.CreateSystem(Role.Client, host, 0, address, credentials, handshake.OnRejected, member, joinAtStart: false);
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
        if (member) ClusterConfig.JoinCenter(system, address, secure: credentials is not null);
        var centerPath = ClusterConfig.CenterPath(address, secure: credentials is not null);
        try
        {
            var center = member
                ? await JoinAsync(system, address, credentials, handshake, timeout, cancellation).ConfigureAwait(false)
                : await FindCenterAsync(system, centerPath, address, credentials, handshake, timeout, cancellation).ConfigureAwait(false);
            return new ClusterConnection(system, center, address, centerPath, mode);
        }
        catch
        {
            await system.Terminate().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>Joins the cluster and returns the proxy to the center singleton.</summary>
    private static async Task<IActorRef> JoinAsync(ActorSystem system, HostPort address, ClusterCredentials? credentials, CenterHandshake handshake,
        TimeSpan timeout, CancellationToken cancellation)
    {
        var up = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Cluster.Get(system).RegisterOnMemberUp(() => up.TrySetResult());
        var refused = handshake.Refused;
        var joined = await Task.WhenAny(up.Task, refused, Task.Delay(timeout, cancellation)).ConfigureAwait(false);
        cancellation.ThrowIfCancellationRequested();
        if (joined == refused) await refused.ConfigureAwait(false); // throws the reason
        if (joined != up.Task) throw Unreachable(address, credentials, timeout, "join the cluster of");
        Distributed.Protocol.Hosting.StartTrace.Mark("client: member up");
        return system.ActorOf(ClusterSingletonProxy.Props("/user/center", ClusterSingletonProxySettings.Create(system)), "center-proxy");
    }

    /// <summary>
    /// Finds the center actor over a connection this system opens, and watches it: when the center is
    /// lost (its process ended, or silent past the watch failure detector), the system shuts down, as a
    /// member's does when it downs itself, and <see cref="CenterConnection"/> reconnects.
    /// </summary>
    private static async Task<IActorRef> FindCenterAsync(ActorSystem system, ActorPath centerPath, HostPort address, ClusterCredentials? credentials,
        CenterHandshake handshake, TimeSpan timeout, CancellationToken cancellation)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellation);
        deadline.CancelAfter(timeout);
        var selection = system.ActorSelection(centerPath);
        while (true)
        {
            // The center's node answers before its singleton runs (just after a restart): ask again shortly.
            var identity = selection.Ask<ActorIdentity>(new Identify(null), TimeSpan.FromSeconds(1), deadline.Token);
            var first = await Task.WhenAny(identity, handshake.Refused).ConfigureAwait(false);
            if (first == handshake.Refused) await handshake.Refused.ConfigureAwait(false); // throws the reason
            try
            {
                if ((await identity.ConfigureAwait(false)).Subject is { } center)
                {
                    system.ActorOf(Props.Create(() => new CenterWatch(center)), "center-watch");
                    Distributed.Protocol.Hosting.StartTrace.Mark("client: center found");
                    return center;
                }
            }
            catch (Exception e) when (e is AskTimeoutException or TaskCanceledException && !cancellation.IsCancellationRequested) { }
            cancellation.ThrowIfCancellationRequested();
            if (deadline.IsCancellationRequested) throw Unreachable(address, credentials, timeout, "reach");
            try { await Task.Delay(TimeSpan.FromMilliseconds(200), deadline.Token).ConfigureAwait(false); }
            catch (TaskCanceledException) when (!cancellation.IsCancellationRequested) { }
        }
    }

    private static CenterUnreachableException Unreachable(HostPort address, ClusterCredentials? credentials, TimeSpan timeout, string verb)
    {
        var hint = credentials is null ? "" : " (over TLS: does the center run with the same credentials?)";
        return new CenterUnreachableException($"Could not {verb} the center at {address} within {timeout.TotalSeconds:0} s{hint}.");
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

    /// <summary>Why a dial-out client's system shut down: its center was lost.</summary>
    private sealed class CenterLost : CoordinatedShutdown.Reason
    {
        public static readonly CenterLost Instance = new();

        public override int ExitCode => 0; // the system only, never the process (exit-clr is off)

        public override string ToString() => "the center was lost";
    }

    /// <summary>Watches the center of a dial-out client; shuts the system down when it is lost.</summary>
    private sealed class CenterWatch : ReceiveActor
    {
        public CenterWatch(IActorRef center)
        {
            Context.Watch(center);
            Receive<Terminated>(t =>
            {
                Context.GetLogger().Info("The center at {0} was lost; this client reconnects.", t.ActorRef.Path.Address);
                CoordinatedShutdown.Get(Context.System).Run(CenterLost.Instance);
            });
        }
    }
}

/// <summary>How a client reaches the cluster (the setting <c>distributed.client.connection</c>).</summary>
internal enum ClientConnectionMode
{
    /// <summary>Opens connections to the center (and the workers' data ports) and accepts none.</summary>
    DialOut,
    /// <summary>Joins the cluster as a member: the center and the workers connect to it.</summary>
    Member,
}
