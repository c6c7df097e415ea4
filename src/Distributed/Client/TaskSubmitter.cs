using Akka.Actor;
using Distributed.Protocol;

namespace Distributed.Client;

/// <summary>
/// Submits a pool's tasks through its <see cref="CenterConnection"/> and waits for all of them: their
/// results as RemoteData, or the first failure as the exception the caller reads.
/// </summary>
internal sealed class TaskSubmitter(Pool pool, CenterConnection center, OwnedKeys keys)
{
    /// <summary>Submits tasks and waits for all; <paramref name="userKey"/> turns a cluster key back into the caller's name in errors.</summary>
    public async Task<List<RemoteData<TResult>>> SubmitAsync<TResult>(CodeManifest code, IReadOnlyList<FunctionSpec> functions, List<TaskSpec> tasks,
        CancellationToken cancellation, Func<string, string> userKey, object? inputs, IProgress<ComputationProgress>? progress = null)
    {
        ObjectDisposedException.ThrowIf(pool.IsDisposed, pool);
        await pool.FuturesSent.ConfigureAwait(false); // futures submitted before these tasks (their inputs, maybe) reach the center first
        var (connection, client) = await center.ConnectedAsync(cancellation).ConfigureAwait(false);
        object reply;
        try
        {
            var answer = client.Ask<object>(new Submit(code, functions, tasks, Progress: progress), Timeout.InfiniteTimeSpan, cancellation);
            // The center's state of the computation died with it: it is not resumed, never awaited forever.
            if (await Task.WhenAny(answer, connection.System.WhenTerminated).ConfigureAwait(false) != answer) throw center.LostDuring(tasks, null);
            reply = await answer.ConfigureAwait(false);
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
        switch (reply)
        {
            case SubmissionCompleted completed:
                foreach (var task in tasks)
                    if (task.ReleaseAfterConsumers == 0) keys.Keep(task.Key);
                return tasks.Select(t => new RemoteData<TResult>(pool, t.Key, completed.Locations.GetValueOrDefault(t.Key))).ToList();
            case SubmissionFailed failed:
                throw ExceptionOf(failed.Failure, failed.Worker, tasks.Find(t => t.Key == failed.Failure.Key), userKey);
            default:
                throw new InvalidOperationException($"Unexpected answer {reply.GetType().Name} from the client actor.");
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
