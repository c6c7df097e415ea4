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

/// <summary>
/// A proxy of a value that stays on the workers. Pass it to <c>Map</c> or <c>Apply</c> to compute
/// where it lives; call <see cref="Get"/> to bring the value here.
/// </summary>
public sealed class RemoteData<T> : IRemoteData, IFetchableRemoteData
{
    private readonly Pool _pool;

    internal RemoteData(Pool pool, string key, DataLocation? location)
    {
        _pool = pool;
        Key = key;
        Location = location;
    }

    /// <inheritdoc />
    public string Key { get; }

    /// <inheritdoc />
    public Type ValueType => typeof(T);

    /// <summary>Where the value was made (the worker may since have copied it elsewhere too).</summary>
    public DataLocation? Location { get; internal set; }

    /// <summary>The size of the stored value in bytes, when known.</summary>
    public long? Size => Location?.Size;

    /// <summary>Fetches the value from the worker that holds it.</summary>
    public T Get() => _pool.Gather([this])[0];

    /// <summary>Fetches the value from the worker that holds it.</summary>
    public async Task<T> GetAsync(CancellationToken cancellation = default) =>
        (await _pool.GatherAsync([this], cancellation).ConfigureAwait(false))[0];

    object? IFetchableRemoteData.Fetch() => Get();

    /// <summary>A value the program can no longer reach is released on the cluster, so a long-running program does not leak.</summary>
    ~RemoteData() => _pool.ReleaseDropped(Key);

    /// <inheritdoc />
    public override string ToString() => $"RemoteData<{typeof(T).Name}>({Key})";
}
