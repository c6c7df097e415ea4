using Distributed.Dask;

namespace Distributed.Tests.Graphs;

public sealed class LocalSchedulerTests
{
    public static TheoryData<string> Schedulers => new() { "synchronous", "threaded" };

    private static IScheduler Named(string name) => name == "threaded" ? Scheduler.Threaded : Scheduler.Synchronous;

    private static readonly Func<int, int> Inc = x => x + 1;
    private static readonly Func<int, int, int> Add = (x, y) => x + y;

    [Theory, MemberData(nameof(Schedulers))]
    public void The_design_example_gives_two(string scheduler)
    {
        var dsk = new Graph { ["a"] = 1, ["b"] = (Inc, "a") };

        Assert.Equal(2, Named(scheduler).Get(dsk, "b"));
    }

    [Theory, MemberData(nameof(Schedulers))]
    public void Lists_of_keys_nested_tasks_and_list_arguments_follow_dasks_conventions(string scheduler)
    {
        Func<IReadOnlyList<int>, int> sum = xs => xs.Sum();
        var dsk = new Graph
        {
            ["x"] = 1,
            ["y"] = (Inc, "x"),
            ["z"] = (Add, "y", (Inc, 10)),                 // a nested task runs inline
            ["total"] = (sum, new object[] { "x", "y", "z" }), // a list argument is walked
            ["alias"] = "total",                            // a string naming a key is that key
            ["text"] = new TaskNode(Add, new KeyRef("x"), 5), // the explicit form
        };

        var result = (List<object?>)Named(scheduler).Get(dsk, new object[] { "total", new[] { "alias", "z" }, "text" })!;

        Assert.Equal(1 + 2 + 13, result[0]);
        Assert.Equal(new List<object?> { 16, 13 }, result[1]);
        Assert.Equal(6, result[2]);
    }

    [Fact]
    public void A_cycle_is_refused_naming_its_keys()
    {
        var dsk = new Graph { ["a"] = (Inc, "c"), ["b"] = (Inc, "a"), ["c"] = (Inc, "b"), ["d"] = 1 };

        var error = Assert.Throws<GraphException>(() => Scheduler.Synchronous.Get(dsk, "d"));

        Assert.Contains("cycle", error.Message);
        foreach (var key in new[] { "a", "b", "c" }) Assert.Contains(key, error.Message);
    }

    [Fact]
    public void A_missing_key_and_an_unknown_requested_key_are_refused_before_anything_runs()
    {
        var ran = 0;
        Func<int, int> counted = x => { Interlocked.Increment(ref ran); return x; };
        var missing = new Graph { ["a"] = (counted, 1), ["b"] = new TaskNode(Inc, new KeyRef("nowhere")) };

        Assert.Contains("'nowhere'", Assert.Throws<GraphException>(() => Scheduler.Threaded.Get(missing, "a")).Message);
        Assert.Contains("'zzz'", Assert.Throws<GraphException>(() => Scheduler.Threaded.Get(new Graph { ["a"] = 1 }, "zzz")).Message);
        Assert.Equal(0, ran);
    }

    [Theory, MemberData(nameof(Schedulers))]
    public void A_failing_task_names_its_key_and_its_dependents_do_not_run(string scheduler)
    {
        var dependentRan = false;
        Func<int, int> fail = _ => throw new InvalidOperationException("nope");
        Func<int, int> after = x => { dependentRan = true; return x; };
        var dsk = new Graph { ["a"] = 1, ["bad"] = (fail, "a"), ["after"] = (after, "bad") };

        var error = Assert.Throws<GraphTaskException>(() => Named(scheduler).Get(dsk, "after"));

        Assert.Equal("bad", error.Key);
        Assert.IsType<InvalidOperationException>(error.InnerException);
        Assert.False(dependentRan);
    }

    [Fact]
    public void A_long_chain_does_not_overflow_the_stack()
    {
        var dsk = new Graph { ["k0"] = 0 };
        for (var i = 1; i <= 100_000; i++) dsk[$"k{i}"] = (Inc, $"k{i - 1}");

        Assert.Equal(100_000, Scheduler.Synchronous.Get(dsk, "k100000"));
    }
}
