using Distributed.Data;
using Distributed.Protocol;
using Distributed.Data.Serialization;

namespace Distributed.Client;

/// <summary>
/// Brings values here straight from the workers that hold them, over the data channel: from the
/// worker that made each when it still has it, else from the holders the center names, waiting for a
/// value lost with a worker to be made again.
/// </summary>
internal sealed class ResultFetcher(CenterConnection center, ValueCodec codec, Protocol.Security.ClusterCredentials? credentials) : IDisposable
{
    /// <summary>How long a gather waits for a value lost with a worker to be made again.</summary>
    private static readonly TimeSpan RemakeTimeout = TimeSpan.FromMinutes(10);

    /// <summary>Fetches of one value before giving up; with the back-off between them, about 30 s.</summary>
    private const int MaxFetchAttempts = 60;

    private readonly DataClient _data = new(PeerKind.Client, null, credentials);

    /// <summary>The pool's data-channel client (its connections are reused by scatters' puts too).</summary>
    public DataClient Data => _data;

    /// <summary>
    /// The values, in order. The synchronous form reads the sockets on the caller's thread: a blocking
    /// caller already waits, and handing the read to the thread pool would only add a hop (and a blocked pool thread).
    /// </summary>
    public async Task<List<T>> GatherAsync<T>(IEnumerable<RemoteData<T>> data, bool synchronous, CancellationToken cancellation)
    {
        var items = data.ToList();
        // A future's value is fetched once it exists; a failed or cancelled one throws why.
        foreach (var item in items)
            if (item.Status != FutureStatus.Finished) await item.Completion.WaitAsync(cancellation).ConfigureAwait(false);
        var values = new StoredValue?[items.Count];
        var inline = 0;
        for (var i = 0; i < items.Count; i++)
            if (items[i].Inline is { } value)
            {
                values[i] = value;
                inline++;
            }
        // Small results run directly came with their answer: only the others are fetched.
        if (inline < items.Count)
            await FetchAsync(items.Select(i => (i.Key, i.Inline is null ? i.Location?.Data : null)).ToList(), values, synchronous, cancellation).ConfigureAwait(false);
        var missing = Enumerable.Range(0, items.Count).Where(i => values[i] is null).ToList();
        for (var attempt = 0; missing.Count > 0; attempt++)
        {
            // The worker we knew of no longer has it (or we never knew): ask the center who does. A
            // value whose only copy died is answered once it has been made again; a holder that has
            // just died may still be named until the center notices, so a failed fetch asks again.
            var reply = await center.AskAsync<WhoHasReply>(new WhoHas(missing.Select(i => items[i].Key).ToList()), RemakeTimeout, cancellation).ConfigureAwait(false);
            var retry = new List<(string Key, DataEndpoint? From)>(missing.Count);
            foreach (var i in missing)
            {
                var holders = reply.Holders.GetValueOrDefault(items[i].Key) ?? [];
                if (holders.Count == 0 && reply.Lost?.GetValueOrDefault(items[i].Key) is { } why) throw new DataLostException(items[i].Key, why);
                if (holders.Count == 0) throw new DataLostException(items[i].Key, $"The value of {items[i].Key} is no longer on the cluster (it was released, or lost with a worker while the center was down).");
                retry.Add((items[i].Key, holders[attempt % holders.Count].Data));
            }
            var retried = new StoredValue?[retry.Count];
            await FetchAsync(retry, retried, synchronous, cancellation).ConfigureAwait(false);
            for (var j = 0; j < missing.Count; j++) values[missing[j]] = retried[j];
            missing = missing.Where(i => values[i] is null).ToList();
            if (missing.Count == 0) break;
            if (attempt >= MaxFetchAttempts)
                throw new DataLostException(items[missing[0]].Key, $"The value of {items[missing[0]].Key} could not be fetched from its holders {MaxFetchAttempts} times.");
            await Task.Delay(TimeSpan.FromMilliseconds(Math.Min(500, 50 * (attempt + 1))), cancellation).ConfigureAwait(false);
        }
        var result = new List<T>(items.Count);
        for (var i = 0; i < items.Count; i++)
        {
            var value = codec.Decode(values[i]!);
            result.Add(value is null ? default! : (T)value);
        }
        return result;
    }

    private async Task FetchAsync(IReadOnlyList<(string Key, DataEndpoint? From)> wanted, StoredValue?[] into, bool synchronous, CancellationToken cancellation)
    {
        var groups = wanted.Select((w, i) => (w.Key, w.From, Index: i))
            .Where(w => w.From is not null)
            .GroupBy(w => w.From!)
            .ToList();
        void FetchGroup(IGrouping<DataEndpoint, (string Key, DataEndpoint? From, int Index)> group)
        {
            var list = group.ToList();
            try
            {
                var fetched = _data.Get(group.Key, list.Select(w => w.Key).ToList());
                for (var j = 0; j < list.Count; j++) into[list[j].Index] = fetched[j];
            }
            catch (Exception e) when (e is IOException or System.Net.Sockets.SocketException)
            {
                // that worker is unreachable; the caller asks the center for other holders
            }
        }
        if (synchronous && groups.Count == 1)
        {
            FetchGroup(groups[0]);
            return;
        }
        await Task.WhenAll(groups.Select(g => Task.Factory.StartNew(() => FetchGroup(g), cancellation,
            TaskCreationOptions.LongRunning, TaskScheduler.Default))).ConfigureAwait(false);
    }

    /// <summary>Bytes each of these workers moved over its data channel, read from the workers themselves.</summary>
    public async Task<IReadOnlyDictionary<string, WorkerTransferStats>> TransferStatsAsync(IReadOnlyList<WorkerInfo> workers, CancellationToken cancellation)
    {
        var stats = await Task.WhenAll(workers.Select(w => _data.StatsAsync(w.Data, cancellation))).ConfigureAwait(false);
        return workers.Select((w, i) => (w.Name, Stats: stats[i])).ToDictionary(p => p.Name, p => p.Stats);
    }

    /// <inheritdoc />
    public void Dispose() => _data.Dispose();
}
