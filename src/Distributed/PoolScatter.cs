using System.Security.Cryptography;
using Distributed.Client;
using Distributed.Data;
using Distributed.Data.Serialization;
using Distributed.Protocol;

namespace Distributed;

// Data onto the cluster without tasks (dask's client.scatter, Ray's ray.put), and named datasets
// shared between clients (dask's client.publish_dataset / get_dataset). The center plans where each
// value goes and records it as this client's, exactly as a task's result; the values themselves
// travel over the workers' data channels, never through Akka.
public sealed partial class Pool
{
    /// <summary>At most this many values are planned and put in one step (one put per worker each).</summary>
    private const int ScatterBatchValues = 4096;

    /// <summary>At most this many bytes of keys and type names in one step: a put's frame stays well within a request's limit.</summary>
    private const int ScatterBatchNameBytes = 1 << 20;

    private readonly ValueCodec _scatterCodec = new();

    /// <summary>
    /// Puts local values on the workers, without a task per value, and returns their <see cref="RemoteData{T}"/>
    /// (in order), usable as arguments of <c>Submit</c>, <c>Map</c>, <c>Apply</c> and graphs, and readable with
    /// <see cref="RemoteData{T}.Get"/>. They are this pool's values, as task results are: released by
    /// <see cref="Release"/>, by the garbage collector, or when the pool goes away.
    /// </summary>
    /// <param name="values">The values; each travels once, over the data channel of the worker it goes to.</param>
    /// <param name="broadcast">False: each value goes to one worker, the one holding the fewest bytes (so they
    /// spread); true: a copy goes to every worker.</param>
    /// <param name="keys">The keys to store them under, one per value; by default a hash of each value's bytes, so
    /// that the same value scattered twice is one key (stored once). A key another client owns is refused.</param>
    /// <param name="cancellation">Cancels the wait; values already put stay this pool's until released.</param>
    /// <returns>One finished <see cref="RemoteData{T}"/> per value, in order.</returns>
    /// <exception cref="InvalidOperationException">A key was refused (another client's), or a worker refused or lost a value.</exception>
    /// <example>
    /// <code>
    /// var parts = await pool.ScatterAsync(new[] { chunk0, chunk1, chunk2 });      // dask: client.scatter([...])
    /// var sums = pool.Map((double[] c) => c.Sum(), parts);
    /// var table = (await pool.ScatterAsync(new[] { lookup }, broadcast: true))[0]; // dask: client.scatter(x, broadcast=True)
    /// </code>
    /// </example>
    public async Task<List<RemoteData<T>>> ScatterAsync<T>(IEnumerable<T> values, bool broadcast = false, IEnumerable<string>? keys = null,
        CancellationToken cancellation = default)
    {
        ArgumentNullException.ThrowIfNull(values);
        ObjectDisposedException.ThrowIf(IsDisposed, this);
        var items = values.ToList();
        var named = keys?.ToList();
        if (named is not null && named.Count != items.Count)
            throw new ArgumentException($"{named.Count} keys were given for {items.Count} values: one key per value.", nameof(keys));
        if (named?.FirstOrDefault(string.IsNullOrEmpty) is not null) throw new ArgumentException("A key cannot be empty.", nameof(keys));
        var encoded = new List<(string Key, StoredValue Value)>(items.Count);
        for (var i = 0; i < items.Count; i++)
        {
            var value = _scatterCodec.EncodeValue(items[i], items[i]?.GetType().FullName ?? "null");
            encoded.Add((named?[i] ?? ContentKey<T>(value), value));
        }
        var result = new List<RemoteData<T>>(items.Count);
        foreach (var batch in Batches(encoded))
            result.AddRange(await ScatterBatchAsync<T>(batch, broadcast, cancellation).ConfigureAwait(false));
        return result;
    }

    /// <summary>
    /// Puts local values on the workers without a task per value; the blocking form of
    /// <see cref="ScatterAsync{T}(IEnumerable{T}, bool, IEnumerable{string}?, CancellationToken)"/>.
    /// </summary>
    /// <param name="values">The values, each stored on one worker (or on every worker with <paramref name="broadcast"/>).</param>
    /// <param name="broadcast">Put a copy of each value on every worker.</param>
    /// <param name="keys">One key per value; by default a hash of its bytes.</param>
    /// <returns>One finished <see cref="RemoteData{T}"/> per value, in order.</returns>
    /// <example>
    /// <code>
    /// var xs = pool.Scatter(Enumerable.Range(0, 100));   // 100 RemoteData&lt;int&gt;, spread over the workers
    /// var squares = pool.Map(x => x * x, xs);             // computed where each x lives
    /// </code>
    /// </example>
    public List<RemoteData<T>> Scatter<T>(IEnumerable<T> values, bool broadcast = false, IEnumerable<string>? keys = null) =>
        ScatterAsync(values, broadcast, keys).GetAwaiter().GetResult();

    /// <summary>
    /// Puts one local value on the workers (Ray's <c>ray.put</c>): on the worker holding the fewest bytes,
    /// or with <paramref name="broadcast"/> on every worker. A collection is one value here; use
    /// <see cref="Scatter{T}"/> to spread its items.
    /// </summary>
    /// <param name="value">The value.</param>
    /// <param name="broadcast">Put a copy on every worker.</param>
    /// <param name="key">The key to store it under; by default a hash of its bytes.</param>
    /// <returns>Its finished <see cref="RemoteData{T}"/>.</returns>
    /// <example>
    /// <code>
    /// var weights = pool.Put(new double[1_000_000], broadcast: true);       // ray.put(weights)
    /// var scores = pool.Map((int i) => i, Enumerable.Range(0, 4));
    /// var total = pool.Apply((double[] w, int n) => w.Length + n, weights, 1);
    /// </code>
    /// </example>
    public RemoteData<T> Put<T>(T value, bool broadcast = false, string? key = null) =>
        PutAsync(value, broadcast, key).GetAwaiter().GetResult();

    /// <summary>Puts one local value on the workers (Ray's <c>ray.put</c>); see <see cref="Put{T}"/>.</summary>
    /// <param name="value">The value.</param>
    /// <param name="broadcast">Put a copy on every worker.</param>
    /// <param name="key">The key to store it under; by default a hash of its bytes.</param>
    /// <param name="cancellation">Cancels the wait.</param>
    /// <returns>Its finished <see cref="RemoteData{T}"/>.</returns>
    /// <example>
    /// <code>
    /// var model = await pool.PutAsync(trainedModel, key: "model-v2");
    /// var predictions = pool.Map((int row) => row * 2, Enumerable.Range(0, 10));
    /// </code>
    /// </example>
    public async Task<RemoteData<T>> PutAsync<T>(T value, bool broadcast = false, string? key = null, CancellationToken cancellation = default) =>
        (await ScatterAsync([value], broadcast, key is null ? null : [key], cancellation).ConfigureAwait(false))[0];

    /// <summary>The key of a scattered value by default: a hash of its type and bytes, salted per pool (two clients never share keys).</summary>
    private string ContentKey<T>(StoredValue value)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        hash.AppendData(_pureSalt);
        hash.AppendData(System.Text.Encoding.UTF8.GetBytes(value.TypeName));
        hash.AppendData(BitConverter.GetBytes(value.Length));
        foreach (var chunk in value.Chunks) hash.AppendData(chunk.Span);
        var name = new string(typeof(T).Name.Where(char.IsLetterOrDigit).ToArray()).ToLowerInvariant();
        return $"{(name.Length == 0 ? "value" : name)}-{Convert.ToHexStringLower(hash.GetHashAndReset().AsSpan(0, 16))}";
    }

    private static IEnumerable<List<(string Key, StoredValue Value)>> Batches(List<(string Key, StoredValue Value)> encoded)
    {
        var batch = new List<(string Key, StoredValue Value)>();
        var nameBytes = 0L;
        foreach (var item in encoded)
        {
            var bytes = (long)System.Text.Encoding.UTF8.GetByteCount(item.Key) + System.Text.Encoding.UTF8.GetByteCount(item.Value.TypeName) + 16;
            if (batch.Count > 0 && (batch.Count >= ScatterBatchValues || nameBytes + bytes > ScatterBatchNameBytes))
            {
                yield return batch;
                batch = [];
                nameBytes = 0;
            }
            batch.Add(item);
            nameBytes += bytes;
        }
        if (batch.Count > 0) yield return batch;
    }

    private async Task<List<RemoteData<T>>> ScatterBatchAsync<T>(List<(string Key, StoredValue Value)> batch, bool broadcast, CancellationToken cancellation)
    {
        // A key this pool dropped (collected) but has not released yet is its own again, not released under the new RemoteData.
        foreach (var (key, _) in batch) _keys.Reclaim(key);
        var alreadyHeld = batch.Select(b => b.Key).Where(k => _keys.Holders(k) > 0).ToHashSet(StringComparer.Ordinal);
        var stored = batch.Select(b => new StoredKey(b.Key, b.Value.Length, b.Value.TypeName)).ToList();
        var plan = await _center.AskAsync<ScatterPlan>(new ScatterKeys(stored, broadcast), CenterConnection.DefaultTimeout, cancellation).ConfigureAwait(false);
        var byKey = new Dictionary<string, StoredValue>(StringComparer.Ordinal);
        foreach (var (key, value) in batch) byKey.TryAdd(key, value);
        var errors = new List<string>();
        if (plan.Refused is { Count: > 0 } refused) errors.AddRange(refused.Select(r => r.Value));
        var puts = plan.Targets.Select(async target =>
        {
            var values = target.Keys.Where(byKey.ContainsKey).Select(k => new KeyValuePair<string, StoredValue>(k, byKey[k])).ToList();
            try
            {
                return await _fetcher.Data.PutAsync(target.Worker.Data, target.ScatterId, values, cancellation).ConfigureAwait(false) is { } refusal
                    ? $"Worker {target.Worker.Name} refused the values put on it: {refusal}."
                    : null;
            }
            catch (Exception e) when (e is IOException or System.Net.Sockets.SocketException)
            {
                return $"The values could not be put on worker {target.Worker.Name}: {e.Message}";
            }
        }).ToList();
        errors.AddRange((await Task.WhenAll(puts).ConfigureAwait(false)).OfType<string>());
        var accepted = stored.Select(s => s.Key).Where(k => plan.Refused?.ContainsKey(k) != true).Distinct(StringComparer.Ordinal).ToList();
        // The center answers once each put is recorded (or its worker left): only then may a task read them.
        var recorded = await _center.AskAsync<ScatterStored>(new AwaitScattered(accepted), Timeout.InfiniteTimeSpan, cancellation).ConfigureAwait(false);
        if (recorded.Missing is { Count: > 0 } missing) errors.AddRange(missing.Values);
        if (errors.Count > 0)
        {
            // The keys this call made this pool's (and that no RemoteData of it held before) are let go again.
            var made = accepted.Where(k => !alreadyHeld.Contains(k)).ToList();
            if (made.Count > 0) _center.Release(made);
            throw new InvalidOperationException($"Scatter failed: {string.Join(" ", errors.Distinct().Take(5))}{(errors.Count > 5 ? $" (and {errors.Count - 5} more)" : "")}");
        }
        var where = plan.Targets.SelectMany(t => t.Keys.Select(k => (Key: k, t.Worker))).GroupBy(p => p.Key).ToDictionary(g => g.Key, g => g.First().Worker);
        var result = new List<RemoteData<T>>(batch.Count);
        foreach (var (key, value) in batch)
        {
            _keys.Keep(key);
            // Stored before (the same value again) on a worker this plan did not name: the fetch asks the center.
            var location = where.TryGetValue(key, out var worker) ? new DataLocation(worker.Name, worker.Data, value.Length, value.TypeName) : null;
            result.Add(new RemoteData<T>(this, key, location));
        }
        return result;
    }

    // ----- named datasets -----

    /// <summary>
    /// Publishes these values under <paramref name="name"/> for any client of this cluster to get
    /// (<see cref="GetDataset{T}"/>). The center keeps them while the dataset is published, even after this
    /// pool releases them or goes away; once unpublished (and held by no client) they are deleted.
    /// </summary>
    /// <param name="name">The dataset's name.</param>
    /// <param name="data">The values, this pool's own; pending futures are waited for first.</param>
    /// <param name="overwrite">Replace a dataset of that name; without it, an existing name is an error.</param>
    /// <param name="cancellation">Cancels the wait.</param>
    /// <exception cref="InvalidOperationException">The name is taken (and not <paramref name="overwrite"/>), or a value is not this pool's.</exception>
    /// <example>
    /// <code>
    /// var parts = pool.Scatter(chunks);
    /// await pool.PublishAsync("training-set", parts);   // dask: client.publish_dataset(training_set=parts)
    /// </code>
    /// </example>
    public async Task PublishAsync(string name, IEnumerable<IRemoteData> data, bool overwrite = false, CancellationToken cancellation = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        ArgumentNullException.ThrowIfNull(data);
        var items = data.ToList();
        foreach (var future in items.OfType<IPendingFuture>())
            await future.Completion.WaitAsync(cancellation).ConfigureAwait(false);
        var reply = await _center.AskAsync<DatasetReply>(new PublishDataset(name, items.Select(d => d.Key).ToList(), overwrite), CenterConnection.DefaultTimeout, cancellation).ConfigureAwait(false);
        if (reply.Error is { } error) throw new InvalidOperationException(error);
        GC.KeepAlive(items); // not collected (and released) before the center counted them as published
    }

    /// <summary>Publishes these values under <paramref name="name"/>; the blocking form of <see cref="PublishAsync"/>.</summary>
    /// <param name="name">The dataset's name; publishing a name that exists is an error.</param>
    /// <param name="data">The values, this pool's own.</param>
    /// <example>
    /// <code>
    /// pool.Publish("weights", pool.Put(weights));                 // dask: client.publish_dataset(weights=w)
    /// var again = otherPool.GetDataset&lt;double[]&gt;("weights")[0];
    /// </code>
    /// </example>
    public void Publish(string name, params IRemoteData[] data) => PublishAsync(name, data).GetAwaiter().GetResult();

    /// <summary>Publishes these values under <paramref name="name"/>, replacing a dataset of that name when <paramref name="overwrite"/>.</summary>
    /// <param name="name">The dataset's name.</param>
    /// <param name="data">The values, this pool's own.</param>
    /// <param name="overwrite">Replace a dataset of that name.</param>
    /// <example>
    /// <code>
    /// pool.Publish("latest", pool.Scatter(batch), overwrite: true);
    /// </code>
    /// </example>
    public void Publish(string name, IEnumerable<IRemoteData> data, bool overwrite = false) => PublishAsync(name, data, overwrite).GetAwaiter().GetResult();

    /// <summary>
    /// The values of the dataset <paramref name="name"/>, published by this or another client, as
    /// <see cref="RemoteData{T}"/> of this pool: readable, usable as task inputs, released like its own
    /// (which lets go of this pool's hold only: the dataset keeps them while published).
    /// </summary>
    /// <param name="name">The dataset's name.</param>
    /// <param name="cancellation">Cancels the wait.</param>
    /// <exception cref="KeyNotFoundException">No dataset has that name.</exception>
    /// <example>
    /// <code>
    /// var parts = await pool.GetDatasetAsync&lt;double[]&gt;("training-set");   // dask: client.get_dataset("training-set")
    /// var total = pool.Apply(ps => ps.Sum(p => p.Sum()), parts);
    /// </code>
    /// </example>
    public async Task<List<RemoteData<T>>> GetDatasetAsync<T>(string name, CancellationToken cancellation = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        var reply = await _center.AskAsync<DatasetReply>(new GetDataset(name), CenterConnection.DefaultTimeout, cancellation).ConfigureAwait(false);
        if (reply.Error is { } error) throw new KeyNotFoundException(error);
        return reply.Keys.Select(k =>
        {
            _keys.Keep(k.Key);
            return new RemoteData<T>(this, k.Key, null);
        }).ToList();
    }

    /// <summary>The values of the dataset <paramref name="name"/>; the blocking form of <see cref="GetDatasetAsync{T}"/>.</summary>
    /// <param name="name">The dataset's name.</param>
    /// <exception cref="KeyNotFoundException">No dataset has that name.</exception>
    /// <example>
    /// <code>
    /// var weights = pool.GetDataset&lt;double[]&gt;("weights")[0].Get();
    /// </code>
    /// </example>
    public List<RemoteData<T>> GetDataset<T>(string name) => GetDatasetAsync<T>(name).GetAwaiter().GetResult();

    /// <summary>
    /// Forgets the dataset <paramref name="name"/>; its values are deleted from the workers unless a
    /// client still holds them (as its own, or got from the dataset).
    /// </summary>
    /// <param name="name">The dataset's name.</param>
    /// <param name="cancellation">Cancels the wait.</param>
    /// <exception cref="KeyNotFoundException">No dataset has that name.</exception>
    /// <example>
    /// <code>
    /// await pool.UnpublishAsync("training-set");   // dask: client.unpublish_dataset("training-set")
    /// </code>
    /// </example>
    public async Task UnpublishAsync(string name, CancellationToken cancellation = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        var reply = await _center.AskAsync<DatasetReply>(new UnpublishDataset(name), CenterConnection.DefaultTimeout, cancellation).ConfigureAwait(false);
        if (reply.Error is { } error) throw new KeyNotFoundException(error);
    }

    /// <summary>Forgets the dataset <paramref name="name"/>; the blocking form of <see cref="UnpublishAsync"/>.</summary>
    /// <param name="name">The dataset's name.</param>
    /// <example>
    /// <code>
    /// pool.Unpublish("weights");
    /// </code>
    /// </example>
    public void Unpublish(string name) => UnpublishAsync(name).GetAwaiter().GetResult();

    /// <summary>The names of the published datasets, in ordinal order.</summary>
    /// <param name="cancellation">Cancels the wait.</param>
    /// <example>
    /// <code>
    /// foreach (var name in await pool.ListDatasetsAsync()) Console.WriteLine(name);   // dask: client.list_datasets()
    /// </code>
    /// </example>
    public async Task<IReadOnlyList<string>> ListDatasetsAsync(CancellationToken cancellation = default) =>
        (await _center.AskAsync<DatasetReply>(new ListDatasets(), CenterConnection.DefaultTimeout, cancellation).ConfigureAwait(false)).Names;

    /// <summary>The names of the published datasets; the blocking form of <see cref="ListDatasetsAsync"/>.</summary>
    /// <example>
    /// <code>
    /// if (!pool.ListDatasets().Contains("weights")) pool.Publish("weights", pool.Put(weights));
    /// </code>
    /// </example>
    public IReadOnlyList<string> ListDatasets() => ListDatasetsAsync().GetAwaiter().GetResult();
}
