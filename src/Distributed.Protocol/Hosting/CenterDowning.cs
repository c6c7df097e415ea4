using Akka.Actor;
using Akka.Cluster;
using Akka.Event;

namespace Distributed.Protocol.Hosting;

/// <summary>
/// Akka.Cluster's downing for a cluster with its center at the hub (<c>akka.cluster.downing-provider-class</c>).
/// The center downs a member that has stayed unreachable for <c>distributed.cluster.down-unreachable-after</c>;
/// any other node downs itself when every center has stayed unreachable that long (its actor system then
/// ends: a dworker starts its node again and rejoins, a Pool reconnects). Nobody else downs anyone, so only
/// the center's own end ends the center. Akka's split brain resolver (keep-oldest, the center being the
/// oldest) did down the center with every other node, twice over: when reachability kept changing for more
/// than stable-after + 4 s, and when members' views of each other conflicted after downing the indirectly
/// connected ones (both seen with members vanishing one after another, <c>MemberChurnTests</c>). A cluster
/// of one center has no two sides to choose between: the side with the center is the cluster.
/// </summary>
public sealed class CenterDowningProvider(ActorSystem system, Cluster cluster) : IDowningProvider
{
    /// <summary>The role of the center's node; the center singleton runs there.</summary>
    public const string CenterRole = "center";

    private readonly TimeSpan _downAfter = system.Settings.Config.GetTimeSpan("distributed.cluster.down-unreachable-after", TimeSpan.FromSeconds(1));

    /// <summary>How long a downed node's singletons wait before they start elsewhere: as long as a node takes to down itself.</summary>
    public TimeSpan DownRemovalMargin => _downAfter;

    /// <inheritdoc />
    public Props DowningActorProps => Props.Create(() => new UnreachableDowning(cluster, _downAfter));
}

/// <summary>
/// Times each member's unreachability (as this node's view of the cluster has it) and carries out
/// <see cref="CenterDowningProvider"/>'s rule once one has lasted: on the center, down that member; elsewhere,
/// down this node when no center is left reachable.
/// </summary>
internal sealed class UnreachableDowning : ReceiveActor, IWithTimers
{
    private readonly Cluster _cluster;
    private readonly TimeSpan _downAfter;
    private readonly bool _isCenter;
    private readonly ILoggingAdapter _log = Context.GetLogger();

    public ITimerScheduler Timers { get; set; } = null!;

    public UnreachableDowning(Cluster cluster, TimeSpan downAfter)
    {
        _cluster = cluster;
        _downAfter = downAfter;
        _isCenter = cluster.SelfRoles.Contains(CenterDowningProvider.CenterRole);
        Receive<ClusterEvent.UnreachableMember>(e =>
        {
            if (!e.Member.UniqueAddress.Equals(_cluster.SelfUniqueAddress))
                Timers.StartSingleTimer(e.Member.UniqueAddress, new StillUnreachable(e.Member.UniqueAddress), _downAfter);
        });
        Receive<ClusterEvent.ReachableMember>(e => Timers.Cancel(e.Member.UniqueAddress));
        Receive<ClusterEvent.MemberRemoved>(e => Timers.Cancel(e.Member.UniqueAddress));
        Receive<StillUnreachable>(Decide);
    }

    protected override void PreStart() =>
        _cluster.Subscribe(Self, ClusterEvent.SubscriptionInitialStateMode.InitialStateAsEvents,
            typeof(ClusterEvent.IReachabilityEvent), typeof(ClusterEvent.MemberRemoved));

    protected override void PostStop() => _cluster.Unsubscribe(Self);

    private void Decide(StillUnreachable due)
    {
        var state = _cluster.State;
        var member = state.Unreachable.FirstOrDefault(m => m.UniqueAddress.Equals(due.Node));
        if (member is null || member.Status == MemberStatus.Down) return; // reachable again, or downed already
        if (_isCenter)
        {
            _log.Warning("Downing {0}: unreachable for {1} s.", member.Address, _downAfter.TotalSeconds);
            _cluster.Down(member.Address);
            return;
        }
        // About any node but a center the center decides; a node decides only about losing the center.
        if (!member.HasRole(CenterDowningProvider.CenterRole)) return;
        var aCenterIsReachable = state.Members.Any(m => m.HasRole(CenterDowningProvider.CenterRole)
            && m.Status is MemberStatus.Up or MemberStatus.Leaving or MemberStatus.Joining or MemberStatus.WeaklyUp
            && !state.Unreachable.Contains(m));
        if (aCenterIsReachable) return;
        _log.Warning("The center at {0} has been unreachable for {1} s: this node leaves the cluster.", member.Address, _downAfter.TotalSeconds);
        _cluster.Down(_cluster.SelfAddress);
    }

    private sealed record StillUnreachable(UniqueAddress Node);
}
