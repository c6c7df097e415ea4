using System.Collections.Concurrent;
using System.Net.Sockets;
using Distributed.Data;
using static Distributed.Tests.Data.DataFrameBytes;

namespace Distributed.Tests.Data;

/// <summary>
/// The data channel's Put (a client's scatter): its frame's limits are checked before anything is
/// allocated, its values are read as their bytes arrive, and a data server hands them to whoever stores
/// them, refusing puts it has no taker for, puts from workers, and bad frames without going down.
/// </summary>
public sealed class PutFrameTests
{
    private static byte[] Text(string text) => [.. Int32(System.Text.Encoding.UTF8.GetByteCount(text)), .. System.Text.Encoding.UTF8.GetBytes(text)];

    [Fact]
    public async Task A_put_frame_round_trips_its_scatter_id_keys_types_and_lengths()
    {
        var stream = new MemoryStream();
        stream.WriteByte((byte)PeerKind.Client);
        DataFrames.EncodePut(42, [new PutEntry("a", "System.Int32", 5), new PutEntry("é-b", "System.String", 0)], Settings, stream);

        var request = await ReadOneAsync(stream.ToArray());

        Assert.Equal(DataFrames.Put, request!.Op);
        Assert.Equal(42, request.ScatterId);
        Assert.Equal([new PutEntry("a", "System.Int32", 5), new PutEntry("é-b", "System.String", 0)], request.Puts);
    }

    [Fact]
    public async Task Counts_and_lengths_that_lie_are_bad_frames_before_anything_is_allocated()
    {
        Assert.Contains("value count -1 is negative", await RejectedAsync(ClientFrame(DataFrames.Put, Int64(1), Int32(-1))));
        Assert.Contains("value count 2147483647 exceeds", await RejectedAsync(ClientFrame(DataFrames.Put, Int64(1), Int32(int.MaxValue))));
        Assert.Contains("cannot fit", await RejectedAsync(ClientFrame(DataFrames.Put, Int64(1), Int32(1000), Text("a"))));
        Assert.Contains("value length -5 is negative", await RejectedAsync(ClientFrame(DataFrames.Put, Int64(1), Int32(1), Text("a"), Text("T"), Int64(-5))));
        var small = Settings with { MaxValueBytes = 1000 };
        Assert.Contains("value length 1001 exceeds", await RejectedAsync(ClientFrame(DataFrames.Put, Int64(1), Int32(1), Text("a"), Text("T"), Int64(1001)), small));
        // Each within the limit, together not: a put never announces more than one answer may carry.
        Assert.Contains("total length of a put's values 1200 exceeds",
            await RejectedAsync(ClientFrame(DataFrames.Put, Int64(1), Int32(2), Text("a"), Text("T"), Int64(600), Text("b"), Text("T"), Int64(600)), small));
        Assert.Contains("twice", await RejectedAsync(ClientFrame(DataFrames.Put, Int64(1), Int32(2), Text("a"), Text("T"), Int64(1), Text("a"), Text("T"), Int64(1))));
        Assert.Contains("empty key", await RejectedAsync(ClientFrame(DataFrames.Put, Int64(1), Int32(1), Text(""), Text("T"), Int64(1))));
        Assert.Contains("key length 2147483647 exceeds", await RejectedAsync(ClientFrame(DataFrames.Put, Int64(1), Int32(1), Int32(int.MaxValue), new byte[12])));
        Assert.Contains("bytes follow the end", await RejectedAsync(ClientFrame(DataFrames.Put, Int64(1), Int32(0), [9])));
        Assert.Contains("an int64 needs 8 bytes", await RejectedAsync(ClientFrame(DataFrames.Put, [1, 2, 3])));
        Assert.Contains("exceeds the limit", await RejectedAsync([(byte)PeerKind.Client, DataFrames.Put, .. Int32(int.MaxValue)]));
    }

    [Fact]
    public void A_put_that_breaks_a_limit_is_refused_by_the_encoder_with_the_reason()
    {
        var small = Settings with { MaxValueBytes = 100, MaxKeyBytes = 8 };
        Assert.Contains("more than the 100 bytes", Assert.Throws<ArgumentException>(() =>
            DataFrames.EncodePut(1, [new PutEntry("a", "T", 60), new PutEntry("b", "T", 60)], small, new MemoryStream())).Message);
        Assert.Contains("longer than 8 bytes", Assert.Throws<ArgumentException>(() =>
            DataFrames.EncodePut(1, [new PutEntry("a-long-key", "T", 1)], small, new MemoryStream())).Message);
    }

    [Fact]
    public async Task A_value_whose_length_lies_costs_what_was_sent_not_what_it_claims()
    {
        // Claims 1 GiB, sends 10 bytes: the read fails at the end of the stream, having allocated one piece.
        var before = GC.GetAllocatedBytesForCurrentThread();
        await Assert.ThrowsAsync<EndOfStreamException>(() =>
            StoredValue.ReadFromAsync(new MemoryStream(new byte[10]), 1L << 30, "T", null, () => { }));
        Assert.True(GC.GetAllocatedBytesForCurrentThread() - before < 64L << 20, "a lying length allocated what it claimed");
    }

    [Fact]
    public async Task Values_arrive_in_pieces_and_are_laid_out_as_one_buffer_or_as_chunks()
    {
        var bytes = Enumerable.Range(0, StoredValue.ArrivalPieceBytes * 2 + 123).Select(i => (byte)(i * 31)).ToArray();
        var pieces = 0;

        var whole = await StoredValue.ReadFromAsync(new MemoryStream(bytes), bytes.Length, "T", null, () => pieces++);
        var chunked = await StoredValue.ReadFromAsync(new MemoryStream(bytes), bytes.Length, "T", null, () => { }, chunkBytes: 1 << 20);

        Assert.Equal(3, pieces);
        Assert.True(whole.IsSingleChunk);
        Assert.Equal(bytes, whole.ToArray());
        Assert.Equal(9, chunked.ChunkCount);
        Assert.Equal(bytes, chunked.Chunks.SelectMany(c => c.ToArray()).ToArray());
    }

    private static (DataServer Server, DataStore Store, ConcurrentQueue<string> Log) StartServer(bool acceptPuts, int chunkBytes = StoredValue.MaxChunkBytes)
    {
        var store = new DataStore { ChunkBytes = chunkBytes };
        store.Put("held", new StoredValue([7, 7, 7], "System.Byte[]"));
        var log = new ConcurrentQueue<string>();
        var server = new DataServer("127.0.0.1", store, new TransferCounters(), null, null, log.Enqueue);
        if (acceptPuts)
            server.AcceptPuts((id, values) =>
            {
                // As the worker does: never over a held value; the taker releases what it does not store.
                if (values.Any(v => store.Contains(v.Key)))
                {
                    foreach (var (_, value) in values) value.Release();
                    return Task.FromResult<string?>("held here already");
                }
                foreach (var (key, value) in values) store.Put(key, value);
                return Task.FromResult<string?>(null);
            });
        return (server, store, log);
    }

    [Fact]
    public async Task A_put_is_stored_and_served_back_byte_for_byte_chunked_values_included()
    {
        var (server, store, _) = StartServer(acceptPuts: true, chunkBytes: 1 << 20);
        await using var running = server;
        using var client = new DataClient(PeerKind.Client);
        var large = Enumerable.Range(0, (5 << 20) + 17).Select(i => (byte)(i * 13)).ToArray();

        Assert.Null(client.Put(server.Endpoint, 5, [new("small", new StoredValue([1, 2, 3], "System.Byte[]")), new("large", new StoredValue(large, "System.Byte[]"))]));

        Assert.Equal(6, store.Get("large")!.ChunkCount); // laid out in the store's chunks: a value over 1 GiB is stored the same way
        var back = client.Get(server.Endpoint, ["small", "large", "held"]);
        Assert.Equal(new byte[] { 1, 2, 3 }, back[0]!.ToArray());
        Assert.Equal(large, back[1]!.Chunks.SelectMany(c => c.ToArray()).ToArray());
        Assert.Equal(new byte[] { 7, 7, 7 }, back[2]!.ToArray());
    }

    [Fact]
    public async Task A_put_over_a_held_key_a_put_nobody_takes_and_a_workers_put_are_refused_with_the_reason()
    {
        var (server, store, log) = StartServer(acceptPuts: true);
        await using var running = server;
        using var client = new DataClient(PeerKind.Client);
        Assert.Equal("held here already", client.Put(server.Endpoint, 1, [new("held", new StoredValue([9], "T"))]));
        Assert.Equal(new byte[] { 7, 7, 7 }, store.Get("held")!.ToArray());
        using var worker = new DataClient(PeerKind.Worker);
        Assert.Contains("only a client", worker.Put(server.Endpoint, 1, [new("from-worker", new StoredValue([9], "T"))]));
        Assert.False(store.Contains("from-worker"));

        var (refusing, _, _) = StartServer(acceptPuts: false);
        await using var runningToo = refusing;
        Assert.Contains("takes no values", client.Put(refusing.Endpoint, 1, [new("x", new StoredValue([9], "T"))]));
        Assert.Contains(log, line => line.Contains("Refused values put by"));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_put_cut_short_closes_its_connection_stores_nothing_and_the_server_keeps_serving(bool inTheFrame)
    {
        var (server, store, log) = StartServer(acceptPuts: true);
        await using var running = server;
        var frame = new MemoryStream();
        frame.WriteByte((byte)PeerKind.Client);
        DataFrames.EncodePut(3, [new PutEntry("cut", "T", 1000)], Settings, frame);
        frame.Write(new byte[10]);
        var bytes = inTheFrame ? frame.ToArray()[..8] : frame.ToArray();
        using (var socket = new Socket(SocketType.Stream, ProtocolType.Tcp))
        {
            await socket.ConnectAsync("127.0.0.1", server.Endpoint.Port);
            await socket.SendAsync(bytes);
            socket.Shutdown(SocketShutdown.Send);
            var buffer = new byte[16];
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            try { Assert.Equal(0, await socket.ReceiveAsync(buffer, timeout.Token)); }
            catch (SocketException) { }
        }

        await Eventually.TrueAsync(() => log.Any(line => line.Contains("bad frame")), () => "no bad frame was logged");
        Assert.False(store.Contains("cut"));
        using var client = new DataClient(PeerKind.Client);
        Assert.Equal(new byte[] { 7, 7, 7 }, client.Get(server.Endpoint, ["held"])[0]!.ToArray());
    }
}
