using System.Net;
using System.Net.Sockets;
using Distributed.Data;
using Distributed.Data.Serialization;
using Distributed.Protocol;
using Distributed.Worker.Executor;

namespace Distributed.Tests.Worker;

/// <summary>
/// An executor keeps the worker's shared segments mapped across batches: a segment read (or written)
/// batch after batch is opened and mapped once; one the worker lets go is unmapped in the executor,
/// but never under a use that still reads it; and a later segment that gets the same descriptor number is
/// mapped afresh, never read through the old mapping. Segments of this process stand in for the worker's.
/// </summary>
public sealed class ExecutorSegmentCacheTests : IAsyncDisposable
{
    private const int Size = 3 << 20; // shared: above ValueBufferPool.DefaultSharedMinimumBytes
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(10);

    private readonly ValueBufferPool _pool = new(1L << 30, ValueBufferPool.DefaultSharedMinimumBytes);
    private readonly ExecutorSegmentCache _cache = ExecutorSegmentCache.OfWorker(Environment.ProcessId);

    [SkippableFact]
    public void A_segment_used_batch_after_batch_is_mapped_once_and_shows_each_new_value()
    {
        Skip.IfNot(SharedSegment.IsSupported, "shared segments need Linux");
        var segment = _pool.RentSegment(Size)!;
        SharedSegment mapping;
        for (byte round = 1; round <= 3; round++)
        {
            segment.GetSpan()[..Size].Fill(round); // the worker's next value in the same segment
            using var use = _cache.Use(segment.Id, segment.Descriptor, Size);
            Assert.All(use.Memory.ToArray(), b => Assert.Equal(round, b));
            mapping = use.Mapping;
            use.Memory.Span[0] = 99; // and a result written into it, as into a lent segment
            Assert.Equal(99, segment.GetSpan()[0]);
        }
        Assert.Equal(1, _cache.Opened);
        Assert.Equal(1, _cache.MappedCount);
    }

    [SkippableFact]
    public void A_segment_the_worker_lets_go_is_unmapped_once_its_last_use_ends_and_its_descriptor_number_is_never_read_through_it_again()
    {
        Skip.IfNot(SharedSegment.IsSupported, "shared segments need Linux");
        var pool = new ValueBufferPool(0, ValueBufferPool.DefaultSharedMinimumBytes); // keeps nothing idle: a returned segment is unmapped
        var freed = new List<long>();
        pool.SegmentUnmapped += freed.Add;
        var first = pool.RentSegment(Size)!;
        first.GetSpan().Fill(1);
        var (id, descriptor) = (first.Id, first.Descriptor);
        var reading = _cache.Use(id, descriptor, Size);

        pool.ReturnSegment(first); // the worker lets it go (in truth only after the reader answered: here the cache must still hold)
        Assert.Equal([id], freed);
        _cache.Forget(freed);
        Assert.False(reading.Mapping.IsDisposed);
        Assert.All(reading.Memory.ToArray(), b => Assert.Equal(1, b)); // the file lives on in the executor's mapping
        Assert.Equal(0, _cache.MappedCount);

        reading.Dispose();
        Assert.True(reading.Mapping.IsDisposed);
        Assert.Throws<ObjectDisposedException>(() => reading.Memory);
        reading.Dispose(); // once only

        // The next memory file may get the same descriptor number: a new id, so mapped afresh, its own bytes.
        var second = pool.RentSegment(Size)!;
        second.GetSpan().Fill(2);
        using var next = _cache.Use(second.Id, second.Descriptor, Size);
        Assert.All(next.Memory.ToArray(), b => Assert.Equal(2, b));
        Assert.Equal(2, _cache.Opened);
        pool.ReturnSegment(second);
    }

    [SkippableFact]
    public void Idle_mappings_past_the_cap_are_unmapped_least_recently_used_first_and_mapped_again_when_named()
    {
        Skip.IfNot(SharedSegment.IsSupported, "shared segments need Linux");
        var segments = Enumerable.Range(0, 3).Select(_ => _pool.RentSegment(Size)!).ToList();
        var capped = new ExecutorSegmentCache((descriptor, length) => SharedSegment.OpenWhole(Environment.ProcessId, descriptor, length),
            maxIdleBytes: 2L * segments[0].Capacity);
        var mappings = new List<SharedSegment>();
        var held = capped.Use(segments[0].Id, segments[0].Descriptor, Size); // in use: never evicted
        foreach (var segment in segments.Skip(1))
            using (var use = capped.Use(segment.Id, segment.Descriptor, Size)) mappings.Add(use.Mapping);
        Assert.Equal(3, capped.MappedCount);
        held.Dispose(); // three idle, room for two: the least recently used (segments[1]) goes
        Assert.True(mappings[0].IsDisposed);
        Assert.False(mappings[1].IsDisposed);
        Assert.Equal(2, capped.MappedCount);
        using (capped.Use(segments[1].Id, segments[1].Descriptor, Size)) { }
        Assert.Equal(4, capped.Opened);
        capped.Dispose();
    }

    [SkippableFact]
    public void The_pool_says_when_it_unmaps_a_segment_for_good_and_not_when_it_keeps_one_idle()
    {
        Skip.IfNot(SharedSegment.IsSupported, "shared segments need Linux");
        var pool = new ValueBufferPool(ValueBufferPool.ClassSize(Size), ValueBufferPool.DefaultSharedMinimumBytes); // room for one idle
        var unmapped = new List<long>();
        pool.SegmentUnmapped += unmapped.Add;
        var (kept, over, lent) = (pool.RentSegment(Size)!, pool.RentSegment(Size)!, pool.RentSegment(Size)!);
        pool.ReturnSegment(kept);
        pool.ReturnSegment(over);
        pool.DiscardSegment(lent);
        Assert.Equal([over.Id, lent.Id], unmapped);
    }

    [SkippableFact]
    public async Task An_executor_reading_one_shared_input_and_writing_into_one_lent_segment_batch_after_batch_maps_each_once_and_unmaps_a_freed_one()
    {
        Skip.IfNot(SharedSegment.IsSupported, "shared segments need Linux");
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        using var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        client.Connect((IPEndPoint)listener.LocalEndpoint);
        var served = listener.AcceptSocket();
        var executor = new ExecutorHost.Executor(threads: 1) { WorkerProcessId = Environment.ProcessId };
        new Thread(() => executor.Serve(new NetworkStream(served, ownsSocket: true))) { IsBackground = true, Name = "executor under test" }.Start();
        using var stream = new NetworkStream(client, ownsSocket: false);
        var writer = new BinaryWriter(stream);
        var reader = new WireReader(stream, WireLimits.Default);
        var codec = new ValueCodec();
        var function = ContentAddress.Function(codec.Encode(new UnaryFunction<double[], double[]>(xs => xs.Select(x => x + 1).ToArray())));

        var input = _pool.RentSegment(Size)!;
        var lent = _pool.RentSegment(Size)!;
        var elements = (Size - 1) / sizeof(double);
        for (var round = 0; round < 3; round++)
        {
            var values = Enumerable.Range(0, elements).Select(i => (double)(i + round)).ToArray();
            var length = ValueCodec.RawEncodedLength(values)!.Value;
            ValueCodec.EncodeInto(values, input.GetSpan()[..length]);
            ExecutorFrames.WriteBatch(writer, new ExecutorBatch(round == 0 ? [function] : [], new Dictionary<string, StoredValue>(),
                [new ExecutorTask($"t{round}", function.FunctionId, ArgumentsKind.Dependencies, [], ["v"])],
                new Dictionary<string, SharedReference> { ["v"] = new(input.Descriptor, input.Id, 0, length) }));

            // The result is large: the executor asks for a segment, and gets the same one every time.
            using var deadline = new CancellationTokenSource(Patience);
            Assert.Equal(ExecutorFrames.SegmentWanted, await ReadFrameAsync(stream, deadline.Token));
            var (request, wanted) = ExecutorFrames.ReadSegmentWanted(reader);
            Assert.Equal(length, wanted);
            ExecutorFrames.WriteSegmentLent(writer, request, lent.Descriptor, lent.Id);
            Assert.Equal(ExecutorFrames.Results, await ReadFrameAsync(stream, deadline.Token));
            var result = Assert.Single(ExecutorFrames.ReadResults(reader));
            Assert.Null(result.Error);
            Assert.Equal(new SharedResult(lent.Id, length), result.Shared);
            var sums = (double[])codec.Decode(lent.GetSpan()[..length])!;
            Assert.Equal(values.Select(x => x + 1), sums);
        }
        var cache = executor.Segments!;
        Assert.Equal(2, cache.Opened); // the input's segment and the lent one, once each for three batches
        Assert.Equal(2, cache.MappedCount);

        ExecutorFrames.WriteSegmentsFreed(writer, [input.Id]);
        await Eventually.TrueAsync(() => cache.MappedCount == 1, () => $"{cache.MappedCount} segments still mapped in the executor after one was freed");
    }

    private static async Task<byte> ReadFrameAsync(Stream stream, CancellationToken cancellation)
    {
        var frame = new byte[1];
        await stream.ReadExactlyAsync(frame, cancellation);
        return frame[0];
    }

    public ValueTask DisposeAsync()
    {
        _cache.Dispose();
        return ValueTask.CompletedTask;
    }
}
