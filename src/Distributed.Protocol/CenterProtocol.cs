namespace Distributed.Protocol;

// The conversation with the center. Workers and clients reach it through a ClusterSingletonProxy.
// The center knows who speaks by the actor a message comes from (its sender), never by a name or
// an actor written inside the message: a worker is the actor that registered, a client the actor
// that connected. Questions carry a RequestId that their answer repeats, so that a client actor
// can relay several questions of its Pool at once and hand each answer to its asker.

/// <summary>A question of a client to the center; the answer (<see cref="ICenterAnswer"/>) repeats <see cref="RequestId"/>.</summary>
public interface ICenterQuestion : IProtocolMessage
{
    /// <summary>Chosen by the asking client, repeated in the answer.</summary>
    long RequestId { get; }
}

/// <summary>The center's answer to an <see cref="ICenterQuestion"/>.</summary>
public interface ICenterAnswer : IProtocolMessage
{
    /// <summary>The <see cref="ICenterQuestion.RequestId"/> of the question it answers.</summary>
    long RequestId { get; }
}

/// <summary>
/// Worker → center, after joining the cluster. Answer: <see cref="WorkerRegistered"/>. A worker that
/// joins again after its node was removed reports the values it kept (<see cref="HeldKeys"/>) and the
/// incarnation of the center it was registered with (<see cref="PreviousCenter"/>): a new center adopts
/// them; the same center (which downed this worker and made its values again elsewhere) has them deleted.
/// The worker is the sender of this message. <see cref="Resources"/>: what it offers to tasks that ask
/// for resources (<c>dworker --resources GPU=1</c>), null if nothing.
/// </summary>
/// <example>
/// <code>
/// center.Tell(new RegisterWorker("gpu-box", "10.0.0.7:8788", 8, data, Resources: ResourceAmounts.Parse("GPU=1")), worker);
/// </code>
/// </example>
public sealed record RegisterWorker(string Name, string Address, int Cores, DataEndpoint Data,
    IReadOnlyList<StoredKey>? HeldKeys = null, string? PreviousCenter = null, IReadOnlyDictionary<string, double>? Resources = null) : IProtocolMessage;

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
public sealed record ClaimKeys(IReadOnlyList<string> Keys, IReadOnlyList<string>? Released = null, long RequestId = 0) : ICenterQuestion;

/// <summary>Center → client: the claimed keys that no worker has reported (yet).</summary>
public sealed record KeysClaimed(IReadOnlyList<string> Missing, long RequestId = 0) : ICenterAnswer;

/// <summary>
/// Client → center, once per <c>Pool</c>: the sender is the client from now on, and the center watches
/// it. Answer: <see cref="ClientConnected"/>.
/// </summary>
public sealed record ConnectClient(long RequestId = 0) : ICenterQuestion;

/// <summary>Center → client: the connection is accepted; the current workers.</summary>
public sealed record ClientConnected(IReadOnlyList<WorkerInfo> Workers, long RequestId = 0) : ICenterAnswer;

/// <summary>
/// Client → center: run these tasks (in dependency order or not: a task waits for its dependencies).
/// No answer: each task's end reaches the client as <see cref="TasksFinished"/> or <see cref="TasksFailed"/>.
/// <paramref name="DirectWorker"/>: the worker the client handed these tasks to straight over its data
/// channel, which took them and runs them now; the center sends them there (the worker runs each once)
/// while that worker lives, so that it records them as it does any task.
/// </summary>
public sealed record SubmitTasks(CodeManifest Code, IReadOnlyList<FunctionSpec> Functions, IReadOnlyList<TaskSpec> Tasks, string? DirectWorker = null) : IProtocolMessage;

/// <summary>Client → center: which workers hold these keys (of its own). Answer: <see cref="WhoHasReply"/>.</summary>
public sealed record WhoHas(IReadOnlyList<string> Keys, long RequestId = 0) : ICenterQuestion;

/// <summary>
/// Center → client: the holders of each asked key (an empty list for a key nobody holds), and for a
/// key lost for good with a worker, why (<see cref="Lost"/>).
/// </summary>
public sealed record WhoHasReply(IReadOnlyDictionary<string, IReadOnlyList<WorkerInfo>> Holders,
    IReadOnlyDictionary<string, string>? Lost = null, long RequestId = 0) : ICenterAnswer;

/// <summary>Client → center: the workers and what they hold of its keys. Answer: <see cref="WorkersReply"/>.</summary>
public sealed record GetWorkers(bool IncludeKeys, long RequestId = 0) : ICenterQuestion;

/// <summary>Center → client: every worker, and when asked, the keys of this client each holds.</summary>
public sealed record WorkersReply(IReadOnlyList<WorkerInfo> Workers, IReadOnlyDictionary<string, IReadOnlyList<string>> KeysByWorker, long RequestId = 0) : ICenterAnswer;

/// <summary>Client → center: how far every client's tasks have come (for progress bars and dashboards). Answer: <see cref="ProgressReply"/>.</summary>
public sealed record GetProgress(long RequestId = 0) : ICenterQuestion;

/// <summary>
/// The tasks of one client since it connected, graphs' intermediates included: submitted, finished,
/// failed (refused, failed, or dropped because an input failed), still pending, and the bytes of the
/// results made. No key names: other clients read this too.
/// </summary>
public sealed record ClientProgress(string Client, long Submitted, long Finished, long Failed, long Pending, long ResultBytes);

/// <summary>Center → client: every client's progress; <paramref name="You"/> names the asker's entry.</summary>
public sealed record ProgressReply(IReadOnlyList<ClientProgress> Clients, string You, long RequestId = 0) : ICenterAnswer;

/// <summary>Client → center: these keys (its own) are no longer needed; the center deletes them from the workers.</summary>
public sealed record ReleaseKeys(IReadOnlyList<string> Keys) : IProtocolMessage;

/// <summary>Client → center: the client (the sender) goes away; its pending tasks are dropped and its data released.</summary>
public sealed record DisconnectClient : IProtocolMessage
{
    /// <summary>The message.</summary>
    public static DisconnectClient Instance { get; } = new();
}

/// <summary>
/// Worker → center: the worker (the sender) now also holds copies of these keys, fetched from peers as
/// the center told it to. For the copies of a <see cref="FetchKeys"/> (<see cref="ReplicationId"/>),
/// the center then answers the client that asked with <see cref="ReplicationFinished"/>, so that the
/// client's next question already sees them; <see cref="Error"/> says why the copies could not be made.
/// </summary>
public sealed record KeysAdded(IReadOnlyList<StoredKey> Keys, long? ReplicationId = null, string? Error = null) : IProtocolMessage;

/// <summary>Client → center: copy these keys (its own) to <see cref="Worker"/> as well. Answer: <see cref="ReplicationFinished"/>.</summary>
public sealed record ReplicateKeys(IReadOnlyList<string> Keys, string Worker, long RequestId = 0) : ICenterQuestion;

/// <summary>Center → client: the copies exist, or why not.</summary>
public sealed record ReplicationFinished(IReadOnlyList<string> Keys, string? Error, long RequestId = 0) : ICenterAnswer;

// ----- Scatter: a client's local values put on the workers, without tasks (issue 13) -----

/// <summary>
/// Client → center: the client will put these values (keys, sizes and types as it encoded them) on
/// the workers, spread over them or, with <see cref="Broadcast"/>, on every one. The keys become the
/// client's own, as its task results are. Answer: <see cref="ScatterPlan"/>.
/// </summary>
public sealed record ScatterKeys(IReadOnlyList<StoredKey> Keys, bool Broadcast, long RequestId = 0) : ICenterQuestion;

/// <summary>Which of the scattered keys go to <see cref="Worker"/>: the client puts them there under <see cref="ScatterId"/>.</summary>
public sealed record ScatterTarget(WorkerInfo Worker, long ScatterId, IReadOnlyList<string> Keys);

/// <summary>
/// Center → client: where to put each value (a key stored already is in no target), and the keys
/// refused, with why (another client's key, or no worker to put it on).
/// </summary>
public sealed record ScatterPlan(IReadOnlyList<ScatterTarget> Targets, IReadOnlyDictionary<string, string>? Refused = null, long RequestId = 0) : ICenterAnswer;

/// <summary>
/// Client → center, once its puts were answered: answer when these scattered keys are recorded on
/// their workers (or can no longer be). Answer: <see cref="ScatterStored"/>.
/// </summary>
public sealed record AwaitScattered(IReadOnlyList<string> Keys, long RequestId = 0) : ICenterQuestion;

/// <summary>Center → client: the scattered keys are recorded, except <see cref="Missing"/> (with why).</summary>
public sealed record ScatterStored(IReadOnlyDictionary<string, string>? Missing = null, long RequestId = 0) : ICenterAnswer;

// ----- Named datasets shared between clients (issue 13) -----

/// <summary>
/// Client → center: keep these values (its own) under <see cref="Name"/>, for any client to get, until
/// unpublished. Answer: <see cref="DatasetReply"/>.
/// </summary>
public sealed record PublishDataset(string Name, IReadOnlyList<string> Keys, bool Overwrite, long RequestId = 0) : ICenterQuestion;

/// <summary>Client → center: forget the dataset <see cref="Name"/>; its values are released unless a client holds them. Answer: <see cref="DatasetReply"/>.</summary>
public sealed record UnpublishDataset(string Name, long RequestId = 0) : ICenterQuestion;

/// <summary>Client → center: the values of the dataset <see cref="Name"/>, which become the asker's too. Answer: <see cref="DatasetReply"/>.</summary>
public sealed record GetDataset(string Name, long RequestId = 0) : ICenterQuestion;

/// <summary>Client → center: the names of the published datasets. Answer: <see cref="DatasetReply"/>.</summary>
public sealed record ListDatasets(long RequestId = 0) : ICenterQuestion;

/// <summary>
/// Center → client: the answer to a dataset question: <see cref="Error"/> when it was refused, else the
/// dataset's values (for <see cref="GetDataset"/>) or the published names (for <see cref="ListDatasets"/>).
/// </summary>
public sealed record DatasetReply(string? Error, IReadOnlyList<StoredKey> Keys, IReadOnlyList<string> Names, long RequestId = 0) : ICenterAnswer;

// ----- Graceful retirement: a worker's values handed to others before it leaves (issue 14) -----

/// <summary>
/// Worker → center: this worker (the sender) is stopping (SIGTERM). Send it no more tasks and have other
/// workers copy the values only it holds; answer <see cref="WorkerRetired"/> once they do (or why not).
/// </summary>
public sealed record RetireMe : IProtocolMessage
{
    /// <summary>The message.</summary>
    public static RetireMe Instance { get; } = new();
}

/// <summary>
/// Worker → center: this worker (the sender) leaves the cluster now; its process is stopping. The center
/// forgets it at once (as when it leaves: its tasks run elsewhere, values only it held are made again)
/// instead of when the cluster's gossip reports it removed, which can come after the process has exited.
/// Answer: <see cref="LeaveNoted"/>, also to a sender that is no registered worker (nothing to forget).
/// </summary>
public sealed record LeavingNow : IProtocolMessage
{
    /// <summary>The message.</summary>
    public static LeavingNow Instance { get; } = new();
}

/// <summary>Center → worker: the answer to <see cref="LeavingNow"/>: the center no longer counts on this worker, which may go.</summary>
public sealed record LeaveNoted : IProtocolMessage
{
    /// <summary>The message.</summary>
    public static LeaveNoted Instance { get; } = new();
}

/// <summary>
/// Client → center: retire these workers (by name): each gets no more tasks, other workers copy the
/// values only it holds, and then it leaves the cluster and its process ends. Answer: <see cref="WorkersRetired"/>.
/// </summary>
public sealed record RetireWorkers(IReadOnlyList<string> Workers, long RequestId = 0) : ICenterQuestion;

/// <summary>Center → client: the workers have handed their values over and been told to leave, or why not (<see cref="Error"/>).</summary>
public sealed record WorkersRetired(IReadOnlyList<string> Workers, string? Error, long RequestId = 0) : ICenterAnswer;
