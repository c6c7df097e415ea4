using Distributed.Dask;
using Microsoft.Data.Analysis;

namespace Distributed.Collections;

/// <summary>
/// A table split in partitions by rows, each partition a Microsoft.Data.Analysis
/// <see cref="DataFrame"/> computed by a task graph (dask's dataframe). Operations are lazy: they
/// build on the graph, and <see cref="Collection{TResult}.Compute"/> runs it on a local scheduler or
/// a cluster and returns one <see cref="DataFrame"/>.
/// </summary>
/// <example>
/// <code>
/// using var scheduler = ClusterScheduler.On(pool);
/// DataFrame byRegion = DataFrames.ReadCsv("/data/sales-*.csv")
///     .Where&lt;double&gt;("amount", a => a &gt; 0)
///     .GroupBy("region").Agg(("amount", Agg.Mean))
///     .Compute(scheduler);
/// </code>
/// </example>
public sealed class DistributedFrame : Collection<DataFrame>
{
    private DistributedFrame(FramePlan plan, BuiltFrame built) : base(built.Graph, built.Keys) => Plan = plan;

    internal DistributedFrame(FramePlan plan) : this(plan, plan.Build(null)) { }

    internal FramePlan Plan { get; }

    /// <summary>The columns and their types.</summary>
    /// <example>
    /// <code>
    /// var frame = DataFrames.ReadCsv("/data/sales.csv");
    /// Console.WriteLine(frame.Schema.TypeOf("amount")); // System.Double, inferred from the first rows
    /// </code>
    /// </example>
    public FrameSchema Schema => Plan.Schema;

    /// <summary>The column names, in order.</summary>
    /// <example>
    /// <code>
    /// var frame = DataFrames.ReadCsv("/data/sales.csv");
    /// Console.WriteLine(string.Join(", ", frame.Columns)); // id, region, amount, ...
    /// </code>
    /// </example>
    public IReadOnlyList<string> Columns => Plan.Schema.Names;

    /// <summary>How many partitions the frame has.</summary>
    /// <example>
    /// <code>
    /// var frame = DataFrames.ReadCsv("/data/sales.csv", blockSize: 8 &lt;&lt; 20);
    /// Console.WriteLine($"{frame.Partitions} partitions of 8 MiB");
    /// </code>
    /// </example>
    public int Partitions => Plan.Partitions;

    /// <summary>The partitions' rows concatenated, in partition order, into one <see cref="DataFrame"/>.</summary>
    /// <example>
    /// <code>
    /// DataFrame all = DataFrames.ReadCsv("/data/sales.csv").Compute(); // every partition, joined
    /// </code>
    /// </example>
    protected override DataFrame Assemble(IReadOnlyList<object?> values) => Frames.Concat(values.Cast<DataFrame>().ToList(), Schema);

    /// <summary>A frame of one column.</summary>
    /// <example>
    /// <code>
    /// var frame = DataFrames.ReadCsv("/data/sales.csv");
    /// DataFrame amounts = frame["amount"].Compute(); // only that column is parsed
    /// </code>
    /// </example>
    public DistributedFrame this[string column] => Select(column);

    /// <summary>A frame of <paramref name="columns"/>, in that order.</summary>
    /// <example>
    /// <code>
    /// var slim = DataFrames.ReadCsv("/data/sales.csv").Select("region", "amount"); // the other columns are never parsed
    /// </code>
    /// </example>
    public DistributedFrame Select(params string[] columns)
    {
        if (columns.Length == 0) throw new ArgumentException("Select at least one column.", nameof(columns));
        foreach (var column in columns) Schema.IndexOf(column);
        if (columns.Distinct(StringComparer.Ordinal).Count() != columns.Length)
            throw new ArgumentException("A column is selected twice.", nameof(columns));
        return new DistributedFrame(new SelectPlan(Plan, columns));
    }

    /// <summary>The rows whose value in <paramref name="column"/> satisfies <paramref name="predicate"/> (rows where it is missing are dropped).</summary>
    /// <example>
    /// <code>
    /// var refunds = DataFrames.ReadCsv("/data/sales.csv").Where&lt;double&gt;("amount", amount => amount &lt; 0);
    /// </code>
    /// </example>
    public DistributedFrame Where<T>(string column, Func<T, bool> predicate)
    {
        Schema.IndexOf(column);
        ArgumentNullException.ThrowIfNull(predicate);
        var names = new ColumnNames([column]);
        return new DistributedFrame(new WherePlan(Plan, [column], part => new TaskNode(FrameTasks.Typed<T>.Where, part, names, predicate)));
    }

    /// <summary>
    /// The rows <paramref name="predicate"/> accepts. It may read any column, so every column is
    /// parsed; prefer <see cref="Where{T}(string, Func{T, bool})"/> when one column decides.
    /// </summary>
    /// <example>
    /// <code>
    /// var frame = DataFrames.ReadCsv("/data/sales.csv");
    /// var rows = frame.Where(row => row.Get&lt;string&gt;("region") == "EU" &amp;&amp; row.Get&lt;double&gt;("amount") &gt; 100);
    /// </code>
    /// </example>
    public DistributedFrame Where(Func<FrameRow, bool> predicate)
    {
        ArgumentNullException.ThrowIfNull(predicate);
        return new DistributedFrame(new WherePlan(Plan, null, part => new TaskNode(FrameTasks.WhereRow, part, predicate)));
    }

    /// <summary>Adds column <paramref name="name"/> (or replaces it) computed from <paramref name="column"/>; missing inputs give missing values.</summary>
    /// <example>
    /// <code>
    /// var frame = DataFrames.ReadCsv("/data/sales.csv");
    /// var withTax = frame.WithColumn("gross", "amount", (double amount) => amount * 1.2);
    /// </code>
    /// </example>
    public DistributedFrame WithColumn<TIn, TOut>(string name, string column, Func<TIn, TOut> function)
    {
        Schema.IndexOf(column);
        ArgumentNullException.ThrowIfNull(function);
        var names = new ColumnNames([name, column]);
        return new DistributedFrame(new WithColumnPlan(Plan, name, FrameTasks.ColumnTypeOf<TOut>(), [column],
            part => new TaskNode(FrameTasks.Mapped<TIn, TOut>.Compute, part, names, function)));
    }

    /// <summary>Adds column <paramref name="name"/> (or replaces it) computed from two columns; missing inputs give missing values.</summary>
    /// <example>
    /// <code>
    /// var frame = DataFrames.ReadCsv("/data/sales.csv");
    /// var total = frame.WithColumn("total", "price", "quantity", (double price, long quantity) => price * quantity);
    /// </code>
    /// </example>
    public DistributedFrame WithColumn<TA, TB, TOut>(string name, string first, string second, Func<TA, TB, TOut> function)
    {
        Schema.IndexOf(first);
        Schema.IndexOf(second);
        ArgumentNullException.ThrowIfNull(function);
        var names = new ColumnNames([name, first, second]);
        return new DistributedFrame(new WithColumnPlan(Plan, name, FrameTasks.ColumnTypeOf<TOut>(), [first, second],
            part => new TaskNode(FrameTasks.Mapped<TA, TB, TOut>.Compute, part, names, function)));
    }

    /// <summary>Groups rows by the values of <paramref name="keys"/>, for <see cref="GroupedFrame.Agg"/>.</summary>
    /// <example>
    /// <code>
    /// GroupedFrame groups = DataFrames.ReadCsv("/data/sales.csv").GroupBy("region", "year");
    /// DataFrame sums = groups.Agg(("amount", Agg.Sum)).Compute();
    /// </code>
    /// </example>
    public GroupedFrame GroupBy(params string[] keys)
    {
        if (keys.Length == 0) throw new ArgumentException("Group by at least one column.", nameof(keys));
        foreach (var key in keys) Schema.IndexOf(key);
        return new GroupedFrame(this, keys);
    }

    /// <summary>The number of rows.</summary>
    /// <example>
    /// <code>
    /// long rows = DataFrames.ReadCsv("/data/sales-*.csv").Count().Compute(); // reads no column
    /// </code>
    /// </example>
    public Scalar<long> Count()
    {
        var input = Plan.Build([]);
        var layer = LayerNames.New("count");
        var graph = new Graph();
        var counts = new List<KeyRef>();
        for (var i = 0; i < input.Keys.Count; i++)
        {
            var key = LayerNames.Key(layer, i);
            graph[key] = new TaskNode(FrameTasks.CountRows, new KeyRef(input.Keys[i]));
            counts.Add(new KeyRef(key));
        }
        graph[layer] = new TaskNode(FrameTasks.SumCounts, counts);
        return new Scalar<long>(input.Graph.With(layer, graph), layer);
    }

    /// <summary>
    /// The first <paramref name="rows"/> rows, computed now: the partitions are computed one after
    /// another from the first, and only as many as needed.
    /// </summary>
    /// <example>
    /// <code>
    /// DataFrame first = DataFrames.ReadCsv("/data/huge.csv").Head(10); // computes the first partition only
    /// Console.WriteLine(first);
    /// </code>
    /// </example>
    public DataFrame Head(int rows = 5, IScheduler? scheduler = null)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(rows);
        scheduler ??= Scheduler.Threaded;
        var graph = Graph.ToGraph();
        var parts = new List<DataFrame>();
        long found = 0;
        for (var i = 0; i < Keys.Count && found < rows; i++)
        {
            var part = (DataFrame)scheduler.Get(graph, Keys[i])!;
            var taken = part.Rows.Count <= rows - found ? part : Frames.Take(part, rows - found);
            parts.Add(taken);
            found += taken.Rows.Count;
        }
        return Frames.Concat(parts, Schema);
    }

    /// <summary>Count, mean, std, min and max of every numeric column, as a one-partition frame whose first column names the statistic.</summary>
    /// <example>
    /// <code>
    /// DataFrame stats = DataFrames.ReadCsv("/data/sales.csv").Describe().Compute();
    /// Console.WriteLine(stats); // rows count, mean, std, min, max; a column per numeric column
    /// </code>
    /// </example>
    public DistributedFrame Describe()
    {
        var numeric = Columns.Where(Schema.IsNumeric).ToArray();
        if (numeric.Length == 0) throw new InvalidOperationException($"Describe needs a numeric column; the columns are {Schema}.");
        var spec = new AggregationSpec([], numeric);
        var (graph, root) = GroupedFrame.Reduce(Plan.Build(numeric), spec, "describe");
        var layer = LayerNames.New("describe-finish");
        graph = graph.With(layer, new Graph { [layer] = new TaskNode(Aggregation.FinishDescribe, new KeyRef(root), spec) });
        var schema = new FrameSchema(numeric.Select(n => new FrameColumn(n, typeof(double))).Prepend(new FrameColumn("statistic", typeof(string))));
        return new DistributedFrame(new GraphPlan(graph, [layer], schema));
    }

    /// <summary>
    /// Computes the partitions and keeps them where they were computed (on the workers of a cluster,
    /// in memory locally): later steps start from them instead of from the source.
    /// </summary>
    /// <example>
    /// <code>
    /// using var scheduler = ClusterScheduler.On(pool);
    /// var paid = DataFrames.ReadCsv("/data/sales.csv").Where&lt;bool&gt;("paid", p => p).Persist(scheduler);
    /// var (rows, byRegion) = (paid.Count().Compute(scheduler), paid.GroupBy("region").Agg(("amount", Agg.Sum)).Compute(scheduler));
    /// </code>
    /// </example>
    public DistributedFrame Persist(IScheduler? scheduler = null) => new(new GraphPlan(PersistGraph(scheduler), Keys, Schema));
}

/// <summary>A frame grouped by key columns, waiting for its aggregations.</summary>
/// <example>
/// <code>
/// GroupedFrame byRegion = DataFrames.ReadCsv("/data/sales.csv").GroupBy("region");
/// DataFrame means = byRegion.Agg(("amount", Agg.Mean), ("amount", Agg.Max)).Compute(); // region, amount_mean, amount_max
/// </code>
/// </example>
public sealed class GroupedFrame
{
    private readonly DistributedFrame _frame;
    private readonly string[] _keys;

    internal GroupedFrame(DistributedFrame frame, string[] keys)
    {
        _frame = frame;
        _keys = keys;
    }

    /// <summary>
    /// One row per group (sorted by key; rows with a missing key are dropped): the key columns, then
    /// one column per aggregation, named <c>column_aggregation</c> (e.g. <c>value_mean</c>). Count is
    /// a long column, the others double columns, missing where undefined (the mean of no values).
    /// </summary>
    /// <example>
    /// <code>
    /// var frame = DataFrames.FromFrame(new DataFrame(new StringDataFrameColumn("k", ["a", "b", "a"]), new DoubleDataFrameColumn("v", [1.0, 2.0, 3.0])));
    /// DataFrame result = frame.GroupBy("k").Agg(("v", Agg.Sum), ("v", Agg.Count)).Compute(); // a: 4, 2 / b: 2, 1
    /// </code>
    /// </example>
    public DistributedFrame Agg(params (string Column, Agg Aggregation)[] aggregations)
    {
        if (aggregations.Length == 0) throw new ArgumentException("Ask for at least one aggregation.", nameof(aggregations));
        var schema = _frame.Schema;
        foreach (var (column, aggregation) in aggregations)
        {
            if (!schema.IsNumeric(column) && aggregation != Collections.Agg.Count)
                throw new ArgumentException($"{aggregation} needs a numeric column; '{column}' holds {schema.TypeOf(column).Name}.", nameof(aggregations));
            if (_keys.Contains(column)) throw new ArgumentException($"'{column}' is a key of the grouping.", nameof(aggregations));
        }
        var values = aggregations.Select(a => a.Column).Distinct().ToArray();
        var spec = new AggregationSpec(_keys, values);
        var outputs = new AggregationOutputs(
            aggregations.Select(a => a.Column).ToArray(),
            aggregations.Select(a => a.Aggregation).ToArray(),
            aggregations.Select(a => $"{a.Column}_{a.Aggregation.ToString().ToLowerInvariant()}").ToArray());
        var needed = _keys.Concat(values).ToArray();
        // Straight from CSV files, each task reads its block into partial states: the block's dataframe costs more than the grouping.
        var (graph, root) = _frame.Plan is CsvPlan csv
            ? Reduce(LayeredGraph.Empty, csv.BlocksFor(needed).Select(b => new TaskNode(Aggregation.ReadPartial, b, spec)).ToList(), spec, "groupby")
            : Reduce(_frame.Plan.Build(needed), spec, "groupby");
        var layer = LayerNames.New("groupby-finish");
        graph = graph.With(layer, new Graph { [layer] = new TaskNode(Aggregation.Finish, new KeyRef(root), spec, outputs) });
        var result = new FrameSchema(_keys.Select(k => new FrameColumn(k, schema.TypeOf(k)))
            .Concat(aggregations.Select((a, i) => new FrameColumn(outputs.Names[i], a.Aggregation == Collections.Agg.Count ? typeof(long) : typeof(double)))));
        return new DistributedFrame(new GraphPlan(graph, [layer], result));
    }

    /// <summary>Partial states per partition, then combines of <see cref="Aggregation.CombineWidth"/> at a time up to one root key.</summary>
    internal static (LayeredGraph Graph, string Root) Reduce(BuiltFrame input, AggregationSpec spec, string operation) =>
        Reduce(input.Graph, input.Keys.Select(k => new TaskNode(Aggregation.Partial, new KeyRef(k), spec)).ToList(), spec, operation);

    /// <summary>The <paramref name="partials"/> tasks (on top of <paramref name="input"/>), then combines up to one root key.</summary>
    private static (LayeredGraph Graph, string Root) Reduce(LayeredGraph input, List<TaskNode> partials, AggregationSpec spec, string operation)
    {
        var layer = LayerNames.New(operation);
        var graph = new Graph();
        var level = new List<string>();
        for (var i = 0; i < partials.Count; i++)
        {
            var key = LayerNames.Key(layer, 0, i);
            graph[key] = partials[i];
            level.Add(key);
        }
        for (var depth = 1; level.Count > 1; depth++)
        {
            var next = new List<string>();
            for (var start = 0; start < level.Count; start += Aggregation.CombineWidth)
            {
                var key = LayerNames.Key(layer, depth, next.Count);
                var inputs = level.Skip(start).Take(Aggregation.CombineWidth).Select(k => (object?)new KeyRef(k)).ToList();
                graph[key] = new TaskNode(Aggregation.Combine, inputs, spec);
                next.Add(key);
            }
            level = next;
        }
        return (input.With(layer, graph), level[0]);
    }
}

/// <summary>Makes <see cref="DistributedFrame"/>s: from CSV files, or from a frame in memory.</summary>
/// <example>
/// <code>
/// var fromFiles = DataFrames.ReadCsv("/data/sales-2024-*.csv");
/// var fromMemory = DataFrames.FromFrame(fromFiles.Head(1_000), partitions: 4);
/// </code>
/// </example>
public static class DataFrames
{
    /// <summary>The default partition size of <see cref="ReadCsv"/>: 32 MiB of file per partition.</summary>
    /// <example>
    /// <code>
    /// var frame = DataFrames.ReadCsv("/data/huge.csv", blockSize: DataFrames.DefaultBlockSize * 4); // 128 MiB partitions
    /// </code>
    /// </example>
    public const long DefaultBlockSize = 32L << 20;

    /// <summary>
    /// Reads the CSV file at <paramref name="path"/>, or every file a glob in its file name matches
    /// (<c>logs/2024-*.csv</c>, in name order), as partitions of <paramref name="blockSize"/> bytes:
    /// each partition parses the rows that start in its block. Every file starts with the same header
    /// line; types (long, double, bool, DateTime, string) are inferred from the first rows of the
    /// first file; empty fields are missing values. Only the columns later steps use are parsed.
    /// Quoted fields are read, but a quoted field may not contain a line break (blocks are split at
    /// line breaks).
    /// </summary>
    /// <example>
    /// <code>
    /// using var scheduler = ClusterScheduler.On(pool);
    /// var frame = DataFrames.ReadCsv("/shared/trips-2024-*.csv", blockSize: 64 &lt;&lt; 20, new CsvOptions { Separator = ';' });
    /// long trips = frame.Count().Compute(scheduler); // every worker must see /shared at the same path
    /// </code>
    /// </example>
    public static DistributedFrame ReadCsv(string path, long blockSize = DefaultBlockSize, CsvOptions? options = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(blockSize, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(blockSize, int.MaxValue / 2);
        options ??= new CsvOptions();
        var files = CsvBlocks.Files(path);
        var (header, _) = CsvBlocks.Header(files[0], options.Separator);
        var types = CsvBlocks.InferTypes(files[0], header, options);
        var blocks = new List<CsvBlockRead>();
        foreach (var file in files)
        {
            var full = Path.GetFullPath(file);
            var (names, headerEnd) = CsvBlocks.Header(full, options.Separator);
            if (!names.SequenceEqual(header))
                throw new CsvFormatException($"{file} has the header '{string.Join(options.Separator, names)}', {files[0]} '{string.Join(options.Separator, header)}': the files of one frame share their columns.");
            var length = new FileInfo(full).Length;
            for (long start = 0; start < length || start == 0; start += blockSize)
                blocks.Add(new CsvBlockRead(full, start, Math.Min(start + blockSize, length), headerEnd, options.Separator, header.Length, [], [], []));
        }
        var schema = new FrameSchema(header.Select((n, i) => new FrameColumn(n, types[i])));
        return new DistributedFrame(new CsvPlan(blocks, schema));
    }

    /// <summary>Splits <paramref name="frame"/> into <paramref name="partitions"/> partitions of consecutive rows (the frame is copied; later changes to it are not seen).</summary>
    /// <example>
    /// <code>
    /// var table = new DataFrame(new Int64DataFrameColumn("id", Enumerable.Range(0, 1_000).Select(i => (long)i)));
    /// var frame = DataFrames.FromFrame(table, partitions: 4);
    /// long count = frame.Count().Compute(); // 1000
    /// </code>
    /// </example>
    public static DistributedFrame FromFrame(DataFrame frame, int partitions = 1)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(partitions, 1);
        var rows = frame.Rows.Count;
        var layer = LayerNames.New("from-frame");
        var graph = new Graph();
        var keys = new string[partitions];
        for (var p = 0; p < partitions; p++)
        {
            var start = rows * p / partitions;
            var end = rows * (p + 1) / partitions;
            keys[p] = LayerNames.Key(layer, p);
            // A task of one literal, rather than a literal: the partition travels once, through the
            // frame codec, and lives on a worker, instead of riding inside every task that reads it.
            graph[keys[p]] = new TaskNode(FrameTasks.Partition, new Quoted(frame[LongRange(start, end)]));
        }
        return new DistributedFrame(new GraphPlan(LayeredGraph.Empty.With(layer, graph), keys, FrameSchema.Of(frame)));
    }

    private static IEnumerable<long> LongRange(long start, long end)
    {
        for (var i = start; i < end; i++) yield return i;
    }
}
