namespace Distributed.Collections;

/// <summary>
/// How an array of rank 1 or 2 is cut: the chunk sizes along each axis (dask's <c>chunks</c>).
/// Chunks are numbered row-major, and each chunk's values are a row-major <c>double[]</c>.
/// </summary>
internal sealed class ChunkGrid
{
    private readonly int[][] _sizes;
    private readonly int[][] _offsets;

    public ChunkGrid(params int[][] sizes)
    {
        if (sizes.Length is < 1 or > 2) throw new ArgumentException("Arrays have one or two axes.", nameof(sizes));
        _sizes = sizes;
        _offsets = sizes.Select(axis =>
        {
            var offsets = new int[axis.Length + 1];
            for (var i = 0; i < axis.Length; i++) offsets[i + 1] = checked(offsets[i] + axis[i]);
            return offsets;
        }).ToArray();
    }

    /// <summary>Regular chunks of <paramref name="chunk"/> along an axis of <paramref name="length"/>, the last one shorter.</summary>
    public static int[] Regular(int length, int chunk)
    {
        if (length < 0) throw new ArgumentOutOfRangeException(nameof(length), length, "A length is not negative.");
        if (chunk <= 0) throw new ArgumentOutOfRangeException(nameof(chunk), chunk, "A chunk size is positive.");
        if (length == 0) return [0];
        var count = (length + chunk - 1) / chunk;
        var sizes = new int[count];
        for (var i = 0; i < count; i++) sizes[i] = Math.Min(chunk, length - i * chunk);
        return sizes;
    }

    public int Rank => _sizes.Length;

    public int[] Shape => _offsets.Select(o => o[^1]).ToArray();

    /// <summary>Columns of a matrix; a vector is one row of this many.</summary>
    public int Columns => _offsets[^1][^1];

    public IReadOnlyList<int> Sizes(int axis) => _sizes[axis];

    public int Offset(int axis, int index) => _offsets[axis][index];

    public int Count(int axis) => _sizes[axis].Length;

    /// <summary>Number of chunks.</summary>
    public int ChunkCount => _sizes.Aggregate(1, (n, axis) => n * axis.Length);

    /// <summary>The row-major number of chunk (<paramref name="row"/>, <paramref name="column"/>); a vector's chunks are in row 0.</summary>
    public int Flat(int row, int column) => Rank == 1 ? column : row * Count(1) + column;

    /// <summary>Chunk <paramref name="flat"/> as a box: first row, rows, first column, columns (a vector is one row).</summary>
    public Box BoxOf(int flat)
    {
        if (Rank == 1) return new Box(0, 1, _offsets[0][flat], _sizes[0][flat]);
        var (row, column) = (flat / Count(1), flat % Count(1));
        return new Box(_offsets[0][row], _sizes[0][row], _offsets[1][column], _sizes[1][column]);
    }

    /// <summary>The chunk indices along <paramref name="axis"/> that overlap [<paramref name="start"/>, <paramref name="start"/> + <paramref name="length"/>).</summary>
    public IEnumerable<int> Overlapping(int axis, int start, int length)
    {
        for (var i = 0; i < _sizes[axis].Length; i++)
            if (_offsets[axis][i] < start + length && _offsets[axis][i + 1] > start) yield return i;
    }

    public bool SameAs(ChunkGrid other) =>
        Rank == other.Rank && Enumerable.Range(0, Rank).All(a => _sizes[a].SequenceEqual(other._sizes[a]));

    public string Describe() => "(" + string.Join(", ", _sizes.Select(a => "(" + string.Join(", ", a) + ")")) + ")";
}

/// <summary>A rectangle of a matrix (a vector is one row): first row, rows, first column, columns.</summary>
internal readonly record struct Box(int Row, int Rows, int Column, int Columns)
{
    public int Size => Rows * Columns;

    public int[] ToArray() => [Row, Rows, Column, Columns];

    public static Box At(int[] values, int index) => new(values[index * 4], values[index * 4 + 1], values[index * 4 + 2], values[index * 4 + 3]);

    public Box Intersect(Box other)
    {
        var row = Math.Max(Row, other.Row);
        var column = Math.Max(Column, other.Column);
        var rows = Math.Min(Row + Rows, other.Row + other.Rows) - row;
        var columns = Math.Min(Column + Columns, other.Column + other.Columns) - column;
        return new Box(row, Math.Max(0, rows), column, Math.Max(0, columns));
    }
}
