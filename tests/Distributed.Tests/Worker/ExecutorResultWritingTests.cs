using System.Net;
using System.Net.Sockets;
using Distributed.Data;
using Distributed.Data.Serialization;
using Distributed.Protocol;
using Distributed.Worker.Executor;

namespace Distributed.Tests.Worker;

/// <summary>
/// How the executor writes its answers, served in this process over a loopback socket: a runner whose
/// queue ran dry writes its result itself (no wait for the writer task's wake-up), and with runners and
/// the writer task both writing, every result comes once, each task's start before its result.
/// </summary>
public sealed class ExecutorResultWritingTests : IAsyncDisposable
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(20);

    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly Socket _client;
    private readonly NetworkStream _stream;
    private readonly BinaryWriter _writer;
    private readonly WireReader _reader;
    private readonly FunctionSpec _function = ContentAddress.Function(new ValueCodec().Encode(new UnaryFunction<int, int>(x => x + 1)));
    private readonly ExecutorHost.Executor _executor = new(threads: 2);

    public ExecutorResultWritingTests()
    {
        _listener.Start();
        _client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        _client.Connect((IPEndPoint)_listener.LocalEndpoint);
        var served = _listener.AcceptSocket();
        new Thread(() => _executor.Serve(new NetworkStream(served, ownsSocket: true))) { IsBackground = true, Name = "executor under test" }.Start();
        _stream = new NetworkStream(_client, ownsSocket: false);
        _writer = new BinaryWriter(_stream);
        _reader = new WireReader(_stream, WireLimits.Default);
    }

    [Fact]
    public async Task A_lone_task_s_result_is_written_by_the_runner_that_ran_it()
    {
        for (var i = 0; i < 5; i++)
        {
            Send([Task($"lone-{i}", i, timeoutMs: 0)]);
            var (_, results) = await ReadUntilAsync(1);
            Assert.Equal(i + 1, Decode(results[$"lone-{i}"]));
        }
        // The writer task may take one along now and then (it wakes for each), but not all of them.
        Assert.True(_executor.WritesByRunners > 0, "no runner wrote its own result");
    }

    [Fact]
    public async Task With_runners_and_the_writer_both_writing_every_result_comes_once_after_its_start()
    {
        const int Batches = 200, PerBatch = 10;
        var sent = 0;
        for (var b = 0; b < Batches; b++)
        {
            // Half with a timeout: their starts are announced, and must precede their results.
            Send(Enumerable.Range(0, PerBatch).Select(i => Task($"t-{b}-{i}", b * PerBatch + i, timeoutMs: i % 2 == 0 ? 60_000 : 0)).ToList());
            sent += PerBatch;
        }
        var (started, results) = await ReadUntilAsync(sent);

        Assert.Equal(sent, results.Count);
        for (var b = 0; b < Batches; b++)
            for (var i = 0; i < PerBatch; i++)
                Assert.Equal(b * PerBatch + i + 1, Decode(results[$"t-{b}-{i}"]));
        Assert.Equal(sent / 2, started.Count);
    }

    private ExecutorTask Task(string key, int argument, long timeoutMs) =>
        new(key, _function.FunctionId, ArgumentsKind.SingleValue, new ValueCodec().Encode(argument), [], timeoutMs);

    private void Send(IReadOnlyList<ExecutorTask> tasks)
    {
        ExecutorFrames.WriteBatch(_writer, new ExecutorBatch([_function], new Dictionary<string, StoredValue>(), tasks));
        _writer.Flush();
    }

    private static int Decode(ExecutorResult result) =>
        result.Value is null ? throw new InvalidOperationException($"{result.Key} has no value: {result.Error}") : (int)new ValueCodec().Decode(result.Value)!;

    /// <summary>Reads frames until <paramref name="count"/> results came, checking that none comes twice and that none comes before its announced start.</summary>
    private async Task<(HashSet<string> Started, Dictionary<string, ExecutorResult> Results)> ReadUntilAsync(int count)
    {
        var started = new HashSet<string>(StringComparer.Ordinal);
        var results = new Dictionary<string, ExecutorResult>(StringComparer.Ordinal);
        var frame = new byte[1];
        using var deadline = new CancellationTokenSource(Patience);
        while (results.Count < count)
        {
            await _stream.ReadExactlyAsync(frame, deadline.Token);
            if (frame[0] == ExecutorFrames.Started)
            {
                foreach (var key in ExecutorFrames.ReadStarted(_reader))
                {
                    Assert.False(results.ContainsKey(key), $"{key}'s start came after its result");
                    Assert.True(started.Add(key), $"{key} started twice");
                }
                continue;
            }
            Assert.Equal(ExecutorFrames.Results, frame[0]);
            foreach (var result in ExecutorFrames.ReadResults(_reader))
            {
                Assert.True(results.TryAdd(result.Key, result), $"{result.Key} answered twice");
                // A task with a timeout was announced before it ran.
                if (result.Key.StartsWith("t-", StringComparison.Ordinal) && int.Parse(result.Key[(result.Key.LastIndexOf('-') + 1)..]) % 2 == 0)
                    Assert.Contains(result.Key, started);
            }
        }
        return (started, results);
    }

    public ValueTask DisposeAsync()
    {
        _client.Dispose();
        _listener.Stop();
        _listener.Dispose();
        return ValueTask.CompletedTask;
    }
}
