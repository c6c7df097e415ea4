using Distributed.Data;
using static Distributed.Tests.Data.DataFrameBytes;

namespace Distributed.Tests.Data;

/// <summary>
/// The data channel's decoding, on both sides, against the inputs that used to kill a worker (a key
/// count of -1 or 0x7fffffff, a broken string length), oversize and truncated frames: each is a
/// <see cref="DataFrameException"/> naming the problem, raised before anything is allocated for it.
/// </summary>
public sealed class DataFrameTests
{
    private static byte[] Bytes(params int[] values) => values.Select(v => (byte)v).ToArray();

    [Fact]
    public async Task The_six_bytes_that_killed_a_worker_are_a_bad_frame()
    {
        // 00 47 ff ff ff ff: a client's Get whose next int32 (the key count before, the frame length now) is -1.
        Assert.Contains("-1 is negative", await RejectedAsync(Bytes(0x00, 0x47, 0xff, 0xff, 0xff, 0xff)));
    }

    [Fact]
    public async Task A_key_count_of_minus_one_inside_a_frame_is_a_bad_frame()
    {
        Assert.Contains("key count -1 is negative", await RejectedAsync(ClientFrame(DataFrames.Get, Int32(-1))));
    }

    [Fact]
    public async Task A_key_count_of_int_max_is_refused_by_the_limit_and_by_the_frame_size()
    {
        Assert.Contains("exceeds the limit", await RejectedAsync(Bytes(0x00, 0x47, 0xff, 0xff, 0xff, 0x7f)));
        Assert.Contains("key count 2147483647 exceeds the limit of 65536", await RejectedAsync(ClientFrame(DataFrames.Get, Int32(int.MaxValue))));
        // Within the limit, but four bytes cannot hold a thousand keys.
        Assert.Contains("key count 1000 cannot fit in the 4 bytes", await RejectedAsync(ClientFrame(DataFrames.Get, Int32(1000), Int32(0))));
    }

    [Fact]
    public async Task A_broken_string_length_is_a_bad_frame()
    {
        Assert.Contains("key length -5 is negative", await RejectedAsync(ClientFrame(DataFrames.Get, Int32(1), Int32(-5))));
        Assert.Contains("key length 2147483647 exceeds the limit", await RejectedAsync(ClientFrame(DataFrames.Get, Int32(1), Int32(int.MaxValue))));
        Assert.Contains("key needs 100 bytes, the frame has 3 left", await RejectedAsync(ClientFrame(DataFrames.Get, Int32(1), Int32(100), Bytes(0x61, 0x62, 0x63))));
        // The 7-bit encoded length BinaryReader used to trust: five continuation bytes.
        Assert.Contains("key length -2139062144 is negative", await RejectedAsync(ClientFrame(DataFrames.Get, Int32(1), Bytes(0x80, 0x80, 0x80, 0x80))));
        Assert.Contains("not valid UTF-8", await RejectedAsync(ClientFrame(DataFrames.Get, Int32(1), Int32(2), Bytes(0xc3, 0x28))));
    }

    [Fact]
    public async Task Oversize_requests_are_refused_before_their_payload_is_read()
    {
        var small = Settings with { MaxRequestBytes = 64, MaxKeysPerRequest = 2, MaxKeyBytes = 3 };
        Assert.Contains("request length 65 exceeds the limit of 64", await RejectedAsync([0, DataFrames.Get, .. Int32(65)], small));
        Assert.Contains("key count 3 exceeds the limit of 2", await RejectedAsync(ClientFrame(DataFrames.Get, Int32(3), Int32(0), Int32(0), Int32(0)), small));
        Assert.Contains("key length 4 exceeds the limit of 3", await RejectedAsync(ClientFrame(DataFrames.Get, Int32(1), Int32(4), Bytes(1, 2, 3, 4)), small));
        Assert.Contains("a stats request carries no payload", await RejectedAsync([0, DataFrames.Stats, .. Int32(1), 0]));
        Assert.Contains("unknown request 0x00", await RejectedAsync([0, 0, .. Int32(0)]));
        Assert.Contains("2 bytes follow the end", await RejectedAsync(ClientFrame(DataFrames.Get, Int32(0), Bytes(1, 2))));
        await Assert.ThrowsAsync<DataFrameException>(() => new DataRequestReader(new MemoryStream([7]), Settings).ReadKindAsync(default).AsTask());
    }

    [Fact]
    public async Task Truncated_requests_are_bad_frames_and_a_clean_end_is_not()
    {
        Assert.Contains("ended 3 bytes into a request header", await RejectedAsync(Bytes(0, 0x47, 1, 0)));
        Assert.Contains("ended 4 bytes into a request of 10", await RejectedAsync([0, DataFrames.Get, .. Int32(10), 1, 2, 3, 4]));
        Assert.Null(await ReadOneAsync([0]));
    }

    [Fact]
    public async Task Requests_larger_than_the_limits_are_split_into_frames_that_decode_to_the_same_keys()
    {
        var small = Settings with { MaxRequestBytes = 40, MaxKeysPerRequest = 3 };
        var keys = Enumerable.Range(0, 10).Select(i => $"key-{i}-é").ToList();
        var output = new MemoryStream();
        output.WriteByte((byte)PeerKind.Worker);
        DataFrames.EncodeGet(keys, small, output);
        output.Position = 0;
        var reader = new DataRequestReader(output, small);
        Assert.Equal(PeerKind.Worker, await reader.ReadKindAsync(default));
        var decoded = new List<string>();
        var frames = 0;
        while (await reader.ReadAsync(default) is { } request)
        {
            frames++;
            Assert.True(request.Keys.Count <= 3);
            decoded.AddRange(request.Keys);
        }
        Assert.Equal(keys, decoded);
        Assert.True(frames >= 4, $"{frames} frames");
    }

    [Fact]
    public void An_answer_entry_with_bad_fields_is_a_bad_frame_on_the_fetching_side()
    {
        string Rejected(byte[] answer, DataChannelSettings? settings = null) =>
            Assert.Throws<DataFrameException>(() => DataClient.ReadValue(new MemoryStream(answer), new byte[256], settings ?? Settings)).Message;

        Assert.Contains("starts with 0x02", Rejected([2]));
        Assert.Contains("type name length -1 is negative", Rejected([1, .. Int32(-1)]));
        Assert.Contains("type name length 2147483647 exceeds", Rejected([1, .. Int32(int.MaxValue)]));
        Assert.Contains("value length -1 is negative", Rejected([1, .. Int32(1), (byte)'T', .. Int64(-1)]));
        Assert.Contains("value length 11 exceeds the limit of 10", Rejected([1, .. Int32(1), (byte)'T', .. Int64(11)], Settings with { MaxValueBytes = 10 }));
        Assert.Throws<EndOfStreamException>(() => DataClient.ReadValue(new MemoryStream([1, .. Int32(1), (byte)'T', .. Int64(8), 1, 2]), new byte[256], Settings));
        Assert.Null(DataClient.ReadValue(new MemoryStream([0]), new byte[256], Settings));
        var value = DataClient.ReadValue(new MemoryStream([1, .. Int32(3), (byte)'I', (byte)'n', (byte)'t', .. Int64(2), 7, 8]), new byte[256], Settings)!;
        Assert.Equal("Int", value.TypeName);
        Assert.Equal(new byte[] { 7, 8 }, value.ToArray());
    }

    [Fact]
    public void Stats_round_trip_and_a_huge_assembly_count_is_a_bad_frame()
    {
        // Every field distinct, so a field written in one place and read in another fails.
        var stats = new WorkerTransferStats(1, 2, 3, 4, 5, ["a:1", "b:2"], 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24);
        var decoded = DataFrames.ParseStats(DataFrames.EncodeStats(stats), Settings);
        Assert.Equal(stats with { AssembliesReceived = [] }, decoded with { AssembliesReceived = [] });
        Assert.Equal(stats.AssembliesReceived, decoded.AssembliesReceived);

        byte[] broken = [.. new byte[8 * 3 + 4 + 8], .. Int32(int.MaxValue)];
        Assert.Contains("assembly count 2147483647 exceeds", Assert.Throws<DataFrameException>(() => DataFrames.ParseStats(broken, Settings)).Message);
    }
}
