using Distributed.Protocol;

namespace Distributed.Tests.CodeShipping;

/// <summary>
/// A user function that throws fails its call on the client with what was thrown (type, message,
/// remote stack trace) and the key of the task; the workers go on serving.
/// </summary>
[Collection(PlainWorkersCollection.Name)]
[ProcessTier]
public sealed class RemoteExceptionTests(PlainWorkersFixture fixture)
{
    private Pool Pool => fixture.Pool;

    [Fact]
    public void Map_throws_the_users_exception_with_its_type_message_stack_trace_and_the_failed_tasks_key()
    {
        var error = Assert.Throws<RemoteTaskException>(() => Pool.Map(shelf => Warehouse.ReserveShelf(shelf), Enumerable.Range(0, 8)));

        Assert.Equal(typeof(InvalidOperationException).FullName, error.RemoteTypeName);
        Assert.Equal("shelf 4 is locked", error.RemoteMessage);
        Assert.Contains(nameof(Warehouse.ReserveShelf), error.RemoteStackTrace);
        Assert.EndsWith("-4", error.Key);
        AssertMessageTells(error);
        AssertTheWorkersKeepRunning();
    }

    [Fact]
    public void Map_over_remote_data_throws_the_users_exception_with_the_failed_tasks_key()
    {
        var shelves = Pool.Map(x => x + 1, Enumerable.Range(0, 6)); // 1..6: the task at index 3 gets shelf 4

        var error = Assert.Throws<RemoteTaskException>(() => Pool.Map(Warehouse.ReserveShelf, shelves));

        Assert.Equal(typeof(InvalidOperationException).FullName, error.RemoteTypeName);
        Assert.Equal("shelf 4 is locked", error.RemoteMessage);
        Assert.Contains(nameof(Warehouse.ReserveShelf), error.RemoteStackTrace);
        Assert.EndsWith("-3", error.Key);
        AssertMessageTells(error);
        AssertTheWorkersKeepRunning();
    }

    [Fact]
    public void Apply_throws_the_users_exception_with_its_type_message_stack_trace_and_key()
    {
        var error = Assert.Throws<RemoteTaskException>(() => Pool.Apply(text => Warehouse.ParseQuantity(text), "twelve"));

        Assert.Equal(typeof(FormatException).FullName, error.RemoteTypeName);
        Assert.Equal(Assert.Throws<FormatException>(() => Warehouse.ParseQuantity("twelve")).Message, error.RemoteMessage);
        Assert.Contains(nameof(Warehouse.ParseQuantity), error.RemoteStackTrace);
        Assert.False(string.IsNullOrWhiteSpace(error.Key));
        AssertMessageTells(error);
        AssertTheWorkersKeepRunning();
    }

    [Fact]
    public void Apply_of_a_delegate_with_arguments_throws_the_users_exception_not_a_reflection_wrapper()
    {
        Func<int, int, int> divide = Warehouse.Divide;

        var error = Assert.Throws<RemoteTaskException>(() => Pool.Apply<int>(divide, 10, 0));

        Assert.Equal(typeof(DivideByZeroException).FullName, error.RemoteTypeName);
        Assert.Equal(new DivideByZeroException().Message, error.RemoteMessage);
        Assert.Contains(nameof(Warehouse.Divide), error.RemoteStackTrace);
        AssertMessageTells(error);
        AssertTheWorkersKeepRunning();
    }

    [Fact]
    public void A_custom_exception_type_of_the_client_program_reaches_the_client_by_name()
    {
        var error = Assert.Throws<RemoteTaskException>(() => Pool.Map(wanted => Warehouse.TakeFromStock("bolts", wanted), Enumerable.Range(0, 6)));

        Assert.Equal(typeof(OutOfStockException).FullName, error.RemoteTypeName);
        Assert.StartsWith("only 3 bolts left, ", error.RemoteMessage);
        Assert.Contains(nameof(Warehouse.TakeFromStock), error.RemoteStackTrace);
        var index = int.Parse(error.Key[(error.Key.LastIndexOf('-') + 1)..]);
        Assert.True(index > 3, $"Only the tasks of 4 and 5 throw; the error names {error.Key}.");
        Assert.Equal($"only 3 bolts left, {index} wanted", error.RemoteMessage);
        AssertMessageTells(error);
        AssertTheWorkersKeepRunning();
    }

    [Fact]
    public void A_custom_exception_thrown_by_Apply_reaches_the_client_by_name()
    {
        var error = Assert.Throws<RemoteTaskException>(() => Pool.Apply(wanted => Warehouse.TakeFromStock("nuts", wanted), 9));

        Assert.Equal(typeof(OutOfStockException).FullName, error.RemoteTypeName);
        Assert.Equal("only 3 nuts left, 9 wanted", error.RemoteMessage);
        Assert.Contains(nameof(Warehouse.TakeFromStock), error.RemoteStackTrace);
        AssertMessageTells(error);
        AssertTheWorkersKeepRunning();
    }

    [Fact]
    public void A_users_exception_named_like_an_input_loss_fails_as_user_code_and_is_not_run_again()
    {
        var runs = Path.Combine(Path.GetTempPath(), "distributed-tests", "impostor-runs-" + Guid.NewGuid().ToString("N")[..12]);
        Directory.CreateDirectory(Path.GetDirectoryName(runs)!);
        try
        {
            var error = Assert.Throws<RemoteTaskException>(() => Pool.Apply(path => Warehouse.ThrowNamedLikeAnInputLoss(path), runs));

            Assert.Equal(ErrorKind.UserCode, error.Kind);
            Assert.Equal(typeof(InputLostException).FullName, error.RemoteTypeName);
            Assert.Equal("Distributed.InputLostException", error.RemoteTypeName);
            Assert.Equal("thrown by the user's code", error.RemoteMessage);
            // The center ran it once: it did not take the user's exception for a lost input and retry.
            Assert.Single(File.ReadAllLines(runs));
            AssertMessageTells(error);
        }
        finally
        {
            File.Delete(runs);
        }
        AssertTheWorkersKeepRunning();
    }

    [Fact]
    public void The_workers_keep_serving_after_many_failing_calls()
    {
        var before = Pool.Workers().Select(w => w.Name).Order().ToList();

        for (var round = 0; round < 5; round++)
        {
            var wanted = 10 + round;
            Assert.Throws<RemoteTaskException>(() => Pool.Map(w => Warehouse.TakeFromStock("screws", w), Enumerable.Repeat(wanted, 8)));
        }

        Assert.Equal(before, Pool.Workers().Select(w => w.Name).Order().ToList());
        AssertTheWorkersKeepRunning();
    }

    private static void AssertMessageTells(RemoteTaskException error)
    {
        Assert.Contains(error.Key, error.Message);
        Assert.Contains(error.RemoteTypeName, error.Message);
        Assert.Contains(error.RemoteMessage, error.Message);
    }

    private void AssertTheWorkersKeepRunning()
    {
        Assert.All(fixture.Cluster.Workers, w => Assert.False(w.HasExited, $"dworker {w.Id} exited: {string.Join(Environment.NewLine, w.Output)}"));
        var results = Pool.Map(x => x * x, Enumerable.Range(0, 20));
        Assert.Equal(Enumerable.Range(0, 20).Select(x => x * x), Pool.Gather(results));
        var workers = Pool.Workers();
        Assert.Equal(2, workers.Count);
        Assert.Equal(fixture.Cluster.Workers.Count, workers.Count);
    }
}
