using System.Buffers;
using System.Numerics.Tensors;

namespace Distributed.Collections;

/// <summary>The reductions of a <see cref="DArray"/>; a task argument as its number.</summary>
internal enum Reduction { Sum, Min, Max, Mean, Var }

/// <summary>
/// Partial results of reductions and how they combine. A partial for L outputs is a
/// <c>double[]</c> of <see cref="Width"/> blocks of L: one block (the sum, min or max), two
/// (count, sum) for the mean, three (count, mean, M2) for the variance, which combine by Chan's
/// formula so that no sum of squares of large values loses precision.
/// </summary>
internal static class Reductions
{
    public static int Width(Reduction kind) => kind switch { Reduction.Mean => 2, Reduction.Var => 3, _ => 1 };

    /// <summary>The partial of one chunk program over the whole chunk, computed tile by tile without materializing the chunk.</summary>
    public static double[] ChunkPartial(double[] code, Func<double, double>[] functions, double[][] inputs, int kind)
    {
        var reduction = (Reduction)kind;
        using var chunk = new ChunkEvaluator(code, functions, inputs);
        var partial = Identity(reduction, 1);
        var scratch = reduction == Reduction.Var ? ArrayPool<double>.Shared.Rent(ChunkEvaluator.TileSize) : null;
        try
        {
            for (var offset = 0; offset < chunk.Length; offset += ChunkEvaluator.TileSize)
            {
                var tile = chunk.Tile(offset, Math.Min(ChunkEvaluator.TileSize, chunk.Length - offset));
                switch (reduction)
                {
                    case Reduction.Sum: partial[0] += TensorPrimitives.Sum(tile); break;
                    case Reduction.Min: partial[0] = Math.Min(partial[0], TensorPrimitives.Min(tile)); break;
                    case Reduction.Max: partial[0] = Math.Max(partial[0], TensorPrimitives.Max(tile)); break;
                    case Reduction.Mean:
                        partial[0] += tile.Length;
                        partial[1] += TensorPrimitives.Sum(tile);
                        break;
                    default:
                        {
                            var mean = TensorPrimitives.Sum(tile) / tile.Length;
                            var deviations = scratch.AsSpan(0, tile.Length);
                            TensorPrimitives.Subtract(tile, mean, deviations);
                            MergeMoments(partial, 0, 1, tile.Length, mean, TensorPrimitives.SumOfSquares(deviations));
                            break;
                        }
                }
            }
        }
        finally
        {
            if (scratch is not null) ArrayPool<double>.Shared.Return(scratch);
        }
        return partial;
    }

    /// <summary>
    /// The partial of a <paramref name="rows"/> × <paramref name="columns"/> chunk along
    /// <paramref name="axis"/>: per column for axis 0 (adding rows a whole row at a time), per row for axis 1.
    /// </summary>
    public static double[] AxisPartial(double[] code, Func<double, double>[] functions, double[][] inputs, int kind, int axis, int rows, int columns)
    {
        var reduction = (Reduction)kind;
        using var chunk = new ChunkEvaluator(code, functions, inputs);
        var values = chunk.Materialize();
        var outputs = axis == 0 ? columns : rows;
        var partial = Identity(reduction, outputs);
        var scratch = new double[columns];
        if (axis == 1)
        {
            for (var r = 0; r < rows; r++)
            {
                var row = values.AsSpan(r * columns, columns);
                switch (reduction)
                {
                    case Reduction.Sum: partial[r] = TensorPrimitives.Sum(row); break;
                    case Reduction.Min: partial[r] = columns == 0 ? double.PositiveInfinity : TensorPrimitives.Min(row); break;
                    case Reduction.Max: partial[r] = columns == 0 ? double.NegativeInfinity : TensorPrimitives.Max(row); break;
                    case Reduction.Mean:
                        partial[r] = columns;
                        partial[outputs + r] = TensorPrimitives.Sum(row);
                        break;
                    default:
                        {
                            if (columns == 0) break;
                            var mean = TensorPrimitives.Sum(row) / columns;
                            TensorPrimitives.Subtract(row, mean, scratch);
                            partial[r] = columns;
                            partial[outputs + r] = mean;
                            partial[2 * outputs + r] = TensorPrimitives.SumOfSquares(scratch);
                            break;
                        }
                }
            }
            return partial;
        }
        // Sums (of the mean and the variance) go to the second block, the count to the first.
        var first = partial.AsSpan(0, outputs);
        var second = reduction is Reduction.Mean or Reduction.Var ? partial.AsSpan(outputs, outputs) : default;
        for (var r = 0; r < rows; r++)
        {
            var row = values.AsSpan(r * columns, columns);
            switch (reduction)
            {
                case Reduction.Sum: TensorPrimitives.Add(first, row, first); break;
                case Reduction.Min: TensorPrimitives.Min(first, row, first); break;
                case Reduction.Max: TensorPrimitives.Max(first, row, first); break;
                default: TensorPrimitives.Add(second, row, second); break;
            }
        }
        if (reduction == Reduction.Var && rows > 0)
        {
            TensorPrimitives.Divide(second, rows, second);
            var squares = partial.AsSpan(2 * outputs, outputs);
            for (var r = 0; r < rows; r++)
            {
                TensorPrimitives.Subtract(values.AsSpan(r * columns, columns), second, scratch);
                TensorPrimitives.MultiplyAdd(scratch, scratch, squares, squares);
            }
        }
        if (reduction is Reduction.Mean or Reduction.Var) first.Fill(rows);
        return partial;
    }

    /// <summary>Partials of the same outputs combined into one.</summary>
    public static double[] Combine(int kind, double[][] parts)
    {
        var reduction = (Reduction)kind;
        var outputs = parts[0].Length / Width(reduction);
        var combined = (double[])parts[0].Clone();
        var whole = combined.AsSpan();
        foreach (var part in parts.Skip(1))
        {
            switch (reduction)
            {
                case Reduction.Sum or Reduction.Mean: TensorPrimitives.Add(whole, part, whole); break;
                case Reduction.Min: TensorPrimitives.Min(whole, part, whole); break;
                case Reduction.Max: TensorPrimitives.Max(whole, part, whole); break;
                default:
                    for (var i = 0; i < outputs; i++)
                        MergeMoments(combined, i, outputs, part[i], part[outputs + i], part[2 * outputs + i]);
                    break;
            }
        }
        return combined;
    }

    /// <summary>The reduction's values from combined partials; <paramref name="root"/> takes the square root of a variance.</summary>
    public static double[] Finish(int kind, bool root, double[][] parts)
    {
        var reduction = (Reduction)kind;
        var combined = Combine(kind, parts);
        var outputs = combined.Length / Width(reduction);
        var result = new double[outputs];
        switch (reduction)
        {
            case Reduction.Mean:
                TensorPrimitives.Divide(combined.AsSpan(outputs, outputs), combined.AsSpan(0, outputs), result);
                break;
            case Reduction.Var:
                for (var i = 0; i < outputs; i++) result[i] = combined[2 * outputs + i] / combined[i];
                if (root) TensorPrimitives.Sqrt(result, result);
                break;
            default:
                combined.AsSpan(0, outputs).CopyTo(result);
                break;
        }
        return result;
    }

    private static double[] Identity(Reduction reduction, int outputs)
    {
        var partial = new double[Width(reduction) * outputs];
        if (reduction == Reduction.Min) partial.AsSpan().Fill(double.PositiveInfinity);
        if (reduction == Reduction.Max) partial.AsSpan().Fill(double.NegativeInfinity);
        return partial;
    }

    /// <summary>Chan et al.'s parallel update: merges (count, mean, M2) into output <paramref name="i"/> of <paramref name="into"/>.</summary>
    private static void MergeMoments(double[] into, int i, int outputs, double count, double mean, double squares)
    {
        if (count == 0) return;
        var ownCount = into[i];
        var total = ownCount + count;
        var delta = mean - into[outputs + i];
        into[i] = total;
        into[outputs + i] += delta * count / total;
        into[2 * outputs + i] += squares + delta * delta * ownCount * count / total;
    }
}
