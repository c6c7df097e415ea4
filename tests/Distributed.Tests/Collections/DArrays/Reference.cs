namespace Distributed.Tests.Collections.DArrays;

/// <summary>The same computations on plain arrays, to check the collection against.</summary>
internal static class Reference
{
    public static double[] Range(int length, Func<int, double>? value = null) =>
        Enumerable.Range(0, length).Select(i => value?.Invoke(i) ?? i).ToArray();

    public static double[,] Matrix(int rows, int columns, Func<int, int, double> value)
    {
        var matrix = new double[rows, columns];
        for (var r = 0; r < rows; r++)
            for (var c = 0; c < columns; c++)
                matrix[r, c] = value(r, c);
        return matrix;
    }

    public static double[] Row(double[,] m, int r) => Enumerable.Range(0, m.GetLength(1)).Select(c => m[r, c]).ToArray();

    public static double[] Column(double[,] m, int c) => Enumerable.Range(0, m.GetLength(0)).Select(r => m[r, c]).ToArray();

    public static double Variance(IReadOnlyCollection<double> values)
    {
        var mean = values.Average();
        return values.Sum(v => (v - mean) * (v - mean)) / values.Count;
    }

    public static double[,] Product(double[,] a, double[,] b)
    {
        var result = new double[a.GetLength(0), b.GetLength(1)];
        for (var i = 0; i < a.GetLength(0); i++)
            for (var j = 0; j < b.GetLength(1); j++)
                for (var k = 0; k < a.GetLength(1); k++)
                    result[i, j] += a[i, k] * b[k, j];
        return result;
    }

    public static void Close(double expected, double actual, double tolerance = 1e-9) =>
        Assert.True(Math.Abs(expected - actual) <= tolerance * Math.Max(1, Math.Abs(expected)), $"expected {expected}, got {actual}");

    public static void Close(double[] expected, double[] actual, double tolerance = 1e-9)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (var i = 0; i < expected.Length; i++)
            Assert.True(Math.Abs(expected[i] - actual[i]) <= tolerance * Math.Max(1, Math.Abs(expected[i])), $"at {i}: expected {expected[i]}, got {actual[i]}");
    }

    public static void Close(double[,] expected, double[,] actual, double tolerance = 1e-9)
    {
        Assert.Equal(expected.GetLength(0), actual.GetLength(0));
        Assert.Equal(expected.GetLength(1), actual.GetLength(1));
        Close(expected.Cast<double>().ToArray(), actual.Cast<double>().ToArray(), tolerance);
    }
}
