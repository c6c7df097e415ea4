using Distributed.Data;

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
}
