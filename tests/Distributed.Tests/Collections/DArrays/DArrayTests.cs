using Distributed.Collections;
using Distributed.Dask;
using static Distributed.Tests.Collections.DArrays.Reference;

namespace Distributed.Tests.Collections.DArrays;

/// <summary>Each operation of <see cref="DArray"/> against the same computation on plain arrays, on the local schedulers.</summary>
public sealed class DArrayTests
{
    public static TheoryData<string> Schedulers => new() { "synchronous", "threaded" };

    private static IScheduler On(string name) => name == "synchronous" ? Scheduler.Synchronous : Scheduler.Threaded;

    [Theory, MemberData(nameof(Schedulers))]
    public void The_seed_example_sums_arange(string scheduler)
    {
        Assert.Equal(45, DArray.Arange(10, chunks: 5).Sum().Compute(On(scheduler)));
    }

    [Fact]
    public void Creation_functions_give_their_values_shape_and_chunks()
    {
        var x = DArray.Arange(10, chunks: 4);
        Assert.Equal([10], x.Shape);
        Assert.Equal(1, x.Rank);
        Assert.Equal(10, x.Size);
        Assert.Equal([4, 4, 2], x.Chunks[0]);
        Assert.Equal(Range(10), x.ComputeVector());
        Assert.Equal(new[] { 1.0, 1.5, 2.0, 2.5 }, DArray.Arange(1, 3, 0.5, chunks: 3).ComputeVector());
        Assert.Equal(new[] { 5.0, 4, 3 }, DArray.Arange(5, 2, -1, chunks: 2).ComputeVector());
        Assert.Equal(new double[7], DArray.Zeros(7, chunks: 3).ComputeVector());
        Assert.Equal(Enumerable.Repeat(1.0, 7), DArray.Ones(7, chunks: 3).ComputeVector());
        var full = DArray.Full((3, 5), 2.5, chunks: (2, 2));
        Assert.Equal([3, 5], full.Shape);
        Assert.Equal([[2, 1], [2, 2, 1]], full.Chunks);
        Assert.Equal(Matrix(3, 5, (_, _) => 2.5), full.ComputeMatrix());
        Assert.Equal(new double[2, 3], DArray.Zeros((2, 3), chunks: (1, 2)).ComputeMatrix());
        Assert.Equal(Matrix(2, 3, (_, _) => 1), DArray.Ones((2, 3), chunks: (1, 2)).ComputeMatrix());
    }

    [Fact]
    public void FromArray_round_trips_vectors_and_matrices()
    {
        var vector = Range(23, i => i * 0.5 - 3);
        var matrix = Matrix(7, 5, (r, c) => r * 10 + c);
        Assert.Equal(vector, DArray.FromArray(vector, chunks: 6).ComputeVector());
        Assert.Equal(matrix, DArray.FromArray(matrix, chunks: (3, 2)).ComputeMatrix(Scheduler.Synchronous));
        Assert.Equal(matrix, (double[,])DArray.FromArray(matrix, chunks: (3, 2)).Compute());
    }

    [Fact]
    public void Random_is_seeded_in_range_and_independent_of_chunks()
    {
        var a = DArray.Random(7, 10_000, chunks: 1000).ComputeVector();
        var b = DArray.Random(7, 10_000, chunks: 3333).ComputeVector();
        var other = DArray.Random(8, 10_000, chunks: 1000).ComputeVector();
        Assert.Equal(a, b);
        Assert.NotEqual(a, other);
        Assert.All(a, v => Assert.InRange(v, 0, 1 - double.Epsilon));
        Assert.InRange(a.Average(), 0.45, 0.55);
        var m = DArray.Random(7, (30, 20), chunks: (7, 6)).ComputeMatrix();
        Assert.Equal(m, DArray.Random(7, (30, 20), chunks: (30, 20)).ComputeMatrix());
    }

    [Theory, MemberData(nameof(Schedulers))]
    public void Elementwise_arithmetic_with_arrays_and_scalars_matches_plain_arrays(string scheduler)
    {
        var xs = Range(50, i => i - 20.5);
        var ys = Range(50, i => i * i + 1.0);
        var x = DArray.FromArray(xs, chunks: 8);
        var y = DArray.FromArray(ys, chunks: 13); // other chunks: lined up by a rechunk

        var result = ((x * 2 + 1) / y - x * y + 3 - (-x) + 1 / y - 2 * x + (10 - x) / 4).ComputeVector(On(scheduler));

        var expected = xs.Zip(ys, (a, b) => (a * 2 + 1) / b - a * b + 3 - (-a) + 1 / b - 2 * a + (10 - a) / 4).ToArray();
        Close(expected, result);
    }

    [Fact]
    public void Elementwise_operations_on_generated_matrices_match_plain_arrays()
    {
        var m = DArray.Arange(12, chunks: 5); // vectors and matrices do not mix:
        Assert.Throws<ArgumentException>(() => m + DArray.Ones((3, 4), (2, 2)));
        var a = DArray.Random(1, (9, 7), chunks: (4, 3));
        var plain = a.ComputeMatrix();
        var result = (a * a - 0.5 * a + DArray.Full((9, 7), 2, chunks: (9, 7))).ComputeMatrix();
        Close(Matrix(9, 7, (r, c) => plain[r, c] * plain[r, c] - 0.5 * plain[r, c] + 2), result);
    }

    [Theory, MemberData(nameof(Schedulers))]
    public void Map_and_MapBlocks_apply_user_functions(string scheduler)
    {
        var offset = 3.0;
        var x = DArray.Arange(20, chunks: 6);
        Assert.Equal(Range(20, i => Math.Sqrt(i) + offset), x.Map(Math.Sqrt).Map(v => v + offset).ComputeVector(On(scheduler)));
        Assert.Equal(Range(20, i => 2 * Math.Sqrt(i) + 1), (x.Map(Math.Sqrt) * 2 + 1).ComputeVector(On(scheduler)));

        var reversed = x.MapBlocks(block => block.Reverse().ToArray()).ComputeVector(On(scheduler));
        Assert.Equal(new double[] { 5, 4, 3, 2, 1, 0, 11, 10, 9, 8, 7, 6, 17, 16, 15, 14, 13, 12, 19, 18 }, reversed);
    }

    [Fact]
    public void Fused_elementwise_operations_add_one_task_per_chunk_and_none_for_a_reduction()
    {
        var x = DArray.Arange(100, chunks: 10);
        var chained = (x * 2 + 1 - x) / 3;

        Assert.Equal(10, chained.Graph.Count); // one fused task per chunk, no layer per operation
        var sum = chained.Sum();
        Assert.Equal(11, sum.Graph.Count); // a partial per chunk and the final combine, nothing materialized
        Close(Range(100, i => (i * 2 + 1 - i) / 3.0).Sum(), sum.Compute());
    }

    [Theory, MemberData(nameof(Schedulers))]
    public void Whole_array_reductions_match_plain_arrays(string scheduler)
    {
        var values = Range(1000, i => Math.Sin(i) * 100 + 1e6); // a large mean tests the variance's stability
        var x = DArray.FromArray(values, chunks: 37); // 28 chunks: a two-level tree
        var s = On(scheduler);

        Close(values.Sum(), x.Sum().Compute(s));
        Assert.Equal(values.Min(), x.Min().Compute(s));
        Assert.Equal(values.Max(), x.Max().Compute(s));
        Close(values.Average(), x.Mean().Compute(s));
        Close(Variance(values), x.Var().Compute(s), 1e-7);
        Close(Math.Sqrt(Variance(values)), x.Std().Compute(s), 1e-7);
    }

    [Fact]
    public void Reductions_of_fused_generated_arrays_match_plain_arrays()
    {
        const int Length = 100_003; // chunks longer than a tile and a ragged last chunk
        var reference = Range(Length, i => i * 0.5 - 7);
        var x = DArray.Arange(Length, chunks: 10_000) * 0.5 - 7;

        Close(reference.Sum(), x.Sum().Compute());
        Assert.Equal(reference.Min(), x.Min().Compute());
        Assert.Equal(reference.Max(), x.Max().Compute());
        Close(reference.Average(), x.Mean().Compute());
        Close(Variance(reference), x.Var().Compute(), 1e-7);
        Close(Math.Sqrt(Variance(reference)), x.Std().Compute(), 1e-7);
        Close(2.0 * Length, DArray.Full(Length, 2, chunks: 999).Sum().Compute());
    }

    [Theory, MemberData(nameof(Schedulers))]
    public void Axis_reductions_match_plain_arrays(string scheduler)
    {
        var plain = Matrix(23, 11, (r, c) => Math.Cos(r * 11 + c) * 10 + r);
        var m = DArray.FromArray(plain, chunks: (5, 4)) + 0; // fused: reduced from the program
        var s = On(scheduler);
        var columns = Enumerable.Range(0, 11).Select(c => Column(plain, c)).ToArray();
        var rows = Enumerable.Range(0, 23).Select(r => Row(plain, r)).ToArray();

        Assert.Equal([11], m.Sum(0).Shape);
        Assert.Equal([[4, 4, 3]], m.Sum(0).Chunks);
        Close(columns.Select(c => c.Sum()).ToArray(), m.Sum(0).ComputeVector(s));
        Close(rows.Select(r => r.Sum()).ToArray(), m.Sum(1).ComputeVector(s));
        Assert.Equal(columns.Select(c => c.Min()).ToArray(), m.Min(0).ComputeVector(s));
        Assert.Equal(rows.Select(r => r.Max()).ToArray(), m.Max(1).ComputeVector(s));
        Close(columns.Select(c => c.Average()).ToArray(), m.Mean(0).ComputeVector(s));
        Close(rows.Select(r => r.Average()).ToArray(), m.Mean(1).ComputeVector(s));
        Close(columns.Select(Variance).ToArray(), m.Var(0).ComputeVector(s));
        Close(rows.Select(r => Math.Sqrt(Variance(r))).ToArray(), m.Std(1).ComputeVector(s));
        Assert.Throws<InvalidOperationException>(() => DArray.Arange(5, chunks: 2).Sum(0));
    }

    [Fact]
    public void Axis_reductions_over_many_chunks_combine_in_a_tree()
    {
        var plain = Matrix(40, 3, (r, c) => r - c);
        var m = DArray.FromArray(plain, chunks: (2, 3)); // 20 chunks down each column: more than 16
        Close(Enumerable.Range(0, 3).Select(c => Column(plain, c).Sum()).ToArray(), m.Sum(0).ComputeVector());
        Close(Enumerable.Range(0, 3).Select(c => Variance(Column(plain, c))).ToArray(), m.Var(0).ComputeVector());
    }

    [Theory, MemberData(nameof(Schedulers))]
    public void Slicing_matches_plain_arrays(string scheduler)
    {
        var s = On(scheduler);
        var x = DArray.Arange(30, chunks: 7);
        Assert.Equal(Range(30)[5..23], x[5..23].ComputeVector(s));
        Assert.Equal([[2, 7, 7, 2]], x[5..23].Chunks);
        Assert.Equal(Range(30)[^4..], x[^4..].ComputeVector(s));
        Assert.Equal(Range(30)[7..14], x[7..14].ComputeVector(s));
        Assert.Empty(x[3..3].ComputeVector(s));

        var plain = Matrix(10, 9, (r, c) => r * 100 + c);
        var m = DArray.FromArray(plain, chunks: (4, 4));
        var block = m[3.., 2..7];
        Assert.Equal([7, 5], block.Shape);
        Assert.Equal(Matrix(7, 5, (r, c) => plain[r + 3, c + 2]), block.ComputeMatrix(s));
        Assert.Equal(Matrix(2, 9, (r, c) => plain[r + 8, c]), m[^2.., ..].ComputeMatrix(s));
        Close(Range(5, c => plain[3, c + 2] + plain[4, c + 2]).ToArray(), (block[0..2, ..] * 1).Sum(0).ComputeVector(s));
    }

    [Theory, MemberData(nameof(Schedulers))]
    public void Transpose_Dot_and_Rechunk_match_plain_arrays(string scheduler)
    {
        var s = On(scheduler);
        var a = Matrix(9, 7, (r, c) => (r + 1) * (c - 3) * 0.25);
        var b = Matrix(7, 5, (r, c) => r - 2.0 * c);
        var v = Range(7, i => i - 3.0);
        var da = DArray.FromArray(a, chunks: (4, 3));
        var db = DArray.FromArray(b, chunks: (2, 4)); // inner chunks differ from a's columns

        Assert.Equal(Matrix(7, 9, (r, c) => a[c, r]), da.T.ComputeMatrix(s));
        Assert.Equal([[3, 3, 1], [4, 4, 1]], da.Transpose().Chunks);
        Close(Product(a, b), da.Dot(db).ComputeMatrix(s));
        Close(Product(a, Matrix(7, 9, (r, c) => a[c, r] + (r == c ? 1 : 0))), da.Dot(da.T + DArray.FromArray(Matrix(7, 9, (r, c) => r == c ? 1 : 0), chunks: (3, 3))).ComputeMatrix(s));
        Close(Range(9, r => Enumerable.Range(0, 7).Sum(k => a[r, k] * v[k])), da.Dot(DArray.FromArray(v, chunks: 5)).ComputeVector(s));

        var rechunked = da.Rechunk((5, 2));
        Assert.Equal([[5, 4], [2, 2, 2, 1]], rechunked.Chunks);
        Assert.Equal(a, rechunked.ComputeMatrix(s));
        var x = DArray.Arange(17, chunks: 4).Rechunk(6);
        Assert.Equal([[6, 6, 5]], x.Chunks);
        Assert.Equal(Range(17), x.ComputeVector(s));
        Assert.Same(x, x.Rechunk(6));
    }

    [Fact]
    public void Persist_keeps_the_chunks_and_drops_the_graph_behind_them()
    {
        var calls = 0;
        var x = DArray.Arange(12, chunks: 4).Map(v => { Interlocked.Increment(ref calls); return v * 3; });

        var persisted = x.Persist();

        Assert.Equal(12, calls);
        Assert.Equal(3, persisted.Graph.Count);
        Close(Range(12, i => 3 * i + 1).Sum(), (persisted + 1).Sum().Compute());
        Assert.Equal(12, calls);
    }
}
