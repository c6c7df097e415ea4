using Distributed.Data;

namespace Distributed.Tests.Data;

/// <summary>The data store owns its values' memory: buffers come back on delete, replace and spill and serve the next value, never while a reader still holds them.</summary>
public sealed class ValueBufferTests : IDisposable
{
    private const int Size = 1 << 20; // pooled: above ValueBufferPool.MinimumPooledBytes
    private readonly string _spillDirectory = Path.Combine(Path.GetTempPath(), "distributed-tests", $"spill-{Guid.NewGuid():N}");

    public void Dispose()
    {
        try { Directory.Delete(_spillDirectory, recursive: true); }
        catch (DirectoryNotFoundException) { }
    }

    /// <summary>A value in a buffer of the store's pool, as a fetch over the data channel makes it, filled with <paramref name="fill"/>.</summary>
    private static StoredValue Received(DataStore store, byte fill, int size = Size)
    {
        var value = store.Buffers.RentValue(size, "System.Byte[]");
        value.Buffer.AsSpan(0, size).Fill(fill);
        return value;
    }

    [Fact]
    public void A_buffer_returned_on_delete_is_reused_by_the_next_value()
    {
        var store = new DataStore();
        var first = Received(store, 1);
        var buffer = first.Buffer;
        store.Put("a", first);
        store.Delete("a");
        Assert.Equal(buffer.Length, store.Buffers.IdleBytes);

        var second = Received(store, 2);
        Assert.Same(buffer, second.Buffer);
        Assert.Equal(0, store.Buffers.IdleBytes);
    }

    [Fact]
    public void A_replaced_value_gives_its_buffer_back()
    {
        var store = new DataStore();
        var first = Received(store, 1);
        store.Put("a", first);
        store.Put("a", Received(store, 2));
        Assert.Same(first.Buffer, Received(store, 3).Buffer);
    }

    [Fact]
    public void A_reader_holding_a_value_while_it_is_deleted_still_reads_its_bytes()
    {
        var store = new DataStore();
        var first = Received(store, 1);
        store.Put("a", first);
        using (var lease = store.Lease("a")!)
        {
            store.Delete("a");
            // Not back in the pool while leased: the next value gets a buffer of its own.
            Assert.Equal(0, store.Buffers.IdleBytes);
            var second = Received(store, 2);
            Assert.NotSame(first.Buffer, second.Buffer);
            store.Put("b", second);
            Assert.All(lease.Value.Span.ToArray(), b => Assert.Equal(1, b));
        }
        // Released by the last reader: reused now.
        Assert.Same(first.Buffer, Received(store, 3).Buffer);
    }

    [Fact]
    public async Task A_value_deleted_while_the_data_server_sends_it_arrives_whole()
    {
        var store = new DataStore();
        var size = 64 << 20; // several socket buffers: the server is still writing when the key goes
        var sent = Received(store, 7, size);
        store.Put("a", sent);
        await using var server = new DataServer("127.0.0.1", store, new TransferCounters());
        using var client = new DataClient(PeerKind.Worker);
        var fetch = client.GetAsync(server.Endpoint, ["a"]);
        // Once the server holds its lease, delete the key and reuse buffers as fast as possible while the answer is on its way.
        await Eventually.TrueAsync(() => sent.ReferenceCount == 2 || fetch.IsCompleted, () => "the server never leased the value");
        store.Delete("a");
        while (!fetch.IsCompleted)
        {
            store.Put("b", Received(store, 9, size));
            store.Delete("b");
            await Task.Yield();
        }
        var value = (await fetch)[0];
        Assert.NotNull(value);
        Assert.Equal(size, value.Length);
        Assert.True(value.Span.IndexOfAnyExcept((byte)7) < 0, "the value sent was overwritten by a later one");
    }

    [Fact]
    public void A_value_read_with_Get_is_never_reused()
    {
        var store = new DataStore();
        var first = Received(store, 1);
        store.Put("a", first);
        var kept = store.Get("a")!;
        store.Delete("a");
        Assert.Equal(0, store.Buffers.IdleBytes);
        Assert.NotSame(kept.Buffer, Received(store, 2).Buffer);
        Assert.All(kept.ToArray(), b => Assert.Equal(1, b));
    }

    [Fact]
    public void A_spilled_value_gives_its_buffer_back_and_is_leased_from_the_pool()
    {
        var store = new DataStore(memoryLimit: Size + Size / 2, _spillDirectory, buffers: new ValueBufferPool(8 * Size));
        var first = Received(store, 1);
        store.Put("a", first);
        store.Put("b", Received(store, 2)); // past the limit: a spills
        Assert.True(store.IsSpilled("a"));
        Assert.Same(first.Buffer, Received(store, 3).Buffer);

        using (var lease = store.Lease("a")!)
        {
            Assert.True(lease.Value.IsPooled);
            Assert.All(lease.Value.ToArray(), b => Assert.Equal(1, b));
        }
        Assert.True(store.Buffers.IdleBytes >= Size);
    }

    [Fact]
    public void The_pool_keeps_at_most_its_limit_of_idle_bytes()
    {
        var limit = 3L * ValueBufferPool.ClassSize(Size);
        var store = new DataStore(long.MaxValue, null, buffers: new ValueBufferPool(limit));
        var values = Enumerable.Range(0, 10).Select(i => Received(store, (byte)i)).ToList();
        for (var i = 0; i < values.Count; i++) store.Put($"k{i}", values[i]);
        for (var i = 0; i < values.Count; i++)
        {
            store.Delete($"k{i}");
            Assert.True(store.Buffers.IdleBytes <= limit);
        }
        Assert.Equal(limit, store.Buffers.IdleBytes);
        Assert.Equal(3, store.Buffers.IdleCount);
    }

    [Fact]
    public void Values_of_other_sizes_in_the_same_class_share_buffers_and_adopted_arrays_serve_their_class()
    {
        var pool = new ValueBufferPool(1L << 30);
        var buffer = pool.Rent(200_000_000);
        Assert.Equal(ValueBufferPool.ClassSize(200_000_000), buffer.Length);
        Assert.True(buffer.Length - 200_000_000 < 200_000_000 / 8);
        pool.Return(buffer);
        Assert.Same(buffer, pool.Rent(200_000_123));

        // An executor's answer is an array of its exact length: it serves the largest class it holds in full.
        var store = new DataStore();
        var adopted = new byte[3_000_000];
        store.Put("r", StoredValue.Adopt(adopted, "System.Byte[]", store.Buffers));
        store.Delete("r");
        var reused = store.Buffers.Rent((int)ValueBufferPool.FloorClassSize(adopted.Length));
        Assert.Same(adopted, reused);
    }

    [Fact]
    public void Small_values_and_values_made_from_an_array_are_not_pooled()
    {
        var store = new DataStore();
        var small = Received(store, 1, size: 100);
        store.Put("s", small);
        var mine = new byte[Size];
        store.Put("m", new StoredValue(mine, "System.Byte[]"));
        store.Delete("s");
        store.Delete("m");
        Assert.Equal(0, store.Buffers.IdleBytes); // the caller may still use its own array
    }
}
