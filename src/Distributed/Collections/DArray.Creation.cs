using Distributed.Dask;

namespace Distributed.Collections;

public sealed partial class DArray
{
    /// <summary>0, 1, …, <paramref name="stop"/> − 1 in chunks of <paramref name="chunks"/> values.</summary>
    /// <example>
    /// <code>
    /// var x = DArray.Arange(1_000, chunks: 100); // 0, 1, ..., 999 in 10 chunks
    /// double total = x.Sum().Compute(); // 499500
    /// </code>
    /// </example>
    public static DArray Arange(int stop, int chunks) => Arange(0, stop, 1, chunks);

    /// <summary><paramref name="start"/>, <paramref name="start"/> + <paramref name="step"/>, … below <paramref name="stop"/> (above, for a negative step).</summary>
    /// <example>
    /// <code>
    /// var countdown = DArray.Arange(10.0, 0.0, -2.5, chunks: 2).ComputeVector(); // 10, 7.5, 5, 2.5
    /// </code>
    /// </example>
    public static DArray Arange(double start, double stop, double step, int chunks)
    {
        if (step == 0 || !double.IsFinite(step)) throw new ArgumentOutOfRangeException(nameof(step), step, "The step is finite and not zero.");
        var length = (int)Math.Max(0, Math.Ceiling((stop - start) / step));
        var grid = new ChunkGrid(ChunkGrid.Regular(length, chunks));
        return Generate("arange", grid, box => new Instruction(ChunkOp.Arange, start, step, box.Column));
    }

    /// <summary>A vector of <paramref name="length"/> values <paramref name="value"/>.</summary>
    /// <example>
    /// <code>
    /// var sevens = DArray.Full(1_000, 7.0, chunks: 250);
    /// Console.WriteLine(sevens.Mean().Compute()); // 7
    /// </code>
    /// </example>
    public static DArray Full(int length, double value, int chunks) =>
        Generate("full", new ChunkGrid(ChunkGrid.Regular(length, chunks)), _ => new Instruction(ChunkOp.Constant, value));

    /// <summary>A matrix of <paramref name="shape"/> whose values are all <paramref name="value"/>.</summary>
    /// <example>
    /// <code>
    /// var m = DArray.Full((4, 6), -1.0, chunks: (2, 3)); // four 2 x 3 chunks of -1
    /// </code>
    /// </example>
    public static DArray Full((int Rows, int Columns) shape, double value, (int Rows, int Columns) chunks) =>
        Generate("full", Grid(shape, chunks), _ => new Instruction(ChunkOp.Constant, value));

    /// <summary>A vector of zeros.</summary>
    /// <example>
    /// <code>
    /// var x = DArray.Zeros(100, chunks: 10) + 3; // 100 threes, made in the chunks' own tasks
    /// </code>
    /// </example>
    public static DArray Zeros(int length, int chunks) => Full(length, 0, chunks);

    /// <summary>A matrix of zeros.</summary>
    /// <example>
    /// <code>
    /// double[,] grid = DArray.Zeros((3, 3), (3, 3)).ComputeMatrix();
    /// </code>
    /// </example>
    public static DArray Zeros((int Rows, int Columns) shape, (int Rows, int Columns) chunks) => Full(shape, 0, chunks);

    /// <summary>A vector of ones.</summary>
    /// <example>
    /// <code>
    /// double count = DArray.Ones(1_000_000, chunks: 100_000).Sum().Compute(); // 1000000
    /// </code>
    /// </example>
    public static DArray Ones(int length, int chunks) => Full(length, 1, chunks);

    /// <summary>A matrix of ones.</summary>
    /// <example>
    /// <code>
    /// var rowSums = DArray.Random(0, (4, 3), (2, 3)).Dot(DArray.Ones((3, 1), (3, 1))); // a 4 x 1 matrix
    /// </code>
    /// </example>
    public static DArray Ones((int Rows, int Columns) shape, (int Rows, int Columns) chunks) => Full(shape, 1, chunks);

    /// <summary>
    /// A vector of uniform values in [0, 1) determined by <paramref name="seed"/>: the same seed gives
    /// the same values on any scheduler and with any chunks.
    /// </summary>
    /// <example>
    /// <code>
    /// var noise = DArray.Random(seed: 7, length: 1_000_000, chunks: 100_000);
    /// Console.WriteLine(noise.Mean().Compute()); // about 0.5, the same on every run and scheduler
    /// </code>
    /// </example>
    public static DArray Random(int seed, int length, int chunks) =>
        Random(seed, new ChunkGrid(ChunkGrid.Regular(length, chunks)));

    /// <summary>A matrix of uniform values in [0, 1) determined by <paramref name="seed"/>.</summary>
    /// <example>
    /// <code>
    /// var weights = DArray.Random(seed: 1, (1_000, 100), chunks: (250, 100)) * 2 - 1; // uniform in [-1, 1)
    /// </code>
    /// </example>
    public static DArray Random(int seed, (int Rows, int Columns) shape, (int Rows, int Columns) chunks) =>
        Random(seed, Grid(shape, chunks));

    private static DArray Random(int seed, ChunkGrid grid) =>
        Generate("random", grid, box => new Instruction(ChunkOp.Random, seed, (double)box.Row * grid.Columns + box.Column, box.Columns, grid.Columns));

    /// <summary>A vector holding <paramref name="values"/>, cut into chunks that travel in the graph.</summary>
    /// <example>
    /// <code>
    /// var x = DArray.FromArray([3.0, 1.0, 4.0, 1.0, 5.0], chunks: 2);
    /// Console.WriteLine(x.Max().Compute()); // 5
    /// </code>
    /// </example>
    public static DArray FromArray(double[] values, int chunks)
    {
        ArgumentNullException.ThrowIfNull(values);
        var grid = new ChunkGrid(ChunkGrid.Regular(values.Length, chunks));
        return FromBlocks("array", grid, box => values.AsSpan(box.Column, box.Columns).ToArray());
    }

    /// <summary>A matrix holding <paramref name="values"/>, cut into chunks that travel in the graph.</summary>
    /// <example>
    /// <code>
    /// var m = DArray.FromArray(new double[,] { { 1, 2 }, { 3, 4 } }, chunks: (1, 2));
    /// double[,] t = m.T.ComputeMatrix(); // { { 1, 3 }, { 2, 4 } }
    /// </code>
    /// </example>
    public static DArray FromArray(double[,] values, (int Rows, int Columns) chunks)
    {
        ArgumentNullException.ThrowIfNull(values);
        var columns = values.GetLength(1);
        var grid = Grid((values.GetLength(0), columns), chunks);
        return FromBlocks("array", grid, box =>
        {
            var block = new double[box.Size];
            for (var r = 0; r < box.Rows; r++)
                Buffer.BlockCopy(values, ((box.Row + r) * columns + box.Column) * sizeof(double), block, r * box.Columns * sizeof(double), box.Columns * sizeof(double));
            return block;
        });
    }

    private static ChunkGrid Grid((int Rows, int Columns) shape, (int Rows, int Columns) chunks) =>
        new(ChunkGrid.Regular(shape.Rows, chunks.Rows), ChunkGrid.Regular(shape.Columns, chunks.Columns));

    private static DArray Generate(string operation, ChunkGrid grid, Func<Box, Instruction> source)
    {
        var programs = new ChunkProgram[grid.ChunkCount];
        for (var i = 0; i < programs.Length; i++)
        {
            var box = grid.BoxOf(i);
            programs[i] = new ChunkProgram(box.Size, [source(box)], []);
        }
        return FromPrograms(operation, grid, LayeredGraph.Empty, programs, []);
    }

    private static DArray FromBlocks(string operation, ChunkGrid grid, Func<Box, double[]> block)
    {
        var layer = LayerNames.New(operation);
        var chunks = new Graph();
        var keys = new string[grid.ChunkCount];
        for (var i = 0; i < keys.Length; i++)
        {
            keys[i] = ChunkKey(grid, layer, i);
            chunks[keys[i]] = block(grid.BoxOf(i)); // an array of numbers is a literal of the graph
        }
        return FromKeys(LayeredGraph.Empty.With(layer, chunks), grid, keys);
    }
}
