using Distributed.Dask;

namespace Distributed.Collections;

public sealed partial class DArray
{
    /// <summary>How many partial results one combining task takes (dask's <c>split_every</c>).</summary>
    private const int SplitEvery = 16;

    /// <summary>The sum of all values.</summary>
    /// <example>
    /// <code>
    /// double total = DArray.Arange(101, chunks: 10).Sum().Compute(); // 5050
    /// </code>
    /// </example>
    public Scalar<double> Sum() => Reduce(Reduction.Sum, "sum");

    /// <summary>The smallest value.</summary>
    /// <example>
    /// <code>
    /// double lowest = DArray.FromArray([4.0, -2.0, 9.0], chunks: 2).Min().Compute(); // -2
    /// </code>
    /// </example>
    public Scalar<double> Min() => Reduce(Reduction.Min, "min");

    /// <summary>The largest value.</summary>
    /// <example>
    /// <code>
    /// double highest = DArray.Random(5, 1_000_000, chunks: 100_000).Max().Compute(); // just under 1
    /// </code>
    /// </example>
    public Scalar<double> Max() => Reduce(Reduction.Max, "max");

    /// <summary>The mean of all values.</summary>
    /// <example>
    /// <code>
    /// using var scheduler = ClusterScheduler.On(pool);
    /// double mean = DArray.Arange(1_000, chunks: 100).Mean().Compute(scheduler); // 499.5
    /// </code>
    /// </example>
    public Scalar<double> Mean() => Reduce(Reduction.Mean, "mean");

    /// <summary>The (population) variance of all values, as numpy's default: divided by their count.</summary>
    /// <example>
    /// <code>
    /// double variance = DArray.FromArray([1.0, 2.0, 3.0, 4.0], chunks: 2).Var().Compute(); // 1.25
    /// </code>
    /// </example>
    public Scalar<double> Var() => Reduce(Reduction.Var, "var");

    /// <summary>The (population) standard deviation of all values.</summary>
    /// <example>
    /// <code>
    /// var x = DArray.Random(8, 1_000_000, chunks: 100_000);
    /// double std = x.Std().Compute(); // about 0.2887, that is √(1/12)
    /// </code>
    /// </example>
    public Scalar<double> Std() => Reduce(Reduction.Var, "std", root: true);

    /// <summary>Sums along <paramref name="axis"/> of a matrix: 0 gives a value per column, 1 a value per row.</summary>
    /// <example>
    /// <code>
    /// var m = DArray.Ones((3, 4), (3, 2));
    /// double[] columnSums = m.Sum(axis: 0).ComputeVector(); // 3, 3, 3, 3
    /// double[] rowSums = m.Sum(axis: 1).ComputeVector(); // 4, 4, 4
    /// </code>
    /// </example>
    public DArray Sum(int axis) => ReduceAlong(Reduction.Sum, "sum", axis);

    /// <summary>Minimums along <paramref name="axis"/> of a matrix.</summary>
    /// <example>
    /// <code>
    /// var m = DArray.FromArray(new double[,] { { 1, 5 }, { 3, 2 } }, (1, 2));
    /// double[] columnMins = m.Min(0).ComputeVector(); // 1, 2
    /// </code>
    /// </example>
    public DArray Min(int axis) => ReduceAlong(Reduction.Min, "min", axis);

    /// <summary>Maximums along <paramref name="axis"/> of a matrix.</summary>
    /// <example>
    /// <code>
    /// var m = DArray.FromArray(new double[,] { { 1, 5 }, { 3, 2 } }, (2, 1));
    /// double[] rowMaxes = m.Max(1).ComputeVector(); // 5, 3
    /// </code>
    /// </example>
    public DArray Max(int axis) => ReduceAlong(Reduction.Max, "max", axis);

    /// <summary>Means along <paramref name="axis"/> of a matrix.</summary>
    /// <example>
    /// <code>
    /// var samples = DArray.Random(4, (10_000, 3), (1_000, 3));
    /// double[] featureMeans = samples.Mean(axis: 0).ComputeVector(); // about 0.5 each
    /// </code>
    /// </example>
    public DArray Mean(int axis) => ReduceAlong(Reduction.Mean, "mean", axis);

    /// <summary>(Population) variances along <paramref name="axis"/> of a matrix.</summary>
    /// <example>
    /// <code>
    /// var samples = DArray.Random(6, (1_000, 5), (250, 5));
    /// double[] variances = samples.Var(0).ComputeVector(); // about 1/12 each
    /// </code>
    /// </example>
    public DArray Var(int axis) => ReduceAlong(Reduction.Var, "var", axis);

    /// <summary>(Population) standard deviations along <paramref name="axis"/> of a matrix.</summary>
    /// <example>
    /// <code>
    /// var samples = DArray.Random(6, (1_000, 5), (250, 5));
    /// var standardized = samples.Std(0); // one value per column, to divide by
    /// </code>
    /// </example>
    public DArray Std(int axis) => ReduceAlong(Reduction.Var, "std", axis, root: true);

    /// <summary>A partial per chunk, computed by the chunk's own program (no chunk is kept), then a tree of combining tasks.</summary>
    private Scalar<double> Reduce(Reduction kind, string operation, bool root = false)
    {
        var layer = LayerNames.New(operation);
        var tasks = new Graph();
        var partials = new List<string>();
        for (var i = 0; i < _programs.Length; i++)
        {
            var key = LayerNames.Key(layer + "-partial", i);
            var program = _programs[i];
            tasks[key] = new TaskNode(ArrayTasks.ChunkPartial, program.Encode(), _functions, InputsOf(program), (int)kind);
            partials.Add(key);
        }
        var last = CombineTree(tasks, layer + "-combine", partials, kind);
        tasks[layer] = new TaskNode(ArrayTasks.FinishScalar, (int)kind, root, last.Select(k => new KeyRef(k)).ToArray());
        return new Scalar<double>(_sources.With(layer, tasks), layer);
    }

    private DArray ReduceAlong(Reduction kind, string operation, int axis, bool root = false)
    {
        if (Rank != 2) throw new InvalidOperationException($"Reductions along an axis are for matrices; {this} is a vector: reduce it whole.");
        if (axis is not (0 or 1)) throw new ArgumentOutOfRangeException(nameof(axis), axis, "A matrix has axes 0 (rows) and 1 (columns).");
        var layer = LayerNames.New(operation);
        var tasks = new Graph();
        var partials = new string[_programs.Length];
        for (var i = 0; i < partials.Length; i++)
        {
            var box = _grid.BoxOf(i);
            var program = _programs[i];
            partials[i] = LayerNames.Key(layer + "-partial", i);
            tasks[partials[i]] = new TaskNode(ArrayTasks.AxisPartial, program.Encode(), _functions, InputsOf(program), (int)kind, axis, box.Rows, box.Columns);
        }
        // Axis 0 leaves one output chunk per column of chunks, reducing the chunks down that column.
        var kept = 1 - axis;
        var keys = new string[_grid.Count(kept)];
        for (var j = 0; j < keys.Length; j++)
        {
            var along = Enumerable.Range(0, _grid.Count(axis)).Select(i => partials[axis == 0 ? _grid.Flat(i, j) : _grid.Flat(j, i)]).ToList();
            var last = CombineTree(tasks, $"{layer}-combine-{j}", along, kind);
            keys[j] = LayerNames.Key(layer, j);
            tasks[keys[j]] = new TaskNode(ArrayTasks.FinishAxis, (int)kind, root, last.Select(k => new KeyRef(k)).ToArray());
        }
        return FromKeys(_sources.With(layer, tasks), new ChunkGrid([.. _grid.Sizes(kept)]), keys);
    }

    /// <summary>Adds combining tasks of at most <see cref="SplitEvery"/> inputs until that few keys are left, and returns them.</summary>
    private static List<string> CombineTree(Graph tasks, string prefix, List<string> keys, Reduction kind)
    {
        for (var level = 0; keys.Count > SplitEvery; level++)
        {
            var next = new List<string>();
            foreach (var group in keys.Chunk(SplitEvery))
            {
                var key = LayerNames.Key(prefix, level, next.Count);
                tasks[key] = new TaskNode(ArrayTasks.Combine, (int)kind, group.Select(k => new KeyRef(k)).ToArray());
                next.Add(key);
            }
            keys = next;
        }
        return keys;
    }
}
