using Akka.Actor;
using Akka.Dispatch;
using Distributed.Protocol;
using Distributed.Protocol.Hosting;

namespace Distributed.Tests.Hosting;

/// <summary>
/// The settings that let an idle node sleep (issue 12: an idle center and two workers under 3% of a
/// core) are in effect: in the programs' runtime configuration, in every role's HOCON, and in the
/// dispatchers of a running actor system.
/// </summary>
public sealed class IdleSettingsTests
{
    [Theory]
    [InlineData(Role.Center)]
    [InlineData(Role.Worker)]
    [InlineData(Role.Client)]
    public void Every_role_sleeps_until_its_next_timer_and_runs_actors_on_threads_that_sleep(Role role)
    {
        var config = ClusterConfig.For(role, "127.0.0.1", 0, new HostPort("127.0.0.1", 1));
        Assert.Equal(typeof(DeadlineScheduler), Type.GetType(config.GetString("akka.scheduler.implementation")));
        Assert.Equal(TimeSpan.FromMilliseconds(100), config.GetTimeSpan("akka.scheduler.tick-duration", null));
        Assert.Equal(TimeSpan.FromSeconds(1), config.GetTimeSpan("akka.remote.system-message-ack-piggyback-timeout", null));
        foreach (var dispatcher in new[] { "akka.actor.default-dispatcher", "akka.actor.internal-dispatcher", "akka.remote.default-remote-dispatcher" })
        {
            var executor = config.GetString($"{dispatcher}.executor");
            Assert.Equal(typeof(DedicatedThreadExecutorConfigurator), Type.GetType(executor));
            Assert.Equal(2, config.GetInt($"{dispatcher}.dedicated-thread-executor.parallelism-min"));
        }
    }

    [Fact]
    public async Task An_actor_system_of_the_cluster_config_runs_its_actors_on_the_dedicated_threads()
    {
        // the client's settings without the cluster: only the dispatchers matter here
        var config = Akka.Configuration.ConfigurationFactory.ParseString("akka.actor.provider = local")
            .WithFallback(ClusterConfig.For(Role.Client, "127.0.0.1", 0, new HostPort("127.0.0.1", 1)));
        using var system = ActorSystem.Create("idle-settings", config);
        Assert.IsType<DeadlineScheduler>(system.Scheduler);
        var echo = system.ActorOf(Props.Create(() => new ThreadNameActor()));
        var threadName = await echo.Ask<string>("which thread?", TimeSpan.FromSeconds(10));
        Assert.StartsWith("akka.actor.default-dispatcher-", threadName, StringComparison.Ordinal);
        await system.Terminate();
    }

    [Theory]
    [InlineData(2, 2, 1.0, 4, 2)]
    [InlineData(8, 2, 1.0, 4, 4)]
    [InlineData(1, 2, 1.0, 4, 2)]
    [InlineData(3, 1, 0.5, 4, 2)]
    [InlineData(4, 0, 0.0, 0, 1)]
    public void Threads_are_processors_times_factor_within_min_and_max(int processors, int min, double factor, int max, int expected) =>
        Assert.Equal(expected, DedicatedThreadExecutorConfigurator.Threads(processors, min, factor, max));

    [Fact]
    public void Work_from_many_producers_all_runs_including_work_queued_while_every_thread_sleeps()
    {
        var executor = new DedicatedThreadExecutor("test-executor", 2);
        try
        {
            // bursts separated by pauses: each burst finds the threads asleep, so every wake-up path runs
            for (var burst = 0; burst < 50; burst++)
            {
                const int Producers = 4, PerProducer = 500;
                using var done = new CountdownEvent(Producers * PerProducer);
                var producers = Enumerable.Range(0, Producers)
                    .Select(_ => new Thread(() => { for (var i = 0; i < PerProducer; i++) executor.Execute(new CountDown(done)); }))
                    .ToList();
                producers.ForEach(p => p.Start());
                producers.ForEach(p => p.Join());
                Assert.True(done.Wait(TimeSpan.FromSeconds(10)), $"burst {burst}: {done.CurrentCount} work items never ran");
                Thread.Sleep(1); // let the threads go to sleep before the next burst
            }
            // one item at a time, each after the threads sleep: a lost wake-up would hang here
            for (var single = 0; single < 200; single++)
            {
                using var done = new CountdownEvent(1);
                executor.Execute(new CountDown(done));
                Assert.True(done.Wait(TimeSpan.FromSeconds(10)), $"single item {single} never ran");
            }
        }
        finally
        {
            executor.Shutdown();
        }
    }

    [Fact]
    public void A_failing_work_item_does_not_end_its_thread()
    {
        var executor = new DedicatedThreadExecutor("test-failing", 1);
        try
        {
            executor.Execute(new Failing());
            using var done = new CountdownEvent(1);
            executor.Execute(new CountDown(done));
            Assert.True(done.Wait(TimeSpan.FromSeconds(10)));
        }
        finally
        {
            executor.Shutdown();
        }
    }

    [Fact]
    public void Scheduled_work_runs_once_when_due_repeats_until_cancelled_and_a_cancelled_one_never_runs()
    {
        using var deadlines = new DeadlineScheduler(Akka.Configuration.Config.Empty, Akka.Event.NoLogger.Instance);
        IScheduler scheduler = deadlines;
        var watch = System.Diagnostics.Stopwatch.StartNew();
        using var late = new ManualResetEventSlim();
        using var early = new ManualResetEventSlim();
        TimeSpan lateAt = default, earlyAt = default;
        // the later one first: the thread then sleeps until it, and the earlier one must wake it
        scheduler.Advanced.ScheduleOnce(TimeSpan.FromMilliseconds(400), () => { lateAt = watch.Elapsed; late.Set(); });
        scheduler.Advanced.ScheduleOnce(TimeSpan.FromMilliseconds(50), () => { earlyAt = watch.Elapsed; early.Set(); });
        var cancelled = 0;
        var cancelable = new Cancelable(scheduler);
        scheduler.Advanced.ScheduleOnce(TimeSpan.FromMilliseconds(100), () => Interlocked.Increment(ref cancelled), cancelable);
        cancelable.Cancel();
        var repeats = 0;
        using var thirdRepeat = new ManualResetEventSlim();
        var repeating = new Cancelable(scheduler);
        scheduler.Advanced.ScheduleRepeatedly(TimeSpan.Zero, TimeSpan.FromMilliseconds(20), () => { if (Interlocked.Increment(ref repeats) == 3) thirdRepeat.Set(); }, repeating);

        Assert.True(early.Wait(TimeSpan.FromSeconds(10)));
        Assert.True(late.Wait(TimeSpan.FromSeconds(10)));
        Assert.True(thirdRepeat.Wait(TimeSpan.FromSeconds(10)));
        repeating.Cancel();
        var afterCancel = Volatile.Read(ref repeats);
        // never before its delay
        Assert.True(earlyAt >= TimeSpan.FromMilliseconds(50), $"ran at {earlyAt}");
        Assert.True(lateAt >= TimeSpan.FromMilliseconds(400), $"ran at {lateAt}");
        Assert.True(earlyAt < lateAt);
        Thread.Sleep(100);
        Assert.True(Volatile.Read(ref repeats) <= afterCancel + 1, "a cancelled repetition went on");
        Assert.Equal(0, Volatile.Read(ref cancelled));
    }

    [Fact]
    public void Repeated_timers_due_within_one_tick_run_together_on_the_tick_and_one_shots_when_due()
    {
        var config = Akka.Configuration.ConfigurationFactory.ParseString("akka.scheduler.tick-duration = 200ms");
        using var deadlines = new DeadlineScheduler(config, Akka.Event.NoLogger.Instance);
        IScheduler scheduler = deadlines;
        using var both = new CountdownEvent(2);
        var at = new TimeSpan[2];
        var watch = System.Diagnostics.Stopwatch.StartNew();
        // wait for the start of a tick, so that both delays fall within the same one
        var tick = TimeSpan.FromMilliseconds(200);
        while (deadlines.HighResMonotonicClock.Ticks % tick.Ticks > tick.Ticks / 10) Thread.Sleep(1);
        var start = watch.Elapsed;
        var first = new Cancelable(scheduler);
        var second = new Cancelable(scheduler);
        scheduler.Advanced.ScheduleRepeatedly(TimeSpan.FromMilliseconds(30), TimeSpan.FromSeconds(10), () => { at[0] = watch.Elapsed; both.Signal(); first.Cancel(); }, first);
        scheduler.Advanced.ScheduleRepeatedly(TimeSpan.FromMilliseconds(120), TimeSpan.FromSeconds(10), () => { at[1] = watch.Elapsed; both.Signal(); second.Cancel(); }, second);
        using var once = new ManualResetEventSlim();
        var onceAt = TimeSpan.Zero;
        scheduler.Advanced.ScheduleOnce(TimeSpan.FromMilliseconds(30), () => { onceAt = watch.Elapsed; once.Set(); });
        Assert.True(both.Wait(TimeSpan.FromSeconds(10)));
        Assert.True(once.Wait(TimeSpan.FromSeconds(10)));
        Assert.True(onceAt - start >= TimeSpan.FromMilliseconds(30) && onceAt < at[0], $"the one-shot ran {onceAt - start} after scheduling, the repeated ones {at[0] - start}");
        Assert.True(at[0] - start >= TimeSpan.FromMilliseconds(120), $"the first ran {at[0] - start} after scheduling, before its tick");
        Assert.True((at[1] - at[0]).Duration() < TimeSpan.FromMilliseconds(50), $"ran {at[0] - start} and {at[1] - start} after scheduling");
    }

    [Fact]
    public void Repeated_work_with_no_initial_delay_runs_at_once_the_first_time()
    {
        // ticks far apart: a first run that waited for one would take seconds
        var config = Akka.Configuration.ConfigurationFactory.ParseString("akka.scheduler.tick-duration = 5s");
        using var deadlines = new DeadlineScheduler(config, Akka.Event.NoLogger.Instance);
        IScheduler scheduler = deadlines;
        using var ran = new ManualResetEventSlim();
        var watch = System.Diagnostics.Stopwatch.StartNew();
        var firstAt = TimeSpan.Zero;
        var cancelable = new Cancelable(scheduler);
        scheduler.Advanced.ScheduleRepeatedly(TimeSpan.Zero, TimeSpan.FromMilliseconds(200), () =>
        {
            if (!ran.IsSet) firstAt = watch.Elapsed;
            ran.Set();
        }, cancelable);
        Assert.True(ran.Wait(TimeSpan.FromSeconds(20)));
        cancelable.Cancel();
        Assert.True(firstAt < TimeSpan.FromSeconds(2), $"the first run came {firstAt} after scheduling");
    }

    [Fact]
    public void Work_pending_at_shutdown_runs_once_and_scheduling_after_it_fails()
    {
        var deadlines = new DeadlineScheduler(Akka.Configuration.Config.Empty, Akka.Event.NoLogger.Instance);
        IScheduler scheduler = deadlines;
        var ran = 0;
        scheduler.Advanced.ScheduleOnce(TimeSpan.FromHours(1), () => Interlocked.Increment(ref ran));
        deadlines.Dispose();
        Assert.Equal(1, ran);
        Assert.Throws<SchedulerException>(() => scheduler.Advanced.ScheduleOnce(TimeSpan.Zero, () => { }));
    }

    private sealed class ThreadNameActor : ReceiveActor
    {
        public ThreadNameActor() => Receive<string>(_ => Sender.Tell(Thread.CurrentThread.Name ?? ""));
    }

    private sealed class CountDown(CountdownEvent done) : IRunnable
    {
        public void Run() => done.Signal();

#if NET6_0_OR_GREATER
        public void Execute() => Run();
#endif
    }

    private sealed class Failing : IRunnable
    {
        public void Run() => throw new InvalidOperationException("a failing work item");

#if NET6_0_OR_GREATER
        public void Execute() => Run();
#endif
    }
}
