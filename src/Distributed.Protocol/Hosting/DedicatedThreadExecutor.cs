using Akka.Configuration;
using Akka.Dispatch;

namespace Distributed.Protocol.Hosting;

/// <summary>
/// An Akka dispatcher executor on threads of its own that sleep when there is nothing to run:
/// <c>executor = "Distributed.Protocol.Hosting.DedicatedThreadExecutorConfigurator, Distributed.Protocol"</c>.
/// Dedicated threads for the same reason as Akka's fork-join-executor (a call that blocks a thread of
/// the .NET pool must not stall the actors), but Akka's pool spins each idle thread for a while
/// before it sleeps, after every message: an idle node woken by heartbeats and gossip a few dozen
/// times a second spent about 1% of a core per process that way. A thread here that finds the queue
/// empty blocks on a monitor at once until a producer wakes it (measured: Map throughput and round
/// trips as with fork-join-executor). In the dispatcher's section:
/// <c>dedicated-thread-executor { parallelism-min, parallelism-factor, parallelism-max }</c>, as for
/// fork-join-executor (processors × factor, clamped to min..max).
/// </summary>
public sealed class DedicatedThreadExecutorConfigurator : ExecutorServiceConfigurator
{
    private readonly int _threads;

    /// <summary>Reads the thread count from the dispatcher's <c>dedicated-thread-executor</c> section.</summary>
    public DedicatedThreadExecutorConfigurator(Config config, IDispatcherPrerequisites prerequisites)
        : base(config, prerequisites)
    {
        ArgumentNullException.ThrowIfNull(config);
        var section = config.GetConfig("dedicated-thread-executor") ?? Config.Empty;
        var min = section.GetInt("parallelism-min", 2);
        var max = section.GetInt("parallelism-max", 4);
        var factor = section.GetDouble("parallelism-factor", 1.0);
        _threads = Threads(Environment.ProcessorCount, min, factor, max);
    }

    /// <summary>The threads a dispatcher gets: processors × factor, rounded up, within min..max and at least 1.</summary>
    public static int Threads(int processors, int min, double factor, int max) =>
        Math.Max(1, Math.Clamp((int)Math.Ceiling(processors * factor), min, Math.Max(min, max)));

    /// <inheritdoc />
    public override ExecutorService Produce(string id) => new DedicatedThreadExecutor(id, _threads);
}

/// <summary>A fixed set of background threads taking work from one queue, each blocked in the kernel while the queue is empty.</summary>
public sealed class DedicatedThreadExecutor : ExecutorService
{
    private readonly System.Collections.Concurrent.ConcurrentQueue<IRunnable> _queue = new();
    // Wake-ups given and not yet taken, under the lock; a sleeping thread waits on the lock's monitor,
    // which blocks at once (SemaphoreSlim spins first, and that alone cost an idle node ~0.3% of a core).
    private readonly object _wakeGate = new();
    private int _wakeUps;
    private readonly int _threads;
    private volatile bool _stopping;
    // Threads that announced they are about to sleep and have not been claimed by a wake-up yet.
    private int _sleepers;

    /// <summary>Starts <paramref name="threads"/> threads named after the dispatcher <paramref name="id"/>.</summary>
    public DedicatedThreadExecutor(string id, int threads)
        : base(id)
    {
        _threads = threads;
        for (var i = 0; i < threads; i++)
            new Thread(Work) { IsBackground = true, Name = $"{id}-{i + 1}" }.Start();
    }

    /// <summary>Queues <paramref name="run"/> and wakes one sleeping thread, if any sleeps.</summary>
    public override void Execute(IRunnable run)
    {
        _queue.Enqueue(run);
        // The item must be visible before the sleepers are read, as a sleeper announces itself before
        // its last look (a full fence on each side; the queue only publishes its item with a release).
        Interlocked.MemoryBarrier();
        if (TryClaimSleeper()) Wake(1);
    }

    /// <summary>Wakes every thread to end; work still queued is dropped, as Akka's pools do.</summary>
    public override void Shutdown()
    {
        _stopping = true;
        Wake(_threads);
    }

    /// <summary>Takes one announced sleeper, so that each wake-up is released once, and only when a thread waits for it.</summary>
    private bool TryClaimSleeper()
    {
        var sleepers = Volatile.Read(ref _sleepers);
        while (sleepers > 0)
        {
            var seen = Interlocked.CompareExchange(ref _sleepers, sleepers - 1, sleepers);
            if (seen == sleepers) return true;
            sleepers = seen;
        }
        return false;
    }

    private void Work()
    {
        while (!_stopping)
        {
            if (_queue.TryDequeue(out var run))
            {
                Run(run);
                continue;
            }
            // Announce the sleep before the last look at the queue: a producer that enqueues after
            // that look sees the announcement and releases a wake-up, so no work waits unnoticed.
            Interlocked.Increment(ref _sleepers);
            if (_queue.TryDequeue(out run))
            {
                // Take back the announcement, unless a producer claimed it already: then its wake-up
                // stays counted and only makes some thread look at the queue once more.
                TryClaimSleeper();
                Run(run);
                continue;
            }
            Sleep();
        }
    }

    private void Wake(int threads)
    {
        lock (_wakeGate)
        {
            _wakeUps += threads;
            if (threads == 1) Monitor.Pulse(_wakeGate);
            else Monitor.PulseAll(_wakeGate);
        }
    }

    private void Sleep()
    {
        lock (_wakeGate)
        {
            while (_wakeUps == 0) Monitor.Wait(_wakeGate);
            _wakeUps--;
        }
    }

    private static void Run(IRunnable run)
    {
        // as Akka's own pools do: a failing work item must not end the thread (a mailbox reports its actor's failures itself)
        try { run.Run(); }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            Console.Error.WriteLine($"[dispatcher] a work item failed: {e}");
        }
    }
}
