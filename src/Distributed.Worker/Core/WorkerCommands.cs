using Distributed.Protocol;

namespace Distributed.Worker.Core;

/// <summary>
/// What a <see cref="WorkerCore"/> asks its worker actor to do, in order: messages to the center, a
/// client or an executor, fetches from other workers, executors to start or stop, a timer.
/// </summary>
internal abstract record WorkerCommand
{
    /// <summary>Tell the client of direct request <see cref="RequestId"/> whether its task runs here: null taken, else why not.</summary>
    public sealed record DirectDecided(long RequestId, string? Declined) : WorkerCommand;

    /// <summary>Tell the client of direct request <see cref="RequestId"/> how its task ended: its result stored here, or its failure.</summary>
    public sealed record DirectAnswered(long RequestId, StoredKey? Result, FailedTask? Failure) : WorkerCommand;

    /// <summary>Ask <see cref="Client"/> for these assemblies of its code (<see cref="Protocol.RequestAssemblies"/>).</summary>
    public sealed record RequestAssemblies(string Client, IReadOnlyList<AssemblyRef> Assemblies) : WorkerCommand;

    /// <summary>Fetch the remote inputs of batch <see cref="BatchId"/>; answer <see cref="WorkerEvent.InputsFetched"/> or <see cref="WorkerEvent.InputsNotFetched"/>.</summary>
    public sealed record FetchInputs(long BatchId, IReadOnlyList<RemoteInput> Inputs) : WorkerCommand;

    /// <summary>Fetch copies for replication <see cref="ReplicationId"/>; answer <see cref="WorkerEvent.CopiesFetched"/> or <see cref="WorkerEvent.CopiesNotFetched"/>.</summary>
    public sealed record FetchCopies(long ReplicationId, IReadOnlyList<RemoteInput> Inputs) : WorkerCommand;

    /// <summary>
    /// Start executor number <see cref="Executor"/> for code <see cref="Version"/> with these assembly
    /// files, or a spare (its process warms up before any code needs it) when the version is null.
    /// </summary>
    public sealed record StartExecutor(long Executor, string? Version, IReadOnlyList<string> AssemblyPaths) : WorkerCommand;

    /// <summary>The spare executor <see cref="Executor"/> runs code <see cref="Version"/> from now on (<see cref="Worker.AdoptCode"/>).</summary>
    public sealed record AdoptCode(long Executor, string Version, IReadOnlyList<string> AssemblyPaths) : WorkerCommand;

    /// <summary>Hand these tasks, their functions and input values to executor <see cref="Executor"/>.</summary>
    public sealed record Execute(long Executor, ExecuteBatch Batch) : WorkerCommand;

    /// <summary>Tell executor <see cref="Executor"/> not to start these tasks if it has not yet.</summary>
    public sealed record CancelExecution(long Executor, IReadOnlyList<string> Keys) : WorkerCommand;

    /// <summary>Stop executor <see cref="Executor"/>, after the messages already sent to it.</summary>
    public sealed record StopExecutor(long Executor) : WorkerCommand;

    /// <summary>Stop executor <see cref="Executor"/> of code <see cref="Version"/>: it ran no task for the idle timeout (and has none).</summary>
    public sealed record StopIdleExecutor(long Executor, string Version) : WorkerCommand;

    /// <summary>Tell the center these tasks finished here (<see cref="TasksFinished"/>), with their <paramref name="Runs"/> (one each, in order) when known.</summary>
    public sealed record ReportFinished(IReadOnlyList<StoredKey> Results, IReadOnlyList<TaskRun>? Runs = null) : WorkerCommand;

    /// <summary>Tell the center these tasks failed (<see cref="TasksFailed"/>).</summary>
    public sealed record ReportFailed(IReadOnlyList<FailedTask> Failures) : WorkerCommand;

    /// <summary>Tell the center this worker holds copies of these keys too, or why a replication could not fetch them (<see cref="KeysAdded"/>).</summary>
    public sealed record ReportKeysAdded(IReadOnlyList<StoredKey> Keys, long? ReplicationId = null, string? Error = null) : WorkerCommand;

    /// <summary>Fire <see cref="WorkerEvent.SpareTimerFired"/> after <see cref="Delay"/>.</summary>
    public sealed record StartSpareTimer(TimeSpan Delay) : WorkerCommand;

    /// <summary>No batch or task of <see cref="Client"/> is held any more: its id can be forgotten (and given again later).</summary>
    public sealed record ForgetClient(string Client) : WorkerCommand;
}
