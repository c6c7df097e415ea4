using System.Text;
using Distributed.Data;
using Distributed.Data.Serialization;
using Distributed.Protocol;
using Distributed.Worker.Executor;

namespace Distributed.Tests.Data;

/// <summary>
/// Values longer than one buffer are lists of chunks, stored, spilled, served and decoded chunk by
/// chunk. A value needs 1 GiB to be chunked for real, so these use small chunks (the chunk size is a
/// parameter inside the assembly); the process tier moves a real one of over 2 GiB.
/// </summary>
public sealed class ChunkedValueTests : IDisposable
{
    private readonly string _spillDirectory = Path.Combine(Path.GetTempPath(), "distributed-tests", $"spill-{Guid.NewGuid():N}");

    public void Dispose()
    {
        try { Directory.Delete(_spillDirectory, recursive: true); }
        catch (DirectoryNotFoundException) { }
    }

    private static byte[] Bytes(int length) => Enumerable.Range(0, length).Select(i => (byte)(i * 31 + 7)).ToArray();

    private static byte[] Joined(StoredValue value)
    {
        using var copy = new MemoryStream();
        value.CopyTo(copy);
        return copy.ToArray();
    }

    [Fact]
    public void A_value_longer_than_a_chunk_is_read_into_chunks_and_one_buffer_is_refused_naming_its_length()
    {
        var bytes = Bytes(35);
        var value = StoredValue.ReadFrom(new MemoryStream(bytes), 35, "T", buffers: null, chunkBytes: 10);

        Assert.False(value.IsSingleChunk);
        Assert.Equal(35, value.Length);
        Assert.Equal(new[] { 10, 10, 10, 5 }, value.Chunks.Select(c => c.Length));
        Assert.Equal(bytes, Joined(value));
        Assert.Equal(bytes, value.Chunks.SelectMany(c => c.ToArray()));
        Assert.Contains("35 bytes", Assert.Throws<InvalidOperationException>(() => value.Memory).Message);
        Assert.Contains("4 chunks", Assert.Throws<InvalidOperationException>(() => value.ToArray()).Message);

        var exact = StoredValue.ReadFrom(new MemoryStream(bytes), 10, "T", buffers: null, chunkBytes: 10);
        Assert.True(exact.IsSingleChunk);
        Assert.Equal(bytes[..10], exact.ToArray());
        Assert.Equal(bytes[..10], Joined(exact));
    }

    [Fact]
    public void Pooled_chunks_go_back_to_the_pool_on_release_and_on_a_failed_read()
    {
        const int Chunk = 2 * ValueBufferPool.MinimumPooledBytes;
        var pool = new ValueBufferPool(64 << 20);
        var bytes = Bytes(3 * Chunk + ValueBufferPool.MinimumPooledBytes + 100); // the last chunk pooled too

        var value = StoredValue.ReadFrom(new MemoryStream(bytes), bytes.Length, "T", pool, Chunk);
        Assert.Equal(4, value.ChunkCount);
        Assert.True(value.IsPooled);
        Assert.Equal(bytes, Joined(value));
        value.Release();
        Assert.Equal(4, pool.IdleCount);

        // The stream ends inside the third chunk: the chunks rented so far come back at once.
        var truncated = new MemoryStream(bytes, 0, 2 * Chunk + 10);
        Assert.Throws<EndOfStreamException>(() => StoredValue.ReadFrom(truncated, bytes.Length, "T", pool, Chunk));
        Assert.Equal(4, pool.IdleCount);
        var again = StoredValue.ReadFrom(new MemoryStream(bytes), bytes.Length, "T", pool, Chunk);
        Assert.Equal(bytes, Joined(again));
        Assert.Equal(0, pool.IdleCount); // all four reused
    }

    [Fact]
    public void Arrays_of_primitives_longer_than_a_chunk_encode_into_chunks_and_decode_from_them()
    {
        var codec = new ValueCodec();
        var doubles = Enumerable.Range(0, 10_000).Select(i => i * 0.5 - 7).ToArray();
        // 997: elements straddle the chunks' ends, and the format tag shifts every one by a byte.
        var encoded = codec.EncodeValue(doubles, "System.Double[]", chunkBytes: 997);
        Assert.Equal(1 + 8 * 10_000, encoded.Length);
        Assert.Equal(81, encoded.ChunkCount);
        Assert.Equal(codec.Encode(doubles), Joined(encoded));
        Assert.Equal(doubles, (double[])codec.Decode(encoded)!);

        var floats = Enumerable.Range(0, 3_001).Select(i => i / 3f).ToArray();
        Assert.Equal(floats, (float[])codec.Decode(codec.EncodeValue(floats, "System.Single[]", 1000))!);
        var ints = Enumerable.Range(-1_500, 3_001).ToArray();
        Assert.Equal(ints, (int[])codec.Decode(codec.EncodeValue(ints, "System.Int32[]", 1000))!);
        var longs = Enumerable.Range(0, 3_001).Select(i => (long)i << 33).ToArray();
        Assert.Equal(longs, (long[])codec.Decode(codec.EncodeValue(longs, "System.Int64[]", 1000))!);
        var bytes = Bytes(5_000);
        Assert.Equal(bytes, (byte[])codec.Decode(codec.EncodeValue(bytes, "System.Byte[]", 1000))!);

        // Within a chunk (and every other kind of value): one buffer, exactly as Encode makes it.
        var small = codec.EncodeValue(doubles[..100], "System.Double[]", chunkBytes: 997);
        Assert.True(small.IsSingleChunk);
        Assert.Equal(codec.Encode(doubles[..100]), small.ToArray());
        var text = codec.EncodeValue(new string('x', 5_000), "System.String", chunkBytes: 997);
        Assert.True(text.IsSingleChunk);
        Assert.Equal(new string('x', 5_000), codec.Decode(text));
    }

    [Fact]
    public void Values_of_other_formats_decode_from_chunks_too_and_a_ragged_array_does_not()
    {
        // Between 1 and 2 GiB a value of any format is one array when encoded and chunks when read back.
        var codec = new ValueCodec();
        StoredValue Chunked(object value, int chunkBytes)
        {
            var bytes = codec.Encode(value);
            return StoredValue.ReadFrom(new MemoryStream(bytes), bytes.Length, "T", buffers: null, chunkBytes);
        }
        var list = Enumerable.Range(0, 500).Select(i => $"item {i}").ToList();
        Assert.Equal(list, (List<string>)codec.Decode(Chunked(list, 64))!);
        Assert.Equal(new string('é', 1_000), codec.Decode(Chunked(new string('é', 1_000), 7)));
        var frame = new Microsoft.Data.Analysis.DataFrame(new Microsoft.Data.Analysis.Int32DataFrameColumn("id", Enumerable.Range(0, 1_000)));
        Assert.Equal(999, ((Microsoft.Data.Analysis.DataFrame)codec.Decode(Chunked(frame, 100))!).Columns["id"][999]);

        Assert.Contains("too long for its format", Assert.Throws<InvalidDataException>(() => codec.Decode(Chunked(42, 2))).Message);
        byte[] ragged = [.. codec.Encode(new[] { 1.0, 2.0 }), 9]; // 17 bytes of doubles
        var raggedChunks = StoredValue.ReadFrom(new MemoryStream(ragged), ragged.Length, "D", buffers: null, chunkBytes: 8);
        Assert.Contains("whole number", Assert.Throws<InvalidDataException>(() => codec.Decode(raggedChunks)).Message);
    }

    [Fact]
    public async Task A_chunked_value_is_spilled_read_back_and_served_from_memory_and_from_its_file()
    {
        var codec = new ValueCodec();
        var doubles = Enumerable.Range(0, 50_000).Select(i => Math.Sqrt(i)).ToArray();
        var store = new DataStore(memoryLimit: 300_000, _spillDirectory) { ChunkBytes = 65_536 };
        store.Put("spilled", codec.EncodeValue(doubles, "System.Double[]", chunkBytes: 65_536)); // 400,001 bytes: straight to disk
        store.Put("held", codec.EncodeValue(doubles[..30_000], "System.Double[]", chunkBytes: 65_536));
        Assert.True(store.IsSpilled("spilled"));
        Assert.False(store.IsSpilled("held"));

        // Read back whole, in the store's chunks.
        var readBack = store.Get("spilled")!;
        Assert.Equal(7, readBack.ChunkCount);
        Assert.Equal(doubles, (double[])codec.Decode(readBack)!);

        // Served: the spilled one streamed from its file, never read into a value; the other chunk by chunk from memory.
        using (var reader = store.OpenRead("spilled")!)
        {
            Assert.Null(reader.InMemory);
            Assert.Equal(400_001, reader.Length);
        }
        await using var server = new DataServer("127.0.0.1", store, new TransferCounters());
        using var client = new DataClient(PeerKind.Client);
        var readsBefore = store.ReadsFromDisk;
        var fetched = client.Get(server.Endpoint, ["spilled", "held", "missing"]);
        Assert.Equal(doubles, (double[])codec.Decode(fetched[0]!)!);
        Assert.Equal("System.Double[]", fetched[0]!.TypeName);
        Assert.Equal(doubles[..30_000], (double[])codec.Decode(fetched[1]!)!);
        Assert.Null(fetched[2]);
        Assert.Equal(readsBefore + 1, store.ReadsFromDisk);

        // A value the fetcher reads in chunks of its own.
        var answer = new MemoryStream();
        answer.WriteByte(1);
        answer.Write(BitConverter.GetBytes(1));
        answer.WriteByte((byte)'D');
        answer.Write(BitConverter.GetBytes(400_001L));
        codec.EncodeValue(doubles, "D").CopyTo(answer);
        answer.Position = 0;
        var chunked = DataClient.ReadValue(answer, new byte[256], DataChannelSettings.Default, buffers: null, chunkBytes: 100_000)!;
        Assert.Equal(5, chunked.ChunkCount);
        Assert.Equal(doubles, (double[])codec.Decode(chunked)!);
    }

    [Fact]
    public void A_chunked_value_crosses_the_executor_frames_with_an_int64_length_and_a_lie_is_refused_before_allocation()
    {
        var codec = new ValueCodec();
        var doubles = Enumerable.Range(0, 20_000).Select(i => (double)i).ToArray();
        var value = codec.EncodeValue(doubles, "System.Double[]", chunkBytes: 30_000);
        using var stream = new MemoryStream();
        using (var writer = new BinaryWriter(stream, Encoding.UTF8, leaveOpen: true))
        {
            ExecutorFrames.WriteResults(writer, [new ExecutorResult("k", value, value.TypeName, null)]);
            ExecutorFrames.WriteBatch(writer, new ExecutorBatch([], new Dictionary<string, StoredValue> { ["k"] = value }, []));
        }
        stream.Position = 0;
        var reader = new WireReader(stream, WireLimits.Default);
        Assert.Equal(ExecutorFrames.Results, stream.ReadByte());
        var result = Assert.Single(ExecutorFrames.ReadResults(reader));
        Assert.Equal(doubles, (double[])codec.Decode(result.Value!)!);
        Assert.Equal("System.Double[]", result.Value!.TypeName);
        Assert.Equal(ExecutorFrames.Batch, stream.ReadByte());
        Assert.Equal(doubles, (double[])codec.Decode(ExecutorFrames.ReadBatch(reader).Values["k"])!);

        var limited = new WireLimits(1000, 1000, 1000, maxValueBytes: 1000);
        stream.Position = 1;
        var refused = Assert.Throws<WireFormatException>(() => ExecutorFrames.ReadResults(new WireReader(stream, limited)));
        Assert.Contains("160001", refused.Message);
    }
}
