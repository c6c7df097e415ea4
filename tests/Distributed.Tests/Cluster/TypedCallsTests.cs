namespace Distributed.Tests.Cluster;

/// <summary>
/// Calls of functions of several arguments as a C# user writes them: no type arguments, each argument
/// a plain value or a <see cref="RemoteData{T}"/> of its type (issue 13's "calls that read like C#").
/// That these calls compile at all is half of what they test.
/// </summary>
[Collection(SharedClusterCollection.Name)]
[ProcessTier]
public sealed class TypedCallsTests(LocalClusterFixture fixture)
{
    private Pool Pool => fixture.Pool;

    [Fact]
    public void Apply_takes_two_plain_values_without_type_arguments()
    {
        var sum = Pool.Apply((int a, int b) => a + b, 1, 2);

        Assert.Equal(3, sum.Get());
    }

    [Fact]
    public void Apply_takes_a_remote_value_and_a_plain_one_in_either_order()
    {
        var x = Pool.Apply(() => 40);

        Assert.Equal(42, Pool.Apply((int a, int b) => a + b, x, 2).Get());
        Assert.Equal(-38, Pool.Apply((int a, int b) => a - b, 2, x).Get());
        Assert.Equal(80, Pool.Apply((int a, int b) => a + b, x, x).Get());
    }

    [Fact]
    public void Apply_takes_three_and_four_arguments_of_different_types()
    {
        var numbers = Pool.Apply(() => new[] { 1, 2, 3 });
        var label = Pool.Apply(() => "sum");

        var three = Pool.Apply((string name, int[] items, double scale) => $"{name}={items.Sum() * scale}", label, numbers, 1.5);
        var four = Pool.Apply((int[] items, List<int> more, string separator, long offset) => string.Join(separator, items.Concat(more).Select(i => i + offset)),
            numbers, new List<int> { 4, 5 }, ",", 10L);

        Assert.Equal("sum=9", three.Get());
        Assert.Equal("11,12,13,14,15", four.Get());
    }

    [Fact]
    public async Task ApplyAsync_takes_several_arguments_and_a_cancellation_token()
    {
        using var cancellation = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        var x = await Pool.ApplyAsync((int a, int b) => a * b, 6, 7, cancellation.Token);
        var y = await Pool.ApplyAsync((int a, int b, int c) => a + b + c, x, 1, x, cancellation.Token);
        var z = await Pool.ApplyAsync((int a, int b, int c, int d) => a + b + c + d, y, 1, 2, 3, cancellation.Token);

        Assert.Equal(42, await x.GetAsync(cancellation.Token));
        Assert.Equal(85, await y.GetAsync(cancellation.Token));
        Assert.Equal(91, await z.GetAsync(cancellation.Token));
    }

    [Fact]
    public void A_failing_function_of_several_arguments_names_its_error()
    {
        var error = Assert.Throws<RemoteTaskException>(() => Pool.Apply((int a, int b) => a / b, 1, 0).Get());

        Assert.Contains("DivideByZeroException", error.RemoteTypeName);
    }

    [Fact]
    public void Map_zips_lists_of_plain_values()
    {
        var products = Pool.Map((a, b) => a * b, [1, 2, 3], [10, 20, 30]);
        var labels = Pool.Map((int n, string s, char c) => $"{s}{c}{n}", [1, 2], ["x", "y"], ['-', '+']);

        var four = Pool.Map((a, b, c, d) => a + b + c + d, [1, 2], [10, 20], [100, 200], [1000, 2000]);

        Assert.Equal([10, 40, 90], Pool.Gather(products));
        Assert.Equal(["x-1", "y+2"], Pool.Gather(labels));
        Assert.Equal([1111, 2222], Pool.Gather(four));
    }

    [Fact]
    public void Map_zips_lists_of_remote_values_where_they_live()
    {
        var xs = Pool.Map(x => x, Enumerable.Range(1, 5));
        var ys = Pool.Map(x => x * 100, Enumerable.Range(1, 5));

        var sums = Pool.Map((a, b) => a + b, xs, ys);
        var triples = Pool.Map((int a, int b, int c) => a + b + c, xs, ys, xs);
        var quadruples = Pool.Map((a, b, c, d) => a * b - c - d, xs, ys, xs, ys);

        Assert.Equal([101, 202, 303, 404, 505], Pool.Gather(sums));
        Assert.Equal([102, 204, 306, 408, 510], Pool.Gather(triples));
        Assert.Equal([-1, 198, 597, 1196, 1995], Pool.Gather(quadruples));
    }

    [Fact]
    public void Map_refuses_lists_of_different_lengths_naming_them()
    {
        var error = Assert.Throws<ArgumentException>(() => Pool.Map((int a, int b) => a + b, [1, 2, 3], [1, 2]));

        Assert.Contains("3, 2", error.Message);
    }
}
