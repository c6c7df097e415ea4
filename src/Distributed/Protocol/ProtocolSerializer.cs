using System.Collections.Concurrent;
using System.Text;
using Akka.Actor;
using Akka.Serialization;

namespace Distributed.Protocol;

/// <summary>
/// A hand-written binary serializer for the messages that carry tasks and their completions: they
/// are most of the traffic (one entry per task), and a reflective serializer spends more time on
/// them than the tasks themselves take. Other protocol messages use Hyperion (see hocon/common.hocon).
/// </summary>
public sealed class ProtocolSerializer(ExtendedActorSystem system) : SerializerWithStringManifest(system)
{
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
                    WriteCode(w, m.Code);
                    WriteFunctions(w, m.Functions);
                    WriteTasks(w, m.Tasks);
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
                    break;
                case TasksFailed m:
                    w.Write(m.Worker);
                    w.Write(m.Failures.Count);
                    foreach (var failure in m.Failures)
                    {
                        w.Write(failure.Key);
                        w.Write(failure.Error.TypeName);
                        w.Write(failure.Error.Message);
                        w.Write(failure.Error.StackTrace);
                    }
                    break;
                default:
                    throw new ArgumentException($"{obj.GetType()} is not serialized by {nameof(ProtocolSerializer)}.");
            }
        }
        return stream.ToArray();
    }

    /// <inheritdoc />
    public override object FromBinary(byte[] bytes, string manifest)
    {
        using var r = new BinaryReader(new MemoryStream(bytes, writable: false), Encoding.UTF8);
        switch (manifest)
        {
            case SubmitTasksManifest:
                return new SubmitTasks(ReadCode(r), ReadFunctions(r), ReadTasks(r));
            case RunTasksManifest:
                {
                    var client = ReadRef(r);
                    var code = ReadCode(r);
                    var functions = ReadFunctions(r);
                    var tasks = ReadTasks(r);
                    var inputs = new RemoteInput[r.ReadInt32()];
                    for (var i = 0; i < inputs.Length; i++)
                    {
                        var key = r.ReadString();
                        var holders = new DataEndpoint[r.ReadInt32()];
                        for (var h = 0; h < holders.Length; h++) holders[h] = ReadEndpoint(r);
                        inputs[i] = new RemoteInput(key, holders);
                    }
                    return new RunTasks(client, code, functions, tasks, inputs);
                }
            case TasksFinishedManifest:
                {
                    var worker = r.ReadString();
                    var data = ReadEndpoint(r);
                    var results = new StoredKey[r.ReadInt32()];
                    for (var i = 0; i < results.Length; i++) results[i] = new StoredKey(r.ReadString(), r.ReadInt64(), r.ReadString());
                    return new TasksFinished(worker, data, results);
                }
            case TasksFailedManifest:
                {
                    var worker = r.ReadString();
                    var failures = new FailedTask[r.ReadInt32()];
                    for (var i = 0; i < failures.Length; i++)
                        failures[i] = new FailedTask(r.ReadString(), new RemoteError(r.ReadString(), r.ReadString(), r.ReadString()));
                    return new TasksFailed(worker, failures);
                }
            default:
                throw new System.Runtime.Serialization.SerializationException($"Unknown manifest '{manifest}' for {nameof(ProtocolSerializer)}.");
        }
    }

    private static void WriteRef(BinaryWriter w, IActorRef actor) => w.Write(Akka.Serialization.Serialization.SerializedActorPath(actor));

    private IActorRef ReadRef(BinaryReader r)
    {
        var path = r.ReadString();
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

    private static DataEndpoint ReadEndpoint(BinaryReader r) => new(r.ReadString(), r.ReadInt32());

    private static void WriteCode(BinaryWriter w, CodeManifest code)
    {
        w.Write(code.Version);
        w.Write(code.Assemblies.Count);
        foreach (var assembly in code.Assemblies)
        {
            w.Write(assembly.Name);
            w.Write(assembly.Hash);
        }
    }

    private static CodeManifest ReadCode(BinaryReader r)
    {
        var version = r.ReadString();
        var assemblies = new AssemblyRef[r.ReadInt32()];
        for (var i = 0; i < assemblies.Length; i++) assemblies[i] = new AssemblyRef(r.ReadString(), r.ReadString());
        return new CodeManifest(version, assemblies);
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

    private static FunctionSpec[] ReadFunctions(BinaryReader r)
    {
        var functions = new FunctionSpec[r.ReadInt32()];
        for (var i = 0; i < functions.Length; i++) functions[i] = new FunctionSpec(r.ReadString(), ReadBytes(r));
        return functions;
    }

    private static void WriteTasks(BinaryWriter w, IReadOnlyList<TaskSpec> tasks)
    {
        w.Write(tasks.Count);
        string? previousFunction = null;
        foreach (var task in tasks)
        {
            w.Write(task.Key);
            // Batches usually hold many tasks of one function: write its id only when it changes.
            var same = task.FunctionId == previousFunction;
            w.Write(same);
            if (!same) w.Write(task.FunctionId);
            previousFunction = task.FunctionId;
            w.Write((byte)task.Kind);
            WriteBytes(w, task.Args);
            w.Write(task.Dependencies.Count);
            foreach (var dependency in task.Dependencies) w.Write(dependency);
            w.Write7BitEncodedInt(task.ReleaseAfterConsumers);
            w.Write(task.Priority);
            w.Write7BitEncodedInt64(task.TimeoutMs); // one byte when there is none
        }
    }

    private static TaskSpec[] ReadTasks(BinaryReader r)
    {
        var tasks = new TaskSpec[r.ReadInt32()];
        string? previousFunction = null;
        for (var i = 0; i < tasks.Length; i++)
        {
            var key = r.ReadString();
            var functionId = r.ReadBoolean() ? previousFunction! : r.ReadString();
            previousFunction = functionId;
            var kind = (ArgumentsKind)r.ReadByte();
            var args = ReadBytes(r);
            var dependencies = r.ReadInt32() is var count and > 0 ? new string[count] : [];
            for (var d = 0; d < dependencies.Length; d++) dependencies[d] = r.ReadString();
            tasks[i] = new TaskSpec(key, functionId, kind, args, dependencies, r.Read7BitEncodedInt(), r.ReadInt64(), r.Read7BitEncodedInt64());
        }
        return tasks;
    }

    private static void WriteBytes(BinaryWriter w, byte[] bytes)
    {
        w.Write7BitEncodedInt(bytes.Length);
        w.Write(bytes);
    }

    private static byte[] ReadBytes(BinaryReader r)
    {
        var length = r.Read7BitEncodedInt();
        return length == 0 ? [] : r.ReadBytes(length);
    }
}
