using System.Collections.Concurrent;
using Akka.Actor;
using Distributed.Hosting;
using Distributed.Protocol;
using Distributed.Protocol.Security;

namespace Distributed.Tests.Security;

/// <summary><see cref="ClusterConfig.CreateSystem"/> in one process: Akka.Remote over mutual TLS, checked against the cluster's own authority.</summary>
public sealed class TlsActorSystemTests : IAsyncLifetime
{
    private static readonly TimeSpan Slow = TimeSpan.FromSeconds(60);

    private readonly ClusterCredentials _cluster = ClusterCredentials.CreateInMemory();
    private readonly ClusterCredentials _stranger = ClusterCredentials.CreateInMemory();
    private readonly List<ActorSystem> _systems = [];

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        await Task.WhenAll(_systems.Select(s => s.Terminate()));
        _cluster.Dispose();
        _stranger.Dispose();
    }

    private ActorSystem Start(Role role, int port, HostPort center, ClusterCredentials? credentials, Action<string, string>? onRejected = null)
    {
        var system = ClusterConfig.CreateSystem(role, "127.0.0.1", port, center, credentials, onRejected);
        _systems.Add(system);
        return system;
    }

    private static Task UpAsync(ActorSystem system)
    {
        var up = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Akka.Cluster.Cluster.Get(system).RegisterOnMemberUp(() => up.TrySetResult());
        return up.Task;
    }

    [Fact]
    public async Task Members_with_the_same_credentials_join_over_akka_ssl_tcp()
    {
        var center = new HostPort("127.0.0.1", LocalCluster.FreePort());
        var centerSystem = Start(Role.Center, center.Port, center, _cluster);
        var client = Start(Role.Client, 0, center, _cluster);

        await Task.WhenAll(UpAsync(centerSystem), UpAsync(client)).WaitAsync(Slow);

        Assert.Equal("akka.ssl.tcp", ((ExtendedActorSystem)centerSystem).Provider.DefaultAddress.Protocol);
        Assert.StartsWith("akka.ssl.tcp://", ClusterConfig.SeedAddress(center, secure: true));
        Assert.Equal(2, Akka.Cluster.Cluster.Get(centerSystem).State.Members.Count);
    }

    [Fact]
    public async Task A_member_of_another_cluster_is_refused_on_both_sides_naming_the_peer_and_the_reason()
    {
        var center = new HostPort("127.0.0.1", LocalCluster.FreePort());
        var refusedByCenter = new ConcurrentQueue<(string Peer, string Reason)>();
        var refusedByStranger = new ConcurrentQueue<(string Peer, string Reason)>();
        var centerSystem = Start(Role.Center, center.Port, center, _cluster, (peer, reason) => refusedByCenter.Enqueue((peer, reason)));
        await UpAsync(centerSystem).WaitAsync(Slow);

        Start(Role.Client, 0, center, _stranger, (peer, reason) => refusedByStranger.Enqueue((peer, reason)));

        await Eventually.TrueAsync(() => !refusedByCenter.IsEmpty && !refusedByStranger.IsEmpty,
            () => $"refused by the center: {refusedByCenter.Count}, by the stranger: {refusedByStranger.Count}", Slow);
        Assert.All(refusedByCenter.Concat(refusedByStranger), r => Assert.Contains("does not chain to this cluster's authority", r.Reason));
        Assert.Contains(refusedByStranger, r => r.Peer.EndsWith($"@{center}", StringComparison.Ordinal));
        Assert.Contains(refusedByCenter, r => r.Peer.Contains("127.0.0.1", StringComparison.Ordinal));
        Assert.Single(Akka.Cluster.Cluster.Get(centerSystem).State.Members);
    }
}
