using Akka.Actor;
using Distributed.Client;
using Distributed.Protocol;

namespace Distributed.Tests.InProcess;

/// <summary>
/// The middle of the test pyramid: a real center, real workers and a real client, several actor
/// systems joined as one cluster inside the test process (no child process: fast tier). Values reach
/// the workers through a Map of the identity, answered by <see cref="EchoExecutor"/>.
/// Runs alone: its failure detector marks a node unreachable after 1.5 s of silence, which a
/// starved 2-core machine running the simulation beside it could cause.
/// </summary>
[Collection(InProcessClusters.Name)]
public sealed class InProcessClusterTests
{
    /// <summary>Each wait's limit: a node that is lost is noticed in about 3 s (failure detector and downing, hocon/common.hocon).</summary>
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(12);

    /// <summary>The function of the Maps: the echo executors give the argument back without calling it.</summary>
    private static int Same(int x) => x;

    [Fact]
    public async Task Workers_register_and_the_client_lists_them_with_their_names_and_addresses()
    {
        await using var cluster = await InProcessCluster.StartAsync(workers: 2);
        await using var pool = await cluster.ConnectAsync();

        var listed = pool.Workers().OrderBy(w => w.Name).ToList();

        Assert.Equal(["worker-1", "worker-2"], listed.Select(w => w.Name));
        foreach (var info in listed)
        {
            var node = cluster.Worker(info.Name).Node;
            Assert.Equal(info.Name, node.Name);
            Assert.Equal(node.Address.ToString(), info.Address);
            Assert.Equal("127.0.0.1", info.Data.Host);
            Assert.NotEqual(node.Address.Port, info.Data.Port); // the data channel has a port of its own
            Assert.Equal(1, info.Cores);
            Assert.Equal(0, info.KeyCount);
            Assert.Equal(cluster.Center.Address, node.Center);
        }
        // A worker that joins later is listed too, and values go to the workers and come back.
        await cluster.AddWorkerAsync("worker-3");
        await Eventually.TrueAsync(() => pool.Workers().Count == 3, () => cluster.Describe(), Patience);
        var values = await pool.MapAsync(Same, Enumerable.Range(0, 30));
        Assert.Equal(Enumerable.Range(0, 30), await pool.GatherAsync(values));
        Assert.Equal(30, pool.HasWhat().Values.Sum(keys => keys.Count));
    }

    [Fact]
    public async Task A_client_that_only_dials_out_is_no_member_and_the_center_forgets_it_when_its_process_is_lost()
    {
        await using var cluster = await InProcessCluster.StartAsync(workers: 1);
        var connection = await ClusterConnection.OpenAsync(HostPort.Parse(cluster.Address), null, ClientConnectionMode.DialOut, Patience, CancellationToken.None);
        var client = connection.System.ActorOf(ClientActor.Props(connection.Center, connection.CenterPath, new global::Distributed.Client.CodeShipping()), "client");
        await client.Ask<ClientConnected>(new AskCenter(new ConnectClient()), Patience);
        Assert.Single(await ClientsAsync(cluster));
        // The cluster is the center and its worker: the client never joined it.
        var clientAddress = ((ExtendedActorSystem)connection.System).Provider.DefaultAddress;
        Assert.Equal(2, Akka.Cluster.Cluster.Get(cluster.Center.System).State.Members.Count);
        Assert.DoesNotContain(Akka.Cluster.Cluster.Get(cluster.Center.System).State.Members, m => m.Address.Equals(clientAddress));

        // Gone without a DisconnectClient: the center hears of it by its death watch, not by cluster membership.
        ((ExtendedActorSystem)connection.System).Abort();

        await Eventually.TrueAsync(() => ClientsAsync(cluster).GetAwaiter().GetResult().Count == 0, () => "the center still counts the lost client", Patience);
    }

    private static async Task<IReadOnlyList<global::Distributed.Center.Core.ClientView>> ClientsAsync(InProcessCluster cluster) =>
        (await cluster.Center.System.ActorSelection("/user/center/center").Ask<global::Distributed.Center.Core.CenterView>(global::Distributed.Center.Dashboard.CenterViewAsked.Instance, Patience)).Clients;

    [Fact]
    public async Task A_dead_worker_is_dropped_from_the_listing_and_its_values_are_made_again_on_the_other()
    {
        await using var cluster = await InProcessCluster.StartAsync(workers: 2);
        await using var pool = await cluster.ConnectAsync();
        var values = await pool.MapAsync(Same, Enumerable.Range(0, 20));
        var (victim, lost, kept) = SplitBetweenWorkers(pool, values);
        var survivor = cluster.Workers.Single(w => w.Name != victim).Name;

        await cluster.Worker(victim).KillAsync();

        await Eventually.TrueAsync(() => pool.Workers().Select(w => w.Name).SequenceEqual([survivor]), () => $"{victim} is still listed; {cluster.Describe()}", Patience);
        Assert.Equal(kept, await values[kept].GetAsync().WaitAsync(Patience));
        // The lost value has its lineage on the center: the survivor makes it again, and nothing is lost.
        Assert.Equal(lost, await values[lost].GetAsync().WaitAsync(Patience));
        Assert.Equal([victim, survivor], cluster.Executions.WorkersThatRan(values[lost].Key));
        Assert.Equal([survivor], pool.WhoHas(values[lost]));
        Assert.Equal(Enumerable.Range(0, 20), await pool.GatherAsync(values).WaitAsync(Patience));
    }

    [Fact]
    public async Task After_a_center_restart_the_workers_rejoin_the_center_adopts_their_values_and_the_client_reads_them()
    {
        await using var cluster = await InProcessCluster.StartAsync(workers: 2);
        await using var pool = await cluster.ConnectAsync();
        var values = await pool.MapAsync(Same, Enumerable.Range(0, 20));
        var before = pool.HasWhat();
        var incarnations = cluster.Workers.ToDictionary(w => w.Name, w => w.Node.CenterIncarnation);

        await cluster.RestartCenterAsync();

        await Eventually.TrueAsync(() => cluster.Workers.All(w => w.Rejoins == 1), () => cluster.Describe(), Patience);
        await Eventually.TrueAsync(() => HeldKeyCount(pool) == 20, () => $"keys held: {HeldKeyCount(pool)}; {cluster.Describe()}", Patience);
        var after = pool.HasWhat();
        foreach (var (worker, keys) in before) Assert.Equal(keys.Order(), after[worker].Order());
        foreach (var worker in cluster.Workers) Assert.NotEqual(incarnations[worker.Name], worker.Node.CenterIncarnation);
        Assert.Equal(["worker-1", "worker-2"], pool.Workers().Select(w => w.Name).Order());
        Assert.Equal(Enumerable.Range(0, 20), await pool.GatherAsync(values).WaitAsync(Patience));
        // The new center computes on the adopted values.
        var again = await pool.MapAsync(Same, values).WaitAsync(Patience);
        Assert.Equal(Enumerable.Range(0, 20), await pool.GatherAsync(again).WaitAsync(Patience));
    }

    [Fact]
    public async Task Finished_futures_stay_the_clients_after_a_center_restart_and_read_back()
    {
        await using var cluster = await InProcessCluster.StartAsync(workers: 2);
        await using var pool = await cluster.ConnectAsync();
        var futures = pool.SubmitMap(Same, Enumerable.Range(0, 20));
        var dependent = pool.Submit(Same, futures[0]);
        await Futures.WaitAsync([.. futures, dependent]).WaitAsync(Patience);

        await cluster.RestartCenterAsync();

        // The ended connection fails only what was still pending: finished futures are claimed from the new center, not released.
        await Eventually.TrueAsync(() => HeldKeyCount(pool) == 21, () => $"keys held: {HeldKeyCount(pool)}; {cluster.Describe()}", Patience);
        Assert.Equal(Enumerable.Range(0, 20), await pool.GatherAsync(futures).WaitAsync(Patience));
        Assert.Equal(0, await dependent.GetAsync().WaitAsync(Patience));
        Assert.All(futures, f => Assert.Equal(FutureStatus.Finished, f.Status));
    }

    [Fact]
    public async Task A_value_adopted_after_a_center_restart_is_lost_for_good_with_its_worker_and_reading_it_says_so()
    {
        await using var cluster = await InProcessCluster.StartAsync(workers: 2);
        await using var pool = await cluster.ConnectAsync();
        var values = await pool.MapAsync(Same, Enumerable.Range(0, 20));
        await cluster.RestartCenterAsync();
        await Eventually.TrueAsync(() => HeldKeyCount(pool) == 20, () => $"keys held: {HeldKeyCount(pool)}; {cluster.Describe()}", Patience);
        var (victim, lost, kept) = SplitBetweenWorkers(pool, values);

        await cluster.Worker(victim).KillAsync();

        await Eventually.TrueAsync(() => pool.Workers().All(w => w.Name != victim), () => $"{victim} is still listed; {cluster.Describe()}", Patience);
        // The new center never saw the task that made it: it cannot be made again, and reading it says why.
        var error = await Assert.ThrowsAsync<DataLostException>(() => values[lost].GetAsync().WaitAsync(Patience));
        Assert.Equal(values[lost].Key, error.Key);
        Assert.Contains($"lost with worker {victim}", error.Message);
        Assert.Contains("cannot be made again", error.Message);
        Assert.Equal(kept, await values[kept].GetAsync().WaitAsync(Patience));
    }

    [Fact]
    public async Task A_worker_whose_spare_executor_is_refused_here_stays_registered_and_does_not_try_again()
    {
        await using var cluster = await InProcessCluster.StartAsync(workers: 0);
        await using var pool = await cluster.ConnectAsync();

        // As dworker does, it starts a spare executor once registered; this tier refuses the process.
        var worker = await cluster.AddWorkerAsync("plain", echoExecutors: false);

        var spare = worker.Node.System.ActorSelection("/user/worker/executor-spare-1");
        await Eventually.TrueAsync(() => spare.Ask<ActorIdentity>(new Identify(null), TimeSpan.FromSeconds(2)).GetAwaiter().GetResult().Subject is null,
            () => "the refused spare executor's actor is still there", Patience);
        var stats = (await pool.TransferStatsAsync().WaitAsync(Patience))["plain"];
        // A spare that could not start is not replaced until an executor is taken: no retry loop.
        Assert.Equal(1, stats.ExecutorsStarted);
        Assert.False(worker.Node.System.WhenTerminated.IsCompleted);
        Assert.Equal(["plain"], pool.Workers().Select(w => w.Name));
    }

    /// <summary>A worker holding some of <paramref name="values"/>, the index of one it holds and of one the other worker holds.</summary>
    private static (string Victim, int Lost, int Kept) SplitBetweenWorkers(Pool pool, List<RemoteData<int>> values)
    {
        var (victim, keys) = pool.HasWhat().First(h => h.Value.Count > 0);
        var lost = values.FindIndex(v => keys.Contains(v.Key));
        var kept = values.FindIndex(v => !keys.Contains(v.Key));
        Assert.True(kept >= 0, $"{victim} holds every value");
        return (victim, lost, kept);
    }

    /// <summary>The keys the center knows of, or -1 while it cannot be asked (the client is reconnecting).</summary>
    private static int HeldKeyCount(Pool pool)
    {
        try { return pool.HasWhat().Values.Sum(keys => keys.Count); }
        catch (Exception e) when (e is CenterUnreachableException or CenterRestartedException or TimeoutException or AskTimeoutException) { return -1; }
    }
}

/// <summary>The in-process cluster tests, run with no other test class beside them.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class InProcessClusters
{
    /// <summary>The collection's name.</summary>
    public const string Name = "In-process clusters";
}
