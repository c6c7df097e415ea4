using Akka.Actor;
using Akka.TestKit;
using Distributed.Protocol;
using Xunit.Abstractions;

namespace Distributed.Tests.Center;

/// <summary>
/// A client's code reaches the workers through the center (issue 16: a client may accept no connection):
/// a worker is given the center's relay for the client, asks it, and gets the client's bytes from it.
/// </summary>
public sealed class AssemblyRelayTests(ITestOutputHelper output) : CenterSpec(output)
{
    private static readonly AssemblyRef UserCode = Code.Assemblies[0];

    [Fact]
    public async Task A_worker_asks_the_center_for_a_clients_assembly_and_gets_the_clients_bytes_from_it()
    {
        var (worker, client, relay) = await RunOneTaskAsync();
        Assert.Equal(Center.Path, relay.Path.Parent);

        relay.Tell(new RequestAssemblies([UserCode]), worker.Probe.Ref);
        var asked = await client.FishForMessageAsync<RequestAssemblies>(_ => true);
        Assert.Equal([UserCode], asked.Assemblies);
        client.Reply(new AssemblyBytes(UserCode, [1, 2, 3]));

        var bytes = await worker.Probe.FishForMessageAsync<AssemblyBytes>(_ => true);
        Assert.Equal([1, 2, 3], bytes.Bytes);
        Assert.Equal(relay, worker.Probe.LastSender); // the worker knows the client by the relay it was given
    }

    [Fact]
    public async Task Two_workers_waiting_for_one_assembly_cost_the_client_one_request()
    {
        var (first, client, relay) = await RunOneTaskAsync();
        var second = await RegisterWorkerAsync("second");

        relay.Tell(new RequestAssemblies([UserCode]), first.Probe.Ref);
        relay.Tell(new RequestAssemblies([UserCode]), second.Probe.Ref);
        await client.FishForMessageAsync<RequestAssemblies>(_ => true);
        client.Reply(new AssemblyBytes(UserCode, [4]));

        Assert.Equal([4], (await first.Probe.FishForMessageAsync<AssemblyBytes>(_ => true)).Bytes);
        Assert.Equal([4], (await second.Probe.FishForMessageAsync<AssemblyBytes>(_ => true)).Bytes);
        await client.ExpectNoMsgAsync(TimeSpan.FromMilliseconds(200));
    }

    [Fact]
    public async Task Bytes_from_anyone_but_the_client_are_not_relayed()
    {
        var (worker, client, relay) = await RunOneTaskAsync();
        var impostor = CreateTestProbe("impostor");
        relay.Tell(new RequestAssemblies([UserCode]), worker.Probe.Ref);
        await client.FishForMessageAsync<RequestAssemblies>(_ => true);

        relay.Tell(new AssemblyBytes(UserCode, [6, 6, 6]), impostor.Ref);
        client.Reply(new AssemblyBytes(UserCode, [1]));

        Assert.Equal([1], (await worker.Probe.FishForMessageAsync<AssemblyBytes>(_ => true)).Bytes);
        await worker.Probe.ExpectNoMsgAsync(TimeSpan.FromMilliseconds(200));
    }

    [Fact]
    public async Task Workers_ask_the_client_once_which_assembly_a_name_is_and_hear_only_the_clients_answer()
    {
        var (worker, client, relay) = await RunOneTaskAsync();
        var other = CreateTestProbe("other-worker");
        var impostor = CreateTestProbe("impostor");
        relay.Tell(new ResolveAssemblyName("LoadedByName"), worker.Probe.Ref);
        relay.Tell(new ResolveAssemblyName("LoadedByName"), other.Ref);
        Assert.Equal("LoadedByName", (await client.FishForMessageAsync<ResolveAssemblyName>(_ => true)).Name);
        await client.ExpectNoMsgAsync(TimeSpan.FromMilliseconds(200));

        relay.Tell(new AssemblyNameResolved("LoadedByName", null, "forged"), impostor.Ref);
        relay.Tell(new AssemblyNameResolved("LoadedByName", UserCode, null), client.Ref);

        Assert.Equal(UserCode, (await worker.Probe.FishForMessageAsync<AssemblyNameResolved>(_ => true)).Assembly);
        Assert.Equal(UserCode, (await other.FishForMessageAsync<AssemblyNameResolved>(_ => true)).Assembly);
        await other.ExpectNoMsgAsync(TimeSpan.FromMilliseconds(200));
    }

    [Fact]
    public async Task The_relay_stops_when_its_client_leaves()
    {
        var (_, client, relay) = await RunOneTaskAsync();
        var watcher = CreateTestProbe("watcher");
        watcher.Watch(relay);

        Center.Tell(DisconnectClient.Instance, client.Ref);

        await watcher.ExpectTerminatedAsync(relay);
    }

    /// <summary>A worker and a client, and the relay the worker was given with the client's first task.</summary>
    private async Task<(FakeWorker Worker, TestProbe Client, IActorRef Relay)> RunOneTaskAsync()
    {
        var worker = await RegisterWorkerAsync("w");
        var client = await ConnectClientAsync();
        Submit(client, Task("k"));
        var run = await ExpectRunAsync(worker, "k");
        return (worker, client, run.Client);
    }
}
