using Akka.Actor;
using Akka.TestKit;
using Distributed.Client;
using Distributed.Data;
using Distributed.Protocol;
using Distributed.Worker;
using Xunit.Abstractions;

namespace Distributed.Tests.Security;

/// <summary>
/// A worker takes commands only from its center, a client takes completions and answers only from
/// the center: both are played in-process here, the center by an actor at the center's path that
/// relays what a probe tells it, and a rogue by a probe anywhere else.
/// </summary>
public sealed class RoleAuthorizationTests(ITestOutputHelper output) : DistributedSpec(output)
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(3);

    /// <summary>The center's actor, at /user/center/center as on a center node: what it receives goes to a probe, what it is told to send goes out from it.</summary>
    private sealed class FakeCenter : ReceiveActor
    {
        public sealed record Send(IActorRef To, object Message);

        public FakeCenter(IActorRef probe)
        {
            Receive<Send>(m => m.To.Tell(m.Message, Self));
            ReceiveAny(m => probe.Forward(m));
        }
    }

    private sealed class FakeCenterHost : ReceiveActor
    {
        public FakeCenterHost(IActorRef probe)
        {
            var center = Context.ActorOf(Props.Create(() => new FakeCenter(probe)), "center");
            Receive<string>(_ => Sender.Tell(center));
        }
    }

    private async Task<(IActorRef Center, TestProbe Probe, ActorPath Path)> StartFakeCenterAsync()
    {
        var probe = CreateTestProbe("center-probe");
        var host = Sys.ActorOf(Props.Create(() => new FakeCenterHost(probe.Ref)), "center");
        var center = await host.Ask<IActorRef>("center", Patience);
        return (center, probe, center.Path);
    }

    private static StoredValue Value(byte b) => new([b], "System.Byte");

    [Fact]
    public async Task A_worker_runs_deletes_and_fetches_nothing_for_an_actor_that_is_not_its_center()
    {
        var (center, centerProbe, centerPath) = await StartFakeCenterAsync();
        var store = new DataStore();
        store.Put("kept", Value(7));
        var work = Directory.CreateTempSubdirectory("authz-worker-");
        try
        {
            var settings = new WorkerSettings("w", "127.0.0.1:1", 1, new DataEndpoint("127.0.0.1", 1), work.FullName);
            var registered = new TaskCompletionSource<WorkerRegistered>();
            var worker = Sys.ActorOf(WorkerActor.Props(settings, center, centerPath, store, new TransferCounters(), registered), "worker");
            await centerProbe.ExpectMsgAsync<RegisterWorker>(Patience);
            var rogue = CreateTestProbe("rogue");
            var function = ContentAddress.Function([1, 2, 3]);
            var code = new CodeManifest("v", [new AssemblyRef("RogueCode", new string('c', 64))]);

            await EventFilter.Warning(contains: "refused WorkerRegistered").ExpectOneAsync(async () =>
                worker.Tell(new WorkerRegistered("rogue:1", "w", "rogue"), rogue.Ref));
            await EventFilter.Warning(contains: "refused RunTasks").ExpectOneAsync(async () =>
            {
                // Twice: a flood of refused messages is one log line.
                worker.Tell(new RunTasks(rogue.Ref, code, [function], [new TaskSpec("rogue-task", function.FunctionId, ArgumentsKind.Dependencies, [], [])], []), rogue.Ref);
                worker.Tell(new RunTasks(rogue.Ref, code, [function], [new TaskSpec("rogue-task-2", function.FunctionId, ArgumentsKind.Dependencies, [], [])], []), rogue.Ref);
            });
            await EventFilter.Warning(contains: "refused DeleteKeys").ExpectOneAsync(async () => worker.Tell(new DeleteKeys(["kept"]), rogue.Ref));
            await EventFilter.Warning(contains: "refused FetchKeys").ExpectOneAsync(async () =>
                worker.Tell(new FetchKeys([new RemoteInput("x", [new DataEndpoint("127.0.0.1", 1)])], 1), rogue.Ref));

            Assert.False(registered.Task.IsCompleted, "The worker took a registration from an actor that is not the center.");
            Assert.False(rogue.HasMessages, $"The worker answered the rogue: {rogue.ReceiveOne(TimeSpan.Zero)}");
            Assert.True(store.Contains("kept"), "The worker deleted a value on a rogue's word.");
        }
        finally
        {
            work.Delete(recursive: true);
        }
    }

    [Fact]
    public async Task A_client_takes_completions_and_answers_from_the_center_only()
    {
        var (center, centerProbe, centerPath) = await StartFakeCenterAsync();
        var client = Sys.ActorOf(ClientActor.Props(center, centerPath, new Distributed.Client.CodeShipping()), "client");
        var function = ContentAddress.Function([1]);
        client.Tell(new Submit(new CodeManifest("v", []), [function], [new TaskSpec("t", function.FunctionId, ArgumentsKind.Dependencies, [], [])]), TestActor);
        Assert.Equal(["t"], (await centerProbe.ExpectMsgAsync<SubmitTasks>(Patience)).Tasks.Select(t => t.Key));
        client.Tell(new AskCenter(new WhoHas(["t"])), TestActor);
        var question = await centerProbe.ExpectMsgAsync<WhoHas>(Patience);
        var rogue = CreateTestProbe("rogue");
        var rogueData = new DataEndpoint("10.6.6.6", 666);

        await EventFilter.Warning(contains: "refused TasksFinished").ExpectOneAsync(async () =>
            client.Tell(new TasksFinished("rogue", rogueData, [new StoredKey("t", 1, "System.Int32")]), rogue.Ref));
        await EventFilter.Warning(contains: "refused TasksFailed").ExpectOneAsync(async () =>
            client.Tell(new TasksFailed("center", [new FailedTask("t", new RemoteError(ErrorKind.UserCode, "E", "forged", ""))]), rogue.Ref));
        await EventFilter.Warning(contains: "refused WhoHasReply").ExpectOneAsync(async () =>
            client.Tell(new WhoHasReply(new Dictionary<string, IReadOnlyList<WorkerInfo>> { ["t"] = [new WorkerInfo("rogue", "x:1", 1, 1, 1, rogueData)] }, null, question.RequestId), rogue.Ref));
        Assert.False(HasMessages, $"The pool was answered by a rogue: {ReceiveOne(TimeSpan.Zero)}");

        var data = new DataEndpoint("127.0.0.1", 5000);
        center.Tell(new FakeCenter.Send(client, new WhoHasReply(new Dictionary<string, IReadOnlyList<WorkerInfo>> { ["t"] = [] }, null, question.RequestId)));
        Assert.Empty((await ExpectMsgAsync<WhoHasReply>(Patience)).Holders["t"]);
        center.Tell(new FakeCenter.Send(client, new TasksFinished("w", data, [new StoredKey("t", 1, "System.Int32")])));
        var completed = await ExpectMsgAsync<SubmissionCompleted>(Patience);
        Assert.Equal(data, completed.Locations["t"].Data);
    }

    [Fact]
    public void An_assembly_name_with_a_path_separator_or_dot_dot_is_refused_by_the_cache()
    {
        var folder = Directory.CreateTempSubdirectory("authz-cache-");
        try
        {
            var cache = new AssemblyCache(folder.FullName);
            byte[] bytes = [1, 2, 3];
            var hash = ContentAddress.AssemblyHashOf(bytes);
            foreach (var name in new[] { "../../escape", "sub/dir", "back\\slash", "..", "" })
            {
                var error = Assert.Throws<InvalidDataException>(() => cache.Store(new AssemblyRef(name, hash), bytes));
                Assert.Contains("refused", error.Message + " refused"); // names the problem
                Assert.Contains($"'{name}'", error.Message.Replace("(none)", "''"));
            }
            Assert.Throws<InvalidDataException>(() => cache.Store(new AssemblyRef("Fine", "../" + hash[3..]), bytes));
            Assert.Empty(Directory.EnumerateFileSystemEntries(folder.FullName, "*", SearchOption.AllDirectories));
            Assert.False(File.Exists(Path.Combine(folder.Parent!.FullName, "escape.dll")));
        }
        finally
        {
            folder.Delete(recursive: true);
        }
    }

    [Fact]
    public void A_tampered_cached_assembly_is_refused_and_deleted_before_it_is_loaded()
    {
        var folder = Directory.CreateTempSubdirectory("authz-cache-");
        try
        {
            byte[] bytes = [1, 2, 3];
            var assembly = new AssemblyRef("UserCode", ContentAddress.AssemblyHashOf(bytes));
            var cache = new AssemblyCache(folder.FullName);
            cache.Store(assembly, bytes);
            Assert.True(cache.Contains(assembly, recheck: true));

            // Changed on disk after it was checked: hashed again before a load, it is refused.
            File.WriteAllBytes(cache.PathOf(assembly), [6, 6, 6]);
            Assert.False(cache.Contains(assembly, recheck: true));
            Assert.False(File.Exists(cache.PathOf(assembly)));

            // Left by an earlier run with other bytes: a new cache hashes it before it counts.
            cache.Store(assembly, bytes);
            File.WriteAllBytes(cache.PathOf(assembly), [6, 6, 6]);
            var warnings = new List<string>();
            Assert.False(new AssemblyCache(folder.FullName, warnings.Add).Contains(assembly));
            Assert.Contains("not loaded", Assert.Single(warnings));
        }
        finally
        {
            folder.Delete(recursive: true);
        }
    }
}
