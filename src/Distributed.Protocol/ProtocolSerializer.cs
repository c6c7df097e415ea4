using System.Collections.Concurrent;
using System.Text;
using Akka.Actor;
using Akka.Serialization;

namespace Distributed.Protocol;

/// <summary>
/// A hand-written binary serializer for the messages that carry tasks and their completions: they
/// are most of the traffic (one entry per task), and a reflective serializer spends more time on
/// them than the tasks themselves take. Other protocol messages use <see cref="RecordSerializer"/> (see hocon/common.hocon).
/// </summary>
public sealed class ProtocolSerializer(ExtendedActorSystem system) : SerializerWithStringManifest(system)
{
    private readonly WireLimits _limits = WireLimits.From(system.Settings.Config);

    private const string SubmitTasksManifest = "S";
    private const string RunTasksManifest = "R";
    private const string TasksFinishedManifest = "F";
    private const string TasksFailedManifest = "X";

    private readonly ConcurrentDictionary<string, IActorRef> _resolved = new();

    /// <inheritdoc />
    public override int Identifier => 7_870;

    /// <inheritdoc />
    public override string Manifest(object o) => o switch
    {
        SubmitTasks => SubmitTasksManifest,
        RunTasks => RunTasksManifest,
        TasksFinished => TasksFinishedManifest,
        TasksFailed => TasksFailedManifest,
        _ => throw new ArgumentException($"{o.GetType()} is not serialized by {nameof(ProtocolSerializer)}."),
    };

    /// <inheritdoc />
    public override byte[] ToBinary(object obj)
    {
        using var stream = new MemoryStream();
        using (var w = new BinaryWriter(stream, Encoding.UTF8, leaveOpen: true))
        {
            switch (obj)
            {
                case SubmitTasks m:
                    WriteSubmission(w, m);
                    break;
                case RunTasks m:
                    WriteRef(w, m.Client);
                    WriteCode(w, m.Code);
                    WriteFunctions(w, m.Functions);
                    WriteTasks(w, m.Tasks);
                    w.Write(m.RemoteInputs.Count);
                    foreach (var input in m.RemoteInputs)
                    {
                        w.Write(input.Key);
                        w.Write(input.Holders.Count);
                        foreach (var holder in input.Holders) WriteEndpoint(w, holder);
                    }
                    break;
                case TasksFinished m:
                    w.Write(m.Worker);
                    WriteEndpoint(w, m.Data);
                    w.Write(m.Results.Count);
                    foreach (var result in m.Results)
                    {
                        w.Write(result.Key);
                        w.Write(result.Size);
                        w.Write(result.TypeName);
                    }
                    w.Write7BitEncodedInt(m.Times?.Length ?? 0);
                    if (m.Times is { } times) w.Write(times);
                    break;
                case TasksFailed m:
                    w.Write(m.Worker);
                    w.Write(m.Failures.Count);
                    foreach (var failure in m.Failures)
                    {
                        w.Write(failure.Key);
                        w.Write((byte)failure.Error.Kind);
                        w.Write(failure.Error.TypeName);
                        w.Write(failure.Error.Message);
                        w.Write(failure.Error.StackTrace);
                    }
                    break;
                default:
                    throw new ArgumentException($"{obj.GetType()} is not serialized by {nameof(ProtocolSerializer)}.");
            }
        }
        if (Hosting.HopTrace.Enabled) Hosting.HopTrace.Count($"wire: bytes per {obj.GetType().Name}", (int)stream.Length);
        return stream.ToArray();
    }

    /// <inheritdoc />
    public override object FromBinary(byte[] bytes, string manifest)
    {
        // Any frame at all may arrive from a peer: every count and length is bounded before it is
        // allocated, and whatever else goes wrong is one WireFormatException, which Akka.Remote logs
        // and drops (it fails the whole connection on other exceptions).
        try
        {
            var r = new WireReader(new MemoryStream(bytes, writable: false), _limits);
            object message = manifest switch
            {
                SubmitTasksManifest => ReadSubmission(r),
                RunTasksManifest => new RunTasks(ReadRef(r), ReadCode(r), ReadFunctions(r), ReadTasks(r), ReadRemoteInputs(r)),
                TasksFinishedManifest => ReadTasksFinished(r),
                TasksFailedManifest => ReadTasksFailed(r),
                _ => throw new WireFormatException($"Unknown manifest '{Truncated(manifest)}' for {nameof(ProtocolSerializer)}."),
            };
            r.ExpectEnd(manifest);
            return message;
        }
        catch (WireFormatException)
        {
            throw;
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            throw new WireFormatException($"A {nameof(ProtocolSerializer)} frame with manifest '{Truncated(manifest)}' ({bytes.Length} bytes) does not decode: {e.Message}", e);
        }
    }

    /// <summary>
    /// A submission as the bytes the data channel carries to a worker that runs it directly (the same
    /// encoding as Akka.Remote's).
    /// </summary>
    public static byte[] EncodeSubmission(SubmitTasks submission)
    {
        using var stream = new MemoryStream();
        using (var w = new BinaryWriter(stream, Encoding.UTF8, leaveOpen: true)) WriteSubmission(w, submission);
        return stream.ToArray();
    }

    /// <summary>Decodes <see cref="EncodeSubmission"/>'s bytes, every count and length bounded by <paramref name="limits"/>; anything else is a <see cref="WireFormatException"/>.</summary>
    public static SubmitTasks DecodeSubmission(byte[] bytes, int length, WireLimits limits)
    {
        try
        {
            var r = new WireReader(new MemoryStream(bytes, 0, length, writable: false), limits);
            var submission = ReadSubmission(r);
            r.ExpectEnd(SubmitTasksManifest);
            return submission;
        }
        catch (WireFormatException)
        {
            throw;
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            throw new WireFormatException($"A submission of {length} bytes does not decode: {e.Message}", e);
        }
    }

    private static void WriteSubmission(BinaryWriter w, SubmitTasks m)
    {
        WriteCode(w, m.Code);
        WriteFunctions(w, m.Functions);
        WriteTasks(w, m.Tasks);
        w.Write(m.DirectWorker is not null);
        if (m.DirectWorker is not null) w.Write(m.DirectWorker);
    }

    private static SubmitTasks ReadSubmission(WireReader r) =>
        new(ReadCode(r), ReadFunctions(r), ReadTasks(r), r.ReadBoolean("whether a worker runs it directly") ? r.ReadString("the direct worker") : null);

    private static string Truncated(string text) => text.Length <= 40 ? text : text[..40] + "...";

    private static RemoteInput[] ReadRemoteInputs(WireReader r)
    {
        var inputs = new RemoteInput[r.ReadCount("remote inputs", minItemBytes: 5)];
        for (var i = 0; i < inputs.Length; i++)
        {
            var key = r.ReadString("a remote input's key");
            var holders = new DataEndpoint[r.ReadCount("a remote input's holders", minItemBytes: 5)];
            for (var h = 0; h < holders.Length; h++) holders[h] = ReadEndpoint(r);
            inputs[i] = new RemoteInput(key, holders);
        }
        return inputs;
    }

    private static TasksFinished ReadTasksFinished(WireReader r)
    {
        var worker = r.ReadString("the worker");
        var data = ReadEndpoint(r);
        var results = new StoredKey[r.ReadCount("results", minItemBytes: 10)];
        for (var i = 0; i < results.Length; i++)
            results[i] = new StoredKey(r.ReadString("a result's key"), r.ReadInt64("a result's size"), r.ReadString("a result's type"));
        var times = r.Read7BitBytes("the tasks' times");
        return new TasksFinished(worker, data, results, times.Length == 0 ? null : times);
    }

    private static TasksFailed ReadTasksFailed(WireReader r)
    {
        var worker = r.ReadString("the worker");
        var failures = new FailedTask[r.ReadCount("failures", minItemBytes: 5)];
        for (var i = 0; i < failures.Length; i++)
        {
            var key = r.ReadString("a failed task's key");
            var kind = RemoteError.KindFromWire(r.ReadByte("an error's kind"), key);
            failures[i] = new FailedTask(key, new RemoteError(kind, r.ReadString("an error's type"), r.ReadString("an error's message"), r.ReadString("an error's stack trace")));
        }
        return new TasksFailed(worker, failures);
    }

    private static void WriteRef(BinaryWriter w, IActorRef actor) => w.Write(Akka.Serialization.Serialization.SerializedActorPath(actor));

    private IActorRef ReadRef(WireReader r)
    {
        var path = r.ReadString("an actor path");
        // The same few clients appear in every message: resolve each path once.
        if (_resolved.TryGetValue(path, out var actor)) return actor;
        actor = system.Provider.ResolveActorRef(path);
        if (_resolved.Count > 10_000) _resolved.Clear();
        _resolved[path] = actor;
        return actor;
    }

    private static void WriteEndpoint(BinaryWriter w, DataEndpoint endpoint)
    {
        w.Write(endpoint.Host);
        w.Write(endpoint.Port);
    }

    private static DataEndpoint ReadEndpoint(WireReader r) => new(r.ReadString("a data endpoint's host"), r.ReadInt32("a data endpoint's port"));

    private static void WriteCode(BinaryWriter w, CodeManifest code)
    {
        w.Write(code.Version);
        w.Write(code.Assemblies.Count);
        foreach (var assembly in code.Assemblies)
        {
            w.Write(assembly.Name);
            w.Write(assembly.Hash);
        }
        w.Write(code.NativeLibraries.Count);
        foreach (var native in code.NativeLibraries)
        {
            w.Write(native.Package);
            w.Write(native.RuntimeId);
            w.Write(native.FileName);
            w.Write(native.Hash);
        }
    }

    private static CodeManifest ReadCode(WireReader r)
    {
        var version = r.ReadString("the code version");
        var assemblies = new AssemblyRef[r.ReadCount("assemblies", minItemBytes: 2)];
        for (var i = 0; i < assemblies.Length; i++) assemblies[i] = new AssemblyRef(r.ReadString("an assembly's name"), r.ReadString("an assembly's hash"));
        var natives = new NativeLibraryRef[r.ReadCount("native libraries", minItemBytes: 4)];
        for (var i = 0; i < natives.Length; i++)
            natives[i] = new NativeLibraryRef(r.ReadString("a native library's package"), r.ReadString("a native library's runtime identifier"),
                r.ReadString("a native library's file name"), r.ReadString("a native library's hash"));
        return new CodeManifest(version, assemblies, natives.Length == 0 ? null : natives);
    }

    private static void WriteFunctions(BinaryWriter w, IReadOnlyList<FunctionSpec> functions)
    {
        w.Write(functions.Count);
        foreach (var function in functions)
        {
            w.Write(function.FunctionId);
            WriteBytes(w, function.Payload);
        }
    }

    private static FunctionSpec[] ReadFunctions(WireReader r)
    {
        var functions = new FunctionSpec[r.ReadCount("functions", minItemBytes: 2)];
        for (var i = 0; i < functions.Length; i++) functions[i] = new FunctionSpec(r.ReadString("a function's id"), r.Read7BitBytes("a function's payload"));
        return functions;
    }

    private static void WriteTasks(BinaryWriter w, IReadOnlyList<TaskSpec> tasks)
    {
        w.Write(tasks.Count);
        string? previousFunction = null;
        foreach (var task in tasks)
        {
            w.Write(task.Key);
            // Batches usually hold many tasks of one function: write its id only when it changes. The
            // same byte says whether restrictions follow, so an unrestricted task costs nothing more.
            var same = task.FunctionId == previousFunction;
            w.Write((byte)((same ? SameFunctionFlag : 0) | (task.Restrictions is null ? 0 : RestrictedFlag)));
            if (!same) w.Write(task.FunctionId);
            previousFunction = task.FunctionId;
            w.Write((byte)task.Kind);
            WriteBytes(w, task.Args);
            w.Write(task.Dependencies.Count);
            foreach (var dependency in task.Dependencies) w.Write(dependency);
            w.Write7BitEncodedInt(task.ReleaseAfterConsumers);
            w.Write(task.Priority);
            w.Write7BitEncodedInt64(task.TimeoutMs); // one byte when there is none
            if (task.Restrictions is { } restrictions) WriteRestrictions(w, restrictions);
        }
    }

    private const byte SameFunctionFlag = 1;
    private const byte RestrictedFlag = 2;

    private static void WriteRestrictions(BinaryWriter w, TaskRestrictions restrictions)
    {
        w.Write7BitEncodedInt(restrictions.Workers.Count);
        foreach (var worker in restrictions.Workers) w.Write(worker);
        w.Write7BitEncodedInt(restrictions.Resources.Count);
        foreach (var (name, amount) in restrictions.Resources)
        {
            w.Write(name);
            w.Write(amount);
        }
    }

    private static TaskRestrictions ReadRestrictions(WireReader r, string key)
    {
        var workers = new string[r.Read7BitCount("a task's allowed workers")];
        for (var i = 0; i < workers.Length; i++) workers[i] = r.ReadString("an allowed worker");
        var count = r.Read7BitCount("a task's resources", minItemBytes: 9);
        var resources = new Dictionary<string, double>(WireReader.InitialCapacity(count), StringComparer.Ordinal);
        for (var i = 0; i < count; i++)
        {
            var name = r.ReadString("a resource's name");
            var amount = BitConverter.Int64BitsToDouble(r.ReadInt64("a resource's amount"));
            if ((ResourceAmounts.NameProblem(name) ?? ResourceAmounts.AmountProblem(name, amount)) is { } problem)
                throw new WireFormatException($"Task {key} asks for resources it cannot: {problem}");
            if (!resources.TryAdd(name, amount)) throw new WireFormatException($"Task {key} asks for {name} twice.");
        }
        return new TaskRestrictions(workers, resources);
    }

    private static TaskSpec[] ReadTasks(WireReader r)
    {
        var tasks = new TaskSpec[r.ReadCount("tasks", minItemBytes: 18)];
        string? previousFunction = null;
        for (var i = 0; i < tasks.Length; i++)
        {
            var key = r.ReadString("a task's key");
            var flags = r.ReadByte("a task's flags");
            if ((flags & ~(SameFunctionFlag | RestrictedFlag)) != 0) throw new WireFormatException($"Task {key} has unknown flags {flags}.");
            var sameFunction = (flags & SameFunctionFlag) != 0;
            if (sameFunction && previousFunction is null) throw new WireFormatException($"The first task ({key}) repeats a previous task's function.");
            var functionId = sameFunction ? previousFunction! : r.ReadString("a task's function id");
            previousFunction = functionId;
            var kind = r.ReadByte("a task's argument kind");
            if (!Enum.IsDefined((ArgumentsKind)kind)) throw new WireFormatException($"Task {key} has an unknown argument kind {kind}.");
            var args = r.Read7BitBytes("a task's arguments");
            var dependencies = new string[r.ReadCount("a task's dependencies")];
            for (var d = 0; d < dependencies.Length; d++) dependencies[d] = r.ReadString("a dependency");
            var consumers = r.Read7BitInt32("a task's consumer count");
            var priority = r.ReadInt64("a task's priority");
            var timeoutMs = r.Read7BitInt64("a task's timeout");
            if (consumers < 0 || timeoutMs < 0) throw new WireFormatException($"Task {key} has a negative consumer count ({consumers}) or timeout ({timeoutMs}).");
            var restrictions = (flags & RestrictedFlag) != 0 ? ReadRestrictions(r, key) : null;
            tasks[i] = new TaskSpec(key, functionId, (ArgumentsKind)kind, args, dependencies, consumers, priority, timeoutMs, restrictions);
        }
        return tasks;
    }

    private static void WriteBytes(BinaryWriter w, byte[] bytes)
    {
        w.Write7BitEncodedInt(bytes.Length);
        w.Write(bytes);
    }
}
