using System.Text;
using Distributed.Data;
using Distributed.Protocol;
using Distributed.Worker;
using Distributed.Worker.Core;
using static Distributed.Tests.Simulation.SimulationDraw;

namespace Distributed.Tests.Simulation;

/// <summary>What the worker simulation can do next; the numbers pick among what exists at that moment (modulo), so any subsequence still replays.</summary>
internal enum WorkerAct : byte
{
    // The center decides.
    SendBatch, Cancel, Delete, AskCopies,
    // Messages travel, in order between two actors.
    DeliverToWorker, DeliverToCenter, AnswerAssembly, DeliverToExecutor, DeliverFromExecutor,
    // The surroundings move.
    EndFetch, ChangeAssemblyOnDisk, ConnectExecutor, TakeTask, FinishTask, TimeOutTask, CrashExecutor, Tick,
}

/// <summary>One step of a worker run: an act and the numbers that pick its targets.</summary>
internal readonly record struct WorkerStep(WorkerAct Act, int A, int B, int C)
{
    public override string ToString() => $"{Act}({A},{B},{C})";

    /// <summary>The steps of a sequence as a failing run prints them ("SendBatch(1,2,3) Tick(4,5,6)").</summary>
    public static IReadOnlyList<WorkerStep> ParseAll(string steps) =>
        steps.Split(' ', StringSplitOptions.RemoveEmptyEntries).Select(step =>
        {
            var parts = step.TrimEnd(')').Split('(', ',');
            return new WorkerStep(Enum.Parse<WorkerAct>(parts[0]), int.Parse(parts[1], System.Globalization.CultureInfo.InvariantCulture),
                int.Parse(parts[2], System.Globalization.CultureInfo.InvariantCulture), int.Parse(parts[3], System.Globalization.CultureInfo.InvariantCulture));
        }).ToList();
}

/// <summary>
/// A <see cref="WorkerCore"/> with a real (in-memory) data store among simulated surroundings, driven
/// one step at a time: a center that sends batches, cancels tasks, deletes keys and asks for copies;
/// clients that answer (or fail) requests for their assemblies; fetches that end well, badly or late;
/// an assembly cache whose files can change on disk; executors played as the executor actor and its
/// process run them (stash while starting, queue, threads, cancelled keys, timeouts, crashes,
/// retirement, a stop whose notice can overtake their last words); a spare timer on a manual clock.
/// The world plays the worker actor's part too (client ids, the executor table, the check of an
/// assembly's sender). After every step it checks the core's invariants and its own record of every
/// task the center gave the worker.
/// </summary>
internal sealed class WorkerWorld : ISimulatedWorld<WorkerAct, WorkerStep>
{
    private const string Name = "worker-7";
    private static readonly string[] TaskKeys = Enumerable.Range(0, 10).Select(i => $"k{i}").ToArray();
    private static readonly string[] RemoteKeys = Enumerable.Range(0, 4).Select(i => $"r{i}").ToArray();
    private static readonly DataEndpoint Holder = new("10.0.0.2", 9001);
    private static readonly AssemblyRef Shared = new("Shared", new string('a', 64));
    private static readonly AssemblyRef Extra = new("Extra", new string('b', 64));
    private static readonly AssemblyRef Other = new("Other", new string('c', 64));
    private static readonly CodeManifest[] Versions = [new("v1", [Shared]), new("v2", [Shared, Extra]), new("v3", [Other])];
    /// <summary>Each version's function, so that a task says which code it needs.</summary>
    private static readonly Dictionary<string, FunctionSpec> FunctionOf = Versions.ToDictionary(v => v.Version, v => ContentAddress.Function(Encoding.UTF8.GetBytes(v.Version)));
    private static readonly Dictionary<string, string> VersionOfFunction = FunctionOf.ToDictionary(f => f.Value.FunctionId, f => f.Key);
    private static readonly FunctionSpec Forged = new(new string('0', FunctionOf["v1"].FunctionId.Length), [1]);
    /// <summary>A fetched input's value: one of its own per key, as the store takes over (and counts references to) each value it is given.</summary>
    private static StoredValue RemoteValue() => new([9], "remote");

    private readonly ManualClock _clock = new();
    private readonly DataStore _store = new();
    private readonly SimulatedAssemblyFiles _files = new();
    private readonly WorkerCore _core;
    private readonly List<string> _trace = [];

    // ---- the center, as the worker hears it and as it hears the worker
    private readonly Queue<(long Number, object Message)> _toWorker = new();
    private long _sentToWorker;
    /// <summary>The number of the last center message the worker handled: a report says what its worker had heard.</summary>
    private long _heardFromCenter;
    /// <summary>Key → the number of the last DeleteKeys of it: a report the worker made before it heard that delete is void.</summary>
    private readonly Dictionary<string, long> _deletedAt = new(StringComparer.Ordinal);
    private readonly Queue<CenterReport> _toCenter = new();
    /// <summary>Task key → the assignment (a number carried in the task's arguments) the center waits for.</summary>
    private readonly SortedDictionary<string, long> _pendingAtCenter = new(StringComparer.Ordinal);
    /// <summary>Key → the assignment whose value the center believes the worker holds (0: a copy of another worker's value).</summary>
    private readonly SortedDictionary<string, long> _storedAtCenter = new(StringComparer.Ordinal);
    /// <summary>Keys whose result of an earlier (cancelled) assignment may still be in the store while a later one runs.</summary>
    private readonly SortedSet<string> _staleSuspects = new(StringComparer.Ordinal);
    private long _nextAssignment;
    private long _nextReplication;

    // ---- what the core was given: every task handed over and neither reported nor cancelled, by key
    private readonly SortedDictionary<string, long> _open = new(StringComparer.Ordinal);

    // ---- the worker actor's part
    private readonly Dictionary<int, string> _clientIds = [];
    private readonly Dictionary<string, int> _clientActors = new(StringComparer.Ordinal);
    private long _clientsSeen;
    private readonly List<AssemblyRef>[] _assemblyRequests = [[], []];
    private readonly SortedDictionary<long, SimulatedExecutor> _executors = [];
    private readonly List<SimulatedExecutor> _everyExecutor = [];
    private readonly List<Fetch> _fetches = [];
    private TimeSpan? _spareTimerDue;

    public WorkerWorld()
    {
        _core = new WorkerCore("worker-starting", _store, _files, new TransferCounters());
        // The center's answer to the registration comes first: it sends nothing before.
        Tell(new WorkerEvent.Registered(Name));
    }

    public long EventsHandled { get; private set; }
    public IReadOnlyList<string> Trace => _trace;

    /// <summary>A task's result type names its assignment, so that a report says which run of a key it is.</summary>
    public static string TypeNameOf(byte[] args) => $"assignment-{BitConverter.ToInt64(args)}";

    private static long AssignmentOf(string typeName) => long.Parse(typeName["assignment-".Length..], System.Globalization.CultureInfo.InvariantCulture);

    // ---------------------------------------------------------------- steps

    public void Apply(WorkerStep step)
    {
        var pick = new Random(unchecked(step.A * 7919 + step.B * 104_729 + step.C));
        Note($"{step}");
        switch (step.Act)
        {
            case WorkerAct.SendBatch: SendBatch(pick, resend: step.C % 10 == 3 ? step.B : null); break;
            case WorkerAct.Cancel: Cancel(pick); break;
            case WorkerAct.Delete: Delete(pick); break;
            case WorkerAct.AskCopies: AskCopies(pick); break;
            case WorkerAct.DeliverToWorker: DeliverToWorker(); break;
            case WorkerAct.DeliverToCenter: DeliverToCenter(); break;
            case WorkerAct.AnswerAssembly: AnswerAssembly(step.A % 2 == 0 ? 0 : 1, sent: step.B % 8 != 0); break;
            case WorkerAct.DeliverToExecutor: DeliverToExecutor(Pick(_everyExecutor.Where(e => e.Mailbox.Count > 0), step.A)); break;
            case WorkerAct.DeliverFromExecutor: DeliverFromExecutor(Pick(_everyExecutor.Where(e => e.Outbox.Count > 0), step.A), stopFirst: step.B % 5 == 0); break;
            case WorkerAct.EndFetch: EndFetch(step.A, succeeds: step.B % 6 != 0); break;
            case WorkerAct.ChangeAssemblyOnDisk: ChangeOnDisk(step.A); break;
            case WorkerAct.ConnectExecutor: Pick(_everyExecutor.Where(e => e.State == ExecutorState.Starting), step.A)?.Connect(); break;
            case WorkerAct.TakeTask: Pick(_everyExecutor.Where(CanTake), step.A)?.TakeNext(); break;
            case WorkerAct.FinishTask:
                if (Pick(_everyExecutor.Where(e => e.Running.Count > 0), step.A) is not { } finisher) break;
                if (step.C % 4 == 1) finisher.FinishAll();
                else finisher.Finish(step.B % finisher.Running.Count, throws: step.C % 6 == 0);
                break;
            case WorkerAct.TimeOutTask:
                if (Pick(_everyExecutor.Where(e => e.Running.Any(t => t.TimeoutMs > 0)), step.A) is { } slow)
                    slow.TimeOut(slow.Running.FindIndex(t => t.TimeoutMs > 0));
                break;
            case WorkerAct.CrashExecutor: Pick(_everyExecutor.Where(e => e.ProcessAlive), step.A)?.Crash(); break;
            case WorkerAct.Tick: Tick(TimeSpan.FromMilliseconds(1 + step.A % 3000)); break;
            default: throw new ArgumentOutOfRangeException(nameof(step), step.Act, null);
        }
        CheckInvariants(step.ToString());
    }

    /// <summary>Whether <paramref name="act"/> would do anything now: the generator draws among these only.</summary>
    public bool IsEnabled(WorkerAct act) => act switch
    {
        WorkerAct.SendBatch => _pendingAtCenter.Count < 8 && TaskKeys.Any(IsFreeAtCenter),
        WorkerAct.Cancel => _pendingAtCenter.Count > 0,
        WorkerAct.Delete => _storedAtCenter.Count > 0,
        WorkerAct.AskCopies => RemoteKeys.Any(k => !_storedAtCenter.ContainsKey(k)),
        WorkerAct.DeliverToWorker => _toWorker.Count > 0,
        WorkerAct.DeliverToCenter => _toCenter.Count > 0,
        WorkerAct.AnswerAssembly => _assemblyRequests.Any(r => r.Count > 0),
        WorkerAct.DeliverToExecutor => _everyExecutor.Any(e => e.Mailbox.Count > 0),
        WorkerAct.DeliverFromExecutor => _everyExecutor.Any(e => e.Outbox.Count > 0),
        WorkerAct.EndFetch => _fetches.Count > 0,
        WorkerAct.ChangeAssemblyOnDisk => _files.Present.Count > 0,
        WorkerAct.ConnectExecutor => _everyExecutor.Any(e => e.State == ExecutorState.Starting),
        WorkerAct.TakeTask => _everyExecutor.Any(CanTake),
        WorkerAct.FinishTask => _everyExecutor.Any(e => e.Running.Count > 0),
        WorkerAct.TimeOutTask => _everyExecutor.Any(e => e.Running.Any(t => t.TimeoutMs > 0)),
        WorkerAct.CrashExecutor => _everyExecutor.Any(e => e.ProcessAlive),
        WorkerAct.Tick => _spareTimerDue is not null,
        _ => false,
    };

    private static bool CanTake(SimulatedExecutor executor) =>
        executor.State == ExecutorState.Running && executor.Queued.Count > 0 && executor.Running.Count < SimulatedExecutor.Threads;

    private bool IsFreeAtCenter(string key) => !_pendingAtCenter.ContainsKey(key) && !_storedAtCenter.ContainsKey(key);

    private void Note(string line)
    {
        _trace.Add(line);
        if (_trace.Count > 400) _trace.RemoveRange(0, 100);
    }

    // ---------------------------------------------------------------- the center

    /// <summary>The center sends a batch; <paramref name="resend"/> picks a key the worker runs already to send again among the keys.</summary>
    private void SendBatch(Random pick, int? resend)
    {
        var free = TaskKeys.Where(IsFreeAtCenter).ToList();
        if (free.Count == 0 || _pendingAtCenter.Count >= 8) return;
        // Now and then a key the worker runs already, sent again (for this or another client): it replaces the earlier assignment.
        if (resend is { } which && _pendingAtCenter.Count > 0) free[0] = _pendingAtCenter.Keys.ElementAt((int)((uint)which % (uint)_pendingAtCenter.Count));
        var client = pick.Next(2);
        var code = Versions[pick.Next(Versions.Length)];
        var inputs = _storedAtCenter.Keys.Concat(RemoteKeys).Distinct().ToList();
        var tasks = new List<TaskSpec>();
        var remote = new Dictionary<string, RemoteInput>(StringComparer.Ordinal);
        foreach (var key in free.OrderBy(_ => pick.Next()).Take(1 + pick.Next(3)))
        {
            var assignment = ++_nextAssignment;
            var dependencies = inputs.OrderBy(_ => pick.Next()).Take(pick.Next(3)).ToList();
            // An input the center does not know here is fetched from its holder.
            foreach (var dependency in dependencies.Where(d => !_storedAtCenter.ContainsKey(d))) remote.TryAdd(dependency, new RemoteInput(dependency, [Holder]));
            tasks.Add(new TaskSpec(key, FunctionOf[code.Version].FunctionId, ArgumentsKind.Dependencies, BitConverter.GetBytes(assignment), dependencies,
                TimeoutMs: pick.Next(4) == 0 ? 1000 : 0));
            _pendingAtCenter[key] = assignment;
        }
        // Now and then a function whose id is not its hash: the batch fails before anything runs.
        FunctionSpec[] functions = pick.Next(40) == 0 ? [Forged] : [FunctionOf[code.Version]];
        Tell(new RunTasks(client, code, functions, tasks, remote.Values.ToList()));
    }

    private void Cancel(Random pick)
    {
        var keys = _pendingAtCenter.Keys.OrderBy(_ => pick.Next()).Take(1 + pick.Next(2)).ToList();
        if (keys.Count == 0) return;
        foreach (var key in keys) _pendingAtCenter.Remove(key);
        // The center's record may be behind the worker: a key it does not wait for is cancelled too.
        if (pick.Next(5) == 0) keys.Add(TaskKeys[pick.Next(TaskKeys.Length)]);
        Tell(new WorkerEvent.TasksCancelled(keys.Distinct().ToList()));
    }

    private void Delete(Random pick)
    {
        var keys = _storedAtCenter.Keys.OrderBy(_ => pick.Next()).Take(1 + pick.Next(2)).ToList();
        if (keys.Count == 0) return;
        foreach (var key in keys)
        {
            _storedAtCenter.Remove(key);
            // A stale value under the key goes with it, unless a new assignment of the key runs (its result would go too).
            if (!_pendingAtCenter.ContainsKey(key)) _staleSuspects.Remove(key);
        }
        Tell(new WorkerEvent.KeysDeleted(keys));
    }

    private void AskCopies(Random pick)
    {
        var keys = RemoteKeys.Where(k => !_storedAtCenter.ContainsKey(k)).OrderBy(_ => pick.Next()).Take(1 + pick.Next(2)).ToList();
        if (keys.Count == 0) return;
        Tell(new WorkerEvent.CopiesRequested(keys.Select(k => new RemoteInput(k, [Holder])).ToList(), ++_nextReplication));
    }

    private void Tell(object message)
    {
        _toWorker.Enqueue((++_sentToWorker, message));
        if (message is WorkerEvent.KeysDeleted deleted)
            foreach (var key in deleted.Keys) _deletedAt[key] = _sentToWorker;
    }

    private void DeliverToWorker()
    {
        if (!_toWorker.TryDequeue(out var next)) return;
        var message = next.Message;
        _heardFromCenter = next.Number;
        switch (message)
        {
            case RunTasks run:
                // A key sent again replaces its earlier assignment, which must never be reported from now on.
                foreach (var task in run.Tasks) _open[task.Key] = BitConverter.ToInt64(task.Args);
                Handle(new WorkerEvent.BatchArrived(ClientId(run.ClientActor), run.Code, run.Functions, run.Tasks, run.Remote));
                break;
            case WorkerEvent.TasksCancelled cancelled:
                // From here on the worker must neither store nor report them.
                foreach (var key in cancelled.Keys) _open.Remove(key);
                Handle(cancelled);
                break;
            case WorkerEvent.KeysDeleted deleted:
                Handle(deleted);
                if (deleted.Keys.FirstOrDefault(_store.Contains) is { } kept) throw new SimulationFailure($"{kept} is still in the store after the center deleted it.");
                break;
            case WorkerEvent stimulus:
                Handle(stimulus);
                break;
        }
    }

    private void DeliverToCenter()
    {
        if (!_toCenter.TryDequeue(out var report)) return;
        Note($"  center hears {report}");
        // A value reported before the worker heard a later delete of its key is gone, or about to be.
        if (report.Kind != ReportKind.Failed && _deletedAt.GetValueOrDefault(report.Key) > report.Heard) return;
        switch (report.Kind)
        {
            case ReportKind.Finished:
                if (_pendingAtCenter.TryGetValue(report.Key, out var waited) && waited == report.Assignment)
                {
                    _pendingAtCenter.Remove(report.Key);
                    _storedAtCenter[report.Key] = report.Assignment;
                }
                else if (_pendingAtCenter.ContainsKey(report.Key) || _storedAtCenter.ContainsKey(report.Key)) _staleSuspects.Add(report.Key);
                // The result of a task the center dropped: deleted, as the center deletes orphans.
                else Tell(new WorkerEvent.KeysDeleted([report.Key]));
                break;
            case ReportKind.Failed:
                if (_pendingAtCenter.TryGetValue(report.Key, out var failed) && failed == report.Assignment) _pendingAtCenter.Remove(report.Key);
                break;
            case ReportKind.Copied:
                _storedAtCenter[report.Key] = 0;
                break;
        }
    }

    // ---------------------------------------------------------------- the worker core and the actor's part

    private void Handle(WorkerEvent stimulus)
    {
        EventsHandled++;
        Note($"  -> core: {Describe(stimulus)}");
        var commands = _core.Handle(stimulus);
        foreach (var command in commands) Carry(command);
    }

    /// <summary>The id the actor gives a client actor on its first batch (a forgotten one gets a new id).</summary>
    private string ClientId(int actor)
    {
        if (_clientIds.TryGetValue(actor, out var id)) return id;
        id = $"client-{++_clientsSeen}";
        _clientIds[actor] = id;
        _clientActors[id] = actor;
        return id;
    }

    private void Carry(WorkerCommand command)
    {
        Note($"  <- {Describe(command)}");
        switch (command)
        {
            case WorkerCommand.RequestAssemblies request:
                if (!_clientActors.TryGetValue(request.Client, out var actor))
                    throw new SimulationFailure($"The core asked {request.Client} for assemblies, a client id the actor no longer knows.");
                _assemblyRequests[actor].AddRange(request.Assemblies);
                break;
            case WorkerCommand.FetchInputs fetch:
                _fetches.Add(new Fetch(Copies: false, fetch.BatchId, fetch.Inputs));
                break;
            case WorkerCommand.FetchCopies copies:
                _fetches.Add(new Fetch(Copies: true, copies.ReplicationId, copies.Inputs));
                break;
            case WorkerCommand.StartExecutor start:
                if (_everyExecutor.Any(e => e.Id == start.Executor)) throw new SimulationFailure($"The core started executor {start.Executor} twice.");
                if (start.Version is not null) CheckCode(start.Executor, start.Version, start.AssemblyPaths);
                var executor = new SimulatedExecutor(start.Executor, start.Version, start.AssemblyPaths);
                _executors[start.Executor] = executor;
                _everyExecutor.Add(executor);
                break;
            case WorkerCommand.AdoptCode adopt:
                var spare = Executor(adopt.Executor, "AdoptCode");
                if (spare.GivenVersion is not null) throw new SimulationFailure($"The core gave code {adopt.Version} to executor {adopt.Executor}, which runs {spare.GivenVersion}.");
                CheckCode(adopt.Executor, adopt.Version, adopt.AssemblyPaths);
                spare.GivenVersion = adopt.Version;
                spare.Mailbox.Add(new AdoptCode(adopt.Version, adopt.AssemblyPaths));
                break;
            case WorkerCommand.Execute execute:
                var runner = Executor(execute.Executor, "Execute");
                foreach (var task in execute.Batch.Tasks)
                    if (VersionOfFunction.GetValueOrDefault(task.FunctionId) != runner.GivenVersion)
                        throw new SimulationFailure($"The core sent {task.Key} (code {VersionOfFunction.GetValueOrDefault(task.FunctionId)}) to executor {execute.Executor} of code {runner.GivenVersion ?? "none (a spare)"}.");
                runner.Mailbox.Add(execute.Batch);
                break;
            case WorkerCommand.CancelExecution cancel:
                // The actor drops a command for an executor it no longer has; a cancel lost so is harmless.
                if (_executors.TryGetValue(cancel.Executor, out var cancelled)) cancelled.Mailbox.Add(new CancelExecution(cancel.Keys));
                break;
            case WorkerCommand.StopExecutor stop:
                if (_executors.TryGetValue(stop.Executor, out var stopped)) stopped.Mailbox.Add(StopMessage.Instance);
                break;
            case WorkerCommand.ReportFinished finished:
                foreach (var result in finished.Results)
                {
                    var assignment = Report(result.Key, "finished");
                    if (AssignmentOf(result.TypeName) != assignment)
                        throw new SimulationFailure($"The core reported {result.Key} finished with the result of assignment {AssignmentOf(result.TypeName)}, for assignment {assignment}.");
                    if (_store.Get(result.Key) is not { } stored || stored.TypeName != result.TypeName)
                        throw new SimulationFailure($"The core reported {result.Key} finished before its result was in the store.");
                    _toCenter.Enqueue(new CenterReport(ReportKind.Finished, result.Key, assignment, _heardFromCenter));
                }
                break;
            case WorkerCommand.ReportFailed failed:
                foreach (var failure in failed.Failures)
                {
                    var assignment = Report(failure.Key, "failed");
                    if (failure.Error.Kind == ErrorKind.TaskCancelled)
                        throw new SimulationFailure($"The core reported {failure.Key} (assignment {assignment}) failed as cancelled, which the center never asked for.");
                    _toCenter.Enqueue(new CenterReport(ReportKind.Failed, failure.Key, assignment, _heardFromCenter));
                }
                break;
            case WorkerCommand.ReportKeysAdded added:
                foreach (var key in added.Keys)
                {
                    if (!_store.Contains(key.Key)) throw new SimulationFailure($"The core reported a copy of {key.Key}, which is not in the store.");
                    _toCenter.Enqueue(new CenterReport(ReportKind.Copied, key.Key, 0, _heardFromCenter));
                }
                break;
            case WorkerCommand.StartSpareTimer timer:
                _spareTimerDue = _clock.Now + timer.Delay;
                break;
            case WorkerCommand.ForgetClient forget:
                if (!_clientActors.Remove(forget.Client, out var forgotten)) throw new SimulationFailure($"The core forgot {forget.Client} twice.");
                _clientIds.Remove(forgotten);
                break;
            default:
                throw new SimulationFailure($"The core returned a command the simulation does not know: {command}");
        }
    }

    /// <summary>A task reported: it must be one the worker was given, not cancelled and not reported yet. Returns its assignment.</summary>
    private long Report(string key, string how)
    {
        if (!_open.Remove(key, out var assignment))
            throw new SimulationFailure($"The core reported {key} {how}, but it does not run it (never given, cancelled, or reported already).");
        return assignment;
    }

    /// <summary>The executor the actor knows by this number; a batch or code for one it does not know is dropped, its tasks lost.</summary>
    private SimulatedExecutor Executor(long number, string what) =>
        _executors.TryGetValue(number, out var executor) ? executor
            : throw new SimulationFailure($"The core sent {what} to executor {number}, which the actor no longer has: it is dropped.");

    /// <summary>An executor runs a known code version with that version's assemblies.</summary>
    private void CheckCode(long executor, string version, IReadOnlyList<string> paths)
    {
        if (Versions.FirstOrDefault(v => v.Version == version) is not { } code)
            throw new SimulationFailure($"The core gave executor {executor} code \"{version}\", which no client sent.");
        if (!code.Assemblies.Select(_files.PathOf).SequenceEqual(paths))
            throw new SimulationFailure($"The core gave executor {executor} code {version} with assemblies {string.Join(",", paths)}.");
    }

    private void AnswerAssembly(int actor, bool sent)
    {
        var requests = _assemblyRequests[actor];
        if (requests.Count == 0) return;
        var assembly = requests[0];
        requests.RemoveAt(0);
        Note($"  client actor {actor} {(sent ? "sends" : "cannot send")} {assembly.Name}");
        // As the actor does: code only from a client named for a batch that waits for it.
        switch (_core.Awaits(assembly.Hash, _clientIds.GetValueOrDefault(actor)))
        {
            case AssemblyAwaited.No: return;
            case AssemblyAwaited.FromOtherClients: Note("  refused: asked of another client"); return;
        }
        if (!sent)
        {
            Handle(new WorkerEvent.AssemblyFailed(assembly, $"The client could not send assembly {assembly.Name}."));
            return;
        }
        _files.Store(assembly);
        Handle(new WorkerEvent.AssemblyStored(assembly));
    }

    private void ChangeOnDisk(int pick)
    {
        if (Pick(_files.Present.Order(StringComparer.Ordinal).ToList(), pick) is { } hash) _files.ChangedOnDisk.Add(hash);
    }

    private void EndFetch(int pick, bool succeeds)
    {
        if (_fetches.Count == 0) return;
        var fetch = _fetches[(int)((uint)pick % (uint)_fetches.Count)];
        _fetches.Remove(fetch);
        var values = fetch.Inputs.ToDictionary(i => i.Key, _ => RemoteValue(), StringComparer.Ordinal);
        Handle((fetch.Copies, succeeds) switch
        {
            (false, true) => new WorkerEvent.InputsFetched(fetch.Id, values),
            (false, false) => new WorkerEvent.InputsNotFetched(fetch.Id, "the holder is gone"),
            (true, true) => new WorkerEvent.CopiesFetched(fetch.Id, values),
            (true, false) => new WorkerEvent.CopiesNotFetched(fetch.Id, "the holder is gone"),
        });
    }

    private void DeliverToExecutor(SimulatedExecutor? executor)
    {
        if (executor is null) return;
        var (accepted, lost) = executor.ReadNext();
        if (lost.FirstOrDefault(t => _open.TryGetValue(t.Key, out var a) && a == BitConverter.ToInt64(t.Args)) is { } dropped)
            throw new SimulationFailure($"Executor {executor.Id} stopped with {dropped.Key} unread or running: it is lost.");
        if (accepted is null) return;
        // A task given once runs on one live executor at a time (it runs again only after its executor died).
        foreach (var task in accepted.Tasks)
        {
            var runs = _everyExecutor.Where(e => e.ProcessAlive).SelectMany(e => e.Queued.Concat(e.Running).Select(t => (Executor: e.Id, Task: t)))
                .Where(r => r.Task.Key == task.Key && r.Task.Args.AsSpan().SequenceEqual(task.Args)).ToList();
            if (runs.Count > 1)
                throw new SimulationFailure($"{task.Key} (assignment {BitConverter.ToInt64(task.Args)}) runs twice at once, on executors {string.Join(" and ", runs.Select(r => r.Executor))}.");
        }
    }

    private void DeliverFromExecutor(SimulatedExecutor? executor, bool stopFirst)
    {
        if (executor is null) return;
        var index = stopFirst ? Math.Max(0, executor.Outbox.FindIndex(s => s is ExecutorSaid.Stopped)) : 0;
        var said = executor.Outbox[index];
        executor.Outbox.RemoveAt(index);
        switch (said)
        {
            case ExecutorSaid.Results results:
                Handle(new WorkerEvent.ExecutorResults(results.List));
                break;
            case ExecutorSaid.Retired retired:
                // The actor names the executor only while it knows it (its Terminated may have come first).
                Handle(new WorkerEvent.ExecutorRetired(_executors.ContainsKey(executor.Id) ? executor.Id : null, retired.Version, retired.AssemblyPaths, retired.Rerun));
                break;
            case ExecutorSaid.Stopped:
                _executors.Remove(executor.Id);
                Handle(new WorkerEvent.ExecutorStopped(executor.Id));
                break;
        }
        if (executor.State == ExecutorState.Stopped && executor.Outbox.Count == 0) _everyExecutor.Remove(executor);
    }

    private void Tick(TimeSpan by)
    {
        _clock.Advance(by);
        if (_spareTimerDue is not { } due || due > _clock.Now) return;
        _spareTimerDue = null;
        Handle(WorkerEvent.SpareTimerFired.Instance);
    }

    // ---------------------------------------------------------------- settling

    /// <summary>
    /// Lets the world settle: nothing fails any more, and every message, answer, fetch, task and timer
    /// is carried through until nothing is left to do. Then every task the worker was given must have
    /// been reported, nothing may wait or leak, and the store must hold what the center believes.
    /// </summary>
    /// <summary>The end of a run: everything delivered and checked.</summary>
    public void Finish() => Settle();

    public void Settle()
    {
        Note("SETTLE");
        for (var rounds = 0; ; rounds++)
        {
            if (rounds > 100_000) throw new SimulationFailure("The world did not settle within 100,000 steps.");
            if (!SettleOnce()) break;
            CheckInvariants("settle");
        }
        var problems = new List<string>();
        if (_open.Count > 0) problems.Add($"tasks never reported: {string.Join(", ", _open.Take(5).Select(o => $"{o.Key} (assignment {o.Value})"))}");
        if (_core.BatchesHeld > 0) problems.Add($"{_core.BatchesHeld} batches still held");
        if (_core.TasksHeld > 0) problems.Add($"{_core.TasksHeld} tasks still held");
        if (_core.RunsOut > 0) problems.Add($"{_core.RunsOut} runs still out on executors, their answers awaited");
        // With no run out, no batch holds an input any more: every value is the store's alone (a lease
        // left behind would keep its buffer, or shared segment, from ever being reused).
        if (_core.RunsOut == 0)
            foreach (var key in _store.Keys().Select(k => k.Key).Where(k => !_store.IsSpilled(k)))
                using (var lease = _store.Lease(key))
                    if (lease is not null && lease.Value.ReferenceCount != 2) problems.Add($"{key} is still held by {lease.Value.ReferenceCount - 2} lease(s) with no run out");
        if (_clientIds.Count > 0) problems.Add($"client ids never forgotten: {string.Join(", ", _clientIds.Values)}");
        foreach (var (number, executor) in _executors)
            if (_core.SpareExecutor != number && (executor.GivenVersion is not { } version || _core.ExecutorOf(version) != number))
                problems.Add($"executor {number} ({executor.GivenVersion ?? "spare"}, {executor.State}) is neither the spare nor the executor of its code: it leaks");
        foreach (var (key, assignment) in _storedAtCenter)
            if (_store.Get(key) is not { } value) problems.Add($"the center believes the worker holds {key}, which is not in the store");
            else if (assignment != 0 && value.TypeName != $"assignment-{assignment}") problems.Add($"the store holds {key} of {value.TypeName}, the center believes assignment {assignment}");
        foreach (var key in _store.Keys().Select(k => k.Key))
            if (!_storedAtCenter.ContainsKey(key) && !_staleSuspects.Contains(key)) problems.Add($"the store keeps {key}, which the center does not know of");
        if (problems.Count > 0) throw new SimulationFailure("Settled: " + string.Join("; ", problems));
    }

    private bool SettleOnce()
    {
        if (_toWorker.Count > 0) { DeliverToWorker(); return true; }
        if (_assemblyRequests[0].Count > 0) { AnswerAssembly(0, sent: true); return true; }
        if (_assemblyRequests[1].Count > 0) { AnswerAssembly(1, sent: true); return true; }
        if (_fetches.Count > 0) { EndFetch(0, succeeds: true); return true; }
        if (_everyExecutor.FirstOrDefault(e => e.State == ExecutorState.Starting) is { } starting) { starting.Connect(); return true; }
        if (_everyExecutor.FirstOrDefault(e => e.Mailbox.Count > 0) is { } reader) { DeliverToExecutor(reader); return true; }
        if (_everyExecutor.FirstOrDefault(CanTake) is { } taker) { taker.TakeNext(); return true; }
        if (_everyExecutor.FirstOrDefault(e => e.Running.Count > 0) is { } busy) { busy.Finish(0, throws: false); return true; }
        if (_everyExecutor.FirstOrDefault(e => e.Outbox.Count > 0) is { } speaker) { DeliverFromExecutor(speaker, stopFirst: false); return true; }
        if (_toCenter.Count > 0) { DeliverToCenter(); return true; }
        if (_spareTimerDue is { } due) { Tick(due - _clock.Now + TimeSpan.FromMilliseconds(1)); return true; }
        return false;
    }

    // ---------------------------------------------------------------- invariants

    private void CheckInvariants(string after)
    {
        try
        {
            _core.CheckInvariants();
        }
        catch (InvalidOperationException e)
        {
            throw new SimulationFailure($"after {after}: {e.Message}");
        }
        // The core holds exactly the tasks it was given and has neither reported nor seen cancelled.
        if (_core.TasksHeld != _open.Count)
            throw new SimulationFailure($"after {after}: the core holds {_core.TasksHeld} tasks, {_open.Count} were given and are neither reported nor cancelled");
        if (_core.SpareExecutor is { } spare && (!_executors.TryGetValue(spare, out var executor) || executor.GivenVersion is not null))
            throw new SimulationFailure($"after {after}: the spare executor {spare} is not a spare the actor has");
        foreach (var version in Versions)
            if (_core.ExecutorOf(version.Version) is { } number && (!_executors.TryGetValue(number, out var runner) || runner.GivenVersion != version.Version))
                throw new SimulationFailure($"after {after}: code {version.Version} runs on executor {number}, which the actor does not have for that code");
    }

    private static string Describe(object message) => message switch
    {
        WorkerEvent.BatchArrived b => $"BatchArrived({b.Client} {b.Code.Version}: {string.Join(" ", b.Tasks.Select(t => $"{t.Key}#{BitConverter.ToInt64(t.Args)}[{string.Join(",", t.Dependencies)}]"))}; fetch {string.Join(" ", b.RemoteInputs.Select(i => i.Key))})",
        WorkerEvent.ExecutorResults r => $"ExecutorResults({string.Join(" ", r.Results.Select(x => $"{x.Key}:{x.Error?.Kind.ToString() ?? x.TypeName}"))})",
        WorkerEvent.ExecutorRetired r => $"ExecutorRetired({r.Executor?.ToString() ?? "gone"} {r.Version}; rerun {string.Join(" ", r.Rerun.Tasks.Select(t => $"{t.Key}#{BitConverter.ToInt64(t.Args)}"))})",
        WorkerEvent.TasksCancelled c => $"TasksCancelled({string.Join(" ", c.Keys)})",
        WorkerEvent.KeysDeleted d => $"KeysDeleted({string.Join(" ", d.Keys)})",
        WorkerEvent.InputsFetched f => $"InputsFetched(batch {f.BatchId})",
        WorkerEvent.CopiesFetched f => $"CopiesFetched(#{f.ReplicationId})",
        WorkerEvent.CopiesRequested c => $"CopiesRequested(#{c.ReplicationId} {string.Join(" ", c.Inputs.Select(i => i.Key))})",
        WorkerEvent.AssemblyStored s => $"AssemblyStored({s.Assembly.Name})",
        WorkerEvent.AssemblyFailed s => $"AssemblyFailed({s.Assembly.Name})",
        WorkerCommand.Execute e => $"Execute({e.Executor}: {string.Join(" ", e.Batch.Tasks.Select(t => $"{t.Key}#{BitConverter.ToInt64(t.Args)}"))})",
        WorkerCommand.ReportFinished f => $"ReportFinished({string.Join(" ", f.Results.Select(r => $"{r.Key}:{r.TypeName}"))})",
        WorkerCommand.ReportFailed f => $"ReportFailed({string.Join(" ", f.Failures.Select(r => $"{r.Key}:{r.Error.Kind}"))})",
        WorkerCommand.ReportKeysAdded a => $"ReportKeysAdded({string.Join(" ", a.Keys.Select(k => k.Key))}{(a.ReplicationId is { } r ? $" for #{r}" : "")}{(a.Error is null ? "" : " error")})",
        WorkerCommand.RequestAssemblies r => $"RequestAssemblies({r.Client}: {string.Join(" ", r.Assemblies.Select(a => a.Name))})",
        WorkerCommand.FetchInputs f => $"FetchInputs(batch {f.BatchId}: {string.Join(" ", f.Inputs.Select(i => i.Key))})",
        WorkerCommand.FetchCopies f => $"FetchCopies(#{f.ReplicationId}: {string.Join(" ", f.Inputs.Select(i => i.Key))})",
        WorkerCommand.StartExecutor s => $"StartExecutor({s.Executor} {s.Version ?? "spare"})",
        WorkerCommand.AdoptCode a => $"AdoptCode({a.Executor} {a.Version})",
        WorkerCommand.CancelExecution c => $"CancelExecution({c.Executor}: {string.Join(" ", c.Keys)})",
        _ => message.ToString() ?? message.GetType().Name,
    };

    /// <summary>The center's RunTasks as it travels: the client is an actor, given its id by the worker actor when it arrives.</summary>
    private sealed record RunTasks(int ClientActor, CodeManifest Code, IReadOnlyList<FunctionSpec> Functions, IReadOnlyList<TaskSpec> Tasks, IReadOnlyList<RemoteInput> Remote);

    private sealed record Fetch(bool Copies, long Id, IReadOnlyList<RemoteInput> Inputs);

    private enum ReportKind { Finished, Failed, Copied }

    /// <summary>One key of a report on its way to the center, with the assignment the worker reported it for.</summary>
    private sealed record CenterReport(ReportKind Kind, string Key, long Assignment, long Heard);
}

/// <summary>
/// The assembly cache as <see cref="AssemblyCache"/> behaves, by hash in memory: a file checked once
/// counts as present until a recheck (before an executor loads it) finds it changed on disk, deletes
/// it and says it is missing.
/// </summary>
internal sealed class SimulatedAssemblyFiles : IAssemblyFiles
{
    private readonly HashSet<string> _checked = new(StringComparer.Ordinal);

    public HashSet<string> Present { get; } = new(StringComparer.Ordinal);
    public HashSet<string> ChangedOnDisk { get; } = new(StringComparer.Ordinal);

    public bool Contains(AssemblyRef assembly, bool recheck)
    {
        if (!recheck && _checked.Contains(assembly.Hash) && Present.Contains(assembly.Hash)) return true;
        _checked.Remove(assembly.Hash);
        if (!Present.Contains(assembly.Hash)) return false;
        if (ChangedOnDisk.Remove(assembly.Hash))
        {
            Present.Remove(assembly.Hash);
            return false;
        }
        _checked.Add(assembly.Hash);
        return true;
    }

    public string PathOf(AssemblyRef assembly) => $"/cache/{assembly.Hash[..4]}/{assembly.Name}.dll";

    public void Store(AssemblyRef assembly)
    {
        Present.Add(assembly.Hash);
        ChangedOnDisk.Remove(assembly.Hash);
        _checked.Add(assembly.Hash);
    }
}
