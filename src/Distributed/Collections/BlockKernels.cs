using System.Numerics.Tensors;

namespace Distributed.Collections;

/// <summary>The chunk tasks that move values between chunks: copies of regions, transposes, products.</summary>
internal static class BlockKernels
{
    /// <summary>
    /// The values of <paramref name="region"/> (a box, in array coordinates) gathered from the chunks
    /// <paramref name="inputs"/>, whose boxes are <paramref name="boxes"/>: the task of slicing and rechunking.
    /// </summary>
    public static double[] CopyRegion(int[] region, int[] boxes, double[][] inputs)
    {
        var target = Box.At(region, 0);
        var values = new double[target.Size];
        for (var k = 0; k < inputs.Length; k++)
        {
            var source = Box.At(boxes, k);
            var overlap = target.Intersect(source);
            for (var r = 0; r < overlap.Rows; r++)
            {
                var from = inputs[k].AsSpan((overlap.Row + r - source.Row) * source.Columns + overlap.Column - source.Column, overlap.Columns);
                from.CopyTo(values.AsSpan((overlap.Row + r - target.Row) * target.Columns + overlap.Column - target.Column, overlap.Columns));
            }
        }
        return values;
    }

    /// <summary>The transpose of a <paramref name="rows"/> × <paramref name="columns"/> block, in tiles that stay in cache.</summary>
    public static double[] Transpose(int rows, int columns, double[] block)
    {
        const int Tile = 32;
        var result = new double[block.Length];
        for (var r0 = 0; r0 < rows; r0 += Tile)
            for (var c0 = 0; c0 < columns; c0 += Tile)
                for (var r = r0; r < Math.Min(r0 + Tile, rows); r++)
                    for (var c = c0; c < Math.Min(c0 + Tile, columns); c++)
                        result[c * rows + r] = block[r * columns + c];
        return result;
    }

    /// <summary>
    /// One block of a matrix product: the sum over p of <paramref name="left"/>[p] (rows × inner[p])
    /// times <paramref name="right"/>[p] (inner[p] × columns), each row of the result built with fused
    /// multiply-adds of whole rows of the right block.
    /// </summary>
    public static double[] Multiply(int rows, int columns, int[] inner, double[][] left, double[][] right)
    {
        var result = new double[rows * columns];
        for (var p = 0; p < inner.Length; p++)
        {
            var depth = inner[p];
            for (var r = 0; r < rows; r++)
            {
                var target = result.AsSpan(r * columns, columns);
                for (var k = 0; k < depth; k++)
                {
                    var factor = left[p][r * depth + k];
                    TensorPrimitives.MultiplyAdd(right[p].AsSpan(k * columns, columns), factor, target, target);
                }
            }
        }
        return result;
    }

    /// <summary>One chunk of a matrix-vector product: the sum over p of <paramref name="left"/>[p] (rows × inner[p]) times <paramref name="vector"/>[p].</summary>
    public static double[] MultiplyVector(int rows, int[] inner, double[][] left, double[][] vector)
    {
        var result = new double[rows];
        for (var p = 0; p < inner.Length; p++)
            for (var r = 0; r < rows; r++)
                result[r] += TensorPrimitives.Dot(left[p].AsSpan(r * inner[p], inner[p]), vector[p]);
        return result;
    }
}
