using Akka.Actor;
using Akka.TestKit.Xunit2;
using Distributed.Protocol;

namespace Distributed.Tests.Serialization;

public sealed class ProtocolSerializerTests() : TestKit("akka.actor.provider = local")
{
    private ProtocolSerializer Serializer => new((ExtendedActorSystem)Sys);

    private T RoundTrip<T>(T message) where T : notnull
    {
        var serializer = Serializer;
        return (T)serializer.FromBinary(serializer.ToBinary(message), serializer.Manifest(message));
    }

    [Fact]
    public void Task_batches_keep_every_field_including_repeated_function_ids()
    {
        var code = new CodeManifest("v1", [new AssemblyRef("App", "abc")]);
        var tasks = new[]
        {
            new TaskSpec("k-0", "f1", ArgumentsKind.SingleValue, [1, 2, 3], []),
            new TaskSpec("k-1", "f1", ArgumentsKind.Dependencies, [], ["a", "b"]),
            new TaskSpec("k-2", "f2", ArgumentsKind.Template, [9], ["a"], ReleaseAfterConsumers: 3, TimeoutMs: 2_500),
        };
        var message = new RunTasks(TestActor, code, [new FunctionSpec("f1", [7, 7])], tasks, [new RemoteInput("a", [new DataEndpoint("127.0.0.1", 5000)])]);

        var copy = RoundTrip(message);

        Assert.Equal(TestActor, copy.Client);
        Assert.Equal(code.Version, copy.Code.Version);
        Assert.Equal(code.Assemblies, copy.Code.Assemblies);
        Assert.Equal(new byte[] { 7, 7 }, copy.Functions.Single().Payload);
        Assert.Equal(tasks.Select(t => (t.Key, t.FunctionId, t.Kind)), copy.Tasks.Select(t => (t.Key, t.FunctionId, t.Kind)));
        Assert.Equal(tasks.Select(t => t.Args), copy.Tasks.Select(t => t.Args));
        Assert.Equal(tasks.Select(t => t.Dependencies), copy.Tasks.Select(t => t.Dependencies));
        Assert.Equal(tasks.Select(t => t.ReleaseAfterConsumers), copy.Tasks.Select(t => t.ReleaseAfterConsumers));
        Assert.Equal(tasks.Select(t => t.TimeoutMs), copy.Tasks.Select(t => t.TimeoutMs));
        Assert.Equal(new DataEndpoint("127.0.0.1", 5000), copy.RemoteInputs.Single().Holders.Single());
    }

    [Fact]
    public void Completions_and_failures_round_trip()
    {
        var finished = RoundTrip(new TasksFinished("w1", new DataEndpoint("h", 1), [new StoredKey("k", 12, "System.Int32")]));
        var failed = RoundTrip(new TasksFailed("w2", [new FailedTask("k", new RemoteError(ErrorKind.UserCode, "E", "boom", "at X"))]));

        Assert.Equal(new StoredKey("k", 12, "System.Int32"), finished.Results.Single());
        Assert.Equal(new RemoteError(ErrorKind.UserCode, "E", "boom", "at X"), failed.Failures.Single().Error);
        Assert.Equal("w2", failed.Worker);
    }
}
