using Akka.Actor;
using Distributed.Protocol;

namespace Distributed.Center.Dashboard;

/// <summary>
/// One task on <see cref="Worker"/>, from <see cref="Start"/> to <see cref="End"/> (Unix milliseconds): its run on executor
/// thread <see cref="Thread"/> as the worker timed it, or, where that is null, from the center sending it to the worker reporting it.
/// </summary>
public sealed record TaskSpan(long Sequence, string Worker, string Key, string Group, double Start, double End, bool Failed, int? Thread = null);

/// <summary>A task failure a client was told of, with the remote error it carries.</summary>
public sealed record ErrorRecord(long Sequence, DateTimeOffset Time, string Client, string Worker, string Key, string Kind, string Type, string Message, string StackTrace);

/// <summary>Something that happened to the cluster: a worker <c>joined</c>, <c>rejoined</c>, <c>left</c>, was <c>downed</c>, had an executor <c>restarted</c>; or a <c>warning</c> of the center.</summary>
public sealed record ClusterEvent(long Sequence, DateTimeOffset Time, string Kind, string Worker, string Text);

/// <summary>
/// The tasks of one computation (a Map, a graph's tasks of one function, …: keys that share a prefix)
/// submitted while someone watched, and how many have finished or failed.
/// </summary>
public sealed record ComputationProgress(string Group, string Function, string Client, long Total, long Finished, long Failed, double Started, double Updated);

/// <summary>A worker's latest <see cref="WorkerStatus"/>, and when it came.</summary>
public sealed record WorkerStatusRecord(string Worker, DateTimeOffset Received, WorkerStatus Status);

/// <summary>
/// What the center actor records for the dashboard, beside its core: task spans, errors, events,
/// workers' statuses and computations' progress, in bounded buffers. The actor writes (through
/// <see cref="CenterRecorder"/>), web requests read, under one lock. Task spans and computations are
/// recorded only while someone watches (<see cref="Watched"/>): unwatched, the center pays a clock read
/// per batch sent.
/// </summary>
public sealed class CenterObservations : IExtension
{
    /// <summary>How many task spans are kept (the oldest go first).</summary>
    public const int MaxSpans = 20_000;
    /// <summary>How many errors are kept.</summary>
    public const int MaxErrors = 200;
    /// <summary>How many events are kept.</summary>
    public const int MaxEvents = 500;
    /// <summary>How many computations are kept (finished ones go first).</summary>
    public const int MaxComputations = 100;

    private readonly Lock _gate = new();
    private readonly Queue<TaskSpan> _spans = new();
    private readonly Queue<ErrorRecord> _errors = new();
    private readonly Queue<ClusterEvent> _events = new();
    private readonly Dictionary<string, WorkerStatusRecord> _statuses = new(StringComparer.Ordinal);
    private readonly Dictionary<string, Computation> _computations = new(StringComparer.Ordinal);
    private long _sequence;
    private long _watchedUntil;
    private long _executorRestarts;

    /// <summary>The observations of the center in <paramref name="system"/>.</summary>
    public static CenterObservations Get(ActorSystem system) => system.WithExtension<CenterObservations, Provider>();

    /// <summary>Whether someone looked at the dashboard in the last minute (or a test said so).</summary>
    public bool Watched => Environment.TickCount64 < Volatile.Read(ref _watchedUntil);

    /// <summary>Marks the dashboard as watched for <paramref name="duration"/> from now.</summary>
    public void Watch(TimeSpan duration)
    {
        var until = Environment.TickCount64 + (long)duration.TotalMilliseconds;
        if (until > Volatile.Read(ref _watchedUntil)) Volatile.Write(ref _watchedUntil, until);
    }

    /// <summary>Executor restarts of workers that left, so that the cluster's total never goes down.</summary>
    public long ExecutorRestartsOfGoneWorkers { get { lock (_gate) return _executorRestarts; } }

    internal void AddSpans(IEnumerable<(string Worker, string Key, string Group, double Start, double End, bool Failed, int? Thread)> spans)
    {
        lock (_gate)
        {
            foreach (var (worker, key, group, start, end, failed, thread) in spans)
            {
                _spans.Enqueue(new TaskSpan(++_sequence, worker, key, group, start, end, failed, thread));
                if (_spans.Count > MaxSpans) _spans.Dequeue();
                if (_computations.TryGetValue(group, out var computation))
                {
                    if (failed) computation.Failed++;
                    else computation.Finished++;
                    computation.Updated = end;
                }
            }
        }
    }

    internal void AddSubmitted(string client, IEnumerable<(string Group, string Function, int Count)> groups, double now)
    {
        lock (_gate)
        {
            foreach (var (group, function, count) in groups)
            {
                if (!_computations.TryGetValue(group, out var computation))
                {
                    if (_computations.Count >= MaxComputations) DropOldestComputation();
                    _computations[group] = computation = new Computation(group, function, client, now);
                }
                computation.Total += count;
                computation.Updated = now;
            }
        }
    }

    private void DropOldestComputation()
    {
        // Finished ones first, the oldest of them; else the oldest of all.
        var victim = _computations.Values.Where(c => c.Finished + c.Failed >= c.Total).MinBy(c => c.Updated)
            ?? _computations.Values.MinBy(c => c.Updated);
        if (victim is not null) _computations.Remove(victim.Group);
    }

    internal void AddError(ErrorRecord error)
    {
        lock (_gate)
        {
            _errors.Enqueue(error with { Sequence = ++_sequence });
            if (_errors.Count > MaxErrors) _errors.Dequeue();
        }
    }

    internal void AddEvent(string kind, string worker, string text)
    {
        lock (_gate)
        {
            _events.Enqueue(new ClusterEvent(++_sequence, DateTimeOffset.UtcNow, kind, worker, text));
            if (_events.Count > MaxEvents) _events.Dequeue();
        }
    }

    /// <summary>Records a worker's status; returns its previous one (null if none).</summary>
    internal WorkerStatus? SetStatus(string worker, WorkerStatus status)
    {
        lock (_gate)
        {
            var previous = _statuses.GetValueOrDefault(worker)?.Status;
            _statuses[worker] = new WorkerStatusRecord(worker, DateTimeOffset.UtcNow, status);
            return previous;
        }
    }

    internal void RemoveStatus(string worker)
    {
        lock (_gate)
            if (_statuses.Remove(worker, out var gone)) _executorRestarts += gone.Status.ExecutorRestarts;
    }

    /// <summary>The task spans recorded after <paramref name="afterSequence"/>, oldest first, at most <paramref name="max"/> (the newest).</summary>
    public IReadOnlyList<TaskSpan> Spans(long afterSequence, int max = 5_000)
    {
        lock (_gate)
        {
            var newer = _spans.Where(s => s.Sequence > afterSequence).ToList();
            return newer.Count > max ? newer[^max..] : newer;
        }
    }

    /// <summary>The errors kept, newest first.</summary>
    public IReadOnlyList<ErrorRecord> Errors() { lock (_gate) return _errors.Reverse().ToList(); }

    /// <summary>The events kept, newest first.</summary>
    public IReadOnlyList<ClusterEvent> Events() { lock (_gate) return _events.Reverse().ToList(); }

    /// <summary>The workers' latest statuses, by worker name.</summary>
    public IReadOnlyDictionary<string, WorkerStatusRecord> Statuses() { lock (_gate) return new Dictionary<string, WorkerStatusRecord>(_statuses, StringComparer.Ordinal); }

    /// <summary>The computations recorded, the most recently updated first.</summary>
    public IReadOnlyList<ComputationProgress> Computations()
    {
        lock (_gate)
            return _computations.Values.OrderByDescending(c => c.Updated)
                .Select(c => new ComputationProgress(c.Group, c.Function, c.Client, c.Total, c.Finished, c.Failed, c.Started, c.Updated)).ToList();
    }

    private sealed class Computation(string group, string function, string client, double started)
    {
        public string Group { get; } = group;
        public string Function { get; } = function;
        public string Client { get; } = client;
        public double Started { get; } = started;
        public double Updated { get; set; } = started;
        public long Total { get; set; }
        public long Finished { get; set; }
        public long Failed { get; set; }
    }

    private sealed class Provider : ExtensionIdProvider<CenterObservations>
    {
        public override CenterObservations CreateExtension(ExtendedActorSystem system) => new();
    }
}

/// <summary>Asks the center actor for its <see cref="Core.CenterView"/> (answered with one).</summary>
public sealed class CenterViewAsked
{
    /// <summary>The one question.</summary>
    public static readonly CenterViewAsked Instance = new();
    private CenterViewAsked() { }
}
