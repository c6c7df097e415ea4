using Distributed.Data.Serialization;

namespace Distributed.Tests.Serialization;

/// <summary>The executor's side of typed calls: the wrappers call the user's function with the resolved arguments, converting lists as declared.</summary>
public sealed class TypedFunctionTests
{
    private readonly ValueCodec _codec = new();

    [Fact]
    public void Wrappers_of_two_to_four_arguments_survive_the_codec_and_call_the_function()
    {
        var offset = 5;
        var binary = (IUserFunction)_codec.Decode(_codec.Encode(new BinaryFunction<int, string, string>((n, s) => s + (n + offset))))!;
        var ternary = (IUserFunction)_codec.Decode(_codec.Encode(new TernaryFunction<int, int, int, int>((a, b, c) => a * b + c)))!;
        var quaternary = (IUserFunction)_codec.Decode(_codec.Encode(new QuaternaryFunction<int, int, int, int, int>((a, b, c, d) => a + b + c + d)))!;

        Assert.Equal("x6", binary.Invoke([1, "x"]));
        Assert.Equal(7, ternary.Invoke([2, 3, 1]));
        Assert.Equal(10, quaternary.Invoke([1, 2, 3, 4]));
    }

    [Fact]
    public void A_list_resolved_as_an_array_becomes_the_declared_collection()
    {
        var function = new BinaryFunction<List<int>, IReadOnlyList<int>, int>((list, items) => list.Sum() + items.Count);

        Assert.Equal(8, function.Invoke([new[] { 1, 2, 3 }, new object?[] { 7, 8 }]));
    }

    [Fact]
    public void Wrong_arguments_get_errors_that_name_the_problem()
    {
        var function = new BinaryFunction<int, string?, string>((n, s) => s + n);

        Assert.Equal("3", function.Invoke([3, null]));
        Assert.Contains("takes 2 arguments but was given 1", Assert.Throws<ArgumentException>(() => function.Invoke([1])).Message);
        Assert.Contains("null value cannot be an argument of type Int32", Assert.Throws<ArgumentException>(() => function.Invoke([null, "a"])).Message);
        Assert.Contains("String cannot be an argument of type Int32", Assert.Throws<ArgumentException>(() => function.Invoke(["a", "b"])).Message);
    }
}
