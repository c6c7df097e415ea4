using Distributed.Dask;

namespace Distributed.Collections;

public sealed partial class DArray
{
    /// <summary>0, 1, …, <paramref name="stop"/> − 1 in chunks of <paramref name="chunks"/> values.</summary>
    public static DArray Arange(int stop, int chunks) => Arange(0, stop, 1, chunks);

    /// <summary><paramref name="start"/>, <paramref name="start"/> + <paramref name="step"/>, … below <paramref name="stop"/> (above, for a negative step).</summary>
    public static DArray Arange(double start, double stop, double step, int chunks)
    {
        if (step == 0 || !double.IsFinite(step)) throw new ArgumentOutOfRangeException(nameof(step), step, "The step is finite and not zero.");
        var length = (int)Math.Max(0, Math.Ceiling((stop - start) / step));
        var grid = new ChunkGrid(ChunkGrid.Regular(length, chunks));
        return Generate("arange", grid, box => new Instruction(ChunkOp.Arange, start, step, box.Column));
    }

    /// <summary>A vector of <paramref name="length"/> values <paramref name="value"/>.</summary>
    public static DArray Full(int length, double value, int chunks) =>
        Generate("full", new ChunkGrid(ChunkGrid.Regular(length, chunks)), _ => new Instruction(ChunkOp.Constant, value));

    /// <summary>A matrix of <paramref name="shape"/> whose values are all <paramref name="value"/>.</summary>
    public static DArray Full((int Rows, int Columns) shape, double value, (int Rows, int Columns) chunks) =>
        Generate("full", Grid(shape, chunks), _ => new Instruction(ChunkOp.Constant, value));

    /// <summary>A vector of zeros.</summary>
    public static DArray Zeros(int length, int chunks) => Full(length, 0, chunks);

    /// <summary>A matrix of zeros.</summary>
    public static DArray Zeros((int Rows, int Columns) shape, (int Rows, int Columns) chunks) => Full(shape, 0, chunks);

    /// <summary>A vector of ones.</summary>
    public static DArray Ones(int length, int chunks) => Full(length, 1, chunks);

    /// <summary>A matrix of ones.</summary>
    public static DArray Ones((int Rows, int Columns) shape, (int Rows, int Columns) chunks) => Full(shape, 1, chunks);

    /// <summary>
    /// A vector of uniform values in [0, 1) determined by <paramref name="seed"/>: the same seed gives
    /// the same values on any scheduler and with any chunks.
    /// </summary>
    public static DArray Random(int seed, int length, int chunks) =>
        Random(seed, new ChunkGrid(ChunkGrid.Regular(length, chunks)));

    /// <summary>A matrix of uniform values in [0, 1) determined by <paramref name="seed"/>.</summary>
    public static DArray Random(int seed, (int Rows, int Columns) shape, (int Rows, int Columns) chunks) =>
        Random(seed, Grid(shape, chunks));

    private static DArray Random(int seed, ChunkGrid grid) =>
        Generate("random", grid, box => new Instruction(ChunkOp.Random, seed, (double)box.Row * grid.Columns + box.Column, box.Columns, grid.Columns));

    /// <summary>A vector holding <paramref name="values"/>, cut into chunks that travel in the graph.</summary>
    public static DArray FromArray(double[] values, int chunks)
    {
        ArgumentNullException.ThrowIfNull(values);
        var grid = new ChunkGrid(ChunkGrid.Regular(values.Length, chunks));
        return FromBlocks("array", grid, box => values.AsSpan(box.Column, box.Columns).ToArray());
    }

    /// <summary>A matrix holding <paramref name="values"/>, cut into chunks that travel in the graph.</summary>
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
