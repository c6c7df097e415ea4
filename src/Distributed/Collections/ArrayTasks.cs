namespace Distributed.Collections;

/// <summary>
/// The functions of a <see cref="DArray"/>'s graph tasks, one delegate each, so that a graph encodes
/// each of them once however many chunks use it.
/// </summary>
internal static class ArrayTasks
{
    /// <summary>A fused chunk, computed and kept.</summary>
    public static readonly Func<double[], Func<double, double>[], double[][], double[]> Materialize = (code, functions, inputs) =>
    {
        using var chunk = new ChunkEvaluator(code, functions, inputs);
        return chunk.Materialize();
    };

    public static readonly Func<double[], Func<double, double>[], double[][], int, double[]> ChunkPartial = Reductions.ChunkPartial;

    public static readonly Func<double[], Func<double, double>[], double[][], int, int, int, int, double[]> AxisPartial = Reductions.AxisPartial;

    public static readonly Func<int, double[][], double[]> Combine = Reductions.Combine;

    public static readonly Func<int, bool, double[][], double> FinishScalar = (kind, root, parts) => Reductions.Finish(kind, root, parts)[0];

    public static readonly Func<int, bool, double[][], double[]> FinishAxis = Reductions.Finish;

    public static readonly Func<int[], int[], double[][], double[]> CopyRegion = BlockKernels.CopyRegion;

    public static readonly Func<int, int, double[], double[]> Transpose = BlockKernels.Transpose;

    public static readonly Func<int, int, int[], double[][], double[][], double[]> Multiply = BlockKernels.Multiply;

    public static readonly Func<int, int[], double[][], double[][], double[]> MultiplyVector = BlockKernels.MultiplyVector;
}
