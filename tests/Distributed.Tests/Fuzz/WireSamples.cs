using Akka.Actor;
using Distributed.Protocol;

namespace Distributed.Tests.Fuzz;

/// <summary>
/// One sample of every record of our protocol, filled in the way real traffic fills it (several
/// entries per list, a null where a field may be null), made with the actor references it needs.
/// A test checks by reflection that every record of <c>Distributed.Protocol</c> is here.
/// </summary>
public static class WireSamples
{
    public static IReadOnlyList<object> All(IActorRef actor)
    {
        var endpoint = new DataEndpoint("127.0.0.1", 40_001);
        var assembly = new AssemblyRef("App-3f2a", "3f2a9c0d4e5b6a7f8091a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f7");
        var native = new NativeLibraryRef("SQLitePCLRaw.lib.e_sqlite3", "linux-x64", "libe_sqlite3.so", "9654");
        var code = new CodeManifest("v-91a2b3", [assembly, new AssemblyRef("Lib-77aa", "77aa")], [native]);
        var function = new FunctionSpec("fn-5d1e", [0, 1, 2, 3, 250, 251, 252]);
        var resources = new Dictionary<string, double> { ["GPU"] = 1, ["MEM"] = 8e9 };
        var restrictions = new TaskRestrictions(["worker-1", "127.0.0.1:8788"], resources);
        var tasks = new[]
        {
            new TaskSpec("map-0", "fn-5d1e", ArgumentsKind.SingleValue, [8, 1, 0, 0, 0], []),
            new TaskSpec("map-1", "fn-5d1e", ArgumentsKind.Dependencies, [], ["a", "b"], ReleaseAfterConsumers: 2, Priority: 7),
            new TaskSpec("sum", "fn-9e9e", ArgumentsKind.Template, [0, 9, 9], ["map-0", "map-1"], TimeoutMs: 2_500),
            new TaskSpec("gpu-0", "fn-9e9e", ArgumentsKind.SingleValue, [1], [], Restrictions: restrictions),
        };
        var error = new RemoteError(ErrorKind.UserCode, "System.InvalidOperationException", "boom", "   at App.Main()\n   at App.Run()");
        var worker = new WorkerInfo("worker-1", "akka.ssl.tcp://distributed@127.0.0.1:8788", 2, 3, 4_096, endpoint, resources);
        var progress = new ClientProgress("client#1", 12, 9, 1, 2, 4096);
        var stored = new StoredKey("map-0", 24, "System.Int32");
        var failed = new FailedTask("map-1", error);
        var input = new RemoteInput("a", [endpoint, new DataEndpoint("127.0.0.2", 40_002)]);
        return
        [
            endpoint, assembly, native, code, function, tasks[1], restrictions, error, worker, progress, stored, failed, input, new HostPort("127.0.0.1", 8787),
            new RegisterWorker("worker-1", "akka.ssl.tcp://distributed@127.0.0.1:8788", 2, endpoint, [stored], "incarnation-1"),
            new RegisterWorker("worker-2", "akka.ssl.tcp://distributed@127.0.0.1:8789", 1, endpoint),
            new RegisterWorker("worker-3", "akka.ssl.tcp://distributed@127.0.0.1:8790", 1, endpoint, Resources: resources),
            new WorkerRegistered("akka.ssl.tcp://distributed@127.0.0.1:8787", "worker-1", "incarnation-1"),
            new ClaimKeys(["map-0", "map-1"], ["old"], RequestId: 41),
            new KeysClaimed(["map-1"], RequestId: 41),
            new ConnectClient(RequestId: 1),
            new ClientConnected([worker], RequestId: 1),
            new SubmitTasks(code, [function], tasks),
            new WhoHas(["map-0", "gone"], RequestId: 2),
            new WhoHasReply(new Dictionary<string, IReadOnlyList<WorkerInfo>> { ["map-0"] = [worker], ["gone"] = [] },
                new Dictionary<string, string> { ["gone"] = "its worker died" }, RequestId: 2),
            new GetWorkers(true, RequestId: 3),
            new WorkersReply([worker], new Dictionary<string, IReadOnlyList<string>> { ["worker-1"] = ["map-0", "sum"] }, RequestId: 3),
            new GetProgress(RequestId: 8),
            new ProgressReply([progress, new ClientProgress("client#2", 0, 0, 0, 0, 0)], "client#1", RequestId: 8),
            new ReleaseKeys(["map-0"]),
            DisconnectClient.Instance,
            new KeysAdded([stored], ReplicationId: 5), new KeysAdded([], 6, "no holder answered"),
            new ReplicateKeys(["map-0"], "worker-2", RequestId: 4),
            new ReplicationFinished(["map-0"], null, RequestId: 4),
            new ReplicationFinished(["map-1"], "no holder"),
            new RunTasks(actor, code, [function, new FunctionSpec("fn-9e9e", [])], tasks, [input]),
            new TasksFinished("worker-1", endpoint, [stored, new StoredKey("sum", 8, "System.Int64")]),
            new TasksFinished("worker-1", endpoint, [stored, new StoredKey("sum", 8, "System.Int64")], TaskTimes.Encode([new TaskRun(1, 1_000, 51_000), default], 90_000)),
            new TasksFailed("worker-1", [failed, new FailedTask("sum", error)]),
            new DeleteKeys(["map-0", "map-1"]),
            new CancelTasks(["sum"]),
            new RequestAssemblies([assembly]),
            new AssemblyBytes(assembly, [77, 90, 144, 0]),
            new AssemblyBytes(assembly, null),
            new ResolveAssemblyName("fr/Localized.resources"),
            new AssemblyNameResolved("LoadedByName", assembly, null),
            new AssemblyNameResolved("Missing", null, "The client program has no assembly Missing either."),
            new FetchKeys([input], 5),
            // Scatter and named datasets (issue 13).
            new ScatterKeys([stored, new StoredKey("int32-9f86d081884c7d65", 4, "System.Int32")], Broadcast: false, RequestId: 9),
            new ScatterTarget(worker, 12, ["map-0"]),
            new ScatterPlan([new ScatterTarget(worker, 12, ["map-0"])], new Dictionary<string, string> { ["taken"] = "The key taken belongs to another client." }, RequestId: 9),
            new ScatterPlan([], RequestId: 10),
            new AwaitScattered(["map-0"], RequestId: 11),
            new ScatterStored(new Dictionary<string, string> { ["map-0"] = "its worker left" }, RequestId: 11),
            new ScatterStored(RequestId: 12),
            new PublishDataset("training-set", ["map-0", "map-1"], Overwrite: true, RequestId: 13),
            new UnpublishDataset("training-set", RequestId: 14),
            new GetDataset("training-set", RequestId: 15),
            new ListDatasets(RequestId: 16),
            new DatasetReply(null, [stored], ["training-set", "weights"], RequestId: 15),
            new DatasetReply("There is no dataset named x.", [], [], RequestId: 14),
            // Graceful retirement (issue 14).
            RetireMe.Instance,
            new RetireWorkers(["worker-1", "worker-2"], RequestId: 17),
            new WorkersRetired(["worker-1", "worker-2"], null, RequestId: 17),
            new WorkersRetired(["worker-9"], "There is no worker named worker-9.", RequestId: 18),
            new WorkerRetired(null),
            new WorkerRetired("no other worker remains to take its values: 3 leave with it"),
            LeavingNow.Instance,
            LeaveNoted.Instance,
            // The dashboard's worker status (issue 14).
            new WorkerStatus(512L << 20, 8L << 30, 300L << 20, 40L << 20, 120, 7, 3, 187.5, 1_000_000, 250_000, 1, 4_096),
        ];
    }

    /// <summary>Every record type declared in the protocol's namespace.</summary>
    public static IReadOnlyList<Type> ProtocolRecords() =>
        typeof(IProtocolMessage).Assembly.GetTypes()
            .Where(t => t.Namespace == typeof(IProtocolMessage).Namespace && t is { IsClass: true, IsAbstract: false, IsNested: false })
            .Where(t => t.GetMethod("<Clone>$") is not null) // what the compiler gives records only
            .ToList();
}
