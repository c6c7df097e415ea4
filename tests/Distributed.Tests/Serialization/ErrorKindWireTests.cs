using System.Text;
using Akka.Actor;
using Akka.TestKit.Xunit2;
using Distributed.Data;
using Distributed.Protocol;
using Distributed.Worker.Executor;

namespace Distributed.Tests.Serialization;

/// <summary>
/// A failure's kind crosses every codec that carries a <see cref="RemoteError"/> (worker → center →
/// client, executor → worker) as one byte, and a byte that names no kind is refused by name.
/// </summary>
public sealed class ErrorKindWireTests() : TestKit("akka.actor.provider = local")
{
    public static TheoryData<ErrorKind> Kinds() => new(Enum.GetValues<ErrorKind>());

    private ProtocolSerializer Serializer => new((ExtendedActorSystem)Sys);

    [Theory]
    [MemberData(nameof(Kinds))]
    public void Every_kind_round_trips_through_the_task_failure_frame(ErrorKind kind)
    {
        var error = new RemoteError(kind, "Some.Type", "went wrong", "   at Somewhere()");
        var message = new TasksFailed("w", [new FailedTask("k", error), new FailedTask("j", RemoteError.Of(kind, "again"))]);

        var copy = (TasksFailed)Serializer.FromBinary(Serializer.ToBinary(message), Serializer.Manifest(message));

        Assert.Equal(message.Failures, copy.Failures);
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public void Every_kind_round_trips_through_the_executor_results_frame(ErrorKind kind)
    {
        var results = new List<ExecutorResult> { new("k", null, "", new RemoteError(kind, "Some.Type", "went wrong", "at X")), new("v", new StoredValue([1, 2], "System.Int32"), "System.Int32", null) };

        var copy = ReadExecutorResults(WriteExecutorResults(results));

        Assert.Equal(results[0].Error, copy[0].Error);
        Assert.Null(copy[1].Error);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(13)]
    [InlineData(255)]
    public void An_undefined_kind_in_a_task_failure_frame_is_refused_naming_the_kind_and_the_task(byte undefined)
    {
        var message = new TasksFailed("w", [new FailedTask("k", RemoteError.Of(ErrorKind.InputLost, "gone"))]);
        var bytes = Serializer.ToBinary(message);
        // worker "w" (2 bytes), failure count (4), key "k" (2), then the kind.
        Assert.Equal((byte)ErrorKind.InputLost, bytes[8]);
        bytes[8] = undefined;

        var refused = Assert.Throws<WireFormatException>(() => Serializer.FromBinary(bytes, Serializer.Manifest(message)));

        Assert.Contains($"unknown kind {undefined}", refused.Message);
        Assert.Contains("error of k", refused.Message);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(200)]
    public void An_undefined_kind_in_an_executor_results_frame_is_refused_naming_the_kind_and_the_task(byte undefined)
    {
        var bytes = WriteExecutorResults([new("k", null, "", RemoteError.Of(ErrorKind.TaskCancelled, "cancelled"))]);
        // frame byte (1), count (4), key "k" (2), its run (1: not timed), success flag (1), then the kind.
        Assert.Equal((byte)ErrorKind.TaskCancelled, bytes[9]);
        bytes[9] = undefined;

        var refused = Assert.Throws<WireFormatException>(() => ReadExecutorResults(bytes));

        Assert.Contains($"unknown kind {undefined}", refused.Message);
        Assert.Contains("error of k", refused.Message);
    }

    [Fact]
    public void A_kinds_error_is_named_as_before_kinds_existed_without_a_stack_trace()
    {
        var error = RemoteError.Of(ErrorKind.WorkerDeath, "died three times");

        Assert.Equal(new RemoteError(ErrorKind.WorkerDeath, "Distributed.WorkerDeathException", "died three times", ""), error);
        Assert.Equal("Distributed.TaskTimeoutException", RemoteError.NameOf(ErrorKind.TaskTimeout));
        Assert.All(Enum.GetValues<ErrorKind>(), kind => Assert.False(string.IsNullOrEmpty(RemoteError.NameOf(kind))));
    }

    private static byte[] WriteExecutorResults(IReadOnlyList<ExecutorResult> results)
    {
        using var stream = new MemoryStream();
        using (var writer = new BinaryWriter(stream, Encoding.UTF8, leaveOpen: true)) ExecutorFrames.WriteResults(writer, results);
        return stream.ToArray();
    }

    private static List<ExecutorResult> ReadExecutorResults(byte[] frame)
    {
        var stream = new MemoryStream(frame);
        Assert.Equal(ExecutorFrames.Results, stream.ReadByte());
        return ExecutorFrames.ReadResults(new WireReader(stream, WireLimits.Default));
    }
}
