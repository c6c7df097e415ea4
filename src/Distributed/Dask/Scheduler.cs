using Distributed.Data.Serialization;

namespace Distributed.Dask;

/// <summary>Computes keys of a graph. Collections take one (<c>Compute(scheduler)</c>).</summary>
/// <example>
/// <code>
/// IScheduler scheduler = System.Diagnostics.Debugger.IsAttached ? Scheduler.Synchronous : ClusterScheduler.On(pool);
/// double mean = DArray.Random(seed: 1, length: 1_000_000, chunks: 100_000).Mean().Compute(scheduler);
/// </code>
/// </example>
public interface IScheduler
{
    /// <summary>
    /// The value of <paramref name="keys"/> when it is a key, or the list of values of a list of keys
    /// (nested lists give nested results, as dask does).
    /// </summary>
    /// <example>
    /// <code>
    /// var graph = new Graph { ["x"] = 2, ["y"] = ((Func&lt;int, int&gt;)(x => x * 10), "x") };
    /// IScheduler scheduler = Scheduler.Threaded;
    /// var both = (List&lt;object?&gt;)scheduler.Get(graph, new[] { "x", "y" })!; // [2, 20]
    /// </code>
    /// </example>
    object? Get(Graph graph, object keys);

    /// <summary>
    /// Computes <paramref name="keys"/> and keeps their values where they were computed: a cluster
    /// returns a <see cref="RemoteData{T}"/> per key (released with <see cref="Pool.Release"/>), a
    /// local scheduler the values themselves.
    /// </summary>
    /// <example>
    /// <code>
    /// var graph = new Graph { ["data"] = ((Func&lt;int, int[]&gt;)(n => new int[n]), 1_000) };
    /// IScheduler scheduler = ClusterScheduler.On(pool);
    /// object? data = scheduler.Persist(graph, ["data"])[0]; // a RemoteData&lt;object&gt; on a cluster, the array locally
    /// </code>
    /// </example>
    IReadOnlyList<object?> Persist(Graph graph, IReadOnlyList<string> keys) =>
        ((IEnumerable<object?>)Get(graph, keys.ToList())!).ToList();

    /// <summary>Like <see cref="Get"/>, returning at once; a local scheduler computes on the thread pool, a cluster's cancels the graph's tasks when <paramref name="cancellation"/> fires.</summary>
    /// <example>
    /// <code>
    /// var graph = new Graph { ["x"] = 3, ["cube"] = ((Func&lt;int, int&gt;)(x => x * x * x), "x") };
    /// IScheduler scheduler = Scheduler.Threaded;
    /// var cube = (int)(await scheduler.GetAsync(graph, "cube", cancellation))!; // 27
    /// </code>
    /// </example>
    Task<object?> GetAsync(Graph graph, object keys, CancellationToken cancellation) => Task.Run(() => Get(graph, keys), cancellation);
}

/// <summary>
/// dask's <c>get</c> functions: <see cref="Get(string,int,Graph,object,TimeSpan?,Protocol.Security.ClusterCredentials?)"/> on a cluster,
/// <see cref="Partial"/> for a cluster scheduler to hand to collections, and local schedulers that
/// compute the same graphs in this process (<see cref="Synchronous"/>, <see cref="Threaded"/>).
/// </summary>
/// <example>
/// <code>
/// var graph = new Graph { ["a"] = 1, ["b"] = ((Func&lt;int, int&gt;)(x => x + 1), "a") };
/// var local = Scheduler.Synchronous.Get(graph, "b"); // 2, in this process
/// var remote = Scheduler.Get("10.0.0.5", 8786, graph, "b"); // 2, on the cluster
/// </code>
/// </example>
public static class Scheduler
{
    /// <summary>
    /// Computes <paramref name="keys"/> of <paramref name="graph"/> on the cluster whose center is at
    /// <paramref name="host"/>:<paramref name="port"/>; each task may run <paramref name="taskTimeout"/> once started.
    /// It presents <paramref name="credentials"/> (mutual TLS), by default those named by <c>DISTRIBUTED_CREDENTIALS</c>, if set.
    /// </summary>
    /// <example>
    /// <code>
    /// var graph = new Graph { ["x"] = 6, ["y"] = ((Func&lt;int, int&gt;)(x => x * 7), "x") };
    /// var y = (int)Scheduler.Get("10.0.0.5", 8786, graph, "y", taskTimeout: TimeSpan.FromMinutes(1))!; // 42
    /// </code>
    /// </example>
    public static object? Get(string host, int port, Graph graph, object keys, TimeSpan? taskTimeout = null, Protocol.Security.ClusterCredentials? credentials = null)
    {
        using var scheduler = new ClusterScheduler($"{host}:{port}", taskTimeout, credentials);
        return scheduler.Get(graph, keys);
    }

    /// <summary>
    /// A scheduler bound to the cluster at <paramref name="host"/>:<paramref name="port"/> (it connects on first use; dispose it to disconnect),
    /// its tasks limited to <paramref name="taskTimeout"/> each once started; it presents <paramref name="credentials"/>,
    /// by default those named by <c>DISTRIBUTED_CREDENTIALS</c>, if set.
    /// </summary>
    /// <example>
    /// <code>
    /// using var scheduler = Scheduler.Partial("10.0.0.5", 8786);
    /// var total = DArray.Ones(1_000_000, chunks: 100_000).Sum().Compute(scheduler); // 1000000
    /// </code>
    /// </example>
    public static ClusterScheduler Partial(string host, int port, TimeSpan? taskTimeout = null, Protocol.Security.ClusterCredentials? credentials = null) =>
        new($"{host}:{port}", taskTimeout, credentials);

    /// <summary>Computes in this process, one task at a time, in dependency order (for debugging and tests).</summary>
    /// <example>
    /// <code>
    /// var bag = Bag.FromSequence(["b", "a", "b"]);
    /// var counts = bag.Frequencies().Compute(Scheduler.Synchronous); // step through it in a debugger
    /// </code>
    /// </example>
    public static IScheduler Synchronous { get; } = new LocalScheduler(parallel: false);

    /// <summary>Computes in this process, running independent tasks at once on the thread pool.</summary>
    /// <example>
    /// <code>
    /// var x = DArray.Random(seed: 7, length: 10_000, chunks: 1_000);
    /// var std = x.Std().Compute(Scheduler.Threaded); // the default of Compute()
    /// </code>
    /// </example>
    public static IScheduler Threaded { get; } = new LocalScheduler(parallel: true);

    /// <summary>Splits requested keys into a flat list, and rebuilds the nested shape from the values.</summary>
    internal static List<string> Flatten(object keys)
    {
        var flat = new List<string>();
        void Walk(object item)
        {
            switch (item)
            {
                case string key: flat.Add(key); break;
                case System.Collections.IEnumerable list: foreach (var inner in list) Walk(inner!); break;
                default: throw new ArgumentException($"Keys are strings or lists of keys, not {item.GetType().Name}.", nameof(keys));
            }
        }
        Walk(keys);
        return flat;
    }

    internal static object? Shape(object keys, IReadOnlyDictionary<string, object?> values) => keys switch
    {
        string key => values[key],
        System.Collections.IEnumerable list => list.Cast<object>().Select(k => Shape(k, values)).ToList(),
        _ => throw new ArgumentException("Keys are strings or lists of keys.", nameof(keys)),
    };
}

/// <summary>Evaluates graph nodes in this process.</summary>
internal static class LocalEvaluation
{
    public static object? Evaluate(object? node, Func<string, object?> lookup) => node switch
    {
        KeyRef reference => lookup(reference.Key),
        TaskNode task => new DynamicFunction(task.Function).Invoke(task.Arguments.Select(a => Evaluate(a, lookup)).ToArray()),
        ListArgument list => list.Items.Select(i => Evaluate(i, lookup)).ToArray(),
        IFetchableRemoteData remote => remote.Fetch(), // a value persisted on a cluster
        _ => node,
    };
}

/// <summary>The local schedulers: the same graph semantics as the cluster, in this process.</summary>
internal sealed class LocalScheduler(bool parallel) : IScheduler
{
    public object? Get(Graph graph, object keys)
    {
        var requested = Scheduler.Flatten(keys);
        var normalized = NormalizedGraph.From(graph, requested);
        var order = normalized.Order(requested);
        var values = new System.Collections.Concurrent.ConcurrentDictionary<string, object?>(StringComparer.Ordinal);
        object? Compute(string key)
        {
            try
            {
                return LocalEvaluation.Evaluate(normalized.Nodes[key], k => values[k]);
            }
            catch (Exception e) when (e is not GraphTaskException)
            {
                throw new GraphTaskException(key, e);
            }
        }
        if (!parallel)
        {
            foreach (var key in order) values[key] = Compute(key);
        }
        else
        {
            // Each key starts when its dependencies are done; a failure stops what has not started.
            var tasks = new Dictionary<string, Task>(StringComparer.Ordinal);
            foreach (var key in order)
            {
                var inputs = normalized.Dependencies[key].Select(d => tasks[d]).ToArray();
                tasks[key] = inputs.Length == 0
                    ? Task.Run(() => values[key] = Compute(key))
                    : Task.WhenAll(inputs).ContinueWith(done =>
                    {
                        done.GetAwaiter().GetResult();
                        values[key] = Compute(key);
                    }, TaskScheduler.Default);
            }
            try { Task.WaitAll(requested.Select(k => tasks[k]).ToArray()); }
            catch (AggregateException e) { throw e.Flatten().InnerExceptions.OfType<GraphTaskException>().FirstOrDefault() ?? e.Flatten().InnerExceptions[0]; }
        }
        return Scheduler.Shape(keys, values);
    }
}

/// <summary>A task of a graph failed while computing locally; <see cref="Key"/> names it.</summary>
/// <example>
/// <code>
/// var graph = new Graph { ["x"] = 0, ["y"] = ((Func&lt;int, int&gt;)(x => 1 / x), "x") };
/// try { Scheduler.Synchronous.Get(graph, "y"); }
/// catch (GraphTaskException e) { Console.WriteLine($"{e.Key}: {e.InnerException?.GetType().Name}"); } // y: DivideByZeroException
/// </code>
/// </example>
public sealed class GraphTaskException(string key, Exception inner) : Exception($"Task {key} failed with {inner.GetType().FullName}: {inner.Message}", inner)
{
    /// <summary>The key whose task failed.</summary>
    /// <example>
    /// <code>
    /// var graph = new Graph { ["text"] = new Quoted("x"), ["n"] = ((Func&lt;string, int&gt;)int.Parse, "text") };
    /// try { Scheduler.Threaded.Get(graph, "n"); }
    /// catch (GraphTaskException e) when (e.Key == "n") { Console.WriteLine("n could not parse its input"); }
    /// </code>
    /// </example>
    public string Key { get; } = key;
}
