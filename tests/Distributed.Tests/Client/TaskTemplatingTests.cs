using Distributed.Client;
using Distributed.Dask;
using Distributed.Protocol;
using Distributed.Data.Serialization;

namespace Distributed.Tests.Client;

/// <summary>
/// The one path from arguments to a task (Map, Apply and graphs): each kind of argument travels in
/// the cheapest form that resolves, on a worker, to the same arguments.
/// </summary>
public sealed class TaskTemplatingTests
{
    private static readonly Func<int, int> Inc = x => x + 1;
    private static readonly Func<int, int, int> Add = (x, y) => x + y;

    private readonly ValueCodec _codec = new();
    private readonly TaskEncoder _encoder;
    private readonly FunctionSpec _function;

    public TaskTemplatingTests()
    {
        _encoder = new TaskEncoder(_codec, new Distributed.Client.CodeShipping());
        _function = _encoder.EncodeFunction(new DynamicFunction(Add), "add");
    }

    private sealed record Remote(string Key, Type ValueType) : IRemoteData;

    public sealed record UserPoint(int X, int Y);

    /// <summary>The arguments a worker passes to the function, as its executor resolves them.</summary>
    private object?[] Resolve(TaskSpec task, params object?[] dependencyValues)
    {
        Assert.Equal(task.Dependencies.Count, dependencyValues.Length);
        return task.Kind switch
        {
            ArgumentsKind.Dependencies => dependencyValues,
            ArgumentsKind.SingleValue => [_codec.Decode(task.Args)],
            _ => ((object?[])_codec.Decode(task.Args)!).Select(t => TemplateConversion.Resolve(t, dependencyValues)).ToArray(),
        };
    }

    [Fact]
    public void Remote_values_in_order_travel_as_their_dependencies_alone()
    {
        var templating = new TaskTemplating(_encoder);
        var task = templating.Task("t", _function, templating.Template([new Remote("a", typeof(int)), new Remote("b", typeof(int))]));

        Assert.Equal(ArgumentsKind.Dependencies, task.Kind);
        Assert.Empty(task.Args);
        Assert.Equal(["a", "b"], task.Dependencies);
        Assert.Equal([1, 2], Resolve(task, 1, 2));
    }

    [Fact]
    public void A_remote_value_passed_twice_is_one_dependency_read_twice()
    {
        var templating = new TaskTemplating(_encoder);
        var a = new Remote("a", typeof(int));
        var task = templating.Task("t", _function, templating.Template([a, a]));

        Assert.Equal(ArgumentsKind.Template, task.Kind);
        Assert.Equal(["a"], task.Dependencies);
        Assert.Equal([5, 5], Resolve(task, 5));
    }

    [Fact]
    public void A_single_plain_value_travels_as_itself_and_no_arguments_as_nothing()
    {
        var templating = new TaskTemplating(_encoder);
        var single = templating.Task("one", _function, templating.Template(["text"]));
        var none = templating.Task("none", _function, templating.Template([]));

        Assert.Equal(ArgumentsKind.SingleValue, single.Kind);
        Assert.Equal(["text"], Resolve(single));
        Assert.Equal(ArgumentsKind.Dependencies, none.Kind);
        Assert.Empty(none.Dependencies);
        Assert.Empty(Resolve(none));
    }

    [Fact]
    public void A_list_holding_remote_values_becomes_an_array_of_their_type_and_each_task_has_its_own_dependencies()
    {
        var templating = new TaskTemplating(_encoder);
        var first = templating.Task("first", _function, templating.Template([new Remote("x", typeof(int))]));
        var list = new List<object?> { new Remote("a", typeof(int)), new Remote("b", typeof(int)) };
        var second = templating.Task("second", _function, templating.Template([list, 10]));

        Assert.Equal(["x"], first.Dependencies);
        Assert.Equal(ArgumentsKind.Template, second.Kind);
        Assert.Equal(["a", "b"], second.Dependencies);
        var resolved = Resolve(second, 1, 2);
        Assert.Equal(new[] { 1, 2 }, Assert.IsType<int[]>(resolved[0]));
        Assert.Equal(10, resolved[1]);
    }

    [Fact]
    public void A_list_of_numbers_and_an_explicit_graph_form_outside_a_graph_are_plain_values()
    {
        var templating = new TaskTemplating(_encoder);
        var numbers = templating.Task("numbers", _function, templating.Template([new[] { 1, 2, 3 }]));
        var forms = templating.Task("forms", _function, templating.Template([new KeyRef("a"), new TaskNode(Inc, 1)]));

        Assert.Equal(ArgumentsKind.SingleValue, numbers.Kind);
        Assert.Equal(new[] { 1, 2, 3 }, Resolve(numbers)[0]);
        Assert.Equal(ArgumentsKind.Template, forms.Kind);
        Assert.Empty(forms.Dependencies);
        Assert.Equal(new KeyRef("a"), Resolve(forms)[0]);
    }

    [Fact]
    public void The_code_of_every_value_and_delegate_passed_is_collected_also_inside_a_mixed_list()
    {
        var templating = new TaskTemplating(_encoder);
        Func<int, int> passed = x => x * 2;
        templating.Task("t", _function, templating.Template([new List<object?> { new Remote("a", typeof(int)), new UserPoint(1, 2) }, passed]));

        Assert.Contains(typeof(UserPoint), templating.Types);
        Assert.Contains(passed.Method.DeclaringType!, templating.Types); // the passed lambda's code
    }

    [Fact]
    public void A_graph_compiles_task_keys_to_dependencies_literals_inline_and_nested_tasks_inline()
    {
        var graph = new Graph
        {
            ["a"] = 1,
            ["b"] = (Inc, "a"),
            ["c"] = (Add, "b", "b"),
            ["d"] = (Add, "c", (Inc, "b")),
            ["e"] = (Inc, new TaskNode(Inc, new KeyRef("d"))),
        };
        var compiled = new GraphCompiler(_encoder).Compile(graph, ["e"], timeoutMs: 0);
        var tasks = compiled.Tasks.ToDictionary(t => compiled.GraphKeyOf(t.Key));

        Assert.Equal(["b", "c", "d", "e"], compiled.Tasks.Select(t => compiled.GraphKeyOf(t.Key)));
        Assert.Equal([1L, 2, 3, 4], compiled.Tasks.Select(t => t.Priority)); // the depth-first order, a (a literal) at 0
        // the literal a travels inside b
        Assert.Equal(ArgumentsKind.SingleValue, tasks["b"].Kind);
        Assert.Empty(tasks["b"].Dependencies);
        Assert.Equal([1], Resolve(tasks["b"]));
        // c reads b twice, one dependency
        Assert.Equal(ArgumentsKind.Template, tasks["c"].Kind);
        Assert.Equal([compiled.ClusterKeyOf("b")], tasks["c"].Dependencies);
        Assert.Equal([2, 2], Resolve(tasks["c"], 2));
        // d runs (Inc, b) inline
        Assert.Equal([compiled.ClusterKeyOf("c"), compiled.ClusterKeyOf("b")], tasks["d"].Dependencies);
        Assert.Equal([4, 3], Resolve(tasks["d"], 4, 2));
        // e's explicit nested task is inline too, never a plain value
        Assert.Equal(ArgumentsKind.Template, tasks["e"].Kind);
        Assert.Equal([8], Resolve(tasks["e"], 7));
        // intermediates are deleted once read by all their readers; the requested key stays
        Assert.Equal([2, 1, 1, 0], compiled.Tasks.Select(t => t.ReleaseAfterConsumers));
        Assert.Equal(["e"], compiled.Wanted);
    }
}
