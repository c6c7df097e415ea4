using Distributed.Data.Serialization;

namespace Distributed.Tests.Serialization;

public sealed class ArgumentTemplateTests
{
    [Fact]
    public void Placeholders_resolve_to_dependency_values_and_lists_to_typed_arrays()
    {
        var template = new ListPlaceholder(typeof(int).AssemblyQualifiedName!, [new DependencyPlaceholder(1), 5, new DependencyPlaceholder(0)]);

        var resolved = TemplateConversion.Resolve(template, [10, 20]);

        Assert.Equal(new[] { 20, 5, 10 }, resolved);
    }

    [Fact]
    public void Nested_lists_become_nested_arrays_and_convert_to_the_declared_list_type()
    {
        var inner = typeof(int).AssemblyQualifiedName!;
        var template = new ListPlaceholder(typeof(int[]).AssemblyQualifiedName!,
            [new ListPlaceholder(inner, [new DependencyPlaceholder(0)]), new ListPlaceholder(inner, [1, 2])]);

        var resolved = TemplateConversion.Resolve(template, [7]);
        var asLists = (List<List<int>>)TemplateConversion.ConvertTo(resolved, typeof(List<List<int>>))!;

        Assert.Equal([7], asLists[0]);
        Assert.Equal([1, 2], asLists[1]);
    }

    [Fact]
    public void A_dynamic_function_receives_converted_arguments_and_rethrows_the_users_exception()
    {
        var sum = new DynamicFunction((List<int> xs, int extra) => xs.Sum() + extra);
        var fail = new DynamicFunction((int x) => x > 0 ? throw new ArgumentOutOfRangeException(nameof(x), "too big") : x);

        Assert.Equal(10, sum.Invoke([new[] { 1, 2, 3 }, 4]));
        Assert.Throws<ArgumentOutOfRangeException>(() => fail.Invoke([1]));
    }
}
