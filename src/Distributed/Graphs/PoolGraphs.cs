using Akka.Actor;
using System.Security.Cryptography;
using Distributed.Dask;
using Distributed.Protocol;
using Distributed.Serialization;

namespace Distributed;

public sealed partial class Pool
{
    /// <summary>
    /// Computes <paramref name="keys"/> of a task graph on the cluster: the whole graph is sent at once
    /// (a task per task key, waiting at the center for its inputs), the requested values are gathered
    /// from the workers that hold them, and the graph's keys are then released.
    /// </summary>
    public object? GetGraph(Graph graph, object keys) => GetGraphAsync(graph, keys).GetAwaiter().GetResult();

    /// <summary>Like <see cref="GetGraph"/>, returning at once.</summary>
    public async Task<object?> GetGraphAsync(Graph graph, object keys, CancellationToken cancellation = default)
    {
        var requested = Scheduler.Flatten(keys);
        var normalized = NormalizedGraph.From(graph, requested);
        var token = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(6));
        string ClusterKey(string key) => $"{key}@{token}";

        var functions = new Dictionary<string, FunctionSpec>();
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
            var function = EncodeFunction(new DynamicFunction(Track(task.Function)), key);
            functions.TryAdd(function.FunctionId, function);
            tasks.Add(new TaskSpec(ClusterKey(key), function.FunctionId, ArgumentsKind.Template, EncodeArgument(template, key), dependencies, Priority: position));
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

        var values = new Dictionary<string, object?>(StringComparer.Ordinal);
        try
        {
            if (tasks.Count > 0)
            {
                var code = _code.ManifestFor(types);
                var done = await SubmitAsync<object>(code, functions.Values.ToList(), tasks, cancellation, key => key[..key.LastIndexOf('@')]).ConfigureAwait(false);
                var byKey = done.ToDictionary(d => d.Key);
                var gathered = await GatherAsync(wanted.Select(k => byKey[ClusterKey(k)]), cancellation).ConfigureAwait(false);
                for (var i = 0; i < wanted.Count; i++) values[wanted[i]] = gathered[i];
            }
        }
        finally
        {
            if (tasks.Count > 0) _connection.Center.Tell(new ReleaseKeys(tasks.Select(t => t.Key).ToList()));
        }
        // Literals and aliases are evaluated here, from the gathered task values.
        object? Lookup(string key) => values.TryGetValue(key, out var value) ? value : LocalEvaluation.Evaluate(normalized.Nodes[key], Lookup);
        foreach (var key in requested.Distinct().Where(k => normalized.Nodes[k] is not TaskNode))
            values[key] = Lookup(key);
        return Scheduler.Shape(keys, values);
    }
}
