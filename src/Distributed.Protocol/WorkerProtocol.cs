using Akka.Actor;

namespace Distributed.Protocol;

// The conversation of a worker with the center and with the client whose tasks it runs.

/// <summary>An input of a task that lives on other workers, and where to fetch it.</summary>
public sealed record RemoteInput(string Key, IReadOnlyList<DataEndpoint> Holders);

/// <summary>
/// Center → worker: run these tasks for <see cref="Client"/>, the only actor the worker asks for (and
/// accepts) the assemblies of <see cref="Code"/> for this batch. Functions travel with every batch
/// (they are small and the worker caches them by id), so the center keeps no per-worker cache state.
/// </summary>
public sealed record RunTasks(IActorRef Client, CodeManifest Code, IReadOnlyList<FunctionSpec> Functions, IReadOnlyList<TaskSpec> Tasks, IReadOnlyList<RemoteInput> RemoteInputs) : IProtocolMessage;

/// <summary>
/// Worker → center → client: these tasks finished; their results are stored on <see cref="Worker"/>.
/// The center hears it from the worker's actor and tells the client the name and data endpoint it
/// registered, whatever a worker wrote here. <see cref="Times"/> (worker → center only): when and on
/// which executor thread each task ran (<see cref="TaskTimes"/>), for the dashboard's task stream.
/// </summary>
public sealed record TasksFinished(string Worker, DataEndpoint Data, IReadOnlyList<StoredKey> Results, byte[]? Times = null) : IProtocolMessage;

/// <summary>Worker → center, and center → client (from the worker, or for tasks whose inputs failed): these tasks failed.</summary>
public sealed record TasksFailed(string Worker, IReadOnlyList<FailedTask> Failures) : IProtocolMessage;

/// <summary>Center → worker: delete these keys.</summary>
public sealed record DeleteKeys(IReadOnlyList<string> Keys) : IProtocolMessage;

/// <summary>
/// Center → worker: these tasks were dropped (their client cancelled, released them or died). Those
/// not started yet never run, and no result of them is stored or reported.
/// </summary>
public sealed record CancelTasks(IReadOnlyList<string> Keys) : IProtocolMessage;

/// <summary>Worker → client: send me (the sender) these assemblies of your code (the worker has not seen them).</summary>
public sealed record RequestAssemblies(IReadOnlyList<AssemblyRef> Assemblies) : IProtocolMessage;

/// <summary>
/// Client → worker: one assembly's bytes, answering <see cref="RequestAssemblies"/>. Null bytes: the
/// client cannot provide it. A worker takes them only from a client the center named for that code.
/// </summary>
public sealed record AssemblyBytes(AssemblyRef Assembly, byte[]? Bytes) : IProtocolMessage;

/// <summary>
/// Worker → center's relay → client: which file of your program is the assembly <see cref="Name"/>? Asked
/// only when an executor's load context misses an assembly that no manifest listed (loaded by name or by
/// reflection). <see cref="Name"/> is a simple name, or <c>culture/Name.resources</c> for a satellite
/// resource assembly (<see cref="SatelliteNames"/>).
/// </summary>
public sealed record ResolveAssemblyName(string Name) : IProtocolMessage;

/// <summary>
/// Client → center's relay → worker: the answer to <see cref="ResolveAssemblyName"/>: the assembly by
/// content hash (the worker then fetches its bytes with <see cref="RequestAssemblies"/> unless it has them),
/// or null and why the client has none.
/// </summary>
public sealed record AssemblyNameResolved(string Name, AssemblyRef? Assembly, string? Problem) : IProtocolMessage;

/// <summary>Center → worker: fetch copies of these keys from their holders; answer <see cref="KeysAdded"/> with <see cref="ReplicationId"/>.</summary>
public sealed record FetchKeys(IReadOnlyList<RemoteInput> Inputs, long ReplicationId) : IProtocolMessage;

/// <summary>
/// Center → worker: it is retired: other workers hold every value it held (or, with <see cref="Error"/>,
/// why some could not be handed over) and it gets no more tasks. It leaves the cluster now: after its
/// own <see cref="RetireMe"/>, or of itself when a client asked (<see cref="RetireWorkers"/>).
/// </summary>
public sealed record WorkerRetired(string? Error) : IProtocolMessage;
