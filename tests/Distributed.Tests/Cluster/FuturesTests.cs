namespace Distributed.Tests.Cluster;

/// <summary>
/// Futures (issue 13): Submit and SubmitMap return RemoteData at once, later calls take them as
/// arguments while they are pending, and a program waits on them as they end.
/// </summary>
[Collection(SharedClusterCollection.Name)]
[ProcessTier]
public sealed class FuturesTests(LocalClusterFixture fixture)
{
    private static readonly TimeSpan Slow = TimeSpan.FromMinutes(2);

    private Pool Pool => fixture.Pool;

    [Fact]
    public async Task Submit_returns_a_pending_future_at_once_and_awaiting_it_gives_the_value()
    {
        var future = Pool.Submit(() =>
        {
            Thread.Sleep(2000);
            return 7;
        });

        Assert.Equal(FutureStatus.Pending, future.Status); // the task sleeps for 2 s: it cannot have ended yet
        Assert.False(future.IsDone);
        Assert.Equal(7, await future.GetAsync().WaitAsync(Slow));
        Assert.Equal(FutureStatus.Finished, future.Status);
        Assert.NotNull(future.Location);
        Assert.Null(future.Exception);
    }

    [Fact]
    public async Task Pending_futures_are_arguments_of_later_calls_and_the_client_never_waits_in_between()
    {
        var a = Pool.Submit(() =>
        {
            Thread.Sleep(500);
            return 20;
        });
        var b = Pool.Submit((int x) => x + 1, a);
        var c = Pool.Submit((int x, int y) => x * y, b, a);
        var each = Pool.SubmitMap((int x) => x * 2, [a, b, c]);
        var plain = Pool.SubmitMap(x => x * x, Enumerable.Range(0, 50));

        Assert.Equal(FutureStatus.Pending, c.Status);
        Assert.Equal(420, await c.GetAsync().WaitAsync(Slow));
        Assert.Equal([40, 42, 840], await Pool.GatherAsync(each).WaitAsync(Slow));
        Assert.Equal(Enumerable.Range(0, 50).Select(x => x * x), await Pool.GatherAsync(plain).WaitAsync(Slow));
        // An Apply (which waits) and a graph take a pending future too.
        var pending = Pool.Submit(() =>
        {
            Thread.Sleep(300);
            return 5;
        });
        Assert.Equal(6, Pool.Apply((int x) => x + 1, pending).Get());
    }

    [Fact]
    public async Task A_failed_future_throws_its_error_and_fails_what_depends_on_it()
    {
        var failing = Pool.Submit<int>(() => throw new InvalidOperationException("no input today"));
        var dependent = Pool.Submit((int x) => x + 1, failing);

        var error = await Assert.ThrowsAsync<RemoteTaskException>(() => failing.GetAsync()).WaitAsync(Slow);
        Assert.Contains("no input today", error.RemoteMessage);
        Assert.Equal(FutureStatus.Failed, failing.Status);
        Assert.IsType<RemoteTaskException>(failing.Exception);
        var cascaded = await Assert.ThrowsAsync<RemoteTaskException>(() => dependent.GetAsync()).WaitAsync(Slow);
        Assert.Contains(failing.Key, cascaded.RemoteMessage);
        Assert.Equal(FutureStatus.Failed, dependent.Status);
    }

    [Fact]
    public async Task Cancelling_a_future_cancels_what_depends_on_it()
    {
        var slow = Pool.Submit(() =>
        {
            Thread.Sleep(1500);
            return 1;
        });
        var dependent = Pool.Submit((int x) => x + 1, slow);
        var unrelated = Pool.Submit(() => 3);

        slow.Cancel();

        Assert.Equal(FutureStatus.Cancelled, slow.Status);
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => slow.GetAsync());
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => dependent.Completion).WaitAsync(Slow);
        Assert.Equal(FutureStatus.Cancelled, dependent.Status);
        Assert.Equal(3, await unrelated.GetAsync().WaitAsync(Slow));
    }

    [Fact]
    public async Task AsCompleted_yields_futures_in_the_order_their_tasks_end()
    {
        int Sleep(int ms)
        {
            Thread.Sleep(ms);
            return ms;
        }
        var futures = new[] { 1500, 10, 700 }.Select(ms => Pool.Submit(Sleep, ms)).ToList();

        var order = new List<int>();
        await foreach (var (future, value) in Futures.AsCompletedWithValues(futures).WithCancellation(new CancellationTokenSource(Slow).Token))
        {
            Assert.Equal(FutureStatus.Finished, future.Status);
            order.Add(value);
        }
        Assert.Equal([10, 700, 1500], order);

        var again = new List<string>();
        await foreach (var future in Futures.AsCompleted(futures)) again.Add(future.Key);
        Assert.Equal(3, again.Distinct().Count());
    }

    [Fact]
    public async Task WaitAsync_returns_on_the_first_completed_the_first_exception_or_all()
    {
        var slow = Pool.Submit(() =>
        {
            Thread.Sleep(3000);
            return 1;
        });
        var fast = Pool.Submit(() => 2);
        var failing = Pool.Submit<int>(() => throw new InvalidOperationException("boom"));

        var first = await Futures.WaitAsync([slow, fast], WaitFor.FirstCompleted, Slow);
        Assert.Contains(fast, first.Done);
        Assert.Contains(slow, first.NotDone);

        var firstError = await Futures.WaitAsync([slow, failing], WaitFor.FirstException, Slow);
        Assert.Contains(failing, firstError.Done);
        Assert.Contains(slow, firstError.NotDone);

        var all = await Futures.WaitAsync([slow, fast, failing], WaitFor.AllCompleted, Slow);
        Assert.Equal(3, all.Done.Count);
        Assert.Empty(all.NotDone);
        Assert.Equal(FutureStatus.Failed, failing.Status);
    }

    [Fact]
    public async Task A_named_key_asked_again_gives_the_same_future_and_runs_once()
    {
        var key = $"named-{Guid.NewGuid():N}";
        Func<Guid> fresh = Guid.NewGuid;

        var first = Pool.Submit(fresh, new TaskOptions { Key = key });
        var second = Pool.Submit(fresh, new TaskOptions { Key = key });

        Assert.Same(first, second);
        Assert.Equal(key, first.Key);
        Assert.Equal(await first.GetAsync().WaitAsync(Slow), await Pool.Submit(fresh, new TaskOptions { Key = key }).GetAsync().WaitAsync(Slow));
        var error = Assert.Throws<ArgumentException>(() => Pool.Submit(() => 1, new TaskOptions { Key = key }));
        Assert.Contains("RemoteData<Guid>", error.Message);
    }

    [Fact]
    public async Task Pure_calls_of_the_same_function_and_arguments_share_one_result()
    {
        Func<int, Guid> tag = _ => Guid.NewGuid();
        var pure = new TaskOptions { Pure = true };

        var a = Pool.Submit(tag, 14, pure);
        var b = Pool.Submit(tag, 14, pure);
        var other = Pool.Submit(tag, 15, pure);
        var impure = Pool.Submit(tag, 14);
        var each = Pool.SubmitMap(tag, [1, 2, 1], pure);

        Assert.Same(a, b);
        Assert.NotEqual(a.Key, other.Key);
        Assert.Same(each[0], each[2]);
        Assert.NotSame(each[0], each[1]);
        Assert.NotEqual(await a.GetAsync().WaitAsync(Slow), await impure.GetAsync().WaitAsync(Slow));
        Assert.NotEqual(await a.GetAsync().WaitAsync(Slow), await other.GetAsync().WaitAsync(Slow));
    }

    [Fact]
    public async Task A_named_key_asked_again_after_its_future_was_collected_still_has_a_value()
    {
        var key = $"collected-{Guid.NewGuid():N}";
        for (var round = 0; round < 3; round++)
        {
            await SubmitAndForgetAsync(Pool, key);
            GC.Collect();
            GC.WaitForPendingFinalizers();
            // Either the release of the collected future had gone out (the call runs again) or it is
            // taken back (the value is reused): either way the new future has a value.
            var again = Pool.Submit(() => 5, new TaskOptions { Key = key });
            Assert.Equal(5, await again.GetAsync().WaitAsync(Slow));
        }
    }

    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.NoInlining)]
    private static async Task SubmitAndForgetAsync(Pool pool, string key) =>
        Assert.Equal(5, await pool.Submit(() => 5, new TaskOptions { Key = key }).GetAsync().WaitAsync(Slow));
}
