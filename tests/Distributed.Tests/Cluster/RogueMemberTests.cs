using System.Collections.Concurrent;
using Akka.Actor;
using Distributed.Protocol;

namespace Distributed.Tests.Cluster;

/// <summary>
/// A rogue member: an actor system in this process that holds the cluster's own credentials, joins
/// it, and talks to the real dcenter and dworkers directly, as a worker's center, as a worker, and as
/// another client. Every attempt is refused and logged, and the pool beside it keeps its data and works.
/// </summary>
[Collection(SharedClusterCollection.Name)]
[ProcessTier]
public sealed class RogueMemberTests(LocalClusterFixture fixture)
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(60);

    /// <summary>The rogue's actor: whatever anybody sends it is kept, so that the test sees what the cluster answered.</summary>
    private sealed class Inbox : ReceiveActor
    {
        public Inbox(ConcurrentQueue<object> received) => ReceiveAny(received.Enqueue);
    }

    [Fact]
    public async Task A_rogue_member_with_valid_credentials_runs_nothing_deletes_nothing_and_reads_nothing_while_a_pool_keeps_working()
    {
        var pool = fixture.Pool;
        var data = await pool.MapAsync((int x) => x * 7, Enumerable.Range(0, 40));
        var keys = data.Select(d => d.Key).ToList();
        var center = HostPort.Parse(fixture.Cluster.Address);
        var secure = fixture.Cluster.Credentials is not null;
        Assert.True(secure, "The shared cluster runs with credentials, which the rogue presents.");
        var rogue = ClusterConfig.CreateSystem(Role.Client, "127.0.0.1", 0, center, fixture.Cluster.Credentials);
        try
        {
            var up = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            Akka.Cluster.Cluster.Get(rogue).RegisterOnMemberUp(() => up.TrySetResult());
            await up.Task.WaitAsync(Patience);
            var received = new ConcurrentQueue<object>();
            var inbox = rogue.ActorOf(Props.Create(() => new Inbox(received)), "rogue");
            var centerActor = rogue.ActorSelection(ClusterConfig.CenterPath(center, secure));
            var function = ContentAddress.Function([1, 2, 3]);
            var code = new CodeManifest("rogue", [new AssemblyRef("RogueCode", new string('d', 64))]);

            // As the workers' center: run my code, delete the pool's values, stop its tasks.
            foreach (var worker in pool.Workers())
            {
                var workerActor = rogue.ActorSelection($"{ClusterConfig.SeedAddress(HostPort.Parse(worker.Address), secure)}/user/worker");
                workerActor.Tell(new RunTasks(inbox, code, [function], [new TaskSpec("rogue-run", function.FunctionId, ArgumentsKind.Dependencies, [], [])], []), inbox);
                workerActor.Tell(new DeleteKeys(keys), inbox);
            }
            // As the pool's client (which it is not) and as a worker (which it is not).
            centerActor.Tell(new ReleaseKeys(keys), inbox);
            centerActor.Tell(new TasksFinished("worker", new DataEndpoint("127.0.0.1", 1), [new StoredKey(keys[0], 1, "System.Int32")]), inbox);
            // As a client of its own: the pool's keys are not its keys.
            centerActor.Tell(new ConnectClient(1), inbox);
            await Eventually.TrueAsync(() => received.OfType<ClientConnected>().Any(), () => "the rogue is not connected as a client", Patience);
            centerActor.Tell(new ReleaseKeys(keys), inbox);
            centerActor.Tell(new WhoHas(keys, 2), inbox);
            centerActor.Tell(new GetWorkers(IncludeKeys: true, 3), inbox);
            centerActor.Tell(new SubmitTasks(new CodeManifest("rogue", []), [function], [new TaskSpec("rogue-reads", function.FunctionId, ArgumentsKind.Dependencies, [], [keys[0]])]), inbox);

            await Eventually.TrueAsync(() => received.OfType<WhoHasReply>().Any() && received.OfType<WorkersReply>().Any() && received.OfType<TasksFailed>().Any(),
                () => $"the rogue has these answers only: {string.Join(", ", received.Select(m => m.GetType().Name))}", Patience);
            Assert.All(received.OfType<WhoHasReply>().Single().Holders.Values, Assert.Empty);
            Assert.All(received.OfType<WorkersReply>().Single().KeysByWorker.Values, Assert.Empty);
            Assert.Equal("rogue-reads", Assert.Single(received.OfType<TasksFailed>().Single().Failures).Key);
            foreach (var worker in fixture.Cluster.Workers)
            {
                await worker.WaitForLineAsync(l => l.Contains("refused RunTasks", StringComparison.Ordinal), Patience);
                await worker.WaitForLineAsync(l => l.Contains("refused DeleteKeys", StringComparison.Ordinal), Patience);
            }
            await fixture.Cluster.Center.WaitForLineAsync(l => l.Contains("refused TasksFinished", StringComparison.Ordinal), Patience);
            await fixture.Cluster.Center.WaitForLineAsync(l => l.Contains("refused ReleaseKeys", StringComparison.Ordinal), Patience);

            // The pool keeps its values and its workers; nobody asked the rogue for code to run.
            Assert.Equal(Enumerable.Range(0, 40).Select(x => x * 7), await pool.GatherAsync(data));
            Assert.Equal(Enumerable.Range(0, 40).Select(x => x * 7 + 1), await pool.GatherAsync(await pool.MapAsync((int x) => x + 1, data)));
            Assert.DoesNotContain(received, m => m is RequestAssemblies or TasksFinished);
            Assert.All(fixture.Cluster.Workers, w => Assert.False(w.HasExited));
        }
        finally
        {
            await rogue.Terminate();
            pool.Release(data);
        }
    }
}
