using Akka.Actor;
using Akka.TestKit;
using Distributed.Center;
using Distributed.Protocol;
using Xunit.Abstractions;

namespace Distributed.Tests.Center;

/// <summary>A worker played by a test probe.</summary>
public sealed record FakeWorker(string Name, TestProbe Probe, string Address, DataEndpoint Data);

/// <summary>
/// A <see cref="CenterActor"/> under test, with workers and clients played by test probes, and the
/// protocol's messages written the way the real workers and clients write them.
/// </summary>
public abstract class CenterSpec : DistributedSpec
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(3);
    private int _nextPort = 9100;

    protected CenterSpec(ITestOutputHelper output) : base(output)
    {
        Center = Sys.ActorOf(CenterActor.Props(), "center");
    }

    protected IActorRef Center { get; }

    protected static readonly FunctionSpec Function = ContentAddress.Function([1, 2, 3]);
    protected static readonly CodeManifest Code = new("version-1", [new AssemblyRef("UserCode", new string('a', 64))]);

    /// <summary>The client that asks the center's questions for the tests: the first one connected, else one connected to ask.</summary>
    private TestProbe? _asker;

    protected async Task<FakeWorker> RegisterWorkerAsync(string name, int cores = 1)
    {
        var port = _nextPort++;
        var worker = new FakeWorker(name, CreateTestProbe($"{name}-{port}"), $"127.0.0.1:{port}", new DataEndpoint("127.0.0.1", port + 1000));
        Center.Tell(new RegisterWorker(name, worker.Address, cores, worker.Data), worker.Probe.Ref);
        await worker.Probe.ExpectMsgAsync<WorkerRegistered>(Patience);
        return worker;
    }

    protected async Task<TestProbe> ConnectClientAsync(string name = "client")
    {
        var client = CreateTestProbe(name);
        Center.Tell(new ConnectClient(), client.Ref);
        await client.ExpectMsgAsync<ClientConnected>(Patience);
        _asker ??= client;
        return client;
    }

    private async Task<TestProbe> AskerAsync() => _asker ?? await ConnectClientAsync("asker");

    /// <summary>Copies <paramref name="keys"/> to <paramref name="worker"/> as a real replication does: the client asks, the center tells the worker, the worker reports.</summary>
    protected async Task CopyAsync(TestProbe client, FakeWorker worker, params string[] keys)
    {
        Center.Tell(new ReplicateKeys(keys, worker.Name), client.Ref);
        var fetch = await worker.Probe.ExpectMsgAsync<FetchKeys>(Patience);
        Center.Tell(new KeysAdded(keys.Select(k => new StoredKey(k, 8, "System.Int32")).ToList(), fetch.ReplicationId), worker.Probe.Ref);
        var finished = await client.FishForMessageAsync<ReplicationFinished>(_ => true, Patience);
        Assert.Null(finished.Error);
    }

    /// <summary>A task of <see cref="Function"/> whose arguments are its dependencies.</summary>
    protected static TaskSpec Task(string key, params string[] dependencies) =>
        new(key, Function.FunctionId, ArgumentsKind.Dependencies, [], dependencies);

    protected void Submit(TestProbe client, params TaskSpec[] tasks) =>
        Center.Tell(new SubmitTasks(Code, [Function], tasks), client.Ref);

    /// <summary>The worker reports, as a real one does, that it stored the results of these tasks.</summary>
    protected void Finish(FakeWorker worker, params string[] keys) => Finish(worker, 8, keys);

    protected void Finish(FakeWorker worker, long size, params string[] keys) =>
        Center.Tell(new TasksFinished(worker.Name, worker.Data, keys.Select(k => new StoredKey(k, size, "System.Int32")).ToList()), worker.Probe.Ref);

    protected void Fail(FakeWorker worker, string key, string message) =>
        Center.Tell(new TasksFailed(worker.Name, [new FailedTask(key, new RemoteError(ErrorKind.UserCode, "System.InvalidOperationException", message, "   at UserCode.Run()"))]), worker.Probe.Ref);

    /// <summary>Expects the next message of <paramref name="worker"/> to be a RunTasks of exactly these tasks.</summary>
    protected static async Task<RunTasks> ExpectRunAsync(FakeWorker worker, params string[] keys)
    {
        var run = await worker.Probe.ExpectMsgAsync<RunTasks>(Patience);
        Assert.True(keys.Order().SequenceEqual(run.Tasks.Select(t => t.Key).Order()),
            $"Worker {worker.Name} was told to run [{string.Join(", ", run.Tasks.Select(t => t.Key))}]; expected [{string.Join(", ", keys)}].");
        return run;
    }

    protected async Task<WorkersReply> GetWorkersAsync(bool includeKeys)
    {
        var asker = await AskerAsync();
        Center.Tell(new GetWorkers(includeKeys), asker.Ref);
        return await asker.FishForMessageAsync<WorkersReply>(_ => true, Patience);
    }

    /// <summary>The holders of keys, asked by the first client connected (a client sees its own keys only).</summary>
    protected async Task<IReadOnlyDictionary<string, IReadOnlyList<WorkerInfo>>> WhoHasAsync(params string[] keys) =>
        (await WhoHasReplyAsync(await AskerAsync(), keys)).Holders;

    protected async Task<WhoHasReply> WhoHasReplyAsync(TestProbe asker, params string[] keys)
    {
        Center.Tell(new WhoHas(keys), asker.Ref);
        return await asker.FishForMessageAsync<WhoHasReply>(_ => true, Patience); // past its completions
    }

    /// <summary>
    /// Waits until the center has handled everything sent to it so far: it handles messages in order and
    /// tells local probes synchronously, so whatever it sent for earlier messages is in their mailboxes.
    /// </summary>
    protected async Task SettleAsync() => await GetWorkersAsync(false);

    protected async Task AssertNothingSentToAsync(TestProbe probe, string phase)
    {
        await SettleAsync();
        Assert.False(probe.HasMessages, $"{phase}: {probe.Ref.Path.Name} should have been sent nothing, but it was sent {Describe(probe.ReceiveOne(TimeSpan.Zero))}.");
    }

    protected static string Describe(object? message) => message switch
    {
        TasksFailed failed => $"TasksFailed from {failed.Worker}: {string.Join("; ", failed.Failures.Select(f => $"{f.Key}: {f.Error.TypeName}: {f.Error.Message}"))}",
        RunTasks run => $"RunTasks [{string.Join(", ", run.Tasks.Select(t => t.Key))}]",
        DeleteKeys delete => $"DeleteKeys [{string.Join(", ", delete.Keys)}]",
        _ => message?.ToString() ?? "null",
    };
}
