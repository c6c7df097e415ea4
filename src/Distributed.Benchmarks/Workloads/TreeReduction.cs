using Distributed.Dask;

namespace Distributed.Benchmarks.Workloads;

/// <summary>
/// The graph of the graph workloads, the one dask's own examples use: leaves <c>(inc, i)</c> and
/// levels of pairwise <c>(add, a, b)</c> up to one root. Built with the same key names as the
/// dask side (<c>inc-i</c>, <c>add-level-j</c>), so both systems run the same graph.
/// </summary>
internal sealed class TreeReduction
{
    /// <summary>The leaf task; one instance, so every graph ships the same code.</summary>
    public static readonly Func<long, long> Increment = x => x + 1;

    /// <summary>The combining task.</summary>
    public static readonly Func<long, long, long> Add = (a, b) => a + b;

    private TreeReduction(Graph graph, string root, int leaves)
    {
        Graph = graph;
        Root = root;
        Leaves = leaves;
    }

    /// <summary>The graph.</summary>
    public Graph Graph { get; }

    /// <summary>The key of the root, the one key requested.</summary>
    public string Root { get; }

    /// <summary>Number of leaf tasks.</summary>
    public int Leaves { get; }

    /// <summary>Number of tasks: every pairwise add removes one value, so leaves − 1 adds.</summary>
    public int Tasks => 2 * Leaves - 1;

    /// <summary>The root's value: the sum of i + 1 over the leaves, in closed form.</summary>
    public long Expected => (long)Leaves * (Leaves + 1) / 2;

    /// <summary>
    /// The tree of about <paramref name="tasks"/> tasks: ⌈tasks/2⌉ leaves, so tasks − 1 tasks for an even count.
    /// <paramref name="leaf"/> replaces <see cref="Increment"/> at the leaves; it must compute i + 1 too.
    /// </summary>
    public static TreeReduction Build(int tasks, Func<long, long>? leaf = null)
    {
        var leaves = (tasks + 1) / 2;
        var graph = new Graph();
        var level = new List<string>(leaves);
        for (var i = 0; i < leaves; i++)
        {
            var key = $"inc-{i}";
            graph[key] = (leaf ?? Increment, (long)i);
            level.Add(key);
        }
        for (var depth = 1; level.Count > 1; depth++)
        {
            var next = new List<string>((level.Count + 1) / 2);
            for (var j = 0; j + 1 < level.Count; j += 2)
            {
                var key = $"add-{depth}-{j / 2}";
                graph[key] = (Add, level[j], level[j + 1]);
                next.Add(key);
            }
            // the odd one out joins the next level as it is, so every level pairs what it can
            if (level.Count % 2 == 1) next.Add(level[^1]);
            level = next;
        }
        return new TreeReduction(graph, level[0], leaves);
    }

    /// <summary>Throws unless <paramref name="value"/> is the root's value.</summary>
    public void Check(object? value, string scheduler)
    {
        if (value is not long sum || sum != Expected)
            throw new InvalidOperationException($"The tree reduction of {Tasks} tasks on {scheduler} gave {value ?? "null"}, expected {Expected}.");
    }
}
