using System.Security.Cryptography;
using Distributed.Dask;
using Distributed.Protocol;
using Distributed.Data.Serialization;

namespace Distributed;

/// <summary>
/// Task graphs computed on a cluster through a <see cref="Pool"/>: graph compilation (keys made unique
/// per run, templates, priorities, release counts) on top of the pool's submission and fetching, so
/// that the pool knows nothing of graphs.
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
        var submission = PrepareGraph(pool, graph, requested, timeoutMs);
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
        var submission = PrepareGraph(pool, graph, keys, Pool.TaskTimeoutMilliseconds(taskTimeout, nameof(taskTimeout)));
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

    /// <summary>A graph ready to submit: its tasks, and the task keys whose values the caller keeps.</summary>
    private sealed record GraphSubmission(
        NormalizedGraph Graph, CodeManifest? Code, List<FunctionSpec> Functions, List<TaskSpec> Tasks,
        List<string> Wanted, HashSet<string> KeptClusterKeys, string Token)
    {
        /// <summary>The graph's key of a cluster key (for error messages).</summary>
        public string GraphKeyOf(string clusterKey) => clusterKey.EndsWith(Token, StringComparison.Ordinal) ? clusterKey[..^Token.Length] : clusterKey;
    }

    private static async Task<List<RemoteData<object>>> RunGraphAsync(Pool pool, GraphSubmission submission, CancellationToken cancellation)
    {
        if (submission.Tasks.Count == 0) return [];
        var done = await pool.SubmitAsync<object>(submission.Code!, submission.Functions, submission.Tasks, cancellation, submission.GraphKeyOf).ConfigureAwait(false);
        var byKey = done.ToDictionary(d => d.Key);
        return submission.Wanted.Select(k => byKey[k + submission.Token]).ToList();
    }

    private static GraphSubmission PrepareGraph(Pool pool, Graph graph, IReadOnlyList<string> requested, long timeoutMs)
    {
        var normalized = NormalizedGraph.From(graph, requested);
        var token = "@" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(6));
        string ClusterKey(string key) => key + token;

        var functions = new Dictionary<string, FunctionSpec>();
        var encoded = new Dictionary<Delegate, FunctionSpec>(ReferenceEqualityComparer.Instance);
        var tasks = new List<TaskSpec>();
        var types = new HashSet<Type>(); // every task of a graph may name the same few types
        // The depth-first order that computes each key right after its inputs is also the priority:
        // the center runs ready tasks lowest first, finishing branches before starting new ones.
        var order = normalized.Order(requested);
        for (var position = 0; position < order.Count; position++)
        {
            var key = order[position];
            if (normalized.Nodes[key] is not TaskNode task) continue;
            var dependencies = new List<string>();
            object? Template(object? node) => node switch
            {
                KeyRef reference => normalized.Nodes[reference.Key] switch
                {
                    TaskNode => new DependencyPlaceholder(Index(ClusterKey(reference.Key))),
                    IRemoteData remote => new DependencyPlaceholder(Index(remote.Key)),
                    var literal => Template(literal), // literals travel inside the tasks that use them
                },
                TaskNode inner => new InlineTaskPlaceholder(Track(inner.Function), inner.Arguments.Select(Template).ToArray()),
                ListArgument list => new ListPlaceholder(typeof(object).AssemblyQualifiedName!, list.Items.Select(Template).ToArray()),
                IRemoteData remote => new DependencyPlaceholder(Index(remote.Key)),
                // A delegate or a value of the program's own types passed as an argument needs its
                // code on the workers as much as the task's function does.
                Delegate function => Track(function),
                not null when types.Add(node.GetType()) => node,
                _ => node,
            };
            int Index(string dependency)
            {
                var at = dependencies.IndexOf(dependency);
                if (at >= 0) return at;
                dependencies.Add(dependency);
                return dependencies.Count - 1;
            }
            Delegate Track(Delegate function)
            {
                types.UnionWith(Client.CodeShipping.TypesOf(function));
                return function;
            }
            var template = task.Arguments.Select(Template).ToArray();
            if (!encoded.TryGetValue(task.Function, out var function))
            {
                function = pool.EncodeFunction(new DynamicFunction(Track(task.Function)), key);
                encoded[task.Function] = function;
                functions.TryAdd(function.FunctionId, function);
            }
            // Most graph tasks read their inputs in order, e.g. (add, "x", "y"), or take one literal,
            // e.g. (load, 3): those need no template to encode and resolve.
            var (kind, arguments) = template switch
            {
                _ when template.Length == dependencies.Count && template.Select((t, i) => t is DependencyPlaceholder d && d.Index == i).All(x => x)
                    => (ArgumentsKind.Dependencies, Array.Empty<byte>()),
                [var single] when dependencies.Count == 0 && single is not (ListPlaceholder or InlineTaskPlaceholder)
                    => (ArgumentsKind.SingleValue, pool.EncodeArgument(single, key)),
                _ => (ArgumentsKind.Template, pool.EncodeArgument(template, key)),
            };
            tasks.Add(new TaskSpec(ClusterKey(key), function.FunctionId, kind, arguments, dependencies, Priority: position, TimeoutMs: timeoutMs));
        }

        // An intermediate is deleted by the center as soon as every task that reads it has run; the
        // requested keys stay until gathered.
        var readers = tasks.SelectMany(t => t.Dependencies.Distinct()).GroupBy(k => k).ToDictionary(g => g.Key, g => g.Count());
        // The task keys whose values come back: the requested ones, and those an alias or literal
        // requested key refers to.
        var wanted = new List<string>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        void Want(string key)
        {
            if (!seen.Add(key)) return;
            if (normalized.Nodes[key] is TaskNode) wanted.Add(key);
            else foreach (var referenced in normalized.Dependencies[key]) Want(referenced);
        }
        foreach (var key in requested) Want(key);
        var kept = wanted.Select(ClusterKey).ToHashSet();
        tasks = tasks.Select(t => kept.Contains(t.Key) ? t : t with { ReleaseAfterConsumers = readers.GetValueOrDefault(t.Key) }).ToList();
        var code = tasks.Count > 0 ? pool.ManifestFor(types) : null;
        return new GraphSubmission(normalized, code, functions.Values.ToList(), tasks, wanted, kept, token);
    }
}
