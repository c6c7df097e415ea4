using System.Runtime.CompilerServices;
using Distributed.Client;

namespace Distributed;

/// <summary>A value that lives on the cluster, named by its key.</summary>
public interface IRemoteData
{
    /// <summary>The key under which the value is stored.</summary>
    string Key { get; }

    /// <summary>The type of the value, as seen by the client.</summary>
    Type ValueType { get; }
}

/// <summary>A remote value whose value can be fetched without knowing its type (local graph schedulers read them).</summary>
internal interface IFetchableRemoteData
{
    object? Fetch();
}

/// <summary>Where a <see cref="RemoteData{T}"/>'s task stands.</summary>
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

    /// <inheritdoc />
    public string Key { get; }

    /// <inheritdoc />
    public Type ValueType => typeof(T);

    /// <summary>Where the value was made (the worker may since have copied it elsewhere too); null while pending.</summary>
    public DataLocation? Location { get; internal set; }

    /// <summary>The size of the stored value in bytes, when known.</summary>
    public long? Size => Location?.Size;

    /// <summary>Where its task stands.</summary>
    public FutureStatus Status => (FutureStatus)Volatile.Read(ref _status);

    /// <summary>Whether its task has ended, one way or another.</summary>
    public bool IsDone => Status != FutureStatus.Pending;

    /// <summary>Why it has no value (failed or cancelled), else null.</summary>
    public Exception? Exception => _completion?.Task.Exception?.InnerException;

    /// <summary>
    /// Completes when the value exists; fails with the task's error (e.g. <see cref="RemoteTaskException"/>)
    /// or with an <see cref="OperationCanceledException"/> when it was cancelled. Never fetches the value.
    /// </summary>
    public Task Completion => _completion?.Task ?? Task.CompletedTask;

    /// <summary>Fetches the value from the worker that holds it, once it exists.</summary>
    public T Get() => _pool.Gather([this])[0];

    /// <summary>Fetches the value from the worker that holds it, once it exists.</summary>
    public async Task<T> GetAsync(CancellationToken cancellation = default) =>
        (await _pool.GatherAsync([this], cancellation).ConfigureAwait(false))[0];

    /// <summary><c>await future</c> gives its value (fetched once it exists).</summary>
    public TaskAwaiter<T> GetAwaiter() => GetAsync().GetAwaiter();

    /// <summary>
    /// Cancels its task if it has not ended (the tasks that need it are cancelled too, by the cluster),
    /// and releases its value if it has one: either way the value is gone.
    /// </summary>
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
    ~RemoteData()
    {
        // A failed task left no value, and a cancelled one was released when it was cancelled.
        if (Status is FutureStatus.Finished or FutureStatus.Pending) _pool.ReleaseDropped(Key);
    }

    /// <inheritdoc />
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
