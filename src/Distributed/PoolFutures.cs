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
    /// <summary>Futures of named and pure calls by key, so that the same key asked again gives the same future.</summary>
    private readonly ConcurrentDictionary<string, WeakReference<IRemoteData>> _keyedFutures = new(StringComparer.Ordinal);
    /// <summary>Keeps this pool's pure keys its own: two clients never share keys.</summary>
    private readonly byte[] _pureSalt = System.Security.Cryptography.RandomNumberGenerator.GetBytes(16);
    private long _keyedSubmissions;

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
    /// <example>
    /// <code>
    /// RemoteData&lt;int&gt; answer = pool.Submit(() => 6 * 7); // returns at once, while the task is queued
    /// Console.WriteLine(await answer); // 42, once it has run
    /// </code>
    /// </example>
    public RemoteData<TResult> Submit<TResult>(Func<TResult> function, TaskOptions? options = null)
    {
        var key = TaskEncoder.KeyPrefix(function);
        var templating = new TaskTemplating(_encoder);
        var encoded = _encoder.EncodeFunction(new NullaryFunction<TResult>(function), key);
        var task = templating.Task(key, encoded, [], timeoutMs: TaskEncoder.TimeoutMilliseconds(options?.Timeout, nameof(options)));
        return SubmitFutures<TResult>(function, options, ManifestFor(templating, function, typeof(TResult)), encoded, [task], [null])[0];
    }

    /// <summary>Submits one call of <paramref name="function"/> on a plain value and returns its future at once.</summary>
    /// <example>
    /// <code>
    /// RemoteData&lt;double&gt; root = pool.Submit((double x) => Math.Sqrt(x), 2.0, new TaskOptions { Pure = true });
    /// </code>
    /// </example>
    public RemoteData<TResult> Submit<T, TResult>(Func<T, TResult> function, T argument, TaskOptions? options = null) =>
        SubmitTyped<TResult>(function, new UnaryFunction<T, TResult>(function), [argument], [typeof(T), typeof(TResult)], options);

    /// <summary>Submits one call of <paramref name="function"/> on a remote value (maybe a future itself) and returns its future at once.</summary>
    /// <example>
    /// <code>
    /// RemoteData&lt;int[]&gt; data = pool.Submit(() => Enumerable.Range(0, 100).ToArray());
    /// RemoteData&lt;int&gt; max = pool.Submit((int[] values) => values.Max(), data); // the cluster waits for data, not the client
    /// </code>
    /// </example>
    public RemoteData<TResult> Submit<T, TResult>(Func<T, TResult> function, RemoteData<T> argument, TaskOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(argument);
        var key = TaskEncoder.KeyPrefix(function);
        var encoded = _encoder.EncodeFunction(new UnaryFunction<T, TResult>(function), key);
        var task = TaskTemplating.TaskOnRemote(key, encoded, [argument.Key], TaskEncoder.TimeoutMilliseconds(options?.Timeout, nameof(options)));
        return SubmitFutures<TResult>(function, options, ManifestFor(new TaskTemplating(_encoder), function, typeof(T), typeof(TResult)), encoded, [task], [argument])[0];
    }

    /// <summary>Submits one call; each argument is a value or a <see cref="RemoteData{T}"/> (maybe a future) of its type.</summary>
    /// <example>
    /// <code>
    /// RemoteData&lt;int&gt; twenty = pool.Submit(() => 20);
    /// RemoteData&lt;int&gt; sum = pool.Submit((int a, int b) => a + b, twenty, 22); // a future and a plain value
    /// </code>
    /// </example>
    public RemoteData<TResult> Submit<T1, T2, TResult>(Func<T1, T2, TResult> function, TaskArgument<T1> first, TaskArgument<T2> second, TaskOptions? options = null) =>
        SubmitTyped<TResult>(function, new BinaryFunction<T1, T2, TResult>(function), [first.Value, second.Value], [typeof(T1), typeof(T2), typeof(TResult)], options);

    /// <summary>Submits one call; each argument is a value or a <see cref="RemoteData{T}"/> (maybe a future) of its type.</summary>
    /// <example>
    /// <code>
    /// RemoteData&lt;double&gt; rate = pool.Submit(() => 0.05);
    /// var balance = pool.Submit((double principal, double r, int years) => principal * Math.Pow(1 + r, years), 1_000.0, rate, 10);
    /// </code>
    /// </example>
    public RemoteData<TResult> Submit<T1, T2, T3, TResult>(Func<T1, T2, T3, TResult> function, TaskArgument<T1> first, TaskArgument<T2> second,
        TaskArgument<T3> third, TaskOptions? options = null) =>
        SubmitTyped<TResult>(function, new TernaryFunction<T1, T2, T3, TResult>(function), [first.Value, second.Value, third.Value],
            [typeof(T1), typeof(T2), typeof(T3), typeof(TResult)], options);

    /// <summary>Submits one call; each argument is a value or a <see cref="RemoteData{T}"/> (maybe a future) of its type.</summary>
    /// <example>
    /// <code>
    /// var area = pool.Submit((double x0, double y0, double x1, double y1) => Math.Abs((x1 - x0) * (y1 - y0)), 0.0, 0.0, 3.0, 4.0);
    /// </code>
    /// </example>
    public RemoteData<TResult> Submit<T1, T2, T3, T4, TResult>(Func<T1, T2, T3, T4, TResult> function, TaskArgument<T1> first, TaskArgument<T2> second,
        TaskArgument<T3> third, TaskArgument<T4> fourth, TaskOptions? options = null) =>
        SubmitTyped<TResult>(function, new QuaternaryFunction<T1, T2, T3, T4, TResult>(function), [first.Value, second.Value, third.Value, fourth.Value],
            [typeof(T1), typeof(T2), typeof(T3), typeof(T4), typeof(TResult)], options);

    // ----- SubmitMap: a task per item -----

    /// <summary>Submits a call of <paramref name="function"/> per item and returns their futures at once, in order.</summary>
    /// <example>
    /// <code>
    /// List&lt;RemoteData&lt;int&gt;&gt; futures = pool.SubmitMap(x => x * x, Enumerable.Range(0, 100));
    /// await foreach (var (future, square) in Futures.AsCompletedWithValues(futures)) Console.WriteLine(square);
    /// </code>
    /// </example>
    public List<RemoteData<TResult>> SubmitMap<T, TResult>(Func<T, TResult> function, IEnumerable<T> items, TaskOptions? options = null)
    {
        var (code, encoded, tasks) = MapTasks(function, items, TaskEncoder.TimeoutMilliseconds(options?.Timeout, nameof(options)));
        return SubmitFutures<TResult>(function, options, code, encoded, tasks, new object?[tasks.Count]);
    }

    /// <summary>Submits a call of <paramref name="function"/> per remote value (futures too), where it lives, and returns their futures at once.</summary>
    /// <example>
    /// <code>
    /// List&lt;RemoteData&lt;int[]&gt;&gt; loaded = pool.SubmitMap(n => Enumerable.Range(0, n).ToArray(), Enumerable.Range(1, 8));
    /// var sums = pool.SubmitMap((int[] part) => part.Sum(), loaded, new TaskOptions { Timeout = TimeSpan.FromMinutes(1) });
    /// </code>
    /// </example>
    public List<RemoteData<TResult>> SubmitMap<T, TResult>(Func<T, TResult> function, IEnumerable<RemoteData<T>> items, TaskOptions? options = null)
    {
        var inputs = items.ToList();
        var (code, encoded, tasks) = MapTasks(function, inputs, TaskEncoder.TimeoutMilliseconds(options?.Timeout, nameof(options)));
        return SubmitFutures<TResult>(function, options, code, encoded, tasks, inputs);
    }

    // ----- plumbing -----

    private RemoteData<TResult> SubmitTyped<TResult>(Delegate function, IUserFunction wrapper, object?[] arguments, Type[] declared, TaskOptions? options)
    {
        var key = TaskEncoder.KeyPrefix(function);
        var templating = new TaskTemplating(_encoder);
        var template = templating.Template(arguments);
        var encoded = _encoder.EncodeFunction(wrapper, key);
        var task = templating.Task(key, encoded, template, timeoutMs: TaskEncoder.TimeoutMilliseconds(options?.Timeout, nameof(options)));
        return SubmitFutures<TResult>(function, options, ManifestFor(templating, function, declared), encoded, [task], [arguments])[0];
    }

    /// <summary>
    /// The futures of <paramref name="tasks"/>, pending; each keeps its <paramref name="inputs"/> entry alive
    /// until it ends. A named or pure task whose key this pool already holds a live future of is not
    /// submitted again: that future is returned.
    /// </summary>
    private List<RemoteData<TResult>> SubmitFutures<TResult>(Delegate function, TaskOptions? options, CodeManifest code, FunctionSpec functionSpec,
        List<TaskSpec> tasks, IReadOnlyList<object?> inputs)
    {
        ObjectDisposedException.ThrowIf(IsDisposed, this);
        var keyed = options is not null && (options.Key is not null || options.Pure);
        if (keyed) NameKeys(function, options!, tasks);
        if (options?.Restrictions is { } restrictions)
            for (var i = 0; i < tasks.Count; i++) tasks[i] = tasks[i] with { Restrictions = restrictions };
        var batch = new FutureBatch(_keys);
        var futures = new List<RemoteData<TResult>>(tasks.Count);
        var sent = keyed ? new List<TaskSpec>(tasks.Count) : tasks;
        for (var i = 0; i < tasks.Count; i++)
        {
            if (keyed && LiveFuture<TResult>(tasks[i].Key) is { } live)
            {
                futures.Add(live);
                continue;
            }
            var future = RemoteData<TResult>.Pending(this, tasks[i].Key, inputs[i]);
            if (keyed)
            {
                _keys.Reclaim(tasks[i].Key);
                _keyedFutures[tasks[i].Key] = new WeakReference<IRemoteData>(future);
                sent.Add(tasks[i]);
            }
            batch.Add(tasks[i], future);
            futures.Add(future);
        }
        if (sent.Count == 0) return futures;
        SendFutures(new Submit(code, [functionSpec], sent, batch, options?.Progress), batch, intermediates: []);
        return futures;
    }

    /// <summary>The caller's key (<c>{Key}-{i}</c> for several tasks) or the pure key of each task.</summary>
    private void NameKeys(Delegate function, TaskOptions options, List<TaskSpec> tasks)
    {
        var name = TaskEncoder.KeyName(function);
        for (var i = 0; i < tasks.Count; i++)
        {
            var key = options.Key is { } given ? tasks.Count == 1 ? given : $"{given}-{i}" : TaskEncoder.PureKey(name, _pureSalt, tasks[i]);
            tasks[i] = tasks[i] with { Key = key };
        }
        if (_keyedFutures.Count > 1024 && Interlocked.Increment(ref _keyedSubmissions) % 1024 == 0)
            foreach (var (key, reference) in _keyedFutures)
                if (!reference.TryGetTarget(out _)) _keyedFutures.TryRemove(key, out _);
    }

    /// <summary>This pool's live future of <paramref name="key"/>, unless it failed or was cancelled (then the call runs again).</summary>
    private RemoteData<TResult>? LiveFuture<TResult>(string key)
    {
        if (!_keyedFutures.TryGetValue(key, out var reference) || !reference.TryGetTarget(out var target)) return null;
        if (target is not RemoteData<TResult> future)
            throw new ArgumentException($"The key {key} is already a RemoteData<{target.ValueType.Name}> of this pool, not a RemoteData<{typeof(TResult).Name}>.");
        return future.Status is FutureStatus.Pending or FutureStatus.Finished ? future : null;
    }

    /// <summary>
    /// Submits a compiled graph and returns at once a pending future per task whose result is kept (the
    /// graph's intermediates are the center's, deleted once read), by cluster key.
    /// </summary>
    internal Dictionary<string, RemoteData<object>> SubmitGraphFutures(CompiledGraph graph)
    {
        ObjectDisposedException.ThrowIf(IsDisposed, this);
        var batch = new FutureBatch(_keys, graph.GraphKeyOf);
        var futures = new Dictionary<string, RemoteData<object>>(StringComparer.Ordinal);
        foreach (var task in graph.Tasks)
        {
            if (task.ReleaseAfterConsumers != 0) continue;
            var future = RemoteData<object>.Pending(this, task.Key, graph);
            batch.Add(task, future);
            futures[task.Key] = future;
        }
        SendFutures(new Submit(graph.Code!, graph.Functions, graph.Tasks, batch), batch, graph.Tasks.Where(t => t.ReleaseAfterConsumers != 0).ToList());
        return futures;
    }

    /// <summary>
    /// Sends a submission of futures after every earlier one. The center's state of its tasks dies with
    /// the connection: the futures still pending then fail (never awaited forever) and their keys, with
    /// the <paramref name="intermediates"/> they read, are given up; finished ones stay the caller's, to
    /// claim from a restarted center.
    /// </summary>
    private void SendFutures(Submit submit, FutureBatch batch, IReadOnlyList<TaskSpec> intermediates) =>
        InOrder((connection, client) =>
        {
            client.Tell(submit);
            batch.FailPendingWhen(connection.System.WhenTerminated, pending => _center.LostDuring([.. pending, .. intermediates], null));
        }, batch.FailAll);

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
    private sealed class FutureBatch(OwnedKeys keys, Func<string, string>? userKey = null) : IFutureSink, IDisposable
    {
        private int _disposed;
        private readonly ConcurrentDictionary<string, (TaskSpec Task, IPendingFuture Future)> _pending = new(StringComparer.Ordinal);
        /// <summary>Cancelled once nothing is pending, which takes the watch on the connection off it (it would hold the tasks until the connection ends).</summary>
        private readonly CancellationTokenSource _ended = new();

        public void Add(TaskSpec task, IPendingFuture future) => _pending[task.Key] = (task, future);

        public void Finished(string key, DataLocation location)
        {
            if (!_pending.TryRemove(key, out var entry)) return;
            keys.Keep(key);
            entry.Future.Ended(location, null, FutureStatus.Finished);
            EndIfEmpty();
        }

        public void Failed(FailedTask failure, string worker)
        {
            if (!_pending.TryRemove(failure.Key, out var entry)) return;
            if (failure.Error.Kind == ErrorKind.Released)
                entry.Future.Ended(null, new OperationCanceledException($"{(userKey ?? (k => k))(failure.Key)} was cancelled: {failure.Error.Message}"), FutureStatus.Cancelled);
            else
                entry.Future.Ended(null, TaskSubmitter.ExceptionOf(failure, worker, entry.Task, userKey ?? (k => k)), FutureStatus.Failed);
            EndIfEmpty();
        }

        /// <summary>Fails every future still pending with <paramref name="error"/>.</summary>
        public void FailAll(Exception error) => FailPending(_ => error);

        /// <summary>Once <paramref name="connectionEnded"/> completes, fails what is pending then with the error <paramref name="lost"/> makes of its tasks.</summary>
        public void FailPendingWhen(Task connectionEnded, Func<IReadOnlyList<TaskSpec>, Exception> lost)
        {
            try
            {
                connectionEnded.ContinueWith(_ => FailPending(lost), _ended.Token, TaskContinuationOptions.None, TaskScheduler.Default);
            }
            catch (ObjectDisposedException)
            {
                return; // everything ended before the watch was set: nothing to watch
            }
            EndIfEmpty();
        }

        private void FailPending(Func<IReadOnlyList<TaskSpec>, Exception> error)
        {
            var failed = new List<(TaskSpec Task, IPendingFuture Future)>();
            foreach (var key in _pending.Keys)
                if (_pending.TryRemove(key, out var entry)) failed.Add(entry);
            if (failed.Count == 0) return;
            var exception = error(failed.ConvertAll(f => f.Task));
            foreach (var (_, future) in failed) future.Ended(null, exception, FutureStatus.Failed);
            EndIfEmpty();
        }

        private void EndIfEmpty()
        {
            if (_pending.IsEmpty) Dispose();
        }

        /// <summary>Takes the watch off the connection, once.</summary>
        public void Dispose()
        {
            if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
            _ended.Cancel();
            _ended.Dispose();
        }
    }
}
