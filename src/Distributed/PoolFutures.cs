using System.Collections.Concurrent;
using Akka.Actor;
using Distributed.Client;
using Distributed.Data.Serialization;
using Distributed.Protocol;

namespace Distributed;

// Futures: Submit and SubmitMap return RemoteData at once, while their tasks are queued or running
// (dask's client.submit / client.map). A future is an argument of later calls like any RemoteData:
// the center makes the task wait for it, the client never does.
public sealed partial class Pool
{
    private readonly object _sendOrder = new();
    private Task _futuresSent = Task.CompletedTask;

    /// <summary>
    /// Completes once every submission of futures made so far has been handed to the client actor, so a
    /// later submission that reads them cannot overtake them (immediately, unless the center is being rejoined).
    /// </summary>
    internal Task FuturesSent
    {
        get { lock (_sendOrder) return _futuresSent; }
    }

    // ----- Submit: one task -----

    /// <summary>Submits one call of <paramref name="function"/> and returns its future at once.</summary>
    public RemoteData<TResult> Submit<TResult>(Func<TResult> function, TimeSpan? timeout = null)
    {
        var key = TaskEncoder.KeyPrefix(function);
        var templating = new TaskTemplating(_encoder);
        var encoded = _encoder.EncodeFunction(new NullaryFunction<TResult>(function), key);
        var task = templating.Task(key, encoded, [], timeoutMs: TaskEncoder.TimeoutMilliseconds(timeout, nameof(timeout)));
        return SubmitFutures<TResult>(ManifestFor(templating, function, typeof(TResult)), encoded, [task], [null])[0];
    }

    /// <summary>Submits one call of <paramref name="function"/> on a plain value and returns its future at once.</summary>
    public RemoteData<TResult> Submit<T, TResult>(Func<T, TResult> function, T argument, TimeSpan? timeout = null) =>
        SubmitTyped<TResult>(function, new UnaryFunction<T, TResult>(function), [argument], [typeof(T), typeof(TResult)], timeout);

    /// <summary>Submits one call of <paramref name="function"/> on a remote value (maybe a future itself) and returns its future at once.</summary>
    public RemoteData<TResult> Submit<T, TResult>(Func<T, TResult> function, RemoteData<T> argument, TimeSpan? timeout = null)
    {
        ArgumentNullException.ThrowIfNull(argument);
        var key = TaskEncoder.KeyPrefix(function);
        var encoded = _encoder.EncodeFunction(new UnaryFunction<T, TResult>(function), key);
        var task = TaskTemplating.TaskOnRemote(key, encoded, [argument.Key], TaskEncoder.TimeoutMilliseconds(timeout, nameof(timeout)));
        return SubmitFutures<TResult>(ManifestFor(new TaskTemplating(_encoder), function, typeof(T), typeof(TResult)), encoded, [task], [argument])[0];
    }

    /// <summary>Submits one call; each argument is a value or a <see cref="RemoteData{T}"/> (maybe a future) of its type.</summary>
    public RemoteData<TResult> Submit<T1, T2, TResult>(Func<T1, T2, TResult> function, TaskArgument<T1> first, TaskArgument<T2> second, TimeSpan? timeout = null) =>
        SubmitTyped<TResult>(function, new BinaryFunction<T1, T2, TResult>(function), [first.Value, second.Value], [typeof(T1), typeof(T2), typeof(TResult)], timeout);

    /// <summary>Submits one call; each argument is a value or a <see cref="RemoteData{T}"/> (maybe a future) of its type.</summary>
    public RemoteData<TResult> Submit<T1, T2, T3, TResult>(Func<T1, T2, T3, TResult> function, TaskArgument<T1> first, TaskArgument<T2> second,
        TaskArgument<T3> third, TimeSpan? timeout = null) =>
        SubmitTyped<TResult>(function, new TernaryFunction<T1, T2, T3, TResult>(function), [first.Value, second.Value, third.Value],
            [typeof(T1), typeof(T2), typeof(T3), typeof(TResult)], timeout);

    /// <summary>Submits one call; each argument is a value or a <see cref="RemoteData{T}"/> (maybe a future) of its type.</summary>
    public RemoteData<TResult> Submit<T1, T2, T3, T4, TResult>(Func<T1, T2, T3, T4, TResult> function, TaskArgument<T1> first, TaskArgument<T2> second,
        TaskArgument<T3> third, TaskArgument<T4> fourth, TimeSpan? timeout = null) =>
        SubmitTyped<TResult>(function, new QuaternaryFunction<T1, T2, T3, T4, TResult>(function), [first.Value, second.Value, third.Value, fourth.Value],
            [typeof(T1), typeof(T2), typeof(T3), typeof(T4), typeof(TResult)], timeout);

    // ----- SubmitMap: a task per item -----

    /// <summary>Submits a call of <paramref name="function"/> per item and returns their futures at once, in order.</summary>
    public List<RemoteData<TResult>> SubmitMap<T, TResult>(Func<T, TResult> function, IEnumerable<T> items, TimeSpan? timeout = null)
    {
        var timeoutMs = TaskEncoder.TimeoutMilliseconds(timeout, nameof(timeout));
        var name = TaskEncoder.KeyPrefix(function);
        var values = items.ToList();
        var templating = new TaskTemplating(_encoder);
        var encoded = _encoder.EncodeFunction(new UnaryFunction<T, TResult>(function), name + "-0");
        var tasks = new List<TaskSpec>(values.Count);
        for (var i = 0; i < values.Count; i++)
            tasks.Add(templating.TaskOnValue($"{name}-{i}", encoded, values[i], timeoutMs));
        return SubmitFutures<TResult>(ManifestFor(templating, function, typeof(T), typeof(TResult)), encoded, tasks, new object?[tasks.Count]);
    }

    /// <summary>Submits a call of <paramref name="function"/> per remote value (futures too), where it lives, and returns their futures at once.</summary>
    public List<RemoteData<TResult>> SubmitMap<T, TResult>(Func<T, TResult> function, IEnumerable<RemoteData<T>> items, TimeSpan? timeout = null)
    {
        var timeoutMs = TaskEncoder.TimeoutMilliseconds(timeout, nameof(timeout));
        var name = TaskEncoder.KeyPrefix(function);
        var encoded = _encoder.EncodeFunction(new UnaryFunction<T, TResult>(function), name + "-0");
        var inputs = items.ToList();
        var tasks = new List<TaskSpec>(inputs.Count);
        for (var i = 0; i < inputs.Count; i++)
            tasks.Add(TaskTemplating.TaskOnRemote($"{name}-{i}", encoded, [inputs[i].Key], timeoutMs));
        return SubmitFutures<TResult>(ManifestFor(new TaskTemplating(_encoder), function, typeof(T), typeof(TResult)), encoded, tasks, inputs);
    }

    // ----- plumbing -----

    private RemoteData<TResult> SubmitTyped<TResult>(Delegate function, IUserFunction wrapper, object?[] arguments, Type[] declared, TimeSpan? timeout)
    {
        var key = TaskEncoder.KeyPrefix(function);
        var templating = new TaskTemplating(_encoder);
        var template = templating.Template(arguments);
        var encoded = _encoder.EncodeFunction(wrapper, key);
        var task = templating.Task(key, encoded, template, timeoutMs: TaskEncoder.TimeoutMilliseconds(timeout, nameof(timeout)));
        return SubmitFutures<TResult>(ManifestFor(templating, function, declared), encoded, [task], [arguments])[0];
    }

    /// <summary>The futures of <paramref name="tasks"/>, pending; each keeps its <paramref name="inputs"/> entry alive until it ends.</summary>
    private List<RemoteData<TResult>> SubmitFutures<TResult>(CodeManifest code, FunctionSpec function, List<TaskSpec> tasks, IReadOnlyList<object?> inputs)
    {
        ObjectDisposedException.ThrowIf(IsDisposed, this);
        var batch = new FutureBatch(_keys);
        var futures = new List<RemoteData<TResult>>(tasks.Count);
        for (var i = 0; i < tasks.Count; i++)
        {
            var future = RemoteData<TResult>.Pending(this, tasks[i].Key, inputs[i]);
            batch.Add(tasks[i], future);
            futures.Add(future);
        }
        var submit = new Submit(code, [function], tasks, batch);
        InOrder((connection, client) =>
        {
            client.Tell(submit);
            // The center's state of these tasks dies with it: they fail, they are never awaited forever.
            connection.System.WhenTerminated.ContinueWith(_ => batch.FailAll(_center.LostDuring(tasks, null)), TaskScheduler.Default);
        }, batch.FailAll);
        return futures;
    }

    /// <summary>Cancels (releases) these keys on the cluster: pending tasks are dropped with what depends on them, values deleted.</summary>
    internal void CancelOnCluster(IReadOnlyList<string> keys)
    {
        if (IsDisposed) return;
        _keys.Forget(keys);
        InOrder((_, client) => client.Tell(new CancelSubmission(keys)), _ => { });
    }

    /// <summary>
    /// Hands <paramref name="send"/> the client actor after every earlier one (at once when connected):
    /// submissions and cancellations of futures reach the center in the order they were made.
    /// </summary>
    private void InOrder(Action<ClusterConnection, IActorRef> send, Action<Exception> failed)
    {
        lock (_sendOrder) _futuresSent = SendAfterAsync(_futuresSent, send, failed);
    }

    private async Task SendAfterAsync(Task previous, Action<ClusterConnection, IActorRef> send, Action<Exception> failed)
    {
        await previous.ConfigureAwait(false); // never faults: failures end in failed
        try
        {
            var (connection, client) = await _center.ConnectedAsync(CancellationToken.None).ConfigureAwait(false);
            send(connection, client);
        }
        catch (Exception e)
        {
            failed(e);
        }
    }

    /// <summary>The futures of one submission, ended as the client actor hears of their tasks.</summary>
    private sealed class FutureBatch(OwnedKeys keys) : IFutureSink
    {
        private readonly ConcurrentDictionary<string, (TaskSpec Task, IPendingFuture Future)> _pending = new(StringComparer.Ordinal);

        public void Add(TaskSpec task, IPendingFuture future) => _pending[task.Key] = (task, future);

        public void Finished(string key, DataLocation location)
        {
            if (!_pending.TryRemove(key, out var entry)) return;
            keys.Keep(key);
            entry.Future.Ended(location, null, FutureStatus.Finished);
        }

        public void Failed(FailedTask failure, string worker)
        {
            if (!_pending.TryRemove(failure.Key, out var entry)) return;
            if (failure.Error.Kind == ErrorKind.Released)
                entry.Future.Ended(null, new OperationCanceledException($"{failure.Key} was cancelled: {failure.Error.Message}"), FutureStatus.Cancelled);
            else
                entry.Future.Ended(null, TaskSubmitter.ExceptionOf(failure, worker, entry.Task, key => key), FutureStatus.Failed);
        }

        public void FailAll(Exception error)
        {
            foreach (var key in _pending.Keys)
                if (_pending.TryRemove(key, out var entry)) entry.Future.Ended(null, error, FutureStatus.Failed);
        }
    }
}
