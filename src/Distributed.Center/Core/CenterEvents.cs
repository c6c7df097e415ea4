using Distributed.Protocol;

namespace Distributed.Center.Core;

/// <summary>
/// What happens to the center: a message from a worker or a client (whose sender the actor has
/// already checked and named by its id), a worker or client gone, a probe answered, a timer fired.
/// The core's only input.
/// </summary>
public abstract record CenterEvent;

/// <summary>A worker registers (or registers again: <see cref="Worker"/> is then one the core knows), offering <see cref="Resources"/> to tasks (null: none).</summary>
public sealed record WorkerJoined(WorkerId Worker, string Name, string Address, int Cores, DataEndpoint Data,
    IReadOnlyList<StoredKey>? HeldKeys = null, string? PreviousCenter = null, IReadOnlyDictionary<string, double>? Resources = null) : CenterEvent;

/// <summary>A worker is gone: its actor terminated, or the failure detector removed its node.</summary>
public sealed record WorkerLeft(WorkerId Worker) : CenterEvent;

/// <summary>The connection to a worker's node dropped: a killed process shows this long before its heartbeats stop.</summary>
public sealed record WorkerConnectionDropped(WorkerId Worker) : CenterEvent;

/// <summary>The answer to <see cref="ProbeWorker"/>: refused (<paramref name="Alive"/> false) means its process is gone.</summary>
public sealed record WorkerProbed(WorkerId Worker, bool Alive) : CenterEvent;

/// <summary>A worker finished tasks it was given and stores their values.</summary>
public sealed record TasksDone(WorkerId Worker, IReadOnlyList<StoredKey> Results) : CenterEvent;

/// <summary>A worker reports tasks that failed.</summary>
public sealed record TasksFailedOn(WorkerId Worker, IReadOnlyList<FailedTask> Failures) : CenterEvent;

/// <summary>A worker stores copies it was told to fetch (task inputs, or a client's replication).</summary>
public sealed record CopiesStored(WorkerId Worker, IReadOnlyList<StoredKey> Keys, long? ReplicationId = null, string? Error = null) : CenterEvent;

/// <summary>A client connects (or connects again: it is then answered again).</summary>
public sealed record ClientJoined(ClientId Client, long RequestId = 0) : CenterEvent;

/// <summary>A client is gone: it disconnected, its actor terminated, or its process refuses connections.</summary>
public sealed record ClientLeft(ClientId Client, bool ProcessGone = false) : CenterEvent;

/// <summary>
/// A client submits tasks, with the functions and code they need; <paramref name="DirectWorker"/> names
/// the worker it handed them to directly, which runs them already (see <see cref="SubmitTasks"/>).
/// </summary>
public sealed record TasksSubmitted(ClientId Client, CodeManifest Code, IReadOnlyList<FunctionSpec> Functions, IReadOnlyList<TaskSpec> Tasks,
    string? DirectWorker = null) : CenterEvent;

/// <summary>A client releases values (or tasks not finished yet).</summary>
public sealed record KeysReleased(ClientId Client, IReadOnlyList<string> Keys) : CenterEvent;

/// <summary>A client that reconnected after a restart of the center claims its values, and releases those it dropped meanwhile.</summary>
public sealed record KeysClaimedBy(ClientId Client, IReadOnlyList<string> Keys, IReadOnlyList<string>? Released, long RequestId) : CenterEvent;

/// <summary>A client asks which workers hold keys.</summary>
public sealed record HoldersAsked(ClientId Client, IReadOnlyList<string> Keys, long RequestId) : CenterEvent;

/// <summary>A client asks for the workers (and, with <paramref name="IncludeKeys"/>, which of its keys each holds).</summary>
public sealed record WorkersAsked(ClientId Client, bool IncludeKeys, long RequestId) : CenterEvent;

/// <summary>A client asked how far every client's tasks have come.</summary>
public sealed record ProgressAsked(ClientId Client, long RequestId) : CenterEvent;

/// <summary>A client asks for copies of keys on a named worker.</summary>
public sealed record ReplicationAsked(ClientId Client, IReadOnlyList<string> Keys, string Worker, long RequestId) : CenterEvent;

/// <summary>A timer the core started (<see cref="StartTimer"/>) fired.</summary>
public sealed record TimerFired(long Timer) : CenterEvent;

/// <summary>A client asks where to put values it scatters.</summary>
public sealed record ScatterAsked(ClientId Client, IReadOnlyList<StoredKey> Keys, bool Broadcast, long RequestId) : CenterEvent;

/// <summary>A client asks to hear when its scattered values are recorded.</summary>
public sealed record ScatterAwaited(ClientId Client, IReadOnlyList<string> Keys, long RequestId) : CenterEvent;

/// <summary>A client publishes its values under a name.</summary>
public sealed record DatasetPublished(ClientId Client, string Name, IReadOnlyList<string> Keys, bool Overwrite, long RequestId) : CenterEvent;

/// <summary>A client unpublishes a dataset.</summary>
public sealed record DatasetUnpublished(ClientId Client, string Name, long RequestId) : CenterEvent;

/// <summary>A client asks for a dataset's values.</summary>
public sealed record DatasetAsked(ClientId Client, string Name, long RequestId) : CenterEvent;

/// <summary>A client asks for the names of the datasets.</summary>
public sealed record DatasetsListed(ClientId Client, long RequestId) : CenterEvent;

/// <summary>A worker is stopping and asks to hand its values over first (<see cref="RetireMe"/>).</summary>
public sealed record RetirementOffered(WorkerId Worker) : CenterEvent;

/// <summary>A client asks to retire these workers (<see cref="RetireWorkers"/>).</summary>
public sealed record RetirementAsked(ClientId Client, IReadOnlyList<string> Workers, long RequestId) : CenterEvent;
