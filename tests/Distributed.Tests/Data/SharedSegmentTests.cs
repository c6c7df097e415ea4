using System.Text;
using Distributed.Data;
using Distributed.Data.Serialization;
using Distributed.Protocol;
using Distributed.Worker.Executor;

namespace Distributed.Tests.Data;

/// <summary>
/// Large values live in shared segments (memory files an executor maps): they are pooled like the
/// store's arrays, come back on delete and serve the next value, and are never reused, nor unmapped,
/// while a lease holds them.
/// </summary>
public sealed class SharedSegmentTests
{
    private const int Size = 3 << 20; // shared: above ValueBufferPool.DefaultSharedMinimumBytes

    /// <summary>A store whose pool shares values from the default size up, keeping <paramref name="maxIdleBytes"/> idle.</summary>
    private static DataStore SharingStore(long maxIdleBytes = 1L << 30) =>
        new(long.MaxValue, null, buffers: new ValueBufferPool(maxIdleBytes, ValueBufferPool.DefaultSharedMinimumBytes));

    /// <summary>A value received into the store's pool, filled with <paramref name="fill"/>.</summary>
    private static StoredValue Received(DataStore store, byte fill, int size = Size)
    {
        var value = store.Buffers.RentValue(size, "System.Byte[]");
        value.Writable.Span.Fill(fill);
        return value;
    }

    [SkippableFact]
    public void A_large_value_lives_in_a_segment_and_a_small_one_in_an_array()
    {
        Skip.IfNot(SharedSegment.IsSupported, "shared segments need Linux");
        var store = SharingStore();
        var large = Received(store, 1);
        Assert.NotNull(large.Segment);
        Assert.Equal(Size, large.Length);
        Assert.All(large.Span.ToArray(), b => Assert.Equal(1, b));
        Assert.Null(Received(store, 2, ValueBufferPool.DefaultSharedMinimumBytes - 1).Segment);
        Assert.Null(new ValueBufferPool(1L << 30).RentValue(Size, "System.Byte[]").Segment); // a pool that does not share
    }

    [SkippableFact]
    public void A_segment_returned_on_delete_is_reused_by_the_next_value_of_its_class()
    {
        Skip.IfNot(SharedSegment.IsSupported, "shared segments need Linux");
        var store = SharingStore();
        var first = Received(store, 1);
        var segment = first.Segment!;
        store.Put("a", first);
        Assert.Equal(1, store.Buffers.SegmentsInUse);
        store.Delete("a");
        Assert.Equal(0, store.Buffers.SegmentsInUse);
        Assert.Equal(1, store.Buffers.IdleSegmentCount);

        var second = Received(store, 2, Size - 100); // the same size class
        Assert.Same(segment, second.Segment);
        Assert.False(segment.IsDisposed);
        Assert.Equal(1, store.Buffers.SegmentsCreated);
    }

    [SkippableFact]
    public void A_leased_segment_is_neither_reused_nor_unmapped_until_the_lease_ends()
    {
        Skip.IfNot(SharedSegment.IsSupported, "shared segments need Linux");
        var store = SharingStore(maxIdleBytes: 0); // nothing kept idle: a released segment is unmapped at once
        store.Put("a", Received(store, 1));
        var lease = store.Lease("a")!;
        var segment = lease.Value.Segment!;
        store.Put("a", Received(store, 2)); // replaced while leased
        store.Delete("a");

        var other = Received(store, 3);
        Assert.NotSame(segment, other.Segment);
        Assert.False(segment.IsDisposed);
        Assert.All(lease.Value.Span.ToArray(), b => Assert.Equal(1, b)); // still the old bytes
        Assert.Equal(2, store.Buffers.SegmentsInUse);

        lease.Dispose();
        Assert.True(segment.IsDisposed); // past the idle cap: unmapped, never reused
        Assert.Equal(1, store.Buffers.SegmentsInUse);
    }

    [SkippableFact]
    public void Idle_segments_are_kept_up_to_the_cap_and_the_rest_unmapped()
    {
        Skip.IfNot(SharedSegment.IsSupported, "shared segments need Linux");
        var classSize = ValueBufferPool.ClassSize(Size);
        var store = SharingStore(maxIdleBytes: classSize); // room for one idle segment
        var values = Enumerable.Range(0, 3).Select(i => Received(store, (byte)i)).ToList();
        var segments = values.Select(v => v.Segment!).ToList();
        for (var i = 0; i < values.Count; i++) store.Put($"k{i}", values[i]);
        for (var i = 0; i < values.Count; i++) store.Delete($"k{i}");

        Assert.Equal(1, store.Buffers.IdleSegmentCount);
        Assert.Equal(classSize, store.Buffers.IdleBytes);
        Assert.Equal(0, store.Buffers.SegmentsInUse);
        Assert.Equal(2, segments.Count(s => s.IsDisposed));
        Assert.False(segments[0].IsDisposed); // the first one back fitted under the cap
    }

    [SkippableFact]
    public void A_reader_that_keeps_a_shared_value_for_good_gets_a_copy()
    {
        Skip.IfNot(SharedSegment.IsSupported, "shared segments need Linux");
        var store = SharingStore();
        store.Put("a", Received(store, 7));
        var kept = store.Get("a")!;
        Assert.Null(kept.Segment);
        Assert.All(kept.Span.ToArray(), b => Assert.Equal(7, b));
        store.Delete("a");
        Assert.Equal(1, store.Buffers.IdleSegmentCount); // the store's own went back for reuse
        Assert.All(kept.Span.ToArray(), b => Assert.Equal(7, b));
    }

    [SkippableFact]
    public void Another_mapping_of_the_memory_file_sees_the_same_bytes_as_an_executor_does()
    {
        Skip.IfNot(SharedSegment.IsSupported, "shared segments need Linux");
        var store = SharingStore();
        var value = Received(store, 0);
        value.Writable.Span[12345] = 42;
        // What an executor does with a reference: open /proc/WORKER/fd/N and map it.
        using (var reader = SharedSegment.Open(Environment.ProcessId, value.Segment!.Descriptor, (int)value.Length, writable: false))
        {
            Assert.Equal(42, reader.GetSpan()[12345]);
            Assert.False(reader.Writable);
        }
        // And the other way, as an executor writes a result into a lent segment.
        using (var writer = SharedSegment.Open(Environment.ProcessId, value.Segment.Descriptor, (int)value.Length, writable: true))
            writer.GetSpan()[7] = 99;
        Assert.Equal(99, value.Span[7]);
        Assert.Throws<IOException>(() => SharedSegment.Open(Environment.ProcessId, value.Segment.Descriptor, value.Segment.Capacity + 1, writable: false));
    }

    [SkippableFact]
    public void A_value_read_from_a_stream_into_the_pool_lands_in_a_segment()
    {
        Skip.IfNot(SharedSegment.IsSupported, "shared segments need Linux");
        var store = SharingStore();
        var bytes = new byte[Size];
        new Random(3).NextBytes(bytes);
        var value = StoredValue.ReadFrom(new MemoryStream(bytes), bytes.Length, "System.Byte[]", store.Buffers);
        Assert.NotNull(value.Segment);
        Assert.True(value.Span.SequenceEqual(bytes));
        value.Release();
        Assert.Equal(1, store.Buffers.IdleSegmentCount);
    }

    [SkippableFact]
    public void A_lent_segment_that_is_discarded_is_unmapped_and_never_reused()
    {
        Skip.IfNot(SharedSegment.IsSupported, "shared segments need Linux");
        var pool = new ValueBufferPool(1L << 30, ValueBufferPool.DefaultSharedMinimumBytes);
        var lent = pool.RentSegment(Size)!;
        Assert.Equal(1, pool.SegmentsInUse);
        pool.DiscardSegment(lent);
        Assert.True(lent.IsDisposed);
        Assert.Equal(0, pool.SegmentsInUse);
        Assert.Equal(0, pool.IdleSegmentCount);
        Assert.NotSame(lent, pool.RentSegment(Size));
    }

    // Beside the chunked values of values over 1 GiB: a value of one buffer may live in a segment, a
    // chunked one never does (its chunks are pooled arrays), and each travels as its kind does.

    [SkippableFact]
    public void A_value_longer_than_a_chunk_is_read_into_pooled_array_chunks_and_one_of_one_buffer_into_a_segment()
    {
        Skip.IfNot(SharedSegment.IsSupported, "shared segments need Linux");
        const int ChunkSize = 2 << 20;
        var pool = new ValueBufferPool(1L << 30, ValueBufferPool.DefaultSharedMinimumBytes);
        var bytes = new byte[5 << 20];
        new Random(5).NextBytes(bytes);

        var chunked = StoredValue.ReadFrom(new MemoryStream(bytes), bytes.Length, "System.Byte[]", pool, ChunkSize);
        Assert.Equal(3, chunked.ChunkCount);
        Assert.Null(chunked.Segment);
        Assert.Equal(0, pool.SegmentsCreated);
        using (var copy = new MemoryStream())
        {
            chunked.CopyTo(copy);
            Assert.True(copy.ToArray().AsSpan().SequenceEqual(bytes));
        }
        chunked.Release();
        Assert.Equal(3, pool.IdleCount); // the chunks, as arrays
        Assert.Equal(0, pool.IdleSegmentCount);

        var single = StoredValue.ReadFrom(new MemoryStream(bytes), ChunkSize, "System.Byte[]", pool, ChunkSize);
        Assert.NotNull(single.Segment);
        Assert.True(single.IsSingleChunk);
        Assert.Equal(1, single.ChunkCount);
        Assert.True(single.Chunk(0).Span.SequenceEqual(bytes.AsSpan(0, ChunkSize)));
        Assert.True(single.Memory.Span.SequenceEqual(bytes.AsSpan(0, ChunkSize)));
        // Its segment belongs to the pool that lent it: never adopted by another as if it were an array.
        Assert.Throws<InvalidOperationException>(() => single.AdoptedBy(new ValueBufferPool(1L << 30)));
        single.Release();
        Assert.Equal(1, pool.IdleSegmentCount);
    }

    [SkippableFact]
    public async Task A_value_in_a_segment_is_served_over_the_data_channel_and_lands_in_a_segment_of_the_receiver()
    {
        Skip.IfNot(SharedSegment.IsSupported, "shared segments need Linux");
        var sender = SharingStore();
        var bytes = new byte[Size];
        new Random(7).NextBytes(bytes);
        var value = sender.Buffers.RentValue(Size, "System.Byte[]");
        bytes.CopyTo(value.Writable.Span);
        sender.Put("v", value);
        using (var reader = sender.OpenRead("v")!)
        {
            Assert.Same(value, reader.InMemory);
            Assert.Equal(2, value.ReferenceCount); // the store's and the reader's lease
        }
        Assert.Equal(1, value.ReferenceCount);

        await using var server = new DataServer("127.0.0.1", sender, new TransferCounters());
        using var client = new DataClient(PeerKind.Worker);
        var receiver = SharingStore();
        var fetched = DataClient.ReadValue(new MemoryStream(Answer(value)), new byte[256], DataChannelSettings.Default, receiver.Buffers)!;
        Assert.NotNull(fetched.Segment);
        Assert.True(fetched.Span.SequenceEqual(bytes));
        var got = Assert.Single(client.Get(server.Endpoint, ["v"]))!;
        Assert.True(got.Span.SequenceEqual(bytes));
        // Served under a lease, which the server lets go once its answer is written (after the client may have read it).
        Assert.True(SpinWait.SpinUntil(() => value.ReferenceCount == 1, TimeSpan.FromSeconds(10)), $"references: {value.ReferenceCount}");
    }

    /// <summary>What a data server answers for one found value (the framing <see cref="DataClient.ReadValue"/> reads).</summary>
    private static byte[] Answer(StoredValue value)
    {
        var answer = new MemoryStream();
        answer.WriteByte(1);
        answer.Write(BitConverter.GetBytes(Encoding.UTF8.GetByteCount(value.TypeName)));
        answer.Write(Encoding.UTF8.GetBytes(value.TypeName));
        answer.Write(BitConverter.GetBytes(value.Length));
        value.CopyTo(answer);
        return answer.ToArray();
    }

    [Fact]
    public void An_executor_batch_carries_chunked_values_in_the_frame_and_shared_ones_by_reference_and_results_likewise()
    {
        var codec = new ValueCodec();
        var doubles = Enumerable.Range(0, 20_000).Select(i => (double)i).ToArray();
        var chunked = codec.EncodeValue(doubles, "System.Double[]", chunkBytes: 30_000);
        Assert.Equal(6, chunked.ChunkCount);
        using var stream = new MemoryStream();
        using (var writer = new BinaryWriter(stream, Encoding.UTF8, leaveOpen: true))
        {
            ExecutorFrames.WriteBatch(writer, new ExecutorBatch([], new Dictionary<string, StoredValue> { ["copied"] = chunked },
                [new ExecutorTask("t", "fn", ArgumentsKind.Dependencies, [], ["copied", "shared"])],
                new Dictionary<string, SharedReference> { ["shared"] = new(12, 4, 0, 3 << 20) }));
            ExecutorFrames.WriteResults(writer, [new ExecutorResult("a", chunked, chunked.TypeName, null),
                new ExecutorResult("b", null, "System.Double[]", null, Shared: new SharedResult(4, 3 << 20))]);
        }
        stream.Position = 0;
        var reader = new WireReader(stream, WireLimits.Default);
        Assert.Equal(ExecutorFrames.Batch, stream.ReadByte());
        var batch = ExecutorFrames.ReadBatch(reader);
        Assert.Equal(doubles, (double[])codec.Decode(batch.Values["copied"])!);
        Assert.Equal(new SharedReference(12, 4, 0, 3 << 20), Assert.Single(batch.SharedValues!).Value);
        Assert.Equal(ExecutorFrames.Results, stream.ReadByte());
        var results = ExecutorFrames.ReadResults(reader);
        Assert.Equal(doubles, (double[])codec.Decode(results[0].Value!)!);
        Assert.Null(results[0].Shared);
        Assert.Equal(new SharedResult(4, 3 << 20), results[1].Shared);
        Assert.Equal(3 << 20, results[1].Length);

        // A batch that shares nothing carries no dictionary of references.
        stream.SetLength(0);
        using (var writer = new BinaryWriter(stream, Encoding.UTF8, leaveOpen: true))
            ExecutorFrames.WriteBatch(writer, new ExecutorBatch([], new Dictionary<string, StoredValue>(), [new ExecutorTask("u", "fn", ArgumentsKind.SingleValue, [1], [])]));
        stream.Position = 1;
        Assert.Null(ExecutorFrames.ReadBatch(new WireReader(stream, WireLimits.Default)).SharedValues);
    }

    [Fact]
    public void An_array_encoded_into_memory_of_the_callers_is_what_Encode_makes_of_it()
    {
        var codec = new ValueCodec();
        foreach (var value in new object[] { new[] { 1.5, -2.0, 3.25 }, new[] { 1f, 2f }, new[] { 1, 2, 3 }, new[] { 1L << 40 }, new byte[] { 9, 8, 7 }, Array.Empty<double>() })
        {
            var length = ValueCodec.RawEncodedLength(value)!.Value;
            var destination = new byte[length];
            ValueCodec.EncodeInto(value, destination);
            Assert.Equal(codec.Encode(value), destination);
        }
        Assert.Null(ValueCodec.RawEncodedLength("text"));
        Assert.Null(ValueCodec.RawEncodedLength(new List<double>()));
        Assert.Throws<ArgumentException>(() => ValueCodec.EncodeInto(new[] { 1.0 }, new byte[3]));
    }
}
