using Distributed.Dask;

namespace Distributed.Collections;

public sealed partial class DArray
{
    /// <summary>Elementwise sum.</summary>
    /// <example>
    /// <code>
    /// var sum = DArray.Arange(5, chunks: 5) + DArray.Ones(5, chunks: 5); // 1, 2, 3, 4, 5
    /// </code>
    /// </example>
    public static DArray operator +(DArray left, DArray right) => left.Combine(right, ChunkOp.Add);

    /// <summary>Elementwise difference.</summary>
    /// <example>
    /// <code>
    /// var x = DArray.Random(1, 1_000, chunks: 100);
    /// var residual = x - DArray.Full(1_000, 0.5, chunks: 100);
    /// </code>
    /// </example>
    public static DArray operator -(DArray left, DArray right) => left.Combine(right, ChunkOp.Subtract);

    /// <summary>Elementwise product.</summary>
    /// <example>
    /// <code>
    /// var x = DArray.Arange(4, chunks: 2);
    /// double sumOfSquares = (x * x).Sum().Compute(); // 14
    /// </code>
    /// </example>
    public static DArray operator *(DArray left, DArray right) => left.Combine(right, ChunkOp.Multiply);

    /// <summary>Elementwise quotient.</summary>
    /// <example>
    /// <code>
    /// var ratio = DArray.Arange(1.0, 5.0, 1.0, chunks: 2) / DArray.Full(4, 2.0, chunks: 4); // 0.5, 1, 1.5, 2 (rechunked to match)
    /// </code>
    /// </example>
    public static DArray operator /(DArray left, DArray right) => left.Combine(right, ChunkOp.Divide);

    /// <summary>Adds <paramref name="right"/> to every value.</summary>
    /// <example>
    /// <code>
    /// var shifted = DArray.Arange(3, chunks: 3) + 10.0; // 10, 11, 12
    /// </code>
    /// </example>
    public static DArray operator +(DArray left, double right) => left.WithScalar(right, ChunkOp.Add, scalarFirst: false);

    /// <summary>Subtracts <paramref name="right"/> from every value.</summary>
    /// <example>
    /// <code>
    /// var x = DArray.Random(3, 1_000, chunks: 100);
    /// var centered = x - 0.5;
    /// </code>
    /// </example>
    public static DArray operator -(DArray left, double right) => left.WithScalar(right, ChunkOp.Subtract, scalarFirst: false);

    /// <summary>Multiplies every value by <paramref name="right"/>.</summary>
    /// <example>
    /// <code>
    /// var celsius = DArray.FromArray([0.0, 100.0], chunks: 2);
    /// var fahrenheit = celsius * 1.8 + 32; // 32, 212
    /// </code>
    /// </example>
    public static DArray operator *(DArray left, double right) => left.WithScalar(right, ChunkOp.Multiply, scalarFirst: false);

    /// <summary>Divides every value by <paramref name="right"/>.</summary>
    /// <example>
    /// <code>
    /// var percent = DArray.Arange(0.0, 100.0, 25.0, chunks: 2) / 100; // 0, 0.25, 0.5, 0.75
    /// </code>
    /// </example>
    public static DArray operator /(DArray left, double right) => left.WithScalar(right, ChunkOp.Divide, scalarFirst: false);

    /// <summary><paramref name="left"/> plus every value.</summary>
    /// <example>
    /// <code>
    /// var x = 1 + DArray.Zeros(4, chunks: 2); // 1, 1, 1, 1
    /// </code>
    /// </example>
    public static DArray operator +(double left, DArray right) => right.WithScalar(left, ChunkOp.Add, scalarFirst: true);

    /// <summary><paramref name="left"/> minus every value.</summary>
    /// <example>
    /// <code>
    /// var complement = 1 - DArray.Random(9, 100, chunks: 10); // uniform in (0, 1]
    /// </code>
    /// </example>
    public static DArray operator -(double left, DArray right) => right.WithScalar(left, ChunkOp.Subtract, scalarFirst: true);

    /// <summary><paramref name="left"/> times every value.</summary>
    /// <example>
    /// <code>
    /// var doubled = 2 * DArray.Arange(5, chunks: 5); // 0, 2, 4, 6, 8
    /// </code>
    /// </example>
    public static DArray operator *(double left, DArray right) => right.WithScalar(left, ChunkOp.Multiply, scalarFirst: true);

    /// <summary><paramref name="left"/> divided by every value.</summary>
    /// <example>
    /// <code>
    /// var reciprocal = 1 / DArray.Arange(1.0, 5.0, 1.0, chunks: 4); // 1, 0.5, 0.333..., 0.25
    /// </code>
    /// </example>
    public static DArray operator /(double left, DArray right) => right.WithScalar(left, ChunkOp.Divide, scalarFirst: true);

    /// <summary>Every value negated.</summary>
    /// <example>
    /// <code>
    /// var x = DArray.Arange(3, chunks: 3);
    /// double[] negated = (-x).ComputeVector(); // 0, -1, -2
    /// </code>
    /// </example>
    public static DArray operator -(DArray value) =>
        FromPrograms("neg", value._grid, value._sources, value._programs.Select(p => p.Then(new Instruction(ChunkOp.Negate))).ToArray(), value._functions);

    /// <summary>
    /// <paramref name="function"/> applied to every value (fused with the elementwise operations
    /// around it). Prefer the operators where they do the job: they run vectorized.
    /// </summary>
    /// <example>
    /// <code>
    /// var x = DArray.Arange(0.0, Math.PI, 0.1, chunks: 10);
    /// var waves = x.Map(Math.Sin) * 2; // one task per chunk computes the sine and the product
    /// </code>
    /// </example>
    public DArray Map(Func<double, double> function)
    {
        ArgumentNullException.ThrowIfNull(function);
        var map = new Instruction(ChunkOp.Map, _functions.Length);
        return FromPrograms("map", _grid, _sources, _programs.Select(p => p.Then(map)).ToArray(), [.. _functions, function]);
    }

    /// <summary>
    /// <paramref name="function"/> applied to each chunk's values (row-major for a matrix); it must
    /// return as many values as it was given.
    /// </summary>
    /// <example>
    /// <code>
    /// var x = DArray.Random(2, 1_000, chunks: 100);
    /// var sorted = x.MapBlocks(chunk => chunk.Order().ToArray()); // each chunk sorted on its own
    /// </code>
    /// </example>
    public DArray MapBlocks(Func<double[], double[]> function)
    {
        ArgumentNullException.ThrowIfNull(function);
        var layer = LayerNames.New("map-blocks");
        var tasks = new Graph();
        var keys = new string[Keys.Count];
        for (var i = 0; i < keys.Length; i++)
        {
            keys[i] = ChunkKey(_grid, layer, i);
            tasks[keys[i]] = new TaskNode(function, new KeyRef(Keys[i]));
        }
        return FromKeys(Graph.With(layer, tasks), _grid, keys);
    }

    private DArray WithScalar(double value, ChunkOp op, bool scalarFirst)
    {
        var constant = new Instruction(ChunkOp.Constant, value);
        var programs = _programs.Select(p => scalarFirst
            ? p with { Code = [constant, .. p.Code, new Instruction(op)] }
            : p.Then(constant, new Instruction(op))).ToArray();
        return FromPrograms(op.ToString().ToLowerInvariant(), _grid, _sources, programs, _functions);
    }

    private DArray Combine(DArray other, ChunkOp op)
    {
        ArgumentNullException.ThrowIfNull(other);
        if (!Shape.SequenceEqual(other.Shape))
            throw new ArgumentException($"Elementwise operations need equal shapes: {this} and {other}.", nameof(other));
        // Chunks line up as this array's: the other is cut the same way first.
        if (!_grid.SameAs(other._grid)) other = other.Rechunk(_grid);
        var programs = new ChunkProgram[_programs.Length];
        for (var i = 0; i < programs.Length; i++) programs[i] = _programs[i].Combine(other._programs[i], _functions.Length, op);
        return FromPrograms(op.ToString().ToLowerInvariant(), _grid, LayeredGraph.Merge(_sources, other._sources), programs, [.. _functions, .. other._functions]);
    }
}
