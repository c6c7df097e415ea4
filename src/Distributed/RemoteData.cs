using System.Runtime.CompilerServices;
using Distributed.Client;

namespace Distributed;

/// <summary>A value that lives on the cluster, named by its key.</summary>
/// <example>
/// <code>
/// IRemoteData[] values = [pool.Apply(() => 1), pool.Apply(() => "text")];
/// foreach (var value in values) Console.WriteLine($"{value.Key}: {value.ValueType.Name}");
/// pool.Release(values);
/// </code>
/// </example>
public interface IRemoteData
{
    /// <summary>The key under which the value is stored.</summary>
    /// <example>
    /// <code>
    /// IRemoteData value = pool.Apply(() => 42);
    /// Console.WriteLine(value.Key); // the function's name and a random suffix, e.g. "...-3f2a9c1e0b7d"
    /// </code>
    /// </example>
    string Key { get; }

    /// <summary>The type of the value, as seen by the client.</summary>
    /// <example>
    /// <code>
    /// IRemoteData value = pool.Apply(() => new[] { 1.5 });
    /// Console.WriteLine(value.ValueType); // System.Double[]
    /// </code>
    /// </example>
    Type ValueType { get; }
}

/// <summary>A remote value whose value can be fetched without knowing its type (local graph schedulers read them).</summary>
internal interface IFetchableRemoteData
{
    object? Fetch();
}

/// <summary>Where a <see cref="RemoteData{T}"/>'s task stands.</summary>
/// <example>
/// <code>
/// RemoteData&lt;int&gt; future = pool.Submit(() => 42);
/// Console.WriteLine(future.Status); // Pending, until the task has run
/// await future.Completion;
/// Console.WriteLine(future.Status); // Finished
/// </code>
/// </example>
public enum FutureStatus
{
    /// <summary>Queued or running: the value does not exist yet.</summary>
    Pending,
    /// <summary>The value exists on the cluster.</summary>
    Finished,
    /// <summary>The task failed, or an input it needed did: <see cref="RemoteData{T}.Exception"/> says why.</summary>
    Failed,
    /// <summary>It was cancelled, or an input it needed was: it will never have a value.</summary>
    Cancelled,
}

/// <summary>
/// A proxy of a value that stays on the workers, and a future of it: <c>Submit</c> returns one at once,
/// while its task may still be queued or running; <c>Map</c> and <c>Apply</c> return finished ones. Pass
/// it to <c>Submit</c>, <c>Map</c>, <c>Apply</c> or a graph to compute where it lives (the cluster waits
/// for a pending one, the client does not); <see cref="Get"/>, <see cref="GetAsync"/> or <c>await</c>
/// bring the value here once it exists.
/// </summary>
/// <example>
/// <code>
/// RemoteData&lt;int[]&gt; data = pool.Submit(() => Enumerable.Range(0, 1_000).ToArray()); // a future, at once
/// RemoteData&lt;int&gt; sum = pool.Submit((int[] values) => values.Sum(), data); // computed where data lives
/// int total = await sum; // fetched here: 499500
/// </code>
/// </example>
public sealed class RemoteData<T> : IRemoteData, IFetchableRemoteData, IPendingFuture
{
    private readonly Pool _pool;
    /// <summary>Null for a value that existed when this proxy was made.</summary>
    private readonly TaskCompletionSource? _completion;
    /// <summary>The futures this one's task reads: kept alive (so not released) until it has ended.</summary>
    private object? _inputs;
    private int _status; // a FutureStatus

    internal RemoteData(Pool pool, string key, DataLocation? location)
    {
        _pool = pool;
        Key = key;
        Location = location;
        _status = (int)FutureStatus.Finished;
    }

    private RemoteData(Pool pool, string key, object? inputs)
    {
        _pool = pool;
        Key = key;
        _inputs = inputs;
        _completion = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _status = (int)FutureStatus.Pending;
    }

    /// <summary>A future of a task just submitted, which reads <paramref name="inputs"/>.</summary>
    internal static RemoteData<T> Pending(Pool pool, string key, object? inputs) => new(pool, key, inputs);

    /// <summary>The key under which the value is stored on the cluster.</summary>
    /// <example>
    /// <code>
    /// RemoteData&lt;int&gt; named = pool.Submit(() => 7, new TaskOptions { Key = "seven" });
    /// Console.WriteLine(named.Key); // seven
    /// </code>
    /// </example>
    public string Key { get; }

    /// <summary>The type of the value: <typeparamref name="T"/>.</summary>
    /// <example>
    /// <code>
    /// RemoteData&lt;string&gt; text = pool.Apply(() => "hello");
    /// Console.WriteLine(text.ValueType == typeof(string)); // True
    /// </code>
    /// </example>
    public Type ValueType => typeof(T);

    /// <summary>Where the value was made (the worker may since have copied it elsewhere too); null while pending.</summary>
    /// <example>
    /// <code>
    /// RemoteData&lt;int&gt; value = pool.Apply(() => 42);
    /// Console.WriteLine($"{value.Location?.Worker} ({value.Location?.TypeName})");
    /// </code>
    /// </example>
    public DataLocation? Location { get; internal set; }

    /// <summary>The value's bytes when they came with the task's answer (a small result run directly): read without asking its worker.</summary>
    internal Distributed.Data.StoredValue? Inline { get; init; }

    /// <summary>The size of the stored value in bytes, when known.</summary>
    /// <example>
    /// <code>
    /// RemoteData&lt;byte[]&gt; blob = pool.Apply(() => new byte[1_000_000]);
    /// Console.WriteLine($"{blob.Size} bytes on the cluster");
    /// </code>
    /// </example>
    public long? Size => Location?.Size;

    /// <summary>Where its task stands.</summary>
    /// <example>
    /// <code>
    /// RemoteData&lt;int&gt; future = pool.Submit(() => int.Parse("not a number"));
    /// await Futures.WaitAsync([future]); // never throws the task's error
    /// if (future.Status == FutureStatus.Failed) Console.WriteLine(future.Exception!.Message);
    /// </code>
    /// </example>
    public FutureStatus Status => (FutureStatus)Volatile.Read(ref _status);

    /// <summary>Whether its task has ended, one way or another.</summary>
    /// <example>
    /// <code>
    /// RemoteData&lt;int&gt; future = pool.Submit(() => 6 * 7);
    /// while (!future.IsDone) await Task.Delay(100);
    /// </code>
    /// </example>
    public bool IsDone => Status != FutureStatus.Pending;

    /// <summary>Why it has no value (failed or cancelled), else null.</summary>
    /// <example>
    /// <code>
    /// RemoteData&lt;int&gt; future = pool.Submit(() => 1 / int.Parse("0"));
    /// await Futures.WaitAsync([future]);
    /// Console.WriteLine((future.Exception as RemoteTaskException)?.RemoteTypeName); // System.DivideByZeroException
    /// </code>
    /// </example>
    public Exception? Exception => _completion?.Task.Exception?.InnerException;

    /// <summary>
    /// Completes when the value exists; fails with the task's error (e.g. <see cref="RemoteTaskException"/>)
    /// or with an <see cref="OperationCanceledException"/> when it was cancelled. Never fetches the value.
    /// </summary>
    /// <example>
    /// <code>
    /// List&lt;RemoteData&lt;int&gt;&gt; futures = pool.SubmitMap(x => x + 1, Enumerable.Range(0, 8));
    /// await Task.WhenAll(futures.Select(f => f.Completion)); // every task finished; nothing fetched yet
    /// </code>
    /// </example>
    public Task Completion => _completion?.Task ?? Task.CompletedTask;

    /// <summary>Fetches the value from the worker that holds it, once it exists.</summary>
    /// <example>
    /// <code>
    /// RemoteData&lt;int[]&gt; numbers = pool.Apply(() => new[] { 1, 2, 3 });
    /// int[] values = numbers.Get(); // blocks until the value is here
    /// </code>
    /// </example>
    public T Get() => _pool.Gather([this])[0];

    /// <summary>Fetches the value from the worker that holds it, once it exists.</summary>
    /// <example>
    /// <code>
    /// RemoteData&lt;string&gt; report = pool.Submit(() => $"{Environment.ProcessorCount} cores");
    /// string text = await report.GetAsync(cancellation);
    /// </code>
    /// </example>
    public async Task<T> GetAsync(CancellationToken cancellation = default) =>
        (await _pool.GatherAsync([this], cancellation).ConfigureAwait(false))[0];

    /// <summary><c>await future</c> gives its value (fetched once it exists).</summary>
    /// <example>
    /// <code>
    /// RemoteData&lt;double&gt; pi = pool.Submit(() => Math.PI);
    /// double value = await pi; // the same as await pi.GetAsync()
    /// </code>
    /// </example>
    public TaskAwaiter<T> GetAwaiter() => GetAsync().GetAwaiter();

    /// <summary>
    /// Cancels its task if it has not ended (the tasks that need it are cancelled too, by the cluster),
    /// and releases its value if it has one: either way the value is gone.
    /// </summary>
    /// <example>
    /// <code>
    /// RemoteData&lt;int&gt; slow = pool.Submit(() => { Thread.Sleep(60_000); return 1; });
    /// slow.Cancel(); // its task is dropped (and what depends on it); awaiting it throws OperationCanceledException
    /// </code>
    /// </example>
    public void Cancel()
    {
        ((IPendingFuture)this).Ended(null, new OperationCanceledException($"{Key} was cancelled."), FutureStatus.Cancelled);
        _pool.CancelOnCluster([Key]);
    }

    void IPendingFuture.Ended(DataLocation? location, Exception? error, FutureStatus status)
    {
        if (Interlocked.CompareExchange(ref _status, (int)status, (int)FutureStatus.Pending) != (int)FutureStatus.Pending) return;
        GC.KeepAlive(_inputs); // held until now so that they were not released under the task
        _inputs = null;
        if (location is not null) Location = location;
        if (error is null) _completion?.TrySetResult();
        else _completion?.TrySetException(error);
    }

    object? IFetchableRemoteData.Fetch() => Get();

    /// <summary>A value the program can no longer reach is released on the cluster, so a long-running program does not leak.</summary>
    /// <example>
    /// <code>
    /// for (var i = 0; i &lt; 1_000; i++)
    ///     Console.WriteLine(pool.Apply((int n) => n * n, i).Get()); // each proxy dropped once read
    /// // no Release needed: the values are deleted on the cluster once their proxies are collected
    /// </code>
    /// </example>
    ~RemoteData()
    {
        // A failed task left no value, and a cancelled one was released when it was cancelled.
        if (Status is FutureStatus.Finished or FutureStatus.Pending) _pool.ReleaseDropped(Key);
    }

    /// <summary>The proxy's type and key, e.g. <c>RemoteData&lt;Int32&gt;(inc-0)</c>; never the value.</summary>
    /// <example>
    /// <code>
    /// RemoteData&lt;int&gt; value = pool.Apply(() => 1);
    /// Console.WriteLine(value); // RemoteData&lt;Int32&gt;(...-3f2a9c1e0b7d)
    /// </code>
    /// </example>
    public override string ToString() => $"RemoteData<{typeof(T).Name}>({Key})";
}

/// <summary>A future as the client's machinery ends it.</summary>
internal interface IPendingFuture
{
    /// <summary>Completes when the value exists, or fails with why it never will.</summary>
    Task Completion { get; }

    /// <summary>Ends it once: finished at <paramref name="location"/>, or with <paramref name="error"/>. Later calls do nothing.</summary>
    void Ended(DataLocation? location, Exception? error, FutureStatus status);
}
