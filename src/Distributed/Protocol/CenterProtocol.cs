using Akka.Actor;

namespace Distributed.Protocol;

// The conversation with the center. Workers and clients reach it through a ClusterSingletonProxy.

/// <summary>
/// Worker → center, after joining the cluster. Answer: <see cref="WorkerRegistered"/>. A worker that
/// joins again after its node was removed reports the values it kept (<see cref="HeldKeys"/>) and the
/// incarnation of the center it was registered with (<see cref="PreviousCenter"/>): a new center adopts
/// them; the same center (which downed this worker and made its values again elsewhere) has them deleted.
/// </summary>
public sealed record RegisterWorker(IActorRef Worker, string Name, string Address, int Cores, DataEndpoint Data,
    IReadOnlyList<StoredKey>? HeldKeys = null, string? PreviousCenter = null) : IProtocolMessage;

/// <summary>
/// Center → worker: the worker is known and will be given tasks, under <see cref="AssignedName"/>
/// (its own name, or that name made unique when another worker already uses it).
/// <see cref="CenterIncarnation"/> names this run of the center: a restarted center has a new one.
/// </summary>
public sealed record WorkerRegistered(string CenterAddress, string AssignedName, string CenterIncarnation = "") : IProtocolMessage;

/// <summary>
/// Client → center, after it reconnected to a restarted center: these keys (of its live RemoteData)
/// are its own, to be released with it; <see cref="Released"/> were released (or abandoned) while the
/// center was lost, and are deleted now or when a worker reports them. Answer: <see cref="KeysClaimed"/>.
/// </summary>
public sealed record ClaimKeys(IActorRef Client, IReadOnlyList<string> Keys, IReadOnlyList<string>? Released = null) : IProtocolMessage;

/// <summary>Center → client: the claimed keys that no worker has reported (yet).</summary>
public sealed record KeysClaimed(IReadOnlyList<string> Missing) : IProtocolMessage;

/// <summary>Client → center, once per <c>Pool</c>. The center watches the client. Answer: <see cref="ClientConnected"/>.</summary>
public sealed record ConnectClient(IActorRef Client) : IProtocolMessage;

/// <summary>Center → client: the connection is accepted; the current workers.</summary>
public sealed record ClientConnected(IReadOnlyList<WorkerInfo> Workers) : IProtocolMessage;

/// <summary>
/// Client → center: run these tasks (in dependency order or not: a task waits for its dependencies).
/// No answer: each task's end reaches the client as <see cref="TasksFinished"/> or <see cref="TasksFailed"/>.
/// </summary>
public sealed record SubmitTasks(IActorRef Client, CodeManifest Code, IReadOnlyList<FunctionSpec> Functions, IReadOnlyList<TaskSpec> Tasks) : IProtocolMessage;

/// <summary>Client → center: which workers hold these keys. Answer: <see cref="WhoHasReply"/>.</summary>
public sealed record WhoHas(IReadOnlyList<string> Keys) : IProtocolMessage;

/// <summary>
/// Center → client: the holders of each asked key (an empty list for a key nobody holds), and for a
/// key lost for good with a worker, why (<see cref="Lost"/>).
/// </summary>
public sealed record WhoHasReply(IReadOnlyDictionary<string, IReadOnlyList<WorkerInfo>> Holders,
    IReadOnlyDictionary<string, string>? Lost = null) : IProtocolMessage;

/// <summary>Client → center: the workers and what they hold. Answer: <see cref="WorkersReply"/>.</summary>
public sealed record GetWorkers(bool IncludeKeys) : IProtocolMessage;

/// <summary>Center → client: every worker, and when asked, the keys each holds.</summary>
public sealed record WorkersReply(IReadOnlyList<WorkerInfo> Workers, IReadOnlyDictionary<string, IReadOnlyList<string>> KeysByWorker) : IProtocolMessage;

/// <summary>Client → center: these keys are no longer needed; the center deletes them from the workers.</summary>
public sealed record ReleaseKeys(IReadOnlyList<string> Keys) : IProtocolMessage;

/// <summary>Client → center: the client goes away; its pending tasks are dropped and its data released.</summary>
public sealed record DisconnectClient(IActorRef Client) : IProtocolMessage;

/// <summary>
/// Worker → center: the worker now also holds copies of these keys (fetched from peers). When the
/// copies were asked by a client, the center answers it with <see cref="ReplicationFinished"/> once
/// recorded, so that the client's next question already sees them.
/// </summary>
public sealed record KeysAdded(string Worker, IReadOnlyList<StoredKey> Keys, IActorRef? ReplyTo = null) : IProtocolMessage;

/// <summary>Client → center: copy these keys to <see cref="Worker"/> as well. Answer (from the worker): <see cref="ReplicationFinished"/>.</summary>
public sealed record ReplicateKeys(IReadOnlyList<string> Keys, string Worker) : IProtocolMessage;

/// <summary>Worker (or center, when it cannot be done) → client: the copies exist, or why not.</summary>
public sealed record ReplicationFinished(IReadOnlyList<string> Keys, string? Error) : IProtocolMessage;
