using Distributed.Data;
using Distributed.Protocol;
using Distributed.Worker.Executor;

namespace Distributed.Worker.Core;

/// <summary>
/// What happened to a worker, as its <see cref="WorkerCore"/> hears it: a message from the center, a
/// client or an executor, or the end of a fetch or a timer that the worker's actor carried out.
/// Clients and executors are named by plain values the actor hands out (a client id string, an
/// executor number), never by actor references.
/// </summary>
internal abstract record WorkerEvent
{
    /// <summary>The center registered the worker under <see cref="WorkerName"/>, the name its reports carry from now on.</summary>
    public sealed record Registered(string WorkerName) : WorkerEvent;

    /// <summary>
    /// The center sent a batch of tasks (<see cref="RunTasks"/>) for <see cref="Client"/>, the only
    /// client asked for (and heard on) the assemblies of <see cref="Code"/> for this batch.
    /// </summary>
    public sealed record BatchArrived(string Client, CodeManifest Code, IReadOnlyList<FunctionSpec> Functions, IReadOnlyList<TaskSpec> Tasks,
        IReadOnlyList<RemoteInput> RemoteInputs) : WorkerEvent;

    /// <summary>
    /// A client handed <see cref="Task"/> to this worker straight over its data channel (request
    /// <see cref="RequestId"/>), to run now if it can: answered at once with
    /// <see cref="WorkerCommand.DirectDecided"/>, then, if taken, with <see cref="WorkerCommand.DirectAnswered"/>.
    /// </summary>
    public sealed record DirectTaskArrived(long RequestId, CodeManifest Code, IReadOnlyList<FunctionSpec> Functions, TaskSpec Task) : WorkerEvent;

    /// <summary>An awaited assembly arrived from a client that was asked for it, and is in the assembly cache now.</summary>
    public sealed record AssemblyStored(AssemblyRef Assembly) : WorkerEvent;

    /// <summary>An awaited assembly will not come (the client could not send it, or it could not be stored): <see cref="Reason"/> says why.</summary>
    public sealed record AssemblyFailed(AssemblyRef Assembly, string Reason) : WorkerEvent;

    /// <summary>The remote inputs of batch <see cref="BatchId"/> were fetched (<see cref="WorkerCommand.FetchInputs"/>).</summary>
    public sealed record InputsFetched(long BatchId, IReadOnlyDictionary<string, StoredValue> Values) : WorkerEvent;

    /// <summary>The remote inputs of batch <see cref="BatchId"/> could not be fetched.</summary>
    public sealed record InputsNotFetched(long BatchId, string Reason) : WorkerEvent;

    /// <summary>The center asked for copies of these keys (<see cref="FetchKeys"/>), to answer with <see cref="ReplicationId"/>.</summary>
    public sealed record CopiesRequested(IReadOnlyList<RemoteInput> Inputs, long ReplicationId) : WorkerEvent;

    /// <summary>The copies of replication <see cref="ReplicationId"/> were fetched.</summary>
    public sealed record CopiesFetched(long ReplicationId, IReadOnlyDictionary<string, StoredValue> Values) : WorkerEvent;

    /// <summary>The copies of replication <see cref="ReplicationId"/> could not be fetched.</summary>
    public sealed record CopiesNotFetched(long ReplicationId, string Reason) : WorkerEvent;

    /// <summary>An executor finished these tasks (a result or an error each; cancelled ones answer <see cref="ExecutorFrames.CancelledError"/>).</summary>
    public sealed record ExecutorResults(IReadOnlyList<ExecutorResult> Results) : WorkerEvent;

    /// <summary>
    /// An executor's process is gone (it crashed, or was killed for a task past its timeout).
    /// <see cref="Executor"/> is null when the executor had already stopped (its last words can
    /// arrive after it). <see cref="Rerun"/> holds tasks it was given that must run on another one.
    /// </summary>
    public sealed record ExecutorRetired(long? Executor, string Version, IReadOnlyList<string> AssemblyPaths, ExecuteBatch Rerun) : WorkerEvent;

    /// <summary>An executor stopped (after <see cref="WorkerCommand.StopExecutor"/>, or on its own).</summary>
    public sealed record ExecutorStopped(long Executor) : WorkerEvent;

    /// <summary>The center dropped these tasks (<see cref="CancelTasks"/>).</summary>
    public sealed record TasksCancelled(IReadOnlyList<string> Keys) : WorkerEvent;

    /// <summary>The center asked to delete these keys (<see cref="DeleteKeys"/>).</summary>
    public sealed record KeysDeleted(IReadOnlyList<string> Keys) : WorkerEvent;

    /// <summary>The timer of <see cref="WorkerCommand.StartSpareTimer"/> fired.</summary>
    public sealed record SpareTimerFired : WorkerEvent
    {
        /// <summary>The one instance.</summary>
        public static SpareTimerFired Instance { get; } = new();
    }

    /// <summary>
    /// The periodic timer that drops direct tasks the center never confirmed fired (every
    /// <see cref="WorkerCore.DirectSweepInterval"/>): see <see cref="WorkerCore"/>'s direct tasks.
    /// </summary>
    public sealed record DirectSweepFired : WorkerEvent
    {
        /// <summary>The one instance.</summary>
        public static DirectSweepFired Instance { get; } = new();
    }

    /// <summary>
    /// The periodic timer that looks for idle executors fired (every quarter of the executor idle
    /// timeout): one whose code ran no task since the last <see cref="WorkerCore.IdleTicksBeforeStop"/> ticks is stopped.
    /// </summary>
    public sealed record IdleCheckFired : WorkerEvent
    {
        /// <summary>The one instance.</summary>
        public static IdleCheckFired Instance { get; } = new();
    }
}
