using Distributed.Data;
using Distributed.Protocol;

namespace Distributed.Worker.Executor;

// The conversation between a worker and one of its executor processes, over a Unix domain socket.
// It is binary and sequential (one reader, one writer each way) because it carries every task.

/// <summary>
/// A task as the executor sees it: its dependencies' values travel in the same batch. A task with a
/// timeout (<see cref="TimeoutMs"/> &gt; 0) is announced when it starts, so that the worker's clock
/// starts then and not while it waits in the executor's queue.
/// </summary>
internal sealed record ExecutorTask(string Key, string FunctionId, ArgumentsKind Kind, byte[] Args, IReadOnlyList<string> Dependencies, long TimeoutMs = 0);

/// <summary>
/// Worker → executor: functions it has not seen yet, the input values (in chunks when large), and the
/// tasks. Inputs in shared segments travel as <see cref="SharedValues"/>: where they lie in the worker's shared segments.
/// </summary>
internal sealed record ExecutorBatch(IReadOnlyList<FunctionSpec> Functions, IReadOnlyDictionary<string, StoredValue> Values, IReadOnlyList<ExecutorTask> Tasks,
    IReadOnlyDictionary<string, SharedReference>? SharedValues = null);

/// <summary>
/// Where a value lies in a shared segment of the worker: the executor maps <c>/proc/WORKER/fd/Descriptor</c>
/// (read-only) and reads <see cref="Length"/> bytes from <see cref="Offset"/>. The worker holds the value
/// until every task of the batch has answered, so the bytes stay as they are while the executor reads them.
/// </summary>
internal sealed record SharedReference(int Descriptor, long SegmentId, long Offset, int Length);

/// <summary>
/// Executor → worker: one finished task, its encoded result (in chunks when it is large) or its error,
/// and when and on which thread it ran.
/// A result of one buffer from <see cref="ExecutorFrames.SharedResultMinimumBytes"/> up may come as
/// <see cref="Shared"/>: written into a segment the worker lent for it, instead of in <see cref="Value"/>.
/// </summary>
internal sealed record ExecutorResult(string Key, StoredValue? Value, string TypeName, RemoteError? Error, TaskRun Run = default, SharedResult? Shared = null)
{
    /// <summary>The result's length in bytes, wherever it is.</summary>
    public long Length => Shared?.Length ?? Value?.Length ?? 0;
}

/// <summary>
/// A result in segment <see cref="SegmentId"/> that the worker lent to the executor. On the worker's
/// side <see cref="Stored"/> is the value made of it, once the executor's actor has taken the segment back.
/// </summary>
internal sealed record SharedResult(long SegmentId, int Length, StoredValue? Stored = null);

internal static class ExecutorFrames
{
    // Every frame byte differs from every other, whichever way it travels: a frame read on the wrong
    // side fails as unexpected instead of parsing as another.
    public const byte Batch = (byte)'B';
    public const byte Results = (byte)'R';
    public const byte Cancel = (byte)'C';
    public const byte Started = (byte)'S';
    public const byte Code = (byte)'A';
    public const byte SegmentWanted = (byte)'M';
    public const byte SegmentLent = (byte)'G';
    public const byte SegmentsFreed = (byte)'F';
    public const byte ResolveAssembly = (byte)'L';
    public const byte AssemblyResolved = (byte)'P';

    /// <summary>
    /// Results from this size up go back through a segment the worker lends (its pages already touched,
    /// reused) rather than over the socket: the same threshold the worker shares stored values from.
    /// </summary>
    public const int SharedResultMinimumBytes = Distributed.Data.ValueBufferPool.DefaultSharedMinimumBytes;

    /// <summary>Executor → worker: it needs a segment of <paramref name="length"/> bytes for a result; the answer names <paramref name="request"/>.</summary>
    public static void WriteSegmentWanted(BinaryWriter writer, long request, int length)
    {
        writer.Write(SegmentWanted);
        writer.Write(request);
        writer.Write(length);
    }

    /// <summary>Reads a segment request after its frame byte.</summary>
    public static (long Request, int Length) ReadSegmentWanted(WireReader reader)
    {
        var request = reader.ReadInt64("a segment request's id");
        var length = reader.ReadInt32("a segment request's length");
        if (length <= 0) throw new WireFormatException($"A segment of {length} bytes was asked for.");
        return (request, length);
    }

    /// <summary>
    /// Worker → executor: the segment lent for request <paramref name="request"/> (its descriptor in the
    /// worker and its id), or descriptor -1 when none is lent: the result then travels in the frame.
    /// </summary>
    public static void WriteSegmentLent(BinaryWriter writer, long request, int descriptor, long segmentId)
    {
        writer.Write(SegmentLent);
        writer.Write(request);
        writer.Write(descriptor);
        writer.Write(segmentId);
        writer.Flush();
    }

    /// <summary>Reads a lent segment after its frame byte.</summary>
    public static (long Request, int Descriptor, long SegmentId) ReadSegmentLent(WireReader reader) =>
        (reader.ReadInt64("a lent segment's request"), reader.ReadInt32("a lent segment's descriptor"), reader.ReadInt64("a lent segment's id"));

    /// <summary>
    /// Worker → executor: the worker unmapped these segments for good (no batch will name them again), so
    /// the executor unmaps its mappings of them too, which frees their memory.
    /// </summary>
    public static void WriteSegmentsFreed(BinaryWriter writer, IReadOnlyCollection<long> segmentIds)
    {
        writer.Write(SegmentsFreed);
        writer.Write(segmentIds.Count);
        foreach (var id in segmentIds) writer.Write(id);
        writer.Flush();
    }

    /// <summary>Reads freed segment ids after their frame byte.</summary>
    public static IReadOnlyList<long> ReadSegmentsFreed(WireReader reader)
    {
        var count = reader.ReadCount("freed segments");
        var ids = new List<long>(WireReader.InitialCapacity(count));
        for (var i = 0; i < count; i++) ids.Add(reader.ReadInt64("a freed segment's id"));
        return ids;
    }

    /// <summary>
    /// Executor → worker: its load context missed an assembly that no manifest listed (a simple name, or a
    /// satellite's <c>culture/Name.resources</c>), asked while <paramref name="taskKey"/> ran ("" when no
    /// task of this thread is known): the worker asks that task's client. Rare (a miss), so flushed at once.
    /// </summary>
    public static void WriteResolveAssembly(BinaryWriter writer, long requestId, string taskKey, string name)
    {
        writer.Write(ResolveAssembly);
        writer.Write(requestId);
        writer.Write(taskKey);
        writer.Write(name);
        writer.Flush();
    }

    /// <summary>Reads an assembly request after its frame byte.</summary>
    public static (long RequestId, string TaskKey, string Name) ReadResolveAssembly(WireReader reader) =>
        (reader.ReadInt64("a request id"), reader.ReadString("a task key"), reader.ReadString("an assembly name"));

    /// <summary>Worker → executor: the answer to a <see cref="ResolveAssembly"/>: the file to load ("" none) or why there is none.</summary>
    public static void WriteAssemblyResolved(BinaryWriter writer, long requestId, string? path, string? problem)
    {
        writer.Write(AssemblyResolved);
        writer.Write(requestId);
        writer.Write(path ?? "");
        writer.Write(problem ?? "");
        writer.Flush();
    }

    /// <summary>Reads an assembly answer after its frame byte.</summary>
    public static (long RequestId, string? Path, string? Problem) ReadAssemblyResolved(WireReader reader)
    {
        var id = reader.ReadInt64("a request id");
        var path = reader.ReadString("an assembly path");
        var problem = reader.ReadString("why there is no assembly");
        return (id, path.Length == 0 ? null : path, problem.Length == 0 ? null : problem);
    }

    /// <summary>A spare executor's code: the assembly files of the version it runs from now on.</summary>
    public static void WriteCode(BinaryWriter writer, IReadOnlyCollection<string> assemblyPaths)
    {
        WriteStrings(writer, Code, assemblyPaths);
        writer.Flush();
    }

    /// <summary>Reads a code frame after its frame byte.</summary>
    public static IReadOnlyList<string> ReadCode(WireReader reader) => ReadStrings(reader, "assembly paths");

    /// <summary>Tasks sent earlier that must not start (they are answered with <see cref="CancelledError"/>).</summary>
    public static void WriteCancel(BinaryWriter writer, IReadOnlyCollection<string> keys)
    {
        WriteStrings(writer, Cancel, keys);
        writer.Flush();
    }

    /// <summary>Reads a cancel frame after its frame byte.</summary>
    public static IReadOnlyList<string> ReadCancel(WireReader reader) => ReadStrings(reader, "cancelled keys");

    /// <summary>The answer to a task cancelled before it started; the worker drops it.</summary>
    public static RemoteError CancelledError { get; } = RemoteError.Of(ErrorKind.TaskCancelled, "The task was cancelled before it started.");

    public static void WriteBatch(BinaryWriter writer, ExecutorBatch batch)
    {
        writer.Write(Batch);
        writer.Write(batch.Functions.Count);
        foreach (var function in batch.Functions)
        {
            writer.Write(function.FunctionId);
            WriteBytes(writer, function.Payload);
        }
        writer.Write(batch.Values.Count);
        foreach (var (key, value) in batch.Values)
        {
            writer.Write(key);
            WriteValue(writer, value);
        }
        var shared = batch.SharedValues;
        writer.Write(shared?.Count ?? 0);
        if (shared is not null)
            foreach (var (key, reference) in shared)
            {
                writer.Write(key);
                writer.Write(reference.Descriptor);
                writer.Write(reference.SegmentId);
                writer.Write(reference.Offset);
                writer.Write(reference.Length);
            }
        writer.Write(batch.Tasks.Count);
        foreach (var task in batch.Tasks)
        {
            writer.Write(task.Key);
            writer.Write(task.FunctionId);
            writer.Write((byte)task.Kind);
            WriteBytes(writer, task.Args);
            writer.Write(task.Dependencies.Count);
            foreach (var dependency in task.Dependencies) writer.Write(dependency);
            writer.Write(task.TimeoutMs);
        }
        writer.Flush();
    }

    /// <summary>Reads a batch after its frame byte.</summary>
    // The frames have no length prefix (they stream over the socket), so lists grow as their items
    // arrive instead of being allocated at the count they claim.
    public static ExecutorBatch ReadBatch(WireReader reader)
    {
        var functionCount = reader.ReadCount("functions");
        var functions = new List<FunctionSpec>(WireReader.InitialCapacity(functionCount));
        for (var i = 0; i < functionCount; i++) functions.Add(new FunctionSpec(reader.ReadString("a function's id"), reader.ReadInt32Bytes("a function's payload")));
        var valueCount = reader.ReadCount("values");
        var values = new Dictionary<string, StoredValue>(WireReader.InitialCapacity(valueCount));
        for (var i = 0; i < valueCount; i++)
        {
            var key = reader.ReadString("a value's key");
            values[key] = ReadValue(reader, "a value", typeName: "");
        }
        var sharedCount = reader.ReadCount("shared values");
        // Most batches share nothing: no dictionary for them.
        var shared = sharedCount == 0 ? null : new Dictionary<string, SharedReference>(WireReader.InitialCapacity(sharedCount));
        for (var i = 0; i < sharedCount; i++)
        {
            var key = reader.ReadString("a shared value's key");
            var reference = new SharedReference(reader.ReadInt32("a shared value's descriptor"), reader.ReadInt64("a shared value's segment"),
                reader.ReadInt64("a shared value's offset"), reader.ReadInt32("a shared value's length"));
            if (reference.Descriptor < 0 || reference.Offset < 0 || reference.Length < 0 || reference.Offset > int.MaxValue - reference.Length)
                throw new WireFormatException($"The shared value {key} has an impossible place: descriptor {reference.Descriptor}, offset {reference.Offset}, length {reference.Length}.");
            shared![key] = reference;
        }
        var taskCount = reader.ReadCount("tasks");
        var tasks = new List<ExecutorTask>(WireReader.InitialCapacity(taskCount));
        for (var i = 0; i < taskCount; i++)
        {
            var key = reader.ReadString("a task's key");
            var functionId = reader.ReadString("a task's function id");
            var kind = reader.ReadByte("a task's argument kind");
            if (!Enum.IsDefined((ArgumentsKind)kind)) throw new WireFormatException($"Task {key} has an unknown argument kind {kind}.");
            var args = reader.ReadInt32Bytes("a task's arguments");
            var dependencies = ReadStrings(reader, "a task's dependencies");
            tasks.Add(new ExecutorTask(key, functionId, (ArgumentsKind)kind, args, dependencies, reader.ReadInt64("a task's timeout")));
        }
        return new ExecutorBatch(functions, values, tasks, shared);
    }

    /// <summary>The keys of tasks (with a timeout) that have just started running. Not flushed: results follow.</summary>
    public static void WriteStarted(BinaryWriter writer, IReadOnlyCollection<string> keys) => WriteStrings(writer, Started, keys);

    /// <summary>Reads started keys after their frame byte.</summary>
    public static IReadOnlyList<string> ReadStarted(WireReader reader) => ReadStrings(reader, "started keys");

    /// <summary>A frame that is a list of strings (keys, paths): the frame byte, the count, the strings.</summary>
    private static void WriteStrings(BinaryWriter writer, byte frame, IReadOnlyCollection<string> strings)
    {
        writer.Write(frame);
        writer.Write(strings.Count);
        foreach (var text in strings) writer.Write(text);
    }

    private static List<string> ReadStrings(WireReader reader, string what)
    {
        var count = reader.ReadCount(what);
        var strings = new List<string>(WireReader.InitialCapacity(count));
        for (var i = 0; i < count; i++) strings.Add(reader.ReadString(what));
        return strings;
    }

    /// <summary>A result's kind on the wire after error (0) and value in the frame (1): a value in a lent segment.</summary>
    private const byte SharedResultTag = 2;

    public static void WriteResults(BinaryWriter writer, IReadOnlyList<ExecutorResult> results)
    {
        writer.Write(Results);
        writer.Write(results.Count);
        foreach (var result in results)
        {
            writer.Write(result.Key);
            // Its run: the thread (plus one; 0: not timed), its start and how long it took, on the machine's one clock.
            if (result.Run.Known)
            {
                writer.Write7BitEncodedInt(result.Run.Slot + 1);
                writer.Write(result.Run.Started);
                writer.Write7BitEncodedInt64(result.Run.Finished - result.Run.Started);
            }
            else writer.Write((byte)0);
            if (result.Error is { } error)
            {
                writer.Write(false);
                writer.Write((byte)error.Kind);
                writer.Write(error.TypeName);
                writer.Write(error.Message);
                writer.Write(error.StackTrace);
            }
            else if (result.Shared is { } shared)
            {
                writer.Write(SharedResultTag);
                writer.Write(result.TypeName);
                writer.Write(shared.SegmentId);
                writer.Write(shared.Length);
            }
            else
            {
                writer.Write(true);
                writer.Write(result.TypeName);
                WriteValue(writer, result.Value!);
            }
        }
        writer.Flush();
    }

    /// <summary>Reads results after their frame byte.</summary>
    public static List<ExecutorResult> ReadResults(WireReader reader)
    {
        var count = reader.ReadCount("results");
        var results = new List<ExecutorResult>(WireReader.InitialCapacity(count));
        for (var i = 0; i < count; i++)
        {
            var key = reader.ReadString("a result's key");
            var slot = reader.Read7BitInt32("a result's thread");
            var run = slot == 0 ? default : ReadRun(reader, slot - 1);
            var tag = reader.ReadByte("a result's kind");
            if (tag == 1)
            {
                var typeName = reader.ReadString("a result's type");
                results.Add(new ExecutorResult(key, ReadValue(reader, "a result's value", typeName), typeName, null, run));
            }
            else if (tag == SharedResultTag)
            {
                var typeName = reader.ReadString("a result's type");
                var segment = reader.ReadInt64("a shared result's segment");
                var length = reader.ReadInt32("a shared result's length");
                if (length < 0) throw new WireFormatException($"The shared result {key} has a length of {length} bytes.");
                results.Add(new ExecutorResult(key, null, typeName, null, run, new SharedResult(segment, length)));
            }
            else if (tag != 0) throw new WireFormatException($"The result {key} is of an unknown kind {tag}.");
            else
            {
                var kind = RemoteError.KindFromWire(reader.ReadByte("an error's kind"), key);
                results.Add(new ExecutorResult(key, null, "", new RemoteError(kind, reader.ReadString("an error's type"),
                    reader.ReadString("an error's message"), reader.ReadString("an error's stack trace")), run));
            }
        }
        return results;
    }

    private static TaskRun ReadRun(WireReader reader, int slot)
    {
        var started = reader.ReadInt64("a result's start");
        var took = reader.Read7BitInt64("a result's duration");
        if (slot < 0 || took < 0) throw new WireFormatException($"A result's run is malformed (thread {slot}, {took} ticks).");
        return new TaskRun(slot, started, started + took);
    }

    /// <summary>A stored value: its length as an int64, then its bytes chunk by chunk (it may pass 2 GiB).</summary>
    private static void WriteValue(BinaryWriter writer, StoredValue value)
    {
        writer.Write(value.Length);
        for (var i = 0; i < value.ChunkCount; i++) writer.Write(value.Chunk(i).Span);
    }

    /// <summary>
    /// Reads a value written by <see cref="WriteValue"/>, into arrays of its own (in chunks past 1 GiB),
    /// each allocated at its full size: no copy on the way, so a length that lies may cost up to
    /// <see cref="WireLimits.MaxValueBytes"/>. The peer is the worker or the executor it started (the
    /// socket checks its process), whose user code could make a value that large honestly anyway.
    /// </summary>
    private static StoredValue ReadValue(WireReader reader, string what, string typeName)
    {
        var length = reader.ReadValueLength(what);
        try { return StoredValue.ReadFrom(reader.Stream, length, typeName, buffers: null); }
        catch (EndOfStreamException e) { throw new WireFormatException($"The frame ends inside {what}.", e); }
    }

    private static void WriteBytes(BinaryWriter writer, byte[] bytes)
    {
        writer.Write(bytes.Length);
        writer.Write(bytes);
    }
}
