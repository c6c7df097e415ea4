using Akka.Actor;
using Distributed.Protocol;
using Distributed.Protocol.Hosting;
using Distributed.Data;

namespace Distributed.Client;

/// <summary>
/// Submits a pool's tasks through its <see cref="CenterConnection"/> and waits for all of them: their
/// results as RemoteData, or the first failure as the exception the caller reads.
/// </summary>
internal sealed class TaskSubmitter(Pool pool, CenterConnection center, OwnedKeys keys, DataClient data, bool directTasks)
{
    /// <summary>The setting that lets a single task go straight to a worker's data channel: <c>on</c> (the default) or <c>off</c>.</summary>
    public const string DirectTasksSetting = "distributed.client.direct-tasks";

    /// <summary>Tasks handed to workers directly and not answered yet: beyond this, tasks go through the center.</summary>
    private const int MaxDirectInFlight = 32;

    /// <summary>
    /// Set on a thread while a blocking call (<c>Pool.Apply</c>) runs its asynchronous body: what that body does
    /// before its first real wait happens on this thread, and a direct task's answer may be read here.
    /// </summary>
    [ThreadStatic]
    internal static bool CallerBlocks;

    private readonly DirectTargets _targets = new();
    private int _directInFlight;

    /// <summary>Whether this process's settings let single tasks go to workers directly (<see cref="DirectTasksSetting"/>).</summary>
    public static bool ConfiguredDirectTasks()
    {
        var text = ClusterConfig.Settings(Role.Client).GetString(DirectTasksSetting, "on");
        return text switch
        {
            "on" => true,
            "off" => false,
            _ => throw new FormatException($"The setting {DirectTasksSetting} is '{text}'; it is on (a single task goes straight to a worker that has its code) or off (every task goes through the center)."),
        };
    }

    /// <summary>Submits tasks and waits for all; <paramref name="userKey"/> turns a cluster key back into the caller's name in errors.</summary>
    public async Task<List<RemoteData<TResult>>> SubmitAsync<TResult>(CodeManifest code, IReadOnlyList<FunctionSpec> functions, List<TaskSpec> tasks,
        CancellationToken cancellation, Func<string, string> userKey, object? inputs, IProgress<ComputationProgress>? progress = null)
    {
        ObjectDisposedException.ThrowIf(pool.IsDisposed, pool);
        var callerBlocks = CallerBlocks; // read before the first await, on the caller's thread
        var callerThread = Environment.CurrentManagedThreadId;
        await pool.FuturesSent.ConfigureAwait(false); // futures submitted before these tasks (their inputs, maybe) reach the center first
        var (connection, client) = await center.ConnectedAsync(cancellation).ConfigureAwait(false);
        Task<object>? answer = null;
        // One hop instead of two round trips through the center: a single task without inputs goes straight
        // to a worker that has its code, and the center is told once the worker took it.
        if (directTasks && tasks.Count == 1 && tasks[0] is { Dependencies.Count: 0, Restrictions: null, ReleaseAfterConsumers: 0, Priority: < 0 } single
            && _targets.Next(code.Version) is { } target)
        {
            if (Interlocked.Increment(ref _directInFlight) <= MaxDirectInFlight)
            {
                try
                {
                    HopTrace.Begin(single.Key);
                    var submission = ProtocolSerializer.EncodeSubmission(new SubmitTasks(code, functions.Where(f => f.FunctionId == single.FunctionId).ToList(), tasks));
                    HopTrace.Lap(single.Key, "client: submission encoded");
                    var reply = callerBlocks && Environment.CurrentManagedThreadId == callerThread
                        ? data.RunDirect(target.Data, submission)
                        : await data.RunDirectAsync(target.Data, submission, cancellation).ConfigureAwait(false);
                    HopTrace.Lap(single.Key, "client: encoded -> answer read", last: true);
                    // The center hears of a task the worker took once it ended, off the task's path: it records
                    // it where it ran (the worker reports it when the center sends it there) and owns it from then on.
                    var recorded = new Submit(code, functions, tasks, Progress: progress, DirectWorker: target.Name);
                    switch (reply)
                    {
                        case DirectReply.Declined:
                            _targets.Declined(target, code.Version);
                            break;
                        case DirectReply.Finished finished:
                            client.Tell(recorded);
                            GC.KeepAlive(inputs);
                            keys.Keep(single.Key);
                            var location = new DataLocation(target.Name, target.Data, finished.Result.Size, finished.Result.TypeName);
                            return [new RemoteData<TResult>(pool, single.Key, location) { Inline = finished.Value }];
                        case DirectReply.Failed failed:
                            client.Tell(recorded);
                            throw ExceptionOf(failed.Failure, target.Name, single, userKey);
                        case DirectReply.Unanswered:
                            // Taken, but how it ended is the center's to say: there if the worker lives, elsewhere if not.
                            answer = client.Ask<object>(recorded, Timeout.InfiniteTimeSpan, cancellation);
                            break;
                    }
                }
                finally
                {
                    Interlocked.Decrement(ref _directInFlight);
                }
            }
            else Interlocked.Decrement(ref _directInFlight);
        }
        object centerReply;
        try
        {
            answer ??= client.Ask<object>(new Submit(code, functions, tasks, Progress: progress), Timeout.InfiniteTimeSpan, cancellation);
            // The center's state of the computation died with it: it is not resumed, never awaited forever.
            if (await Task.WhenAny(answer, connection.System.WhenTerminated).ConfigureAwait(false) != answer) throw center.LostDuring(tasks, null);
            centerReply = await answer.ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (cancellation.IsCancellationRequested && tasks.Count > 0)
        {
            client.Tell(new CancelSubmission(tasks.Select(t => t.Key).ToList())); // stop its queued tasks and free its results
            throw;
        }
        catch (Exception e) when (e is not CenterRestartedException and not OperationCanceledException && CenterConnection.IsLost(connection))
        {
            throw center.LostDuring(tasks, e);
        }
        // The RemoteData passed in must not be collected (and so released) while their tasks wait for them.
        GC.KeepAlive(inputs);
        switch (centerReply)
        {
            case SubmissionCompleted completed:
                foreach (var task in tasks)
                    if (task.ReleaseAfterConsumers == 0) keys.Keep(task.Key);
                foreach (var location in completed.Locations.Values) _targets.Learn(location, code.Version);
                return tasks.Select(t => new RemoteData<TResult>(pool, t.Key, completed.Locations.GetValueOrDefault(t.Key))).ToList();
            case SubmissionFailed failed:
                throw ExceptionOf(failed.Failure, failed.Worker, tasks.Find(t => t.Key == failed.Failure.Key), userKey);
            default:
                throw new InvalidOperationException($"Unexpected answer {centerReply.GetType().Name} from the client actor.");
        }
    }

    /// <summary>What the caller gets for a failed task: a timeout as <see cref="TaskTimeoutException"/>, anything else as <see cref="RemoteTaskException"/>.</summary>
    public static Exception ExceptionOf(FailedTask failure, string worker, TaskSpec? task, Func<string, string> userKey)
    {
        var error = failure.Error;
        if (error.Kind == ErrorKind.TaskTimeout && task is { TimeoutMs: > 0 } timedOut)
            return new TaskTimeoutException(userKey(timedOut.Key), TimeSpan.FromMilliseconds(timedOut.TimeoutMs), worker);
        return new RemoteTaskException(userKey(failure.Key), error.TypeName, error.Message, error.StackTrace, worker, error.Kind);
    }
}
