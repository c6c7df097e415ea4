using Distributed.Client;
using Distributed.Dask;

namespace Distributed;

/// <summary>
/// Task graphs computed on a cluster through a <see cref="Pool"/>: a graph compiled into tasks
/// (<see cref="GraphCompiler"/>) is submitted, its requested values gathered and the rest released.
/// </summary>
public static class PoolGraphs
{
    /// <summary>
    /// Computes <paramref name="keys"/> of a task graph on the cluster: the whole graph is sent at once
    /// (a task per task key, waiting at the center for its inputs), the requested values are gathered
    /// from the workers that hold them, and the graph's keys are then released. A task still running
    /// <paramref name="taskTimeout"/> after it started fails the whole <c>Get</c> with <see cref="TaskTimeoutException"/>.
    /// </summary>
    public static object? GetGraph(this Pool pool, Graph graph, object keys, TimeSpan? taskTimeout = null) =>
        pool.GetGraphAsync(graph, keys, taskTimeout: taskTimeout).GetAwaiter().GetResult();

    /// <summary>Like <see cref="GetGraph"/>, returning at once; cancelling drops the graph's queued tasks and frees its results.</summary>
    public static async Task<object?> GetGraphAsync(this Pool pool, Graph graph, object keys, CancellationToken cancellation = default, TimeSpan? taskTimeout = null)
    {
        var timeoutMs = Pool.TaskTimeoutMilliseconds(taskTimeout, nameof(taskTimeout));
        var requested = Scheduler.Flatten(keys);
        var submission = pool.CompileGraph(graph, requested, timeoutMs);
        var values = new Dictionary<string, object?>(StringComparer.Ordinal);
        try
        {
            var kept = await RunGraphAsync(pool, submission, cancellation).ConfigureAwait(false);
            var gathered = await pool.GatherAsync(kept, cancellation).ConfigureAwait(false);
            for (var i = 0; i < submission.Wanted.Count; i++) values[submission.Wanted[i]] = gathered[i];
        }
        finally
        {
            if (submission.Tasks.Count > 0) pool.ReleaseOnCluster(submission.Tasks.Select(t => t.Key).ToList());
        }
        // Literals and aliases are evaluated here, from the gathered task values.
        object? Lookup(string key) => values.TryGetValue(key, out var value) ? value : LocalEvaluation.Evaluate(submission.Graph.Nodes[key], Lookup);
        foreach (var key in requested.Distinct().Where(k => submission.Graph.Nodes[k] is not TaskNode))
            values[key] = Lookup(key);
        return Scheduler.Shape(keys, values);
    }

    /// <summary>
    /// Computes <paramref name="keys"/> of a task graph on the cluster and keeps them there: a
    /// <see cref="RemoteData{T}"/> per task key (release them with <see cref="Pool.Release"/>); a key
    /// whose value is a literal of the graph gives that literal, an alias what it names.
    /// Everything else the graph computed is deleted.
    /// </summary>
    public static IReadOnlyList<object?> PersistGraph(this Pool pool, Graph graph, IReadOnlyList<string> keys, TimeSpan? taskTimeout = null) =>
        pool.PersistGraphAsync(graph, keys, taskTimeout: taskTimeout).GetAwaiter().GetResult();

    /// <summary>Like <see cref="PersistGraph"/>, returning at once.</summary>
    public static async Task<IReadOnlyList<object?>> PersistGraphAsync(this Pool pool, Graph graph, IReadOnlyList<string> keys, CancellationToken cancellation = default, TimeSpan? taskTimeout = null)
    {
        var submission = pool.CompileGraph(graph, keys, Pool.TaskTimeoutMilliseconds(taskTimeout, nameof(taskTimeout)));
        var persisted = new Dictionary<string, object?>(StringComparer.Ordinal);
        var succeeded = false;
        try
        {
            var kept = await RunGraphAsync(pool, submission, cancellation).ConfigureAwait(false);
            for (var i = 0; i < submission.Wanted.Count; i++) persisted[submission.Wanted[i]] = kept[i];
            succeeded = true;
        }
        finally
        {
            var released = submission.Tasks.Select(t => t.Key).Where(k => !succeeded || !submission.KeptClusterKeys.Contains(k)).ToList();
            if (released.Count > 0) pool.ReleaseOnCluster(released);
        }
        object? Resolve(string key) => persisted.TryGetValue(key, out var value) ? value : submission.Graph.Nodes[key] switch
        {
            KeyRef alias => Resolve(alias.Key),
            var literal => LocalEvaluation.Evaluate(literal, Resolve),
        };
        return keys.Select(Resolve).ToList();
    }

    private static async Task<List<RemoteData<object>>> RunGraphAsync(Pool pool, CompiledGraph submission, CancellationToken cancellation)
    {
        if (submission.Tasks.Count == 0) return [];
        var done = await pool.SubmitAsync<object>(submission.Code!, submission.Functions, submission.Tasks, cancellation, submission.GraphKeyOf).ConfigureAwait(false);
        var byKey = done.ToDictionary(d => d.Key);
        return submission.Wanted.Select(k => byKey[submission.ClusterKeyOf(k)]).ToList();
    }
}
