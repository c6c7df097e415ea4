using Distributed.Dask;

namespace Distributed.Collections;

public sealed partial class DArray
{
    /// <summary>The values of a vector in <paramref name="range"/>, e.g. <c>x[10..^5]</c>.</summary>
    /// <example>
    /// <code>
    /// var x = DArray.Arange(100, chunks: 10);
    /// double[] middle = x[10..^10].ComputeVector(); // 10, 11, ..., 89
    /// </code>
    /// </example>
    public DArray this[Range range]
    {
        get
        {
            if (Rank != 1) throw new InvalidOperationException($"{this} is a matrix: slice it with m[rows, columns].");
            var (start, length) = range.GetOffsetAndLength(Shape[0]);
            return Gather("slice", new ChunkGrid(SliceSizes(0, start, length)), 0, start);
        }
    }

    /// <summary>The block of a matrix in <paramref name="rows"/> × <paramref name="columns"/>, e.g. <c>m[2.., ..3]</c>.</summary>
    /// <example>
    /// <code>
    /// var m = DArray.Random(0, (100, 100), (25, 25));
    /// var corner = m[..10, 90..]; // the top-right 10 x 10 block
    /// </code>
    /// </example>
    public DArray this[Range rows, Range columns]
    {
        get
        {
            if (Rank != 2) throw new InvalidOperationException($"{this} is a vector: slice it with x[range].");
            var (row, height) = rows.GetOffsetAndLength(Shape[0]);
            var (column, width) = columns.GetOffsetAndLength(Shape[1]);
            return Gather("slice", new ChunkGrid(SliceSizes(0, row, height), SliceSizes(1, column, width)), row, column);
        }
    }

    /// <summary>The transpose of a matrix (a vector is its own).</summary>
    /// <example>
    /// <code>
    /// var m = DArray.Random(3, (200, 50), (50, 50));
    /// var gram = m.T.Dot(m); // 50 x 50
    /// </code>
    /// </example>
    public DArray T => Transpose();

    /// <summary>The transpose of a matrix (a vector is its own).</summary>
    /// <example>
    /// <code>
    /// var m = DArray.FromArray(new double[,] { { 1, 2, 3 } }, chunks: (1, 3));
    /// Console.WriteLine(string.Join(" x ", m.Transpose().Shape)); // 3 x 1
    /// </code>
    /// </example>
    public DArray Transpose()
    {
        if (Rank == 1) return this;
        var layer = LayerNames.New("transpose");
        var tasks = new Graph();
        var grid = new ChunkGrid([.. _grid.Sizes(1)], [.. _grid.Sizes(0)]);
        var keys = new string[grid.ChunkCount];
        for (var flat = 0; flat < keys.Length; flat++)
        {
            var (row, column) = (flat / grid.Count(1), flat % grid.Count(1));
            var source = _grid.Flat(column, row);
            var box = _grid.BoxOf(source);
            keys[flat] = ChunkKey(grid, layer, flat);
            tasks[keys[flat]] = new TaskNode(ArrayTasks.Transpose, box.Rows, box.Columns, new KeyRef(Keys[source]));
        }
        return FromKeys(Graph.With(layer, tasks), grid, keys);
    }

    /// <summary>The same vector in chunks of <paramref name="chunks"/> values.</summary>
    /// <example>
    /// <code>
    /// var x = DArray.Arange(1_000_000, chunks: 1_000).Rechunk(100_000); // fewer, larger tasks
    /// </code>
    /// </example>
    public DArray Rechunk(int chunks)
    {
        if (Rank != 1) throw new InvalidOperationException($"{this} is a matrix: rechunk it with (rows, columns).");
        return Rechunk(new ChunkGrid(ChunkGrid.Regular(Shape[0], chunks)));
    }

    /// <summary>The same matrix in chunks of <paramref name="chunks"/>.</summary>
    /// <example>
    /// <code>
    /// var m = DArray.Ones((1_000, 1_000), (100, 1_000)).Rechunk((1_000, 100)); // row blocks to column blocks
    /// </code>
    /// </example>
    public DArray Rechunk((int Rows, int Columns) chunks)
    {
        if (Rank != 2) throw new InvalidOperationException($"{this} is a vector: rechunk it with one size.");
        return Rechunk(Grid((Shape[0], Shape[1]), chunks));
    }

    private DArray Rechunk(ChunkGrid grid) => _grid.SameAs(grid) ? this : Gather("rechunk", grid, 0, 0);

    /// <summary>
    /// The matrix product with a matrix, or the product with a vector. The other array's chunks
    /// along the shared axis are cut as this one's columns first.
    /// </summary>
    /// <example>
    /// <code>
    /// var a = DArray.Random(1, (300, 200), (100, 100));
    /// var v = DArray.Ones(200, chunks: 50);
    /// double[] rowSums = a.Dot(v).ComputeVector(); // 300 values
    /// </code>
    /// </example>
    public DArray Dot(DArray other)
    {
        ArgumentNullException.ThrowIfNull(other);
        if (Rank != 2) throw new NotSupportedException($"Dot is for a matrix on the left; {this} is a vector.");
        if (other.Shape[0] != Shape[1]) throw new ArgumentException($"Cannot multiply {this} by {other}: {Shape[1]} columns against {other.Shape[0]} rows.", nameof(other));
        var inner = _grid.Sizes(1).ToArray();
        other = other.Rank == 1
            ? other.Rechunk(new ChunkGrid(inner))
            : other.Rechunk(new ChunkGrid(inner, [.. other._grid.Sizes(1)]));
        var layer = LayerNames.New("dot");
        var tasks = new Graph();
        KeyRef[] Row(int i) => Enumerable.Range(0, inner.Length).Select(p => new KeyRef(Keys[_grid.Flat(i, p)])).ToArray();
        if (other.Rank == 1)
        {
            var vector = other.Keys.Select(k => new KeyRef(k)).ToArray();
            var grid = new ChunkGrid([.. _grid.Sizes(0)]);
            var keys = new string[grid.ChunkCount];
            for (var i = 0; i < keys.Length; i++)
            {
                keys[i] = LayerNames.Key(layer, i);
                tasks[keys[i]] = new TaskNode(ArrayTasks.MultiplyVector, _grid.Sizes(0)[i], inner, Row(i), vector);
            }
            return FromKeys(LayeredGraph.Merge(Graph, other.Graph).With(layer, tasks), grid, keys);
        }
        var product = new ChunkGrid([.. _grid.Sizes(0)], [.. other._grid.Sizes(1)]);
        var blocks = new string[product.ChunkCount];
        for (var flat = 0; flat < blocks.Length; flat++)
        {
            var (i, j) = (flat / product.Count(1), flat % product.Count(1));
            var column = Enumerable.Range(0, inner.Length).Select(p => new KeyRef(other.Keys[other._grid.Flat(p, j)])).ToArray();
            blocks[flat] = ChunkKey(product, layer, flat);
            tasks[blocks[flat]] = new TaskNode(ArrayTasks.Multiply, _grid.Sizes(0)[i], other._grid.Sizes(1)[j], inner, Row(i), column);
        }
        return FromKeys(LayeredGraph.Merge(Graph, other.Graph).With(layer, tasks), product, blocks);
    }

    /// <summary>The sizes of the chunks of [<paramref name="start"/>, +<paramref name="length"/>) along <paramref name="axis"/>: the pieces of this array's chunks it covers.</summary>
    private int[] SliceSizes(int axis, int start, int length)
    {
        var sizes = _grid.Overlapping(axis, start, length)
            .Select(i => Math.Min(start + length, _grid.Offset(axis, i + 1)) - Math.Max(start, _grid.Offset(axis, i)))
            .ToArray();
        return sizes.Length == 0 ? [0] : sizes;
    }

    /// <summary>
    /// An array cut as <paramref name="grid"/> whose origin is (<paramref name="row"/>, <paramref name="column"/>)
    /// of this one: each chunk copied from the chunks it overlaps, or this array's own chunk when it is one.
    /// </summary>
    private DArray Gather(string operation, ChunkGrid grid, int row, int column)
    {
        var layer = LayerNames.New(operation);
        var tasks = new Graph();
        var keys = new string[grid.ChunkCount];
        for (var flat = 0; flat < keys.Length; flat++)
        {
            var target = grid.BoxOf(flat);
            target = target with { Row = target.Row + row, Column = target.Column + column };
            var rows = Rank == 1 ? [0] : _grid.Overlapping(0, target.Row, target.Rows);
            var sources = rows.SelectMany(r => _grid.Overlapping(Rank - 1, target.Column, target.Columns).Select(c => _grid.Flat(r, c))).ToList();
            if (sources is [var only] && _grid.BoxOf(only) == target)
            {
                keys[flat] = Keys[only];
                continue;
            }
            keys[flat] = ChunkKey(grid, layer, flat);
            tasks[keys[flat]] = new TaskNode(ArrayTasks.CopyRegion, target.ToArray(),
                sources.SelectMany(s => _grid.BoxOf(s).ToArray()).ToArray(), sources.Select(s => new KeyRef(Keys[s])).ToArray());
        }
        return FromKeys(tasks.Count == 0 ? Graph : Graph.With(layer, tasks), grid, keys);
    }
}
