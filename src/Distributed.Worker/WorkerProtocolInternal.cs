using Distributed.Protocol;
using Distributed.Worker.Executor;

namespace Distributed.Worker;

// Messages inside one worker process: between the worker actor, its executor children and the
// asynchronous work (fetches, process I/O) that reports back to them. They never cross processes.

/// <summary>
/// Worker → executor actor: run these tasks with these input values. The worker holds the values
/// (leases) until every task has answered, so the actor may hand a shared one over by reference.
/// </summary>
internal sealed record ExecuteBatch(IReadOnlyList<FunctionSpec> Functions, IReadOnlyDictionary<string, Distributed.Data.StoredValue> Values, IReadOnlyList<ExecutorTask> Tasks);

/// <summary>
/// Worker → its spare executor actor: from now on you run this code version; the assemblies go to the
/// process before any batch (they are sent in mailbox order).
/// </summary>
internal sealed record AdoptCode(string Version, IReadOnlyList<string> AssemblyPaths);

/// <summary>Worker → executor actor: tasks sent earlier that must not start any more.</summary>
internal sealed record CancelExecution(IReadOnlyList<string> Keys);

/// <summary>Executor actor → worker: results of tasks, in the order they finished.</summary>
internal sealed record ExecutorResults(IReadOnlyList<ExecutorResult> Results);

/// <summary>Executor process → its actor: these tasks (the ones with a timeout) started running now.</summary>
internal sealed record TasksStarted(IReadOnlyList<string> Keys);

/// <summary>
/// Executor actor → worker: its process is gone (crashed, or killed for a task past its timeout).
/// New batches of this code version need a new executor, and <see cref="Rerun"/> (tasks it held that
/// did not fail, or a batch it received after) runs there.
/// </summary>
internal sealed record ExecutorRetired(string Version, IReadOnlyList<string> AssemblyPaths, ExecuteBatch Rerun);

/// <summary>
/// Executor actor → worker: its process misses an assembly no manifest listed (<see cref="Name"/>, a simple
/// name or a satellite's <c>culture/Name.resources</c>) while <see cref="TaskKey"/> ran; the worker asks that
/// task's client and answers the executor actor (the sender) with <see cref="AssemblyFound"/>.
/// </summary>
internal sealed record AssemblyWanted(long RequestId, string TaskKey, string Name);

/// <summary>Worker → executor actor: the file of an assembly asked for with <see cref="AssemblyWanted"/>, or why there is none.</summary>
internal sealed record AssemblyFound(long RequestId, string? Path, string? Problem);

/// <summary>The executor process connected to its socket.</summary>
internal sealed record ExecutorConnected(System.Net.Sockets.Socket Socket);

/// <summary>The executor process went away (exited, crashed or closed its socket).</summary>
internal sealed record ExecutorExited(string Reason);

/// <summary>Retry registration with the center until it answers.</summary>
internal sealed record RetryRegistration
{
    public static RetryRegistration Instance { get; } = new();
}

/// <summary>Data server → worker: values a client put here under a scatter id, to store and report to the center.</summary>
internal sealed record StoreScattered(long ScatterId, IReadOnlyList<KeyValuePair<string, Distributed.Data.StoredValue>> Values);

/// <summary>Worker → data server: the scattered values are stored (null), or why not.</summary>
internal sealed record ScatterAnswer(string? Refusal);

/// <summary>Node → worker actor: the process is stopping; ask the center to have the values handed over first (answered through the node's retirement task).</summary>
internal sealed record Retire
{
    public static Retire Instance { get; } = new();
}

/// <summary>Node → worker actor: the node leaves the cluster now; tell the center, and complete <see cref="Noted"/> when it has answered (at once when no center knows this worker).</summary>
internal sealed record TellCenterLeaving(TaskCompletionSource Noted);
