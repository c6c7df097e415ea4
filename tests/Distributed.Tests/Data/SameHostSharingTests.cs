using System.Buffers.Binary;
using System.Net.Sockets;
using Distributed.Data;
using static Distributed.Tests.Data.DataFrameBytes;

namespace Distributed.Tests.Data;

/// <summary>
/// A worker fetching from a worker on its own machine gets a reference to the shared segment the value lives
/// in and copies it from there: the reference is checked before anything is read (a forged process, descriptor,
/// file or length is refused), the holder keeps the value alive until the fetcher says it copied it (and no
/// longer: a deleted value's segment is reused only then), and a peer holds a bounded number of references.
/// Server and client run in this process here, so the holder is this process.
/// </summary>
public sealed class SameHostSharingTests
{
    private const int Size = 3 << 20; // shared: above ValueBufferPool.DefaultSharedMinimumBytes

    private static ValueBufferPool SharingPool() => new(1L << 30, ValueBufferPool.DefaultSharedMinimumBytes);

    private static byte[] Pattern(int seed) => Enumerable.Range(0, Size).Select(i => (byte)(i * 31 + seed)).ToArray();

    /// <summary>A store that shares large values, holding "big" (in a segment) and "small" (an array).</summary>
    private static DataStore HolderStore(byte[] big)
    {
        var store = new DataStore(long.MaxValue, null, buffers: SharingPool());
        var value = store.Buffers.RentValue(big.Length, "System.Byte[]");
        big.CopyTo(value.Writable.Span);
        Assert.NotNull(value.Segment);
        store.Put("big", value);
        store.Put("small", new StoredValue([1, 2, 3], "System.Int32"));
        return store;
    }

    private static DataServer Serve(DataStore store, TransferCounters counters, DataChannelSettings? settings = null) =>
        new("127.0.0.1", store, counters, null, settings, _ => { });

    [SkippableFact]
    public async Task A_value_in_a_segment_is_copied_through_shared_memory_intact_and_the_holder_lets_it_go_after()
    {
        Skip.IfNot(SharedSegment.IsSupported && SameHost.Local is not null, "shared segments need Linux and /proc");
        var big = Pattern(1);
        var holderCounters = new TransferCounters();
        await using var server = Serve(HolderStore(big), holderCounters);
        var counters = new TransferCounters();
        using var client = new DataClient(PeerKind.Worker, counters, buffers: SharingPool());

        var values = client.Get(server.Endpoint, ["big", "small", "missing", "big"]);

        Assert.Equal(big, values[0]!.ToArray());
        Assert.Equal(big, values[3]!.ToArray());
        Assert.NotNull(values[0]!.Segment); // in the fetcher's own pool
        Assert.Equal([1, 2, 3], values[1]!.ToArray());
        Assert.Null(values[2]);
        Assert.Equal(2L * Size, counters.ReceivedThroughSharedMemory);
        Assert.Equal(2L * Size + 3, counters.ReceivedFromWorkers);
        Assert.Equal(2L * Size, holderCounters.SentThroughSharedMemory);
        await Eventually.TrueAsync(() => server.SharedLeaseCount == 0, () => $"{server.SharedLeaseCount} references still held after the fetcher copied them");
    }

    [SkippableTheory]
    [InlineData(false, true)]
    [InlineData(true, false)]
    public async Task With_sharing_off_on_either_side_the_bytes_come_over_the_channel(bool fetcherShares, bool holderShares)
    {
        Skip.IfNot(SharedSegment.IsSupported && SameHost.Local is not null, "shared segments need Linux and /proc");
        var big = Pattern(2);
        await using var server = Serve(HolderStore(big), new TransferCounters(), DataChannelSettings.Default with { SameHostSharing = holderShares });
        var counters = new TransferCounters();
        using var client = new DataClient(PeerKind.Worker, counters, settings: DataChannelSettings.Default with { SameHostSharing = fetcherShares }, buffers: SharingPool());

        Assert.Equal(big, client.Get(server.Endpoint, ["big"])[0]!.ToArray());
        Assert.Equal(0, counters.ReceivedThroughSharedMemory);
        Assert.Equal(Size, counters.ReceivedFromWorkers);
    }

    [SkippableFact]
    public async Task A_client_that_asks_for_references_gets_bytes_and_so_does_a_peer_on_another_machine()
    {
        Skip.IfNot(SharedSegment.IsSupported && SameHost.Local is { }, "shared segments need Linux and /proc");
        await using var server = Serve(HolderStore(Pattern(3)), new TransferCounters());
        var local = SameHost.Local!.Value;
        foreach (var (kind, requester) in new[] { (PeerKind.Client, local), (PeerKind.Worker, local with { BootId = Guid.NewGuid() }), (PeerKind.Worker, local with { PidNamespace = local.PidNamespace + 1 }) })
        {
            using var socket = await OpenAsync(server, kind);
            await socket.SendAsync(SharedGet(requester, "big"));
            using var stream = new NetworkStream(socket);
            Assert.Equal(DataFrames.EntryBytes, ReadEntry(stream).Tag);
        }
        Assert.Equal(0, server.SharedLeaseCount);
    }

    [SkippableFact]
    public async Task A_deleted_value_keeps_its_segment_while_a_reference_is_held_and_it_is_reused_only_after_the_release()
    {
        Skip.IfNot(SharedSegment.IsSupported && SameHost.Local is not null, "shared segments need Linux and /proc");
        var big = Pattern(4);
        var store = HolderStore(big);
        SharedSegment segment;
        using (var lease = store.Lease("big")!) segment = lease.Value.Segment!;
        await using var server = Serve(store, new TransferCounters());
        using var socket = await OpenAsync(server, PeerKind.Worker);
        await socket.SendAsync(SharedGet(SameHost.Local!.Value, "big"));
        using var stream = new NetworkStream(socket);
        var entry = ReadEntry(stream);
        Assert.Equal(DataFrames.EntryReference, entry.Tag);

        store.Delete("big");
        var next = store.Buffers.RentValue(Size, "System.Byte[]"); // the same size class: would be the deleted value's segment, were it given back
        Assert.NotSame(segment, next.Segment);
        next.Writable.Span.Fill(0xEE);
        var copy = new byte[Size];
        Assert.Null(SameHost.TryCopy(entry.Reference!, copy));
        Assert.Equal(big, copy);

        await socket.SendAsync(new byte[] { DataFrames.Release, 0, 0, 0, 0 });
        await Eventually.TrueAsync(() => server.SharedLeaseCount == 0, () => "the release did not end the lease");
        Assert.Same(segment, store.Buffers.RentSegment(Size)); // given back once released, and reused
    }

    [SkippableFact]
    public async Task A_peer_gets_at_most_its_bound_of_references_then_bytes_and_closing_the_connection_releases_them()
    {
        Skip.IfNot(SharedSegment.IsSupported && SameHost.Local is not null, "shared segments need Linux and /proc");
        var store = HolderStore(Pattern(5));
        await using var server = Serve(store, new TransferCounters(), DataChannelSettings.Default with { MaxSharedLeasesPerConnection = 2, MaxSharedLeases = 3 });
        var local = SameHost.Local!.Value;

        using var first = await OpenAsync(server, PeerKind.Worker);
        await first.SendAsync(SharedGet(local, "big", "big", "big"));
        using var firstStream = new NetworkStream(first);
        Assert.Equal([DataFrames.EntryReference, DataFrames.EntryReference, DataFrames.EntryBytes], Enumerable.Range(0, 3).Select(_ => ReadEntry(firstStream).Tag));
        // Asking again without releasing: this connection's bound is reached.
        await first.SendAsync(SharedGet(local, "big"));
        Assert.Equal(DataFrames.EntryBytes, ReadEntry(firstStream).Tag);

        using var second = await OpenAsync(server, PeerKind.Worker);
        await second.SendAsync(SharedGet(local, "big", "big"));
        using var secondStream = new NetworkStream(second);
        // The server's bound: one left.
        Assert.Equal([DataFrames.EntryReference, DataFrames.EntryBytes], Enumerable.Range(0, 2).Select(_ => ReadEntry(secondStream).Tag));
        Assert.Equal(3, server.SharedLeaseCount);

        first.Dispose();
        await Eventually.TrueAsync(() => server.SharedLeaseCount == 1, () => $"{server.SharedLeaseCount} references held after the first peer left");
    }

    [SkippableFact]
    public void A_reference_is_followed_only_to_a_value_segment_of_the_process_and_file_it_names()
    {
        Skip.IfNot(SharedSegment.IsSupported && SameHost.Local is not null && SameHost.OwnStartTime is not null, "shared segments need Linux and /proc");
        var pool = SharingPool();
        var segment = pool.RentSegment(Size)!;
        Pattern(6).CopyTo(segment.GetSpan());
        var file = segment.FileIdentity!.Value;
        var genuine = new SegmentReference(Environment.ProcessId, SameHost.OwnStartTime!.Value, segment.Descriptor, file.Inode, file.Device, SameHost.Local!.Value.BootId, Size);
        var copy = new byte[Size];
        Assert.Null(SameHost.TryCopy(genuine, copy));
        Assert.Equal(Pattern(6), copy);

        // A regular file of this user's, named with its true inode and device: not a value segment.
        var path = Path.GetTempFileName();
        try
        {
            File.WriteAllBytes(path, Pattern(7));
            using var handle = File.OpenHandle(path);
            var descriptor = (int)handle.DangerousGetHandle();
            var regular = SameHost.FileIdentity(descriptor)!.Value;
            Assert.Contains("not a value segment", SameHost.TryCopy(genuine with { Descriptor = descriptor, Inode = regular.Inode, Device = regular.Device }, copy));
            Assert.Contains("another file", SameHost.TryCopy(genuine with { Descriptor = descriptor }, copy));
        }
        finally
        {
            File.Delete(path);
        }
        Assert.Contains("another machine", SameHost.TryCopy(genuine with { BootId = Guid.NewGuid() }, copy));
        Assert.Contains("not the holder", SameHost.TryCopy(genuine with { ProcessStartTime = genuine.ProcessStartTime + 1 }, copy));
        Assert.Contains("not the holder", SameHost.TryCopy(genuine with { ProcessId = 1 }, copy)); // another process, whatever it holds
        Assert.Contains("another file", SameHost.TryCopy(genuine with { Inode = file.Inode + 1 }, copy));
        Assert.Contains("another file", SameHost.TryCopy(genuine with { Device = file.Device + 1 }, copy));
        Assert.Contains("cannot be opened", SameHost.TryCopy(genuine with { Descriptor = 1_000_000 }, copy));
        var longer = checked((int)ValueBufferPool.ClassSize(Size) + 4096);
        Assert.Contains("fewer than", SameHost.TryCopy(genuine with { Length = longer }, new byte[longer]));
        pool.ReturnSegment(segment);
    }

    [Theory]
    [InlineData(-1L, 1, 0L, 3, "referenced value length -1 is negative")]
    [InlineData(0L, 1, 0L, 3, "a reference to an empty value")]
    [InlineData(1L << 31, 1, 0L, 3, "referenced value length 2147483648 exceeds")]
    [InlineData(8L, 0, 0L, 3, "names the process 0")]
    [InlineData(8L, -5, 0L, 3, "names the process -5")]
    [InlineData(8L, 1, -1L, 3, "started at -1")]
    [InlineData(8L, 1, 0L, -1, "names the descriptor -1")]
    public void A_reference_with_an_impossible_field_is_a_bad_frame(long length, int processId, long startTime, int descriptor, string expected)
    {
        var fields = new byte[SegmentReference.WireBytes];
        DataFrames.WriteReference(new SegmentReference(processId, startTime, descriptor, 1, 2, Guid.NewGuid(), 1), fields);
        Assert.Contains(expected, Assert.Throws<DataFrameException>(() => DataFrames.ParseReference(fields, length, Settings)).Message);
        Assert.Contains("exceeds", Assert.Throws<DataFrameException>(() => DataFrames.ParseReference(fields, 100, Settings with { MaxValueBytes = 99 })).Message);
    }

    [Fact]
    public void A_reference_in_the_answer_to_a_plain_get_and_malformed_shared_requests_are_bad_frames()
    {
        Assert.Contains("not 0 or 1", Assert.Throws<DataFrameException>(() => DataClient.ReadValue(new MemoryStream([DataFrames.EntryReference, .. new byte[64]]), new byte[256], Settings)).Message);
        Assert.Contains("release carries no payload", Assert.Throws<DataFrameException>(() => DataFrames.CheckRequestHeader(DataFrames.Release, 3, Settings)).Message);
        Assert.Contains("shorter than its host identity", Assert.Throws<DataFrameException>(() => DataFrames.ParseGetShared(new byte[HostIdentity.WireBytes - 1], Settings)).Message);
        var identity = new HostIdentity(Guid.NewGuid(), 42);
        var request = new MemoryStream();
        DataFrames.EncodeGet(["a", "bc"], Settings, request, identity);
        var frame = request.ToArray();
        Assert.Equal(DataFrames.GetShared, frame[0]);
        var (requester, keys) = DataFrames.ParseGetShared(frame.AsSpan(DataFrames.HeaderBytes), Settings);
        Assert.Equal(identity, requester);
        Assert.Equal(["a", "bc"], keys);
    }

    [SkippableFact]
    public async Task A_holder_that_does_not_know_shared_fetches_closes_at_the_request_and_is_asked_for_bytes_from_then_on()
    {
        Skip.IfNot(SameHost.Local is not null, "needs /proc");
        // An older worker: a frame of an unknown op closes the connection; a Get of one key answers "not here".
        using var listener = new TcpListener(System.Net.IPAddress.Loopback, 0);
        listener.Start();
        var ops = new System.Collections.Concurrent.ConcurrentQueue<byte>();
        var serving = Task.Run(async () =>
        {
            while (true)
            {
                using var socket = await listener.AcceptSocketAsync();
                using var stream = new NetworkStream(socket);
                stream.ReadExactly(new byte[1]); // the peer's kind
                while (true)
                {
                    var header = new byte[DataFrames.HeaderBytes];
                    if (stream.ReadAtLeast(header, header.Length, throwOnEndOfStream: false) < header.Length) break;
                    ops.Enqueue(header[0]);
                    if (header[0] != DataFrames.Get) break;
                    stream.ReadExactly(new byte[BinaryPrimitives.ReadInt32LittleEndian(header.AsSpan(1))]);
                    stream.WriteByte(DataFrames.EntryMissing);
                }
            }
        });
        var log = new System.Collections.Concurrent.ConcurrentQueue<string>();
        using var client = new DataClient(PeerKind.Worker, settings: Settings, log: log.Enqueue, buffers: SharingPool());
        var endpoint = new Distributed.Protocol.DataEndpoint("127.0.0.1", ((System.Net.IPEndPoint)listener.LocalEndpoint).Port);

        Assert.Equal([null], client.Get(endpoint, ["a"]));
        Assert.Equal([null], client.Get(endpoint, ["b"]));
        Assert.Equal([DataFrames.GetShared, DataFrames.Get, DataFrames.Get], ops.ToArray());
        Assert.Contains("closed at a request for shared values", Assert.Single(log));
        Assert.False(serving.IsFaulted, serving.Exception?.ToString());
    }

    [Fact]
    public void The_setting_is_on_unless_it_says_off_and_anything_else_is_an_error_naming_it()
    {
        static bool Read(string hocon) => Distributed.Worker.WorkerConfig.SameHostSharing(Akka.Configuration.ConfigurationFactory.ParseString(hocon));
        Assert.True(Read(""));
        Assert.True(Read("distributed.worker.same-host-sharing = on"));
        Assert.False(Read("distributed.worker.same-host-sharing = off"));
        Assert.False(Read("distributed.worker.same-host-sharing = false"));
        Assert.Contains("distributed.worker.same-host-sharing", Assert.Throws<FormatException>(() => Read("distributed.worker.same-host-sharing = sometimes")).Message);
    }

    private static async Task<Socket> OpenAsync(DataServer server, PeerKind kind)
    {
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync("127.0.0.1", server.Endpoint.Port);
        await socket.SendAsync(new[] { (byte)kind });
        return socket;
    }

    private static byte[] SharedGet(HostIdentity requester, params string[] keys)
    {
        var frame = new MemoryStream();
        DataFrames.EncodeGet(keys, Settings, frame, requester);
        return frame.ToArray();
    }

    /// <summary>One entry of a Get answer, its value's bytes skipped: the tag and, for a reference, the reference.</summary>
    private static (byte Tag, SegmentReference? Reference) ReadEntry(Stream stream)
    {
        var tag = (byte)stream.ReadByte();
        if (tag == DataFrames.EntryMissing) return (tag, null);
        var header = new byte[4];
        stream.ReadExactly(header);
        stream.ReadExactly(new byte[BinaryPrimitives.ReadInt32LittleEndian(header)]);
        var length = new byte[8];
        stream.ReadExactly(length);
        var size = BinaryPrimitives.ReadInt64LittleEndian(length);
        if (tag == DataFrames.EntryBytes)
        {
            stream.ReadExactly(new byte[size]);
            return (tag, null);
        }
        var fields = new byte[SegmentReference.WireBytes];
        stream.ReadExactly(fields);
        return (tag, DataFrames.ParseReference(fields, size, Settings));
    }
}
