using System.Security.Cryptography;
using Distributed.Dask;
using Distributed.Protocol;
using Distributed.Data.Serialization;

namespace Distributed.Client;

/// <summary>A graph ready to submit: its tasks, and the task keys whose values the caller keeps.</summary>
internal sealed record CompiledGraph(
    NormalizedGraph Graph, CodeManifest? Code, List<FunctionSpec> Functions, List<TaskSpec> Tasks,
    List<string> Wanted, HashSet<string> KeptClusterKeys, string Token)
{
    /// <summary>The graph's key of a cluster key (for error messages).</summary>
    public string GraphKeyOf(string clusterKey) => clusterKey.EndsWith(Token, StringComparison.Ordinal) ? clusterKey[..^Token.Length] : clusterKey;

    /// <summary>The cluster key of a graph's task key.</summary>
    public string ClusterKeyOf(string graphKey) => graphKey + Token;
}

/// <summary>
/// Compiles a task graph into a pool's tasks: keys made unique per run, arguments templated as Map's
/// and Apply's are (<see cref="TaskTemplating"/>), priorities, and release counts for intermediates.
/// </summary>
internal sealed class GraphCompiler(TaskEncoder encoder)
{
    /// <summary>The tasks that compute <paramref name="requested"/> of <paramref name="graph"/>, each bounded by <paramref name="timeoutMs"/> (0: none).</summary>
    public CompiledGraph Compile(Graph graph, IReadOnlyList<string> requested, long timeoutMs)
    {
        var normalized = NormalizedGraph.From(graph, requested);
        var token = "@" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(6));
        string ClusterKey(string key) => key + token;

        var templating = new TaskTemplating(encoder, normalized, ClusterKey);
        var functions = new Dictionary<string, FunctionSpec>();
        var encoded = new Dictionary<Delegate, FunctionSpec>(ReferenceEqualityComparer.Instance);
        var tasks = new List<TaskSpec>();
        // The depth-first order that computes each key right after its inputs is also the priority:
        // the center runs ready tasks lowest first, finishing branches before starting new ones.
        var order = normalized.Order(requested);
        for (var position = 0; position < order.Count; position++)
        {
            var key = order[position];
            if (normalized.Nodes[key] is not TaskNode task) continue;
            var template = templating.Template(task.Arguments);
            if (!encoded.TryGetValue(task.Function, out var function))
            {
                function = encoder.EncodeFunction(new DynamicFunction(templating.Track(task.Function)), key);
                encoded[task.Function] = function;
                functions.TryAdd(function.FunctionId, function);
            }
            tasks.Add(templating.Task(ClusterKey(key), function, template, priority: position, timeoutMs: timeoutMs, name: key));
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
        var code = tasks.Count > 0 ? encoder.ManifestFor(templating.Types) : null;
        return new CompiledGraph(normalized, code, functions.Values.ToList(), tasks, wanted, kept, token);
    }
}
