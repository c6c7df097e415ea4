using Distributed.Protocol;

namespace Distributed.Client;

// Between the Pool façade and its ClientActor, inside the user's process.

/// <summary>
/// Pool → client actor: submit these tasks; answer when all have finished or one failed. With
/// <paramref name="Futures"/>, nothing is answered: each task's end goes to the sink as it comes, and a
/// failed task does not end the others (futures, each on its own). <paramref name="Progress"/> hears how
/// far its reported tasks have come, once per message that moves it. <paramref name="DirectWorker"/>: the
/// worker that took these tasks directly over its data channel (the center is told, to record them there).
/// </summary>
internal sealed record Submit(CodeManifest Code, IReadOnlyList<FunctionSpec> Functions, IReadOnlyList<TaskSpec> Tasks, IFutureSink? Futures = null,
    IProgress<ComputationProgress>? Progress = null, string? DirectWorker = null);

/// <summary>Hears the end of each task of a submission of futures; called on the client actor's thread, so it must only hand over.</summary>
internal interface IFutureSink
{
    /// <summary>The task finished; its result lives at <paramref name="location"/>.</summary>
    void Finished(string key, DataLocation location);

    /// <summary>The task failed, was refused, or was dropped because an input failed or was cancelled.</summary>
    void Failed(FailedTask failure, string worker);
}

/// <summary>Pool → client actor: ask the center this question, from the client actor (the only sender the center hears this client from); the answer comes back.</summary>
internal sealed record AskCenter(ICenterQuestion Question);

/// <summary>The caller stopped waiting for a submission (these are its keys): its tasks are dropped and its results released.</summary>
internal sealed record CancelSubmission(IReadOnlyList<string> Keys);

/// <summary>Where a finished task's result lives.</summary>
/// <example>
/// <code>
/// RemoteData&lt;int[]&gt; data = pool.Apply(() => new int[1_000]);
/// DataLocation where = data.Location!;
/// Console.WriteLine($"{where.Worker} at {where.Data} holds {where.Size} bytes of {where.TypeName}");
/// </code>
/// </example>
/// <param name="Worker">The name of the worker that made it.</param>
/// <param name="Data">That worker's data channel, where the value is fetched from.</param>
/// <param name="Size">The stored value's size in bytes.</param>
/// <param name="TypeName">The value's .NET type, as the worker stored it.</param>
public sealed record DataLocation(string Worker, DataEndpoint Data, long Size, string TypeName);

/// <summary>Client actor → Pool: every task of a submission finished.</summary>
internal sealed record SubmissionCompleted(IReadOnlyDictionary<string, DataLocation> Locations);

/// <summary>Client actor → Pool: a task of a submission failed (the first failure; the others are not awaited).</summary>
internal sealed record SubmissionFailed(FailedTask Failure, string Worker);
