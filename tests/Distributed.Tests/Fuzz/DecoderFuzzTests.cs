using System.Buffers.Binary;
using System.Collections;
using System.Reflection;
using System.Text;
using Akka.Actor;
using Akka.Configuration;
using Akka.TestKit.Xunit2;
using Distributed.Data;
using Distributed.Protocol;
using Distributed.Data.Serialization;
using Distributed.Worker.Executor;
using Microsoft.Data.Analysis;

namespace Distributed.Tests.Fuzz;

/// <summary>
/// Every decoder of what arrives from another process, fed real frames (a sample of every protocol
/// record) and 10,000 mutations of them each: it returns a well-formed message or throws a
/// <see cref="WireFormatException"/>, never anything else, and never allocates far beyond its input.
/// </summary>
public sealed class DecoderFuzzTests() : TestKit(ConfigurationFactory.ParseString("akka.actor.provider = local")
    .WithFallback(ClusterConfig.For(Role.Client, "127.0.0.1", 0, new HostPort("127.0.0.1", 1))))
{
    private const int MutationsPerDecoder = 10_000;

    // A decode may allocate its own structures (a dictionary, a column), but never in proportion to a length it was merely told.
    private const long MaxAllocatedPerDecode = 64L << 20;

    private Akka.Serialization.Serialization Serialization => ((ExtendedActorSystem)Sys).Serialization;

    [Fact]
    public void The_samples_cover_every_record_of_the_protocol()
    {
        var sampled = WireSamples.All(TestActor).Select(s => s.GetType()).ToHashSet();
        var missing = WireSamples.ProtocolRecords().Where(t => !sampled.Contains(t)).Select(t => t.Name).ToList();
        Assert.True(missing.Count == 0, $"WireSamples.All has no sample of: {string.Join(", ", missing)}");
    }

    [Fact]
    public void Every_protocol_message_round_trips_through_our_own_serializers()
    {
        foreach (var message in WireSamples.All(TestActor).OfType<IProtocolMessage>())
        {
            var (bytes, id, manifest) = Encode(message);
            Assert.True(id is 7_870 or 7_872, $"{message.GetType().Name} is serialized by serializer {id}, not by ours.");
            var copy = Serialization.Deserialize(bytes, id, manifest);
            Assert.True(SameContent(message, copy), $"{message.GetType().Name} changed in a round trip: {message} became {copy}");
        }
    }

    [Fact]
    public void Akka_serializers_that_would_instantiate_any_named_type_are_refused()
    {
        // Akka's JSON serializer (id 1) would build any type a frame names; remote deployment (id 3) any actor.
        var json = Encoding.UTF8.GetBytes("""{"$type":"System.IO.FileInfo, System.IO.FileSystem","fileName":"/tmp/x"}""");
        Assert.Throws<WireFormatException>(() => Serialization.Deserialize(json, 1, "System.IO.FileInfo, System.IO.FileSystem"));
        Assert.Throws<WireFormatException>(() => Serialization.Deserialize([1, 2, 3], 3, ""));
        // A message that is not ours has no serializer to fall back to, so it is never sent.
        Assert.ThrowsAny<System.Runtime.Serialization.SerializationException>(() => Serialization.Serialize(new FileInfo("/tmp/x")));
        // Hyperion stays registered (by its package) with an allow-list: a frame naming another type does not decode.
        var hyperion = new Hyperion.Serializer();
        using var stream = new MemoryStream();
        hyperion.Serialize(new NotAProtocolMessage("x"), stream);
        Assert.Throws<WireFormatException>(() => Serialization.Deserialize(stream.ToArray(), 7_871, ""));
        Assert.True(ProtocolTypeFilter.IsAllowed(typeof(List<WorkerInfo>)));
        Assert.False(ProtocolTypeFilter.IsAllowed(typeof(List<FileInfo>)));
        Assert.False(ProtocolTypeFilter.Instance.IsAllowed(typeof(NotAProtocolMessage).AssemblyQualifiedName!));
    }

    [Fact]
    public void Unknown_manifests_and_lengths_past_the_frame_are_typed_errors()
    {
        Assert.Throws<WireFormatException>(() => Serialization.Deserialize([], 7_872, "System.Diagnostics.Process"));
        Assert.Throws<WireFormatException>(() => Serialization.Deserialize([], 7_870, "Q"));
        // A key count of -1 and of 0x7fffffff in a DeleteKeys frame.
        Assert.Throws<WireFormatException>(() => Serialization.Deserialize([1, 0xFF, 0xFF, 0xFF, 0xFF], 7_872, nameof(DeleteKeys)));
        Assert.Throws<WireFormatException>(() => Serialization.Deserialize([1, 0xFF, 0xFF, 0xFF, 0x7F], 7_872, nameof(DeleteKeys)));
    }

    [Fact]
    public void Mutated_task_frames_decode_or_throw_a_wire_format_error()
    {
        var frames = WireSamples.All(TestActor).OfType<IProtocolMessage>().Select(Encode).Where(f => f.Id == 7_870).ToList();
        Fuzz(frames, seed: 1);
    }

    [Fact]
    public void Mutated_record_frames_decode_or_throw_a_wire_format_error()
    {
        var frames = WireSamples.All(TestActor).OfType<IProtocolMessage>().Select(Encode).Where(f => f.Id == 7_872).ToList();
        Fuzz(frames, seed: 2);
    }

    [Fact]
    public void Executor_frame_bytes_are_all_distinct()
    {
        // Frames added on different branches once took the same byte: each must name one frame only.
        var frameBytes = typeof(ExecutorFrames).GetFields(BindingFlags.Public | BindingFlags.Static)
            .Where(f => f.IsLiteral && f.FieldType == typeof(byte))
            .Select(f => (f.Name, Byte: (byte)f.GetRawConstantValue()!)).ToList();
        Assert.True(frameBytes.Count >= 10, $"only {frameBytes.Count} frame constants found");
        var shared = frameBytes.GroupBy(f => f.Byte).Where(g => g.Count() > 1).Select(g => $"'{(char)g.Key}': {string.Join(", ", g.Select(f => f.Name))}");
        Assert.Empty(shared);
    }

    [Fact]
    public void Mutated_executor_frames_decode_or_throw_a_wire_format_error()
    {
        var function = new FunctionSpec("fn", [1, 2, 3]);
        var batch = new ExecutorBatch([function], new Dictionary<string, StoredValue> { ["a"] = new StoredValue([8, 1, 0, 0, 0], ""), ["b"] = new StoredValue([], "") },
            [new ExecutorTask("k", "fn", ArgumentsKind.Dependencies, [], ["a", "b", "c"], 1_000), new ExecutorTask("j", "fn", ArgumentsKind.SingleValue, [7], [])],
            new Dictionary<string, SharedReference> { ["c"] = new(17, 3, 0, 2_000_000) });
        var results = new List<ExecutorResult>
        {
            new("k", new StoredValue([8, 2, 0, 0, 0], "System.Int32"), "System.Int32", null, new TaskRun(3, 123_456_789, 123_500_000)),
            new("j", null, "", new RemoteError(ErrorKind.UserCode, "E", "m", "s")),
            new("s", null, "System.Double[]", null, new TaskRun(1, 123_456_000, 123_600_000), new SharedResult(3, 2_000_000)),
        };
        var frames = new List<byte[]>
        {
            Write(w => ExecutorFrames.WriteBatch(w, batch)),
            Write(w => ExecutorFrames.WriteResults(w, results)),
            Write(w => ExecutorFrames.WriteCancel(w, ["k", "j"])),
            Write(w => { ExecutorFrames.WriteStarted(w, ["k"]); w.Flush(); }),
            Write(w => ExecutorFrames.WriteCode(w, ["/tmp/a.dll", "/tmp/b.dll"])),
            Write(w => { ExecutorFrames.WriteSegmentWanted(w, 5, 2_000_000); w.Flush(); }),
            Write(w => ExecutorFrames.WriteSegmentLent(w, 5, 17, 3)),
            Write(w => ExecutorFrames.WriteSegmentsFreed(w, [3, 9])),
            Write(w => ExecutorFrames.WriteResolveAssembly(w, 7, "k", "fr/Localized.resources")),
            Write(w => ExecutorFrames.WriteAssemblyResolved(w, 7, "/cache/h/fr/Localized.resources.dll", null)),
            Write(w => ExecutorFrames.WriteAssemblyResolved(w, 8, null, "no such assembly")),
        };
        // Round trip first, the way the socket reads: without knowing where the frame ends.
        var decodedBatch = (ExecutorBatch)DecodeExecutorFrame(frames[0])!;
        Assert.Equal(["k", "j"], decodedBatch.Tasks.Select(t => t.Key));
        Assert.Equal(1_000, decodedBatch.Tasks[0].TimeoutMs);
        Assert.Equal(new SharedReference(17, 3, 0, 2_000_000), decodedBatch.SharedValues!["c"]);
        var decodedResults = (List<ExecutorResult>)DecodeExecutorFrame(frames[1])!;
        Assert.Equal(results.Select(r => (r.Key, r.Run)), decodedResults.Select(r => (r.Key, r.Run)));
        Assert.Equal(new SharedResult(3, 2_000_000), decodedResults[2].Shared);
        Assert.Equal((5L, 2_000_000), DecodeExecutorFrame(frames[5]));
        Assert.Equal((5L, 17, 3L), DecodeExecutorFrame(frames[6]));
        Assert.Equal([3L, 9L], (IReadOnlyList<long>)DecodeExecutorFrame(frames[7])!);
        Assert.Equal((7L, "k", "fr/Localized.resources"), DecodeExecutorFrame(frames[8]));
        Assert.Equal((8L, (string?)null, "no such assembly"), DecodeExecutorFrame(frames[10]));

        var mutations = new Mutations(3);
        var outcomes = new Outcomes();
        for (var i = 0; i < MutationsPerDecoder; i++)
        {
            var frame = frames[mutations.Random.Next(frames.Count)];
            var mutated = mutations.Mutate(frame, frames[mutations.Random.Next(frames.Count)]);
            outcomes.Run(mutated, () => DecodeExecutorFrame(mutated));
        }
        outcomes.AssertOnlyTypedErrors("executor frames");
    }

    [Fact]
    public void Mutated_encoded_dataframes_decode_or_throw_a_wire_format_error()
    {
        var frame = new DataFrame(
            new Int32DataFrameColumn("id", [1, 2, null, 4]),
            new DoubleDataFrameColumn("x", [0.5, null, 2.5, 3.5]),
            new StringDataFrameColumn("name", ["a", null, "ccc", "dd"]),
            new BooleanDataFrameColumn("flag", [true, false, true, null]));
        var codec = new ValueCodec();
        var encoded = codec.Encode(frame);
        var copy = (DataFrame)codec.Decode(encoded)!;
        Assert.Equal(frame.Rows.Count, copy.Rows.Count);
        Assert.Equal("ccc", copy.Columns["name"][2]);

        var mutations = new Mutations(4);
        var outcomes = new Outcomes();
        for (var i = 0; i < MutationsPerDecoder; i++)
        {
            var mutated = mutations.Mutate(encoded, encoded);
            if (mutated.Length == 0) mutated = [encoded[0]];
            mutated[0] = encoded[0]; // keep the dataframe tag: the other formats are raw copies
            outcomes.Run(mutated, () => codec.Decode(mutated));
        }
        outcomes.AssertOnlyTypedErrors("encoded dataframes");
    }

    [Fact]
    public void Mutated_put_frames_and_their_values_decode_or_throw_a_data_frame_error()
    {
        var settings = DataChannelSettings.Default with { MaxValueBytes = 16 << 20 };
        byte[] Connection(long scatterId, params (string Key, string Type, byte[] Value)[] values)
        {
            var stream = new MemoryStream();
            stream.WriteByte((byte)PeerKind.Client);
            DataFrames.EncodePut(scatterId, values.Select(v => new PutEntry(v.Key, v.Type, v.Value.Length)).ToList(), settings, stream);
            foreach (var value in values) stream.Write(value.Value);
            return stream.ToArray();
        }
        var frames = new List<byte[]>
        {
            Connection(1, ("a", "System.Int32", [8, 1, 0, 0, 0]), ("é-b", "System.String", [])),
            Connection(long.MaxValue, ("scatter-0123456789abcdef", "System.Double[]", Enumerable.Range(0, 300).Select(i => (byte)i).ToArray())),
            Connection(0),
        };
        // As the data server reads a put: the frame, then each value as its bytes arrive; a stream that ends early is a bad frame.
        object? Decode(byte[] input)
        {
            try
            {
                var reader = new DataRequestReader(new MemoryStream(input), settings);
                if (reader.ReadKindAsync(default).AsTask().GetAwaiter().GetResult() is null) return null;
                reader.WaitForRequestAsync(default).AsTask().GetAwaiter().GetResult();
                if (reader.ReadAsync(default).AsTask().GetAwaiter().GetResult() is not { Op: DataFrames.Put } request) return null;
                var valuesStart = (int)Math.Min(input.Length, 6L + BinaryPrimitives.ReadInt32LittleEndian(input.AsSpan(2)));
                var source = new MemoryStream(input, valuesStart, input.Length - valuesStart);
                foreach (var entry in request.Puts)
                {
                    try { StoredValue.ReadFromAsync(source, entry.Length, entry.TypeName, null, () => { }).GetAwaiter().GetResult(); }
                    catch (EndOfStreamException) { throw new DataFrameException($"the stream ended in the value of {entry.Key}"); }
                }
                return request;
            }
            catch (DataFrameException e)
            {
                throw new WireFormatException(e.Message, e);
            }
        }
        var decoded = (DataRequest)Decode(frames[0])!;
        Assert.Equal(["a", "é-b"], decoded.Puts.Select(p => p.Key));

        var mutations = new Mutations(5);
        var outcomes = new Outcomes();
        for (var i = 0; i < MutationsPerDecoder; i++)
        {
            var mutated = mutations.Mutate(frames[mutations.Random.Next(frames.Count)], frames[mutations.Random.Next(frames.Count)]);
            if (mutated.Length < 2) mutated = [(byte)PeerKind.Client, DataFrames.Put];
            (mutated[0], mutated[1]) = ((byte)PeerKind.Client, DataFrames.Put); // keep it a put: the other ops have their own tests
            outcomes.Run(mutated, () => Decode(mutated));
        }
        outcomes.AssertOnlyTypedErrors("put frames");
    }

    private void Fuzz(List<(byte[] Bytes, int Id, string Manifest)> frames, int seed)
    {
        Assert.NotEmpty(frames);
        var mutations = new Mutations(seed);
        var outcomes = new Outcomes();
        var manifests = frames.Select(f => f.Manifest).Distinct().ToList();
        for (var i = 0; i < MutationsPerDecoder; i++)
        {
            var (bytes, id, manifest) = frames[mutations.Random.Next(frames.Count)];
            var mutated = mutations.Mutate(bytes, frames[mutations.Random.Next(frames.Count)].Bytes);
            // Now and then the bytes of one message under the manifest of another.
            if (mutations.Random.Next(10) == 0) manifest = manifests[mutations.Random.Next(manifests.Count)];
            outcomes.Run(mutated, () => Serialization.Deserialize(mutated, id, manifest) is IProtocolMessage
                ? null
                : throw new InvalidOperationException("A frame decoded to something that is not a protocol message."));
        }
        outcomes.AssertOnlyTypedErrors($"serializer {frames[0].Id}");
    }

    private (byte[] Bytes, int Id, string Manifest) Encode(object message)
    {
        var serializer = Serialization.FindSerializerFor(message);
        return (serializer.ToBinary(message), serializer.Identifier, Akka.Serialization.Serialization.ManifestFor(serializer, message));
    }

    private static byte[] Write(Action<BinaryWriter> write)
    {
        using var stream = new MemoryStream();
        using (var writer = new BinaryWriter(stream, Encoding.UTF8, leaveOpen: true)) write(writer);
        return stream.ToArray();
    }

    private static object? DecodeExecutorFrame(byte[] frame)
    {
        var stream = new UnseekableStream(new MemoryStream(frame));
        // A stored value's length is trusted up to its limit (the executor is the worker's own child, and
        // its user code could make a value that large honestly): the limit bounds what a lie allocates.
        var reader = new WireReader(stream, new WireLimits(WireLimits.Default.MaxCount, WireLimits.Default.MaxStringBytes, WireLimits.Default.MaxBytes, maxValueBytes: 16 << 20));
        var tag = stream.ReadByte();
        return tag switch
        {
            ExecutorFrames.Batch => ExecutorFrames.ReadBatch(reader),
            ExecutorFrames.Results => ExecutorFrames.ReadResults(reader),
            ExecutorFrames.Cancel => ExecutorFrames.ReadCancel(reader),
            ExecutorFrames.Started => ExecutorFrames.ReadStarted(reader),
            ExecutorFrames.Code => ExecutorFrames.ReadCode(reader),
            ExecutorFrames.SegmentWanted => ExecutorFrames.ReadSegmentWanted(reader),
            ExecutorFrames.SegmentLent => ExecutorFrames.ReadSegmentLent(reader),
            ExecutorFrames.SegmentsFreed => ExecutorFrames.ReadSegmentsFreed(reader),
            ExecutorFrames.ResolveAssembly => ExecutorFrames.ReadResolveAssembly(reader),
            ExecutorFrames.AssemblyResolved => ExecutorFrames.ReadAssemblyResolved(reader),
            _ => throw new WireFormatException($"Unexpected frame {tag}."),
        };
    }

    private static bool SameContent(object? a, object? b)
    {
        if (a is null || b is null) return a is null && b is null;
        if (a is string || a is IActorRef || a.GetType().IsPrimitive || a is Enum) return a.Equals(b);
        if (a is byte[] x && b is byte[] y) return x.AsSpan().SequenceEqual(y);
        if (a is IEnumerable first && b is IEnumerable second)
        {
            var left = first.Cast<object?>().ToList();
            var right = second.Cast<object?>().ToList();
            return left.Count == right.Count && left.Zip(right).All(p => SameContent(p.First, p.Second));
        }
        if (a.GetType() != b.GetType()) return false;
        return a.GetType().GetProperties(System.Reflection.BindingFlags.Public | System.Reflection.BindingFlags.Instance).Where(p => p.GetIndexParameters().Length == 0 && p.Name != "EqualityContract")
            .All(p => SameContent(p.GetValue(a), p.GetValue(b)));
    }

    private sealed record NotAProtocolMessage(string Text);

    /// <summary>What the decoders did with the mutations: decoded, refused with a typed error, or anything else (a failure).</summary>
    private sealed class Outcomes
    {
        private readonly List<string> _failures = [];
        private int _decoded;
        private int _refused;

        public void Run(byte[] input, Func<object?> decode)
        {
            var before = GC.GetAllocatedBytesForCurrentThread();
            try
            {
                decode();
                _decoded++;
            }
            catch (WireFormatException)
            {
                _refused++;
            }
            catch (Exception e)
            {
                if (_failures.Count < 5) _failures.Add($"{e.GetType().Name}: {e.Message} on input {Convert.ToHexString(input.AsSpan(0, Math.Min(64, input.Length)))}");
                else _failures.Add("");
            }
            var allocated = GC.GetAllocatedBytesForCurrentThread() - before;
            if (allocated > MaxAllocatedPerDecode) _failures.Add($"A decode of {input.Length} bytes allocated {allocated:N0} bytes: {Convert.ToHexString(input.AsSpan(0, Math.Min(64, input.Length)))}");
        }

        public void AssertOnlyTypedErrors(string decoder)
        {
            Assert.True(_failures.Count == 0,
                $"{decoder}: {_failures.Count} of {_decoded + _refused + _failures.Count} mutations failed otherwise than with a WireFormatException: {string.Join(" | ", _failures.Where(f => f.Length > 0).Take(5))}");
            Assert.True(_refused > MutationsPerDecoder / 2, $"{decoder}: only {_refused} mutations were refused ({_decoded} decoded); the mutations do not reach the checks.");
        }
    }

    private sealed class UnseekableStream(Stream inner) : Stream
    {
        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
        public override void Flush() { }
        public override int Read(byte[] buffer, int offset, int count) => inner.Read(buffer, offset, count);
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
