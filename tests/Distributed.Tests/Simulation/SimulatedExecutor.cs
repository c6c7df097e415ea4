using Distributed.Data;
using Distributed.Protocol;
using Distributed.Worker;
using Distributed.Worker.Executor;

namespace Distributed.Tests.Simulation;

/// <summary>What a simulated executor actor tells the worker actor, in the order it told it.</summary>
internal abstract record ExecutorSaid
{
    /// <summary>Results of tasks (<see cref="Distributed.Worker.ExecutorResults"/>).</summary>
    public sealed record Results(IReadOnlyList<ExecutorResult> List) : ExecutorSaid;

    /// <summary>Its process is gone, or a batch that came after (<see cref="Distributed.Worker.ExecutorRetired"/>).</summary>
    public sealed record Retired(string Version, IReadOnlyList<string> AssemblyPaths, ExecuteBatch Rerun) : ExecutorSaid;

    /// <summary>
    /// Its Terminated: a system message, which Akka delivers before the ordinary messages still in the
    /// worker's mailbox, so it may overtake what the executor said before it stopped.
    /// </summary>
    public sealed record Stopped : ExecutorSaid;
}

/// <summary>The states of an <see cref="ExecutorActor"/>.</summary>
internal enum ExecutorState { Starting, Running, Retired, Stopped }

/// <summary>The worker's PoisonPill to an executor.</summary>
internal sealed record StopMessage
{
    public static StopMessage Instance { get; } = new();
}

/// <summary>
/// An executor as the simulation plays it: the <see cref="ExecutorActor"/>'s states and mailbox (it
/// stashes while its process starts, hands batches back once retired, drops what comes after its
/// stop) and its process as ExecutorHost runs it: a queue, <see cref="Threads"/> threads that take
/// tasks in order, and the set of cancelled keys that a task taken later is checked against.
/// </summary>
internal sealed class SimulatedExecutor(long id, string? version, IReadOnlyList<string> assemblyPaths)
{
    public const int Threads = 2;

    public long Id { get; } = id;

    /// <summary>The version its actor runs (null: a spare; it stays so when the spare dies before it read its AdoptCode).</summary>
    public string? Version { get; private set; } = version;

    public IReadOnlyList<string> AssemblyPaths { get; private set; } = assemblyPaths;

    /// <summary>The version the worker core gave it (at its start or with AdoptCode), whether it read it or not.</summary>
    public string? GivenVersion { get; set; } = version;

    public ExecutorState State { get; private set; } = ExecutorState.Starting;

    /// <summary>Messages from the worker not read yet: <see cref="ExecuteBatch"/>, <see cref="AdoptCode"/>, <see cref="CancelExecution"/>, <see cref="StopMessage"/>.</summary>
    public List<object> Mailbox { get; } = [];

    private readonly List<object> _stash = [];
    private readonly Dictionary<string, FunctionSpec> _sentFunctions = new(StringComparer.Ordinal);

    /// <summary>The actor's tasks sent to the process and not answered, by key (a key sent twice is there once, as in the actor).</summary>
    public Dictionary<string, (ExecutorTask Task, IReadOnlyDictionary<string, StoredValue> Values)> InFlight { get; } = new(StringComparer.Ordinal);

    /// <summary>The process's queue, the tasks its threads run, and the keys it was told not to start.</summary>
    public List<ExecutorTask> Queued { get; } = [];
    public List<ExecutorTask> Running { get; } = [];
    public HashSet<string> CancelledKeys { get; } = new(StringComparer.Ordinal);

    public List<ExecutorSaid> Outbox { get; } = [];

    /// <summary>Whether its process lives (it can connect, take, finish or lose tasks).</summary>
    public bool ProcessAlive => State is ExecutorState.Starting or ExecutorState.Running;

    /// <summary>Every task it holds in any form: stashed or in its mailbox unread, or in flight.</summary>
    public IEnumerable<ExecutorTask> TasksHeld =>
        _stash.Concat(Mailbox).OfType<ExecuteBatch>().SelectMany(b => b.Tasks).Concat(InFlight.Values.Select(v => v.Task));

    /// <summary>The process connected: what was stashed is read first, in order.</summary>
    public void Connect()
    {
        State = ExecutorState.Running;
        Mailbox.InsertRange(0, _stash);
        _stash.Clear();
    }

    /// <summary>
    /// Reads the next message of the mailbox. Returns the batch it accepted for its process (for the
    /// world's checks), and the tasks a stop loses: unread (dead letters) or killed with the process.
    /// </summary>
    public (ExecuteBatch? Accepted, IReadOnlyList<ExecutorTask> Lost) ReadNext()
    {
        var message = Mailbox[0];
        Mailbox.RemoveAt(0);
        if (message is StopMessage)
        {
            // PostStop kills the process; what is still in the mailbox or stash goes to dead letters.
            var lost = Mailbox.Concat(_stash).OfType<ExecuteBatch>().SelectMany(b => b.Tasks).Concat(InFlight.Values.Select(v => v.Task)).ToList();
            Mailbox.Clear();
            _stash.Clear();
            InFlight.Clear();
            KillProcess();
            State = ExecutorState.Stopped;
            Outbox.Add(new ExecutorSaid.Stopped());
            return (null, lost);
        }
        switch (State)
        {
            case ExecutorState.Starting:
                _stash.Add(message);
                return (null, []);
            case ExecutorState.Retired:
                if (message is ExecuteBatch late) Outbox.Add(new ExecutorSaid.Retired(Version ?? "spare", AssemblyPaths, late));
                return (null, []);
        }
        switch (message)
        {
            case AdoptCode adopt:
                // The actor logs an error and ignores a second version.
                if (Version is not null) throw new SimulationFailure($"Executor {Id} of code {Version} was asked to run code {adopt.Version} too.");
                Version = adopt.Version;
                AssemblyPaths = adopt.AssemblyPaths;
                return (null, []);
            case ExecuteBatch batch:
                foreach (var function in batch.Functions) _sentFunctions.TryAdd(function.FunctionId, function);
                foreach (var task in batch.Tasks)
                {
                    InFlight[task.Key] = (task, batch.Values);
                    Queued.Add(task);
                }
                return (batch, []);
            case CancelExecution cancel:
                // Only keys still in flight, as the actor filters them.
                foreach (var key in cancel.Keys.Where(InFlight.ContainsKey)) CancelledKeys.Add(key);
                return (null, []);
            default:
                throw new SimulationFailure($"Executor {Id} got {message}.");
        }
    }

    /// <summary>A thread takes the next queued task: a cancelled key is answered at once, as the host does.</summary>
    public void TakeNext()
    {
        var task = Queued[0];
        Queued.RemoveAt(0);
        if (CancelledKeys.Remove(task.Key))
        {
            Answer(new ExecutorResult(task.Key, null, "", ExecutorFrames.CancelledError));
            return;
        }
        Running.Add(task);
    }

    /// <summary>A running task ends: its value is its arguments (which carry its assignment's number), or a user error.</summary>
    public void Finish(int index, bool throws)
    {
        var task = Running[index];
        Running.RemoveAt(index);
        Answer(Result(task, throws));
    }

    /// <summary>Every running task ends, and their results go in one message (the process writes what it has in one frame).</summary>
    public void FinishAll()
    {
        var results = Running.Select(task => Result(task, throws: false)).ToList();
        Running.Clear();
        foreach (var result in results) InFlight.Remove(result.Key);
        Outbox.Add(new ExecutorSaid.Results(results));
    }

    private static ExecutorResult Result(ExecutorTask task, bool throws) => throws
        ? new ExecutorResult(task.Key, null, "", new RemoteError(ErrorKind.UserCode, "System.InvalidOperationException", $"{task.Key} threw.", "at f"))
        : new ExecutorResult(task.Key, new StoredValue(task.Args.ToArray(), WorkerWorld.TypeNameOf(task.Args)), WorkerWorld.TypeNameOf(task.Args), null);

    private void Answer(ExecutorResult result)
    {
        InFlight.Remove(result.Key);
        Outbox.Add(new ExecutorSaid.Results([result]));
    }

    /// <summary>A running task outlived its timeout: it fails, and the process goes with the other tasks handed back to run again.</summary>
    public void TimeOut(int index)
    {
        var task = Running[index];
        Running.RemoveAt(index);
        InFlight.Remove(task.Key);
        Outbox.Add(new ExecutorSaid.Results([new ExecutorResult(task.Key, null, "", RemoteError.Of(ErrorKind.TaskTimeout, $"{task.Key} timed out."))]));
        var others = InFlight.Values.ToList();
        var values = new Dictionary<string, StoredValue>(StringComparer.Ordinal);
        foreach (var (other, batchValues) in others)
            foreach (var dependency in other.Dependencies)
                if (!values.ContainsKey(dependency) && batchValues.TryGetValue(dependency, out var bytes)) values[dependency] = bytes;
        var functions = others.Select(o => o.Task.FunctionId).Distinct().Select(f => _sentFunctions[f]).ToList();
        Retire(new ExecuteBatch(functions, values, others.Select(o => o.Task).ToList()));
    }

    /// <summary>The process died: what it held and what was stashed fails, and the actor retires.</summary>
    public void Crash()
    {
        var pending = _stash.OfType<ExecuteBatch>().SelectMany(b => b.Tasks).Select(t => t.Key);
        var failures = InFlight.Keys.Concat(pending)
            .Select(key => new ExecutorResult(key, null, "", RemoteError.Of(ErrorKind.ExecutorCrashed, $"The process running {key} died.")))
            .ToList();
        _stash.Clear();
        if (failures.Count > 0) Outbox.Add(new ExecutorSaid.Results(failures));
        Retire(new ExecuteBatch([], new Dictionary<string, StoredValue>(), []));
    }

    private void Retire(ExecuteBatch rerun)
    {
        InFlight.Clear();
        KillProcess();
        State = ExecutorState.Retired;
        Outbox.Add(new ExecutorSaid.Retired(Version ?? "spare", AssemblyPaths, rerun));
    }

    private void KillProcess()
    {
        Queued.Clear();
        Running.Clear();
        CancelledKeys.Clear();
    }
}
