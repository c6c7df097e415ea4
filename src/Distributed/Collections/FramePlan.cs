using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;
using Distributed.Dask;

namespace Distributed.Collections;

/// <summary>A frame's graph for the columns asked of it, and the keys of its partitions.</summary>
internal sealed record BuiltFrame(LayeredGraph Graph, IReadOnlyList<string> Keys);

/// <summary>
/// How a <see cref="DistributedFrame"/> is made, kept as steps rather than only as a graph so that a
/// later step can say which columns it reads: each step asks its input for the columns it needs and
/// no more, and a CSV source then parses only those (column pruning). A step's layer is named by the
/// step and the columns asked of it, so two frames that ask the same share the layer.
/// </summary>
internal abstract class FramePlan(string operation, FrameSchema schema, int partitions)
{
    private readonly ConcurrentDictionary<string, BuiltFrame> _built = new(StringComparer.Ordinal);
    private readonly string _layerPrefix = LayerNames.New(operation);

    /// <summary>The columns of the frame this step makes.</summary>
    public FrameSchema Schema { get; } = schema;

    /// <summary>How many partitions the step makes.</summary>
    public int Partitions { get; } = partitions;

    /// <summary>The graph that makes the <paramref name="needed"/> columns (at least; null: all of them).</summary>
    public BuiltFrame Build(IEnumerable<string>? needed)
    {
        var wanted = needed is null ? Schema.Names.ToHashSet(StringComparer.Ordinal) : needed.ToHashSet(StringComparer.Ordinal);
        var ordered = Schema.Names.Where(wanted.Contains).ToArray(); // schema order: one layer per set of columns
        return _built.GetOrAdd(string.Join('\u0001', ordered), _ => BuildFor(ordered));
    }

    /// <summary>Builds the layer for exactly <paramref name="needed"/> (in schema order).</summary>
    protected abstract BuiltFrame BuildFor(string[] needed);

    /// <summary>The layer name for <paramref name="needed"/>: the step's name and a short digest of the columns.</summary>
    protected string LayerFor(string[] needed) =>
        $"{_layerPrefix}-{Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(string.Join('\u0001', needed))))[..6]}";

    /// <summary>A layer with one task per partition of <paramref name="input"/>, made by <paramref name="task"/> from the input partition's key.</summary>
    protected BuiltFrame MapPartitions(BuiltFrame input, string[] needed, Func<KeyRef, TaskNode> task)
    {
        var layer = LayerFor(needed);
        var graph = new Graph();
        var keys = new string[input.Keys.Count];
        for (var i = 0; i < keys.Length; i++)
        {
            keys[i] = LayerNames.Key(layer, i);
            graph[keys[i]] = task(new KeyRef(input.Keys[i]));
        }
        return new BuiltFrame(input.Graph.With(layer, graph), keys);
    }
}

/// <summary>Partitions already in a graph: literals (FromFrame), persisted values, or results of an aggregation.</summary>
internal sealed class GraphPlan(LayeredGraph graph, IReadOnlyList<string> keys, FrameSchema schema)
    : FramePlan("frame", schema, keys.Count)
{
    private readonly BuiltFrame _frame = new(graph, keys);

    protected override BuiltFrame BuildFor(string[] needed) => _frame;
}

/// <summary>CSV files read in byte blocks, each block a partition.</summary>
internal sealed class CsvPlan(IReadOnlyList<CsvBlockRead> blocks, FrameSchema schema) : FramePlan("read-csv", schema, blocks.Count)
{
    protected override BuiltFrame BuildFor(string[] needed)
    {
        // A step that reads no column (Count) still needs the rows: it gets the first column.
        if (needed.Length == 0) needed = [Schema.Columns[0].Name];
        var layer = LayerFor(needed);
        var graph = new Graph();
        var keys = new string[blocks.Count];
        var reads = Blocks(needed);
        for (var i = 0; i < keys.Length; i++)
        {
            keys[i] = LayerNames.Key(layer, i);
            graph[keys[i]] = new TaskNode(FrameTasks.ReadBlock, reads[i]);
        }
        return new BuiltFrame(LayeredGraph.Empty.With(layer, graph), keys);
    }

    /// <summary>The blocks, each set to parse the <paramref name="needed"/> columns (in schema order), for tasks that read a block themselves.</summary>
    public CsvBlockRead[] BlocksFor(IEnumerable<string> needed)
    {
        var wanted = needed.ToHashSet(StringComparer.Ordinal);
        var ordered = Schema.Names.Where(wanted.Contains).ToArray();
        return Blocks(ordered.Length > 0 ? ordered : [Schema.Columns[0].Name]);
    }

    private CsvBlockRead[] Blocks(string[] needed)
    {
        var indexes = needed.Select(Schema.IndexOf).ToArray();
        var types = needed.Select(n => Schema.TypeOf(n).FullName!).ToArray();
        return blocks.Select(b => b with { Indexes = indexes, Names = needed, Types = types }).ToArray();
    }
}

/// <summary>Keeps some columns, in the order given.</summary>
internal sealed class SelectPlan(FramePlan input, string[] columns)
    : FramePlan("select", new FrameSchema(columns.Select(c => new FrameColumn(c, input.Schema.TypeOf(c)))), input.Partitions)
{
    protected override BuiltFrame BuildFor(string[] needed)
    {
        var kept = columns.Where(needed.Contains).ToArray();
        return MapPartitions(input.Build(kept), needed, part => new TaskNode(FrameTasks.Project, part, new ColumnNames(kept)));
    }
}

/// <summary>Keeps the rows a predicate accepts; <paramref name="reads"/> are the columns it reads (null: all).</summary>
internal sealed class WherePlan(FramePlan input, string[]? reads, Func<KeyRef, TaskNode> filter) : FramePlan("where", input.Schema, input.Partitions)
{
    protected override BuiltFrame BuildFor(string[] needed) =>
        MapPartitions(input.Build(reads is null ? null : needed.Union(reads)), needed, filter);
}

/// <summary>Adds or replaces column <paramref name="name"/>, computed from <paramref name="reads"/>.</summary>
internal sealed class WithColumnPlan(FramePlan input, string name, Type type, string[] reads, Func<KeyRef, TaskNode> compute)
    : FramePlan("with-column", Extend(input.Schema, name, type), input.Partitions)
{
    private static FrameSchema Extend(FrameSchema schema, string name, Type type) => schema.Contains(name)
        ? new FrameSchema(schema.Columns.Select(c => c.Name == name ? new FrameColumn(name, type) : c))
        : new FrameSchema(schema.Columns.Append(new FrameColumn(name, type)));

    protected override BuiltFrame BuildFor(string[] needed)
    {
        var others = needed.Where(n => n != name).ToArray();
        // Nobody reads the new column: the step is skipped, and so is parsing its inputs.
        if (others.Length == needed.Length) return input.Build(others);
        return MapPartitions(input.Build(others.Union(reads)), needed, compute);
    }
}
