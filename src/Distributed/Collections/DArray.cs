using Distributed.Dask;

namespace Distributed.Collections;

/// <summary>
/// A chunked array of <c>double</c> with one or two axes, computed by a task graph (dask's array).
/// Elementwise operations are fused: they add to a small program per chunk instead of a layer of
/// tasks, so <c>(x * 2 + 1).Sum()</c> runs one task per chunk that produces the chunk, applies both
/// operations a tile at a time and sums it.
/// </summary>
/// <example>
/// <code>
/// var x = DArray.Random(seed: 42, length: 10_000_000, chunks: 1_000_000);
/// using var scheduler = ClusterScheduler.On(pool);
/// double std = ((x - x.Mean().Compute(scheduler)) * 2).Std().Compute(scheduler); // one task per chunk, fused
/// </code>
/// </example>
public sealed partial class DArray : Collection<Array>
{
    private readonly ChunkGrid _grid;
    // The graph the programs' inputs live in: a fused array's own chunk tasks are not in it, so an
    // operation on this array builds on the programs rather than on those tasks.
    private readonly LayeredGraph _sources;
    private readonly ChunkProgram[] _programs;
    private readonly Func<double, double>[] _functions;

    private DArray(LayeredGraph graph, IReadOnlyList<string> keys, ChunkGrid grid, LayeredGraph sources, ChunkProgram[] programs, Func<double, double>[] functions)
        : base(graph, keys)
    {
        _grid = grid;
        _sources = sources;
        _programs = programs;
        _functions = functions;
    }

    /// <summary>The length of each axis.</summary>
    /// <example>
    /// <code>
    /// var m = DArray.Zeros((1_000, 200), chunks: (250, 200));
    /// Console.WriteLine(string.Join(" x ", m.Shape)); // 1000 x 200
    /// </code>
    /// </example>
    public IReadOnlyList<int> Shape => _grid.Shape;

    /// <summary>The chunk sizes along each axis (dask's <c>chunks</c>).</summary>
    /// <example>
    /// <code>
    /// var x = DArray.Arange(10, chunks: 4);
    /// Console.WriteLine(string.Join(", ", x.Chunks[0])); // 4, 4, 2
    /// </code>
    /// </example>
    public IReadOnlyList<IReadOnlyList<int>> Chunks => Enumerable.Range(0, Rank).Select(_grid.Sizes).ToList();

    /// <summary>Number of axes: 1 for a vector, 2 for a matrix.</summary>
    /// <example>
    /// <code>
    /// var result = DArray.Ones((3, 4), (3, 4)).Sum(axis: 0);
    /// Console.WriteLine(result.Rank); // 1: a value per column
    /// </code>
    /// </example>
    public int Rank => _grid.Rank;

    /// <summary>Number of values.</summary>
    /// <example>
    /// <code>
    /// var m = DArray.Ones((1_000, 1_000), chunks: (100, 100));
    /// Console.WriteLine(m.Size); // 1000000
    /// </code>
    /// </example>
    public long Size => _grid.Shape.Aggregate(1L, (n, length) => n * length);

    /// <summary>The shape and chunks, e.g. <c>DArray(shape=(10), chunks=((4, 4, 2)))</c>; never the values.</summary>
    /// <example>
    /// <code>
    /// Console.WriteLine(DArray.Arange(10, chunks: 4)); // DArray(shape=(10), chunks=((4, 4, 2)))
    /// </code>
    /// </example>
    public override string ToString() => $"DArray(shape=({string.Join(", ", Shape)}), chunks={_grid.Describe()})";

    /// <summary>An array whose chunks are the values of <paramref name="keys"/> in <paramref name="graph"/>.</summary>
    private static DArray FromKeys(LayeredGraph graph, ChunkGrid grid, IReadOnlyList<string> keys)
    {
        var programs = new ChunkProgram[keys.Count];
        for (var i = 0; i < keys.Count; i++) programs[i] = ChunkProgram.Read(grid.BoxOf(i).Size, keys[i]);
        return new DArray(graph, keys, grid, graph, programs, []);
    }

    /// <summary>An array whose chunks are computed by <paramref name="programs"/> from chunks of <paramref name="sources"/>.</summary>
    private static DArray FromPrograms(string operation, ChunkGrid grid, LayeredGraph sources, ChunkProgram[] programs, Func<double, double>[] functions)
    {
        var layer = LayerNames.New(operation);
        var tasks = new Graph();
        var keys = new string[programs.Length];
        for (var i = 0; i < programs.Length; i++)
        {
            var program = programs[i];
            if (program.IsPlainInput)
            {
                keys[i] = program.Inputs[0];
                continue;
            }
            keys[i] = ChunkKey(grid, layer, i);
            tasks[keys[i]] = new TaskNode(ArrayTasks.Materialize, program.Encode(), functions, InputsOf(program));
        }
        var graph = tasks.Count == 0 ? sources : sources.With(layer, tasks);
        return new DArray(graph, keys, grid, sources, programs, functions);
    }

    private static string ChunkKey(ChunkGrid grid, string layer, int flat) =>
        grid.Rank == 1 ? LayerNames.Key(layer, flat) : LayerNames.Key(layer, flat / grid.Count(1), flat % grid.Count(1));

    private static KeyRef[] InputsOf(ChunkProgram program) => program.Inputs.Select(k => new KeyRef(k)).ToArray();

    /// <summary>Computes the array: a <c>double[]</c> for a vector, a <c>double[,]</c> for a matrix.</summary>
    /// <example>
    /// <code>
    /// Array values = DArray.Arange(6, chunks: 2).Compute(); // a double[] of 0..5, copied from three chunks
    /// double[,] matrix = (double[,])DArray.Ones((2, 2), (1, 1)).Compute();
    /// </code>
    /// </example>
    protected override Array Assemble(IReadOnlyList<object?> values)
    {
        var shape = _grid.Shape;
        Array result = Rank == 1 ? new double[shape[0]] : new double[shape[0], shape[1]];
        for (var flat = 0; flat < values.Count; flat++)
        {
            var chunk = (double[])values[flat]!;
            var box = _grid.BoxOf(flat);
            for (var r = 0; r < box.Rows; r++)
                Buffer.BlockCopy(chunk, r * box.Columns * sizeof(double), result,
                    ((box.Row + r) * _grid.Columns + box.Column) * sizeof(double), box.Columns * sizeof(double));
        }
        return result;
    }

    /// <summary>Computes a vector into a <c>double[]</c>.</summary>
    /// <example>
    /// <code>
    /// double[] ramp = DArray.Arange(0.0, 1.0, 0.25, chunks: 2).ComputeVector(); // 0, 0.25, 0.5, 0.75
    /// </code>
    /// </example>
    public double[] ComputeVector(IScheduler? scheduler = null) =>
        Rank == 1 ? (double[])Compute(scheduler) : throw new InvalidOperationException($"{this} is a matrix: use ComputeMatrix.");

    /// <summary>Computes a matrix into a <c>double[,]</c>.</summary>
    /// <example>
    /// <code>
    /// using var scheduler = ClusterScheduler.On(pool);
    /// double[,] product = DArray.Random(1, (500, 500), (100, 100)).Dot(DArray.Ones((500, 2), (100, 2))).ComputeMatrix(scheduler);
    /// </code>
    /// </example>
    public double[,] ComputeMatrix(IScheduler? scheduler = null) =>
        Rank == 2 ? (double[,])Compute(scheduler) : throw new InvalidOperationException($"{this} is a vector: use ComputeVector.");

    /// <summary>
    /// Computes the chunks and keeps them where they were computed (on the workers, for a cluster
    /// scheduler): later computations start from them.
    /// </summary>
    /// <example>
    /// <code>
    /// using var scheduler = ClusterScheduler.On(pool);
    /// var x = DArray.Random(seed: 5, length: 50_000_000, chunks: 5_000_000).Persist(scheduler); // chunks stay on the workers
    /// var (min, max) = (x.Min().Compute(scheduler), x.Max().Compute(scheduler)); // neither regenerates x
    /// </code>
    /// </example>
    public DArray Persist(IScheduler? scheduler = null) => FromKeys(PersistGraph(scheduler), _grid, Keys);
}
