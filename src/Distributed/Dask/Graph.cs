using System.Collections;
using System.Runtime.CompilerServices;

namespace Distributed.Dask;

/// <summary>
/// A task graph in dask's convention: keys map to values. A value is a literal, or a task written as a
/// tuple whose first element is a delegate, <c>(inc, "a")</c>; an argument that is a string naming a key
/// of the graph is that key's value, a list or array argument is walked, and a tuple argument whose
/// first element is a delegate is a task run inline. <see cref="TaskNode"/> and <see cref="KeyRef"/>
/// are the explicit forms, for code that must not rely on string matching.
/// </summary>
/// <example>
/// <code>
/// Func&lt;int, int&gt; inc = x => x + 1;
/// Func&lt;int, int, int&gt; add = (x, y) => x + y;
/// var graph = new Graph { ["a"] = 1, ["b"] = (inc, "a"), ["c"] = (add, "a", "b") };
/// var c = Scheduler.Synchronous.Get(graph, "c"); // 3
/// </code>
/// </example>
public sealed class Graph : IEnumerable<KeyValuePair<string, object?>>
{
    private readonly Dictionary<string, object?> _values = new(StringComparer.Ordinal);

    /// <summary>The value or task stored under <paramref name="key"/>.</summary>
    /// <example>
    /// <code>
    /// var graph = new Graph();
    /// graph["x"] = 10;
    /// graph["y"] = ((Func&lt;int, int&gt;)(v => v * 2), "x");
    /// Console.WriteLine(graph["x"]); // 10
    /// </code>
    /// </example>
    public object? this[string key]
    {
        get => _values[key];
        set => _values[key] = value;
    }

    /// <summary>The keys of the graph.</summary>
    /// <example>
    /// <code>
    /// var graph = new Graph { ["a"] = 1, ["b"] = 2 };
    /// Console.WriteLine(string.Join(", ", graph.Keys)); // a, b
    /// </code>
    /// </example>
    public IEnumerable<string> Keys => _values.Keys;

    /// <summary>Number of keys.</summary>
    /// <example>
    /// <code>
    /// var graph = new Graph { ["a"] = 1, ["b"] = ((Func&lt;int, int&gt;)(x => -x), "a") };
    /// Console.WriteLine(graph.Count); // 2
    /// </code>
    /// </example>
    public int Count => _values.Count;

    /// <summary>Whether the graph has <paramref name="key"/>.</summary>
    /// <example>
    /// <code>
    /// var graph = new Graph { ["data"] = new[] { 1.0, 2.0 } };
    /// if (!graph.ContainsKey("total")) graph["total"] = ((Func&lt;double[], double&gt;)(v => v.Sum()), "data");
    /// </code>
    /// </example>
    public bool ContainsKey(string key) => _values.ContainsKey(key);

    /// <summary>Adds a key (for collection initializers: <c>{ "a", 1 }</c>).</summary>
    /// <example>
    /// <code>
    /// Func&lt;int, int&gt; square = x => x * x;
    /// var graph = new Graph { { "x", 4 }, { "y", (square, "x") } }; // the same as graph.Add("x", 4)...
    /// </code>
    /// </example>
    public void Add(string key, object? value) => _values.Add(key, value);

    /// <summary>Adds every key of <paramref name="other"/> (collections merge their graphs this way).</summary>
    /// <example>
    /// <code>
    /// var inputs = new Graph { ["x"] = 2 };
    /// var steps = new Graph { ["y"] = ((Func&lt;int, int&gt;)(x => x + 1), "x") };
    /// var graph = new Graph().Merge(inputs).Merge(steps);
    /// </code>
    /// </example>
    public Graph Merge(Graph other)
    {
        foreach (var (key, value) in other._values) _values[key] = value;
        return this;
    }

    /// <summary>The keys and their values or tasks, in no particular order.</summary>
    /// <example>
    /// <code>
    /// var graph = new Graph { ["a"] = 1, ["b"] = "a" };
    /// foreach (var (key, value) in graph) Console.WriteLine($"{key} = {value}");
    /// </code>
    /// </example>
    public IEnumerator<KeyValuePair<string, object?>> GetEnumerator() => _values.GetEnumerator();

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();
}

/// <summary>A task in explicit form: <see cref="Function"/> applied to <see cref="Arguments"/>.</summary>
/// <example>
/// <code>
/// Func&lt;string, int, string&gt; repeat = (text, times) => string.Concat(Enumerable.Repeat(text, times));
/// var graph = new Graph { ["word"] = new Quoted("ab"), ["line"] = new TaskNode(repeat, new KeyRef("word"), 3) };
/// var line = (string)Scheduler.Synchronous.Get(graph, "line")!; // "ababab"
/// </code>
/// </example>
/// <param name="Function">The delegate to call.</param>
/// <param name="Arguments">Its arguments: values, <see cref="KeyRef"/>s to other keys' values, nested tasks, lists of them.</param>
public sealed record TaskNode(Delegate Function, params object?[] Arguments);

/// <summary>An explicit reference to the value of another key.</summary>
/// <example>
/// <code>
/// var graph = new Graph { ["x"] = 5, ["neg"] = new TaskNode((Func&lt;int, int&gt;)(v => -v), new KeyRef("x")) };
/// Console.WriteLine(Scheduler.Threaded.Get(graph, "neg")); // -5
/// </code>
/// </example>
/// <param name="Key">The key whose value this stands for.</param>
public sealed record KeyRef(string Key);

/// <summary>
/// A literal taken as it is: never walked as a list, never read as a key name (dask's <c>quote</c>).
/// Collections wrap their data in it, so a list of strings stays a list of strings.
/// </summary>
/// <example>
/// <code>
/// var graph = new Graph { ["names"] = new Quoted(new List&lt;string&gt; { "a", "b" }), ["a"] = 1 };
/// var names = (List&lt;string&gt;)Scheduler.Synchronous.Get(graph, "names")!; // ["a", "b"], not the value of key "a"
/// </code>
/// </example>
/// <param name="Value">The literal, passed to tasks as it is.</param>
public sealed record Quoted(object? Value);

/// <summary>A graph that cannot run: a cycle, a missing key, an unknown requested key.</summary>
/// <example>
/// <code>
/// var graph = new Graph { ["a"] = ((Func&lt;int, int&gt;)(x => x), "b"), ["b"] = ((Func&lt;int, int&gt;)(x => x), "a") };
/// try { Scheduler.Synchronous.Get(graph, "a"); }
/// catch (GraphException e) { Console.WriteLine(e.Message); } // The graph has a cycle: a -&gt; b -&gt; a.
/// </code>
/// </example>
public sealed class GraphException(string message) : Exception(message);

/// <summary>A graph with every value in explicit form, its dependencies known and its validity checked.</summary>
internal sealed class NormalizedGraph
{
    private NormalizedGraph(Dictionary<string, object?> nodes, Dictionary<string, IReadOnlyList<string>> dependencies)
    {
        Nodes = nodes;
        Dependencies = dependencies;
    }

    /// <summary>Each key's literal value or <see cref="TaskNode"/>, arguments normalized (keys as <see cref="KeyRef"/>, lists as object?[] marked by <see cref="ListArgument"/>).</summary>
    public IReadOnlyDictionary<string, object?> Nodes { get; }

    /// <summary>The keys each key needs, in first-use order, without duplicates.</summary>
    public IReadOnlyDictionary<string, IReadOnlyList<string>> Dependencies { get; }

    /// <summary>Normalizes and checks <paramref name="graph"/> for the requested keys: every problem is reported before anything runs.</summary>
    public static NormalizedGraph From(Graph graph, IEnumerable<string> requested)
    {
        var nodes = new Dictionary<string, object?>(StringComparer.Ordinal);
        var dependencies = new Dictionary<string, IReadOnlyList<string>>(StringComparer.Ordinal);
        foreach (var (key, value) in graph)
        {
            var found = new List<string>();
            nodes[key] = Normalize(value, graph, found);
            dependencies[key] = found.Distinct().ToList();
        }
        foreach (var (key, needed) in dependencies)
            foreach (var dependency in needed)
                if (!nodes.ContainsKey(dependency))
                    throw new GraphException($"Key '{key}' depends on '{dependency}', which is not in the graph.");
        var unknown = requested.Where(r => !nodes.ContainsKey(r)).ToList();
        if (unknown.Count > 0)
            throw new GraphException($"Requested key(s) not in the graph: {string.Join(", ", unknown.Select(k => $"'{k}'"))}.");
        var normalized = new NormalizedGraph(nodes, dependencies);
        normalized.ThrowOnCycle();
        return normalized;
    }

    /// <summary>The keys needed to compute <paramref name="requested"/>, dependencies before dependents.</summary>
    public List<string> Order(IEnumerable<string> requested)
    {
        var order = new List<string>();
        var done = new HashSet<string>(StringComparer.Ordinal);
        foreach (var root in requested) Visit(root, done, order);
        return order;
    }

    private void Visit(string root, HashSet<string> done, List<string> order)
    {
        // Iterative depth-first walk: deep graphs (long chains) must not overflow the stack.
        var stack = new Stack<(string Key, int Next)>();
        if (done.Contains(root)) return;
        stack.Push((root, 0));
        while (stack.Count > 0)
        {
            var (key, next) = stack.Pop();
            var needed = Dependencies[key];
            if (next < needed.Count)
            {
                stack.Push((key, next + 1));
                if (!done.Contains(needed[next])) stack.Push((needed[next], 0));
                continue;
            }
            if (done.Add(key)) order.Add(key);
        }
    }

    private void ThrowOnCycle()
    {
        const int Unvisited = 0, Active = 1, Finished = 2;
        var state = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var start in Nodes.Keys)
        {
            if (state.GetValueOrDefault(start) != Unvisited) continue;
            var path = new List<string>();
            var stack = new Stack<(string Key, int Next)>();
            stack.Push((start, 0));
            state[start] = Active;
            path.Add(start);
            while (stack.Count > 0)
            {
                var (key, next) = stack.Pop();
                var needed = Dependencies[key];
                if (next == needed.Count)
                {
                    state[key] = Finished;
                    path.RemoveAt(path.Count - 1);
                    continue;
                }
                stack.Push((key, next + 1));
                var dependency = needed[next];
                switch (state.GetValueOrDefault(dependency))
                {
                    case Active:
                        var cycle = path.Skip(path.IndexOf(dependency)).Append(dependency);
                        throw new GraphException($"The graph has a cycle: {string.Join(" -> ", cycle)}.");
                    case Unvisited:
                        state[dependency] = Active;
                        path.Add(dependency);
                        stack.Push((dependency, 0));
                        break;
                }
            }
        }
    }

    /// <summary>
    /// Lists that could hold keys or tasks are walked; arrays and lists of numbers (a chunk of data)
    /// are literals, so they reach the task as they are.
    /// </summary>
    private static bool IsWalked(IList list)
    {
        var type = list.GetType();
        if (type.IsArray && type.GetArrayRank() > 1) return false;
        var item = type.IsArray ? type.GetElementType() : type.IsGenericType ? type.GetGenericArguments()[0] : null;
        return item is null || !(item.IsPrimitive || item.IsEnum || item == typeof(decimal));
    }

    private static object? Normalize(object? value, Graph graph, List<string> dependencies)
    {
        switch (value)
        {
            case KeyRef reference:
                dependencies.Add(reference.Key);
                return reference;
            case Quoted quoted: // after normalizing, a literal is never walked again
                return quoted.Value;
            case TaskNode task:
                return new TaskNode(task.Function, task.Arguments.Select(a => Normalize(a, graph, dependencies)).ToArray());
            case string text when graph.ContainsKey(text): // dask's convention, an alias at the top level
                dependencies.Add(text);
                return new KeyRef(text);
            case string:
                return value;
            case ITuple tuple when tuple.Length > 0 && tuple[0] is Delegate function:
                {
                    var arguments = new object?[tuple.Length - 1];
                    for (var i = 1; i < tuple.Length; i++) arguments[i - 1] = Normalize(tuple[i], graph, dependencies);
                    return new TaskNode(function, arguments);
                }
            case IList list when IsWalked(list):
                {
                    var items = new object?[list.Count];
                    for (var i = 0; i < items.Length; i++) items[i] = Normalize(list[i], graph, dependencies);
                    return new ListArgument(items);
                }
            default:
                return value;
        }
    }
}

/// <summary>A list argument of a task, whose items may be key references or inline tasks.</summary>
internal sealed record ListArgument(object?[] Items);
