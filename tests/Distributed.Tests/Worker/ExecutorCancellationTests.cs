using System.Net;
using System.Net.Sockets;
using Distributed.Data;
using Distributed.Data.Serialization;
using Distributed.Protocol;
using Distributed.Worker.Executor;

namespace Distributed.Tests.Worker;

/// <summary>
/// The executor's side of cancellation, served in this process over a loopback socket: a cancel
/// never skips a later run of the same key. (That it skips a queued run is not tested here: nothing
/// tells the test when the executor has read the cancel, so the run could start first.)
/// </summary>
public sealed class ExecutorCancellationTests : IAsyncDisposable
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(10);

    // The function the executor runs: blocks the run of the key named "slow" until the test lets it go.
    private static readonly SemaphoreSlim SlowRunMayFinish = new(0);

    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly Socket _client;
    private readonly NetworkStream _stream;
    private readonly BinaryWriter _writer;
    private readonly WireReader _reader;
    private readonly FunctionSpec _function;

    public ExecutorCancellationTests()
    {
        _listener.Start();
        _client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        _client.Connect((IPEndPoint)_listener.LocalEndpoint);
        var served = _listener.AcceptSocket();
        var executor = new ExecutorHost.Executor(threads: 1);
        new Thread(() => executor.Serve(new NetworkStream(served, ownsSocket: true))) { IsBackground = true, Name = "executor under test" }.Start();
        _stream = new NetworkStream(_client, ownsSocket: false);
        _writer = new BinaryWriter(_stream);
        _reader = new WireReader(_stream, WireLimits.Default);
        _function = ContentAddress.Function(new ValueCodec().Encode(new UnaryFunction<string, string>(WaitIfSlow)));
    }

    private static string WaitIfSlow(string name)
    {
        if (name == "slow") SlowRunMayFinish.Wait(TimeSpan.FromSeconds(30));
        return name + " ran";
    }

    [Fact]
    public async Task A_cancel_that_arrives_after_its_run_started_does_not_skip_the_next_run_of_that_key()
    {
        Send(Task("k", "slow"));
        Assert.Contains("k", await ReadStartedAsync());

        ExecutorFrames.WriteCancel(_writer, ["k"]);
        _writer.Flush();
        SlowRunMayFinish.Release();
        var first = await ReadResultAsync();
        Assert.Equal(("k", "slow ran"), (first.Key, Decode(first)));

        // The worker sends the key again (a remake, or a new assignment after the cancel's task ended).
        Send(Task("k", "fast"));
        var second = await ReadResultAsync();
        Assert.Null(second.Error);
        Assert.Equal("fast ran", Decode(second));
    }

    private ExecutorTask Task(string key, string argument) =>
        new(key, _function.FunctionId, ArgumentsKind.SingleValue, new ValueCodec().Encode(argument), [], TimeoutMs: 60_000);

    private void Send(ExecutorTask task)
    {
        ExecutorFrames.WriteBatch(_writer, new ExecutorBatch([_function], new Dictionary<string, StoredValue>(), [task]));
        _writer.Flush();
    }

    private static string? Decode(ExecutorResult result) =>
        result.Value is null ? $"no value: {result.Error}" : (string?)new ValueCodec().Decode(result.Value);

    private readonly Queue<ExecutorResult> _results = new();

    private async Task<IReadOnlyList<string>> ReadStartedAsync()
    {
        while (true)
        {
            var frame = await ReadFrameAsync();
            if (frame == ExecutorFrames.Started) return ExecutorFrames.ReadStarted(_reader);
            foreach (var result in ExecutorFrames.ReadResults(_reader)) _results.Enqueue(result);
        }
    }

    private async Task<ExecutorResult> ReadResultAsync()
    {
        while (_results.Count == 0)
        {
            var frame = await ReadFrameAsync();
            if (frame == ExecutorFrames.Started) ExecutorFrames.ReadStarted(_reader);
            else foreach (var result in ExecutorFrames.ReadResults(_reader)) _results.Enqueue(result);
        }
        return _results.Dequeue();
    }

    private async Task<byte> ReadFrameAsync()
    {
        var frame = new byte[1];
        using var deadline = new CancellationTokenSource(Patience);
        await _stream.ReadExactlyAsync(frame, deadline.Token);
        Assert.True(frame[0] is ExecutorFrames.Started or ExecutorFrames.Results, $"unexpected frame {frame[0]} from the executor");
        return frame[0];
    }

    public ValueTask DisposeAsync()
    {
        _client.Dispose();
        _listener.Stop();
        _listener.Dispose();
        return ValueTask.CompletedTask;
    }
}
