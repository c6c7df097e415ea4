using Akka.Actor;
using Akka.Configuration;
using Akka.Dispatch;
using Akka.Event;

namespace Distributed.Protocol.Hosting;

/// <summary>
/// Akka's scheduler (<c>akka.scheduler.implementation</c>) on one thread of its own that sleeps until
/// the earliest deadline: an idle node wakes only when a timer is due. Akka's own
/// (<c>HashedWheelTimerScheduler</c>) ticks every <c>tick-duration</c> whether or not a timer is due,
/// each tick a .NET timer and then a thread-pool thread, which spins before it sleeps again (about 0.5%
/// of a core per idle node, measured with the benchmark's idle workload). Repeated work runs on ticks
/// of <c>akka.scheduler.tick-duration</c> (its due times rounded up to the next one, up to one tick late
/// as on Akka's), so that the dozens of periodic timers a cluster node keeps (gossip, heartbeats, each
/// connection's ack check) share their wake-ups: at most one per tick (repeated work with no initial
/// delay runs at once the first time). Work scheduled once runs when
/// due, not rounded (a connection's backoff, a timeout), so nothing on a failure's path waits for a
/// tick. The due work (an actor's Tell, or a short callback) runs on this thread, as on Akka's.
/// Repeated work runs again an interval after it ran. On shutdown, the work still pending runs once,
/// as Akka's does.
/// </summary>
public sealed class DeadlineScheduler : SchedulerBase, IDateTimeOffsetNowTimeProvider, IDisposable
{
    // Akka's own clock (Akka.Util.MonotonicClock) is internal; a process-wide one as it is
    private static readonly System.Diagnostics.Stopwatch Clock = System.Diagnostics.Stopwatch.StartNew();
    private readonly object _gate = new();
    // by due time, in ticks of HighResMonotonicClock; a cancelled entry stays until it is due, then is dropped
    private readonly PriorityQueue<Entry, long> _pending = new();
    private readonly Thread _thread;
    private readonly TimeSpan _shutdownTimeout;
    private readonly long _tickTicks;
    // the due time the thread sleeps until (long.MaxValue: until something is scheduled); under _gate
    private long _sleepingUntil = long.MaxValue;
    private bool _stopping;

    /// <summary>Created by Akka from <c>akka.scheduler.implementation</c>; starts the scheduler's thread.</summary>
    public DeadlineScheduler(Config scheduler, ILoggingAdapter log)
        : base(scheduler, log)
    {
        _shutdownTimeout = SchedulerConfig.GetTimeSpan("akka.scheduler.shutdown-timeout", TimeSpan.FromSeconds(5));
        _tickTicks = Math.Max(1, SchedulerConfig.GetTimeSpan("akka.scheduler.tick-duration", TimeSpan.FromMilliseconds(10)).Ticks);
        _thread = new Thread(Run) { IsBackground = true, Name = "akka.scheduler" };
        _thread.Start();
    }

    /// <inheritdoc />
    protected override DateTimeOffset TimeNow => DateTimeOffset.Now;

    /// <inheritdoc />
    public override TimeSpan MonotonicClock => Clock.Elapsed;

    /// <inheritdoc />
    public override TimeSpan HighResMonotonicClock => Clock.Elapsed;

    /// <inheritdoc />
    protected override void InternalScheduleTellOnce(TimeSpan delay, ICanTell receiver, object message, IActorRef sender, ICancelable cancelable) =>
        Add(delay, TimeSpan.Zero, new ScheduledTell(receiver, message, sender), cancelable);

    /// <inheritdoc />
    protected override void InternalScheduleTellRepeatedly(TimeSpan initialDelay, TimeSpan interval, ICanTell receiver, object message, IActorRef sender, ICancelable cancelable) =>
        Add(initialDelay, interval, new ScheduledTell(receiver, message, sender), cancelable);

    /// <inheritdoc />
    protected override void InternalScheduleOnce(TimeSpan delay, Action action, ICancelable cancelable) =>
        Add(delay, TimeSpan.Zero, new ActionRunnable(action), cancelable);

    /// <inheritdoc />
    protected override void InternalScheduleOnce(TimeSpan delay, IRunnable action, ICancelable cancelable) =>
        Add(delay, TimeSpan.Zero, action, cancelable);

    /// <inheritdoc />
    protected override void InternalScheduleRepeatedly(TimeSpan initialDelay, TimeSpan interval, Action action, ICancelable cancelable) =>
        Add(initialDelay, interval, new ActionRunnable(action), cancelable);

    /// <inheritdoc />
    protected override void InternalScheduleRepeatedly(TimeSpan initialDelay, TimeSpan interval, IRunnable action, ICancelable cancelable) =>
        Add(initialDelay, interval, action, cancelable);

    private void Add(TimeSpan delay, TimeSpan interval, IRunnable work, ICancelable? cancelable)
    {
        var due = HighResMonotonicClock.Ticks + Math.Max(0, delay.Ticks);
        // Repeated work asked to start now (a singleton proxy's first look for its singleton, on a
        // node's start path) runs now; only its repeats, and later first runs, keep to the ticks.
        if (interval > TimeSpan.Zero && delay > TimeSpan.Zero) due = OnTick(due);
        lock (_gate)
        {
            if (_stopping) throw new SchedulerException("cannot schedule after the scheduler was shut down");
            _pending.Enqueue(new Entry(work, cancelable, interval.Ticks), due);
            // wake the thread only when this is due before what it sleeps until
            if (due < _sleepingUntil) Monitor.Pulse(_gate);
        }
    }

    private void Run()
    {
        var due = new List<Entry>();
        while (true)
        {
            lock (_gate)
            {
                while (true)
                {
                    if (_stopping) return;
                    var now = HighResMonotonicClock.Ticks;
                    while (_pending.TryPeek(out var entry, out var at) && at <= now)
                    {
                        _pending.Dequeue();
                        due.Add(entry);
                    }
                    if (due.Count > 0) break;
                    if (_pending.TryPeek(out _, out var next))
                    {
                        _sleepingUntil = next;
                        // whole milliseconds, rounded up: never wake before the earliest is due
                        var milliseconds = (int)Math.Min(int.MaxValue, (next - now + TimeSpan.TicksPerMillisecond - 1) / TimeSpan.TicksPerMillisecond);
                        Monitor.Wait(_gate, milliseconds);
                    }
                    else
                    {
                        _sleepingUntil = long.MaxValue;
                        Monitor.Wait(_gate);
                    }
                }
                _sleepingUntil = long.MinValue; // awake: a new entry need not pulse
            }
            foreach (var entry in due)
            {
                if (entry.Cancelled) continue;
                RunSafely(entry.Work);
                if (entry.IntervalTicks > 0 && !entry.Cancelled)
                    lock (_gate)
                        if (!_stopping) _pending.Enqueue(entry, OnTick(HighResMonotonicClock.Ticks + entry.IntervalTicks));
            }
            due.Clear();
        }
    }

    /// <summary>The first tick at or after <paramref name="ticks"/>.</summary>
    private long OnTick(long ticks) => (ticks + _tickTicks - 1) / _tickTicks * _tickTicks;

    private void RunSafely(IRunnable work)
    {
        try { work.Run(); }
        catch (SchedulerException) { } // from an actor system that is shutting down
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            Log.Error(e, "A scheduled work item failed: {0}", work);
        }
    }

    /// <summary>Stops the thread, then runs each work item still pending and not cancelled once, as Akka's scheduler does.</summary>
    public void Dispose()
    {
        lock (_gate)
        {
            if (_stopping) return;
            _stopping = true;
            Monitor.Pulse(_gate);
        }
        if (Thread.CurrentThread != _thread && !_thread.Join(_shutdownTimeout))
            Log.Warning("The scheduler's thread did not stop within {0}", _shutdownTimeout);
        List<Entry> remaining;
        lock (_gate)
        {
            remaining = [.. _pending.UnorderedItems.OrderBy(e => e.Priority).Select(e => e.Element)];
            _pending.Clear();
        }
        foreach (var entry in remaining.Where(e => !e.Cancelled)) RunSafely(entry.Work);
    }

    private sealed record Entry(IRunnable Work, ICancelable? Cancelable, long IntervalTicks)
    {
        public bool Cancelled => Cancelable?.IsCancellationRequested ?? false;
    }

    private sealed class ScheduledTell(ICanTell receiver, object message, IActorRef sender) : IRunnable
    {
        public void Run() => receiver.Tell(message, sender);

#if NET6_0_OR_GREATER
        public void Execute() => Run();
#endif

        public override string ToString() => $"{receiver}.Tell({message})";
    }
}
