using Distributed.Client;
using Distributed.Dask;

namespace Distributed;

/// <summary>
/// Task graphs computed on a cluster through a <see cref="Pool"/>: a graph compiled into tasks
/// (<see cref="GraphCompiler"/>) is submitted, its requested values gathered and the rest released.
/// </summary>
/// <example>
/// <code>
/// Func&lt;int, int&gt; inc = x => x + 1;
/// var graph = new Graph { ["x"] = 1, ["y"] = (inc, "x") };
/// var y = (int)pool.GetGraph(graph, "y")!; // 2
/// </code>
/// </example>
public static class PoolGraphs
{
    /// <summary>
    /// Computes <paramref name="keys"/> of a task graph on the cluster: the whole graph is sent at once
    /// (a task per task key, waiting at the center for its inputs), the requested values are gathered
    /// from the workers that hold them, and the graph's keys are then released. A task still running
    /// <paramref name="taskTimeout"/> after it started fails the whole <c>Get</c> with <see cref="TaskTimeoutException"/>.
    /// </summary>
    /// <example>
    /// <code>
    /// Func&lt;int, int, int&gt; add = (a, b) => a + b;
    /// var graph = new Graph { ["a"] = 1, ["b"] = 2, ["sum"] = (add, "a", "b") };
    /// var values = (List&lt;object?&gt;)pool.GetGraph(graph, new[] { "a", "sum" }, taskTimeout: TimeSpan.FromMinutes(5))!; // [1, 3]
    /// </code>
    /// </example>
    public static object? GetGraph(this Pool pool, Graph graph, object keys, TimeSpan? taskTimeout = null) =>
        pool.GetGraphAsync(graph, keys, taskTimeout: taskTimeout).GetAwaiter().GetResult();

    /// <summary>Like <see cref="GetGraph"/>, returning at once; cancelling drops the graph's queued tasks and frees its results.</summary>
    /// <remarks>
    /// <paramref name="progress"/> hears how far the graph's tasks (intermediates included) have come, about
    /// four times a second, from the center's count of this pool's tasks (another computation of the same
    /// pool running meanwhile counts in it too).
    /// </remarks>
    /// <example>
    /// <code>
    /// Func&lt;int[], int&gt; total = values => values.Sum();
    /// var graph = new Graph { ["data"] = new[] { 1, 2, 3 }, ["total"] = (total, "data") };
    /// var result = (int)(await pool.GetGraphAsync(graph, "total", cancellation))!; // 6
    /// </code>
    /// </example>
    public static async Task<object?> GetGraphAsync(this Pool pool, Graph graph, object keys, CancellationToken cancellation = default, TimeSpan? taskTimeout = null,
        IProgress<ComputationProgress>? progress = null)
    {
        var timeoutMs = Pool.TaskTimeoutMilliseconds(taskTimeout, nameof(taskTimeout));
        var requested = Scheduler.Flatten(keys);
        var submission = pool.CompileGraph(graph, requested, timeoutMs);
        var values = new Dictionary<string, object?>(StringComparer.Ordinal);
        try
        {
            var kept = await RunGraphAsync(pool, submission, cancellation, progress).ConfigureAwait(false);
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
    /// <example>
    /// <code>
    /// Func&lt;int, int[]&gt; load = n => Enumerable.Range(0, n).ToArray();
    /// var graph = new Graph { ["data"] = (load, 1_000) };
    /// var data = (RemoteData&lt;object&gt;)pool.PersistGraph(graph, ["data"])[0]!; // stays on a worker
    /// </code>
    /// </example>
    public static IReadOnlyList<object?> PersistGraph(this Pool pool, Graph graph, IReadOnlyList<string> keys, TimeSpan? taskTimeout = null) =>
        pool.PersistGraphAsync(graph, keys, taskTimeout: taskTimeout).GetAwaiter().GetResult();

    /// <summary>Like <see cref="PersistGraph"/>, returning at once.</summary>
    /// <example>
    /// <code>
    /// Func&lt;int, double[]&gt; noise = n => new double[n];
    /// var graph = new Graph { ["noise"] = (noise, 1 &lt;&lt; 20) };
    /// var kept = await pool.PersistGraphAsync(graph, ["noise"], cancellation);
    /// pool.Release([(RemoteData&lt;object&gt;)kept[0]!]);
    /// </code>
    /// </example>
    public static async Task<IReadOnlyList<object?>> PersistGraphAsync(this Pool pool, Graph graph, IReadOnlyList<string> keys, CancellationToken cancellation = default,
        TimeSpan? taskTimeout = null, IProgress<ComputationProgress>? progress = null)
    {
        var submission = pool.CompileGraph(graph, keys, Pool.TaskTimeoutMilliseconds(taskTimeout, nameof(taskTimeout)));
        var persisted = new Dictionary<string, object?>(StringComparer.Ordinal);
        var succeeded = false;
        try
        {
            var kept = await RunGraphAsync(pool, submission, cancellation, progress).ConfigureAwait(false);
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

    /// <summary>
    /// Submits the tasks that compute <paramref name="keys"/> of a task graph and returns at once, in the
    /// order of <paramref name="keys"/>: a pending <see cref="RemoteData{T}"/> (a future) per task key, kept
    /// on the cluster once computed (dask's <c>client.persist</c>); a literal of the graph as itself, an
    /// alias what it names. A failure shows when a future is awaited or read, or in what depends on it.
    /// </summary>
    /// <example>
    /// <code>
    /// var graph = new Graph { ["x"] = 21, ["total"] = ((Func&lt;int, int&gt;)(x => x * 2), "x") };
    /// var futures = pool.SubmitGraph(graph, ["total"]);
    /// var total = await (RemoteData&lt;object&gt;)futures[0]!;
    /// </code>
    /// </example>
    public static IReadOnlyList<object?> SubmitGraph(this Pool pool, Graph graph, IReadOnlyList<string> keys, TimeSpan? taskTimeout = null) =>
        SubmitGraph(pool, graph, keys, new TaskOptions { Timeout = taskTimeout });

    /// <summary>
    /// <see cref="SubmitGraph(Pool, Graph, IReadOnlyList{string}, TimeSpan?)"/> with every task of the graph
    /// run as <paramref name="options"/> say: <see cref="TaskOptions.Timeout"/>, and where it may run
    /// (<see cref="TaskOptions.Workers"/>, <see cref="TaskOptions.Resources"/>, as dask's
    /// <c>client.compute(..., workers=, resources=)</c>). A graph's keys are its own: <c>Key</c> and <c>Pure</c> are refused.
    /// </summary>
    /// <example>
    /// <code>
    /// var futures = pool.SubmitGraph(graph, ["total"], new TaskOptions { Resources = new Dictionary&lt;string, double&gt; { ["GPU"] = 1 } });
    /// </code>
    /// </example>
    public static IReadOnlyList<object?> SubmitGraph(this Pool pool, Graph graph, IReadOnlyList<string> keys, TaskOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (options.Key is not null || options.Pure) throw new ArgumentException("A graph's tasks are named by the graph's keys: TaskOptions.Key and Pure do not apply.", nameof(options));
        var submission = pool.CompileGraph(graph, keys, Pool.TaskTimeoutMilliseconds(options.Timeout, nameof(options)));
        if (options.Restrictions is { } restrictions)
            for (var i = 0; i < submission.Tasks.Count; i++) submission.Tasks[i] = submission.Tasks[i] with { Restrictions = restrictions };
        var futures = submission.Tasks.Count == 0 ? [] : pool.SubmitGraphFutures(submission);
        object? Resolve(string key) => futures.TryGetValue(submission.ClusterKeyOf(key), out var future) && submission.Graph.Nodes[key] is TaskNode
            ? future
            : submission.Graph.Nodes[key] switch
            {
                KeyRef alias => Resolve(alias.Key),
                var literal => LocalEvaluation.Evaluate(literal, Resolve),
            };
        return keys.Select(Resolve).ToList();
    }

    private static async Task<List<RemoteData<object>>> RunGraphAsync(Pool pool, CompiledGraph submission, CancellationToken cancellation,
        IProgress<ComputationProgress>? progress)
    {
        if (submission.Tasks.Count == 0) return [];
        using var stopPolling = CancellationTokenSource.CreateLinkedTokenSource(cancellation);
        var polling = progress is null ? Task.CompletedTask : PollProgressAsync(pool, submission.Tasks.Count, progress, stopPolling.Token);
        List<RemoteData<object>> done;
        try
        {
            done = await pool.SubmitAsync<object>(submission.Code!, submission.Functions, submission.Tasks, cancellation, submission.GraphKeyOf).ConfigureAwait(false);
        }
        finally
        {
            await stopPolling.CancelAsync().ConfigureAwait(false);
            await polling.ConfigureAwait(false);
        }
        progress?.Report(new ComputationProgress(submission.Tasks.Count, submission.Tasks.Count, 0, done.Sum(d => d.Size ?? 0)));
        var byKey = done.ToDictionary(d => d.Key);
        return submission.Wanted.Select(k => byKey[submission.ClusterKeyOf(k)]).ToList();
    }

    /// <summary>
    /// A graph's intermediates end at the center, which tells the client nothing of them: how far the graph
    /// has come is read from the center's count of this pool's tasks, from a baseline taken first.
    /// </summary>
    private static async Task PollProgressAsync(Pool pool, int total, IProgress<ComputationProgress> progress, CancellationToken stop)
    {
        try
        {
            var baseline = (await pool.ProgressAsync(stop).ConfigureAwait(false)).Mine;
            if (baseline is null) return;
            var last = (Done: -1L, Failed: -1L);
            while (!stop.IsCancellationRequested)
            {
                await Task.Delay(ProgressInterval, stop).ConfigureAwait(false);
                if ((await pool.ProgressAsync(stop).ConfigureAwait(false)).Mine is not { } now) return;
                var counts = (Done: Math.Min(total, now.Finished - baseline.Finished), Failed: Math.Min(total, now.Failed - baseline.Failed));
                if (counts == last) continue;
                last = counts;
                progress.Report(new ComputationProgress(total, (int)counts.Done, (int)counts.Failed, now.ResultBytes - baseline.ResultBytes));
            }
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
        }
        catch (Exception e) when (e is CenterRestartedException or TimeoutException or Akka.Actor.AskTimeoutException)
        {
            // Progress is advice: the computation itself says what went wrong with the center.
        }
    }

    /// <summary>How often a graph's progress is read from the center.</summary>
    private static readonly TimeSpan ProgressInterval = TimeSpan.FromMilliseconds(250);
}
