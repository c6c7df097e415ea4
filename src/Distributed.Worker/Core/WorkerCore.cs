using System.Runtime.InteropServices;
using Distributed.Data;
using Distributed.Protocol;
using Distributed.Protocol.Hosting;
using Distributed.Worker.Executor;

namespace Distributed.Worker.Core;

/// <summary>Where a worker's client code lives on disk: the assembly cache, as the core needs it.</summary>
internal interface IAssemblyFiles
{
    /// <summary>Whether the assembly is there with the bytes its hash names; <paramref name="recheck"/> hashes its file again (before a load).</summary>
    bool Contains(AssemblyRef assembly, bool recheck);

    /// <summary>The file of the assembly, for an executor to load.</summary>
    string PathOf(AssemblyRef assembly);
}

/// <summary>Whether a client's assembly is awaited, and from whom (<see cref="WorkerCore.Awaits"/>).</summary>
internal enum AssemblyAwaited
{
    /// <summary>No batch held here waits for it.</summary>
    No,
    /// <summary>A batch of this client waits for it.</summary>
    FromThisClient,
    /// <summary>Batches wait for it, but none of this client: it was not asked of this sender.</summary>
    FromOtherClients,
}

/// <summary>
/// The decisions of a worker, with no actor, network or process in it: which batches of tasks wait
/// for their code or their remote inputs, which tasks run and for which client, which executor runs
/// each code version and which one is the spare. Events go in through <see cref="Handle"/>, and the
/// commands it returns are what the worker actor must do, in order (in the manner of dask's
/// <c>WorkerState</c>). It reads and writes the worker's data store itself: a batch's inputs are read
/// from it the moment the batch goes to its executor, and results are there before they are reported.
/// </summary>
internal sealed partial class WorkerCore
{
    /// <summary>
    /// How long after a spare executor is taken the next one starts: its start and warm-up would
    /// otherwise compete for the cores with the first tasks it was taken for.
    /// </summary>
    public static readonly TimeSpan SpareExecutorDelay = TimeSpan.FromSeconds(2);

    /// <summary>
    /// How many idle checks in a row an executor must run no task (and hold no run) before it is stopped.
    /// The checks come every quarter of the idle timeout, so an executor is stopped between 1 and 1.25
    /// timeouts after its last task.
    /// </summary>
    public const int IdleTicksBeforeStop = 5;

    private readonly DataStore _store;
    private readonly IAssemblyFiles _assemblies;
    private readonly TransferCounters _counters;
    private string _name;

    /// <summary>Batches held until their assemblies and remote inputs are here.</summary>
    private readonly Dictionary<long, HeldBatch> _held = [];

    /// <summary>Assembly hash → the held batches waiting for it (asked of a client once, whichever batches wait).</summary>
    private readonly Dictionary<string, HashSet<long>> _awaitedAssemblies = [];

    /// <summary>Assembly hash → the awaited assembly and the client it was asked of (as long as it is awaited).</summary>
    private readonly Dictionary<string, (AssemblyRef Assembly, string Client)> _assemblyAskedOf = [];

    /// <summary>Task key → its assignment (the client it runs for, the batch that brought it), from the batch's arrival to its result (or its cancellation).</summary>
    private readonly Dictionary<string, Assignment> _running = [];

    /// <summary>
    /// Task key → its run handed to an executor and not answered yet. An executor's result names only
    /// the key, so a key has at most one run out at a time: what answers is that run.
    /// </summary>
    private readonly Dictionary<string, Run> _runsOut = [];

    /// <summary>Keys whose run out belongs to an assignment cancelled (or replaced) since: its answer is dropped.</summary>
    private readonly HashSet<string> _cancelledRunsOut = [];

    /// <summary>Key → the held batches that wait for the cancelled run of that key to answer before the key runs again.</summary>
    private readonly Dictionary<string, HashSet<long>> _awaitedRuns = [];

    /// <summary>Client id → what this worker holds for it (its id is forgotten when nothing is left).</summary>
    private readonly Dictionary<string, ClientHolds> _clients = [];

    private readonly Dictionary<string, long> _executorOfVersion = [];
    private readonly Dictionary<long, string> _versionOfExecutor = [];
    private readonly Dictionary<long, int> _idleChecks = []; // executor → idle checks in a row it ran nothing
    private long? _spareExecutor; // started and warmed up, waiting for a code version
    private bool _spareTimerStarted;
    private long _nextBatchId;
    private long _executorsStarted; // numbers executors apart from the retired ones still stopping
    private List<WorkerCommand>? _commands;

    /// <summary>The runtime identifier whose native libraries this worker's executors load (linux-x64...).</summary>
    private readonly string _runtimeId;

    /// <summary>
    /// Creates the core of worker <paramref name="name"/> (its name until the center assigns one);
    /// <paramref name="runtimeId"/> is this machine's unless a test says otherwise; <paramref name="threads"/>
    /// are the executor threads: a task handed over directly is taken only while fewer runs than that are out (null: no limit).
    /// </summary>
    public WorkerCore(string name, DataStore store, IAssemblyFiles assemblies, TransferCounters counters, string? runtimeId = null, int? threads = null)
    {
        _threads = threads;
        _runtimeId = runtimeId ?? System.Runtime.InteropServices.RuntimeInformation.RuntimeIdentifier;
        _name = name;
        _store = store;
        _assemblies = assemblies;
        _counters = counters;
    }

    /// <summary>How many tasks this worker holds (waiting or running), for tests and checks.</summary>
    public int TasksHeld => _running.Count;

    /// <summary>How many batches wait for their assemblies or inputs.</summary>
    public int BatchesHeld => _held.Count;

    /// <summary>How many task runs are out on executors, their answers awaited (cancelled ones included).</summary>
    public int RunsOut => _runsOut.Count;

    /// <summary>The spare executor's number, if there is one.</summary>
    public long? SpareExecutor => _spareExecutor;

    /// <summary>The executor that runs code <paramref name="version"/>, if there is one.</summary>
    public long? ExecutorOf(string version) => _executorOfVersion.TryGetValue(version, out var executor) ? executor : null;

    /// <summary>
    /// Whether the assembly with hash <paramref name="hash"/> is awaited, and whether from
    /// <paramref name="client"/> (null: a sender that is no client of a batch here). Code is taken only
    /// from a client the center named for a batch that needs it.
    /// </summary>
    public AssemblyAwaited Awaits(string hash, string? client)
    {
        if (!_awaitedAssemblies.TryGetValue(hash, out var batches)) return AssemblyAwaited.No;
        foreach (var id in batches)
            if (_held[id].Client.Id == client) return AssemblyAwaited.FromThisClient;
        return AssemblyAwaited.FromOtherClients;
    }

    /// <summary>The client whose task <paramref name="key"/> is (running or held here), or null: whom to ask for an assembly it misses.</summary>
    public string? ClientOfTask(string key) => _running.TryGetValue(key, out var assignment) ? assignment.Client.Id : null;

    /// <summary>The code version of the run of <paramref name="key"/> out on an executor, if one is.</summary>
    public string? VersionOfRun(string key) => _runsOut.TryGetValue(key, out var run) ? run.Code.Version : null;

    /// <summary>Handles one event; returns the commands it leads to, in the order they must be carried out.</summary>
    public IReadOnlyList<WorkerCommand> Handle(WorkerEvent stimulus)
    {
        switch (stimulus)
        {
            case WorkerEvent.BatchArrived batch: HandleBatchArrived(batch); break;
            case WorkerEvent.DirectTaskArrived direct: HandleDirectTaskArrived(direct); break;
            case WorkerEvent.ExecutorResults results: HandleExecutorResults(results); break;
            case WorkerEvent.InputsFetched fetched: HandleInputsFetched(fetched); break;
            case WorkerEvent.InputsNotFetched notFetched: HandleInputsNotFetched(notFetched); break;
            case WorkerEvent.AssemblyStored stored: HandleAssemblyStored(stored); break;
            case WorkerEvent.AssemblyFailed failed: HandleAssemblyFailed(failed); break;
            case WorkerEvent.TasksCancelled cancelled: HandleTasksCancelled(cancelled); break;
            case WorkerEvent.KeysDeleted deleted:
                foreach (var key in deleted.Keys) _store.Delete(key);
                break;
            case WorkerEvent.CopiesRequested requested: Emit(new WorkerCommand.FetchCopies(requested.ReplicationId, requested.Inputs)); break;
            case WorkerEvent.CopiesFetched copies: StoreCopies(copies.Values, copies.ReplicationId); break;
            case WorkerEvent.CopiesNotFetched notCopied:
                Emit(new WorkerCommand.ReportKeysAdded([], notCopied.ReplicationId, $"Worker {_name} could not fetch the copies: {notCopied.Reason}"));
                break;
            case WorkerEvent.ExecutorRetired retired: HandleExecutorRetired(retired); break;
            case WorkerEvent.ExecutorStopped stopped: HandleExecutorStopped(stopped); break;
            case WorkerEvent.Registered registered: HandleRegistered(registered); break;
            case WorkerEvent.IdleCheckFired: StopIdleExecutors(); break;
            case WorkerEvent.DirectSweepFired: SweepUnconfirmedDirectTasks(); break;
            case WorkerEvent.SpareTimerFired:
                _spareTimerStarted = false;
                StartSpare();
                break;
            default: throw new ArgumentException($"The worker core has no handler for {stimulus.GetType().Name}.", nameof(stimulus));
        }
        var commands = _commands;
        _commands = null;
        return commands ?? (IReadOnlyList<WorkerCommand>)[];
    }

    private void Emit(WorkerCommand command) => (_commands ??= []).Add(command);

    private void HandleRegistered(WorkerEvent.Registered message)
    {
        // Completions and copies are reported under the name the center knows this worker by.
        _name = message.WorkerName;
        // A spare executor warms up before the first tasks need it; not before registering, where its
        // start would compete with the worker's own (start-up and join are CPU-bound on a small machine).
        if (_executorsStarted == 0) StartSpare();
    }

    private void HandleBatchArrived(WorkerEvent.BatchArrived message)
    {
        if (HopTrace.Enabled) foreach (var task in message.Tasks) HopTrace.Begin(task.Key);
        // From here on the code is this worker's: the assemblies plus its RID's native libraries.
        var (code, nativeProblem) = NativeLibraryFiles.ForRuntime(message.Code, _runtimeId);
        message = message with { Code = code };
        if (_direct.Count > 0 && TakeDirectConfirmations(message) is { } rest)
        {
            if (rest.Count == 0) return;
            message = message with { Tasks = rest };
        }
        if (!_clients.TryGetValue(message.Client, out var client)) _clients[message.Client] = client = new ClientHolds(message.Client);
        var batch = new HeldBatch(_nextBatchId++, client, message);
        _held[batch.Id] = batch;
        client.Holds++;
        foreach (var task in message.Tasks)
        {
            ref var holder = ref CollectionsMarshal.GetValueRefOrAddDefault(_running, task.Key, out var known);
            var previous = known ? holder : null;
            // This batch's task is the key's assignment now: an earlier batch still held skips it, and a
            // run of the earlier one on an executor no longer counts (a key sent again replaces it).
            holder = new Assignment(client, batch.Id);
            client.Holds++;
            if (previous is null) continue;
            if (_runsOut.ContainsKey(task.Key)) _cancelledRunsOut.Add(task.Key);
            Release(previous.Client);
        }
        _counters.RecordTasksInFlight(_running.Count);

        // Content addresses are checked where they arrive: a name that could leave the assembly cache,
        // or a function whose id is not the hash of its bytes, fails the batch before anything runs.
        if (message.Code.Assemblies.Select(ContentAddress.Problem).FirstOrDefault(p => p is not null) is { } codeProblem)
        {
            Fail(batch, RemoteError.Of(ErrorKind.CodeShipping, codeProblem));
            return;
        }
        if (nativeProblem is not null)
        {
            Fail(batch, RemoteError.Of(ErrorKind.CodeShipping, nativeProblem));
            return;
        }
        if (message.Functions.FirstOrDefault(f => !ContentAddress.IsIntact(f)) is { } forged)
        {
            Fail(batch, RemoteError.Of(ErrorKind.CodeShipping, $"The function {forged.FunctionId} is refused: its id is not the hash of its bytes."));
            return;
        }

        AwaitAssemblies(batch, message.Code.Assemblies.Where(a => !_assemblies.Contains(a, recheck: false)).ToList());

        var remote = message.RemoteInputs.Where(r => !_store.Contains(r.Key)).ToList();
        if (remote.Count > 0)
        {
            batch.FetchingInputs = true;
            Emit(new WorkerCommand.FetchInputs(batch.Id, remote));
        }
        TryDispatch(batch);
    }

    /// <summary>Makes <paramref name="batch"/> wait for these assemblies, asking its client for those nobody was asked for yet.</summary>
    private void AwaitAssemblies(HeldBatch batch, IReadOnlyList<AssemblyRef> missing)
    {
        List<AssemblyRef>? toRequest = null;
        foreach (var assembly in missing)
        {
            batch.MissingAssemblies.Add(assembly.Hash);
            if (!_awaitedAssemblies.TryGetValue(assembly.Hash, out var waiting))
            {
                _awaitedAssemblies[assembly.Hash] = waiting = [];
                _assemblyAskedOf[assembly.Hash] = (assembly, batch.Client.Id);
                (toRequest ??= []).Add(assembly);
            }
            waiting.Add(batch.Id);
        }
        if (toRequest is not null) Emit(new WorkerCommand.RequestAssemblies(batch.Client.Id, toRequest));
    }

    private void HandleInputsFetched(WorkerEvent.InputsFetched message)
    {
        if (!_held.TryGetValue(message.BatchId, out var batch)) return;
        batch.FetchingInputs = false;
        StoreCopies(message.Values);
        TryDispatch(batch);
    }

    private void HandleInputsNotFetched(WorkerEvent.InputsNotFetched message)
    {
        if (!_held.TryGetValue(message.BatchId, out var batch)) return;
        batch.FetchingInputs = false;
        // The center takes such tasks back (an input's holder most often just died) rather than failing them.
        Fail(batch, RemoteError.Of(ErrorKind.InputLost, $"Could not fetch the inputs of the task: {message.Reason}"));
    }

    /// <summary>Keeps values fetched from peers and tells the center this worker holds them too.</summary>
    private void StoreCopies(IReadOnlyDictionary<string, StoredValue> values, long? replicationId = null)
    {
        var added = new List<StoredKey>(values.Count);
        foreach (var (key, value) in values)
        {
            _store.Put(key, value);
            added.Add(new StoredKey(key, value.Length, value.TypeName));
        }
        if (added.Count > 0 || replicationId is not null) Emit(new WorkerCommand.ReportKeysAdded(added, replicationId));
    }

    private void HandleAssemblyStored(WorkerEvent.AssemblyStored message)
    {
        if (!_awaitedAssemblies.Remove(message.Assembly.Hash, out var batchIds)) return;
        _assemblyAskedOf.Remove(message.Assembly.Hash);
        foreach (var id in batchIds)
        {
            if (!_held.TryGetValue(id, out var batch)) continue;
            batch.MissingAssemblies.Remove(message.Assembly.Hash);
            TryDispatch(batch);
        }
    }

    private void HandleAssemblyFailed(WorkerEvent.AssemblyFailed message)
    {
        if (!_awaitedAssemblies.Remove(message.Assembly.Hash, out var batchIds)) return;
        _assemblyAskedOf.Remove(message.Assembly.Hash);
        var error = RemoteError.Of(ErrorKind.CodeShipping, message.Reason);
        foreach (var id in batchIds)
            if (_held.TryGetValue(id, out var batch)) Fail(batch, error);
    }

    private void TryDispatch(HeldBatch batch)
    {
        if (batch.MissingAssemblies.Count > 0 || batch.FetchingInputs || batch.AwaitedRuns.Count > 0) return;
        var message = batch.Message;
        // A key whose cancelled run has not answered yet runs again only once it has: its answer, which
        // names only the key, must not be taken for this run's (nor its leftover cancel skip this run).
        foreach (var task in message.Tasks)
        {
            if (!IsAssignedBy(task.Key, batch) || !_cancelledRunsOut.Contains(task.Key)) continue;
            batch.AwaitedRuns.Add(task.Key);
            if (!_awaitedRuns.TryGetValue(task.Key, out var waiting)) _awaitedRuns[task.Key] = waiting = [];
            waiting.Add(batch.Id);
        }
        if (batch.AwaitedRuns.Count > 0) return;
        // A new executor loads the assemblies from the cache: their files are hashed again right
        // before, and a changed one is deleted and fetched again from the client rather than loaded.
        if (!_executorOfVersion.ContainsKey(message.Code.Version) && message.Code.Assemblies.Where(a => !_assemblies.Contains(a, recheck: true)).ToList() is { Count: > 0 } changed)
        {
            AwaitAssemblies(batch, changed);
            return;
        }
        Unhold(batch);
        var values = new Dictionary<string, StoredValue>();
        List<ValueLease>? leases = null;
        var tasks = new List<ExecutorTask>(message.Tasks.Count);
        List<FailedTask>? failures = null;
        foreach (var task in message.Tasks)
        {
            if (!IsAssignedBy(task.Key, batch))
            {
                _counters.AddCancelledBeforeStart(1); // cancelled (or sent again in another batch) while the batch waited
                continue;
            }
            // Each input read once: a spilled one comes from disk, and a read that fails counts as lost.
            string? missing = null;
            foreach (var dependency in task.Dependencies)
            {
                if (values.ContainsKey(dependency)) continue;
                // Leased until every run of the batch has answered (and so through a rerun on another
                // executor): an executor reads a shared value's segment in place, which must not be reused under it.
                if (_store.Lease(dependency) is { } lease)
                {
                    (leases ??= []).Add(lease);
                    values[dependency] = lease.Value;
                }
                else { missing = dependency; break; }
            }
            if (missing is not null)
            {
                (failures ??= []).Add(new FailedTask(task.Key, RemoteError.Of(ErrorKind.InputLost, $"The input {missing} of {task.Key} is not on worker {_name}.")));
                continue;
            }
            tasks.Add(new ExecutorTask(task.Key, task.FunctionId, task.Kind, task.Args, task.Dependencies, task.TimeoutMs));
        }
        if (failures is not null) ReportFailures(failures);
        var inputs = leases is null ? BatchInputs.None : new BatchInputs(leases, tasks.Count);
        if (tasks.Count == 0)
        {
            inputs.Release();
            return;
        }
        var executeBatch = new ExecuteBatch(message.Functions, values, tasks);
        foreach (var task in tasks)
        {
            // None is out (a batch waits for a cancelled run to answer), but a replaced run never keeps its inputs leased.
            if (_runsOut.TryGetValue(task.Key, out var replaced)) replaced.Inputs.RunEnded();
            _runsOut[task.Key] = new Run(message.Code, executeBatch, task, inputs);
        }
        Emit(new WorkerCommand.Execute(ExecutorFor(message.Code), executeBatch));
    }

    /// <summary>Whether <paramref name="key"/> is still assigned by <paramref name="batch"/>: neither cancelled nor sent again since.</summary>
    private bool IsAssignedBy(string key, HeldBatch batch) => _running.TryGetValue(key, out var assignment) && assignment.BatchId == batch.Id;

    /// <summary>The run of <paramref name="key"/> answered: batches waiting for it may go on.</summary>
    private void RunAnswered(string key)
    {
        RemoveRun(key);
        _cancelledRunsOut.Remove(key);
        if (!_awaitedRuns.Remove(key, out var batchIds)) return;
        foreach (var id in batchIds)
        {
            if (!_held.TryGetValue(id, out var batch)) continue;
            batch.AwaitedRuns.Remove(key);
            TryDispatch(batch);
        }
    }

    private long ExecutorFor(CodeManifest code) =>
        _executorOfVersion.TryGetValue(code.Version, out var executor) ? executor : ExecutorFor(code.Version, code.Assemblies.Select(_assemblies.PathOf).ToList());

    private long ExecutorFor(string version, IReadOnlyList<string> assemblyPaths)
    {
        if (_executorOfVersion.TryGetValue(version, out var executor))
        {
            _idleChecks[executor] = 0;
            return executor;
        }
        if (_spareExecutor is { } spare)
        {
            _spareExecutor = null;
            executor = spare;
            Emit(new WorkerCommand.AdoptCode(spare, version, assemblyPaths));
            _counters.AddSpareExecutorTaken();
        }
        else
        {
            executor = ++_executorsStarted;
            Emit(new WorkerCommand.StartExecutor(executor, version, assemblyPaths));
            _counters.AddExecutorStarted();
        }
        // Another code version, or a re-run after a timeout, will want one too.
        if (!_spareTimerStarted)
        {
            _spareTimerStarted = true;
            Emit(new WorkerCommand.StartSpareTimer(SpareExecutorDelay));
        }
        _executorOfVersion[version] = executor;
        _versionOfExecutor[executor] = version;
        return executor;
    }

    private void StartSpare()
    {
        if (_spareExecutor is not null) return;
        _spareExecutor = ++_executorsStarted;
        Emit(new WorkerCommand.StartExecutor(_spareExecutor.Value, null, []));
        _counters.AddExecutorStarted();
    }

    private void HandleExecutorRetired(WorkerEvent.ExecutorRetired message)
    {
        if (message.Executor is { } retired)
        {
            if (retired == _spareExecutor)
            {
                // Its process died before any code needed it: no new spare until an executor is taken
                // (a machine that cannot start executors must not start one every moment).
                _spareExecutor = null;
                Emit(new WorkerCommand.StopExecutor(retired));
                return;
            }
            _idleChecks.Remove(retired);
            if (_versionOfExecutor.Remove(retired, out var version))
            {
                _executorOfVersion.Remove(version);
                // In mailbox order, after the batches already sent to it, which it hands back here.
                Emit(new WorkerCommand.StopExecutor(retired));
            }
        }
        // The runs handed back go to the executor of their code as this core recorded it: the retiring
        // executor's own version is "spare" when it died before it read the code it was given. A run
        // cancelled since is answered here, not run again.
        List<string>? answered = null;
        foreach (var group in message.Rerun.Tasks.Where(t => _runsOut.ContainsKey(t.Key)).GroupBy(t => _runsOut[t.Key].Code.Version))
        {
            var tasks = new List<ExecutorTask>();
            foreach (var task in group)
                if (_cancelledRunsOut.Contains(task.Key)) (answered ??= []).Add(task.Key);
                else tasks.Add(task);
            if (tasks.Count == 0) continue;
            var rerun = message.Rerun with { Tasks = tasks };
            foreach (var task in tasks) _runsOut[task.Key] = _runsOut[task.Key] with { Batch = rerun, Task = task };
            Emit(new WorkerCommand.Execute(ExecutorFor(_runsOut[tasks[0].Key].Code), rerun));
        }
        if (answered is not null) foreach (var key in answered) RunAnswered(key);
    }

    /// <summary>
    /// Stops the executors whose code ran no task for <see cref="IdleTicksBeforeStop"/> checks and has
    /// no run out and no batch held: its client left (or rests), and each holds a process and its memory.
    /// Its assemblies stay in the cache; the next batch of that code starts another.
    /// </summary>
    private void StopIdleExecutors()
    {
        HashSet<string>? busy = null;
        foreach (var run in _runsOut.Values) (busy ??= []).Add(run.Code.Version);
        foreach (var held in _held.Values) (busy ??= []).Add(held.Message.Code.Version);
        foreach (var (version, executor) in _executorOfVersion.ToList())
        {
            if (busy?.Contains(version) == true)
            {
                _idleChecks[executor] = 0;
                continue;
            }
            var checks = _idleChecks.GetValueOrDefault(executor) + 1;
            if (checks < IdleTicksBeforeStop)
            {
                _idleChecks[executor] = checks;
                continue;
            }
            _idleChecks.Remove(executor);
            _executorOfVersion.Remove(version);
            _versionOfExecutor.Remove(executor);
            Emit(new WorkerCommand.StopIdleExecutor(executor, version));
        }
    }

    private void HandleExecutorStopped(WorkerEvent.ExecutorStopped message)
    {
        _idleChecks.Remove(message.Executor);
        if (message.Executor == _spareExecutor) _spareExecutor = null;
        if (_versionOfExecutor.Remove(message.Executor, out var version)) _executorOfVersion.Remove(version);
    }

    private void HandleTasksCancelled(WorkerEvent.TasksCancelled message)
    {
        // Forgotten here, a task's result is neither stored nor reported; batches still waiting for
        // inputs or assemblies skip it, and the executors skip it if it has not started.
        List<string>? cancelled = null;
        foreach (var key in message.Keys)
        {
            if (_direct.Count > 0 && CancelDirect(key)) (cancelled ??= []).Add(key);
            if (!_running.Remove(key, out var assignment)) continue;
            if (_runsOut.ContainsKey(key)) _cancelledRunsOut.Add(key);
            Release(assignment.Client);
            (cancelled ??= []).Add(key);
        }
        if (cancelled is null) return;
        foreach (var executor in _executorOfVersion.Values) Emit(new WorkerCommand.CancelExecution(executor, cancelled));
    }

    private void HandleExecutorResults(WorkerEvent.ExecutorResults message)
    {
        Dictionary<ClientHolds, (List<StoredKey> Results, List<TaskRun> Runs)>? finished = null;
        Dictionary<ClientHolds, List<FailedTask>>? failed = null;
        List<string>? answered = null;
        List<Run>? skipped = null;
        foreach (var result in message.Results)
        {
            if (result.Error?.Kind == ErrorKind.TaskCancelled) _counters.AddCancelledBeforeStart(1);
            else _counters.AddTaskRun();
            if (!_runsOut.TryGetValue(result.Key, out var run))
            {
                result.Shared?.Stored?.Release(); // no run of this key is out: a late word
                continue;
            }
            if (_direct.Count > 0 && !_cancelledRunsOut.Contains(result.Key) && _direct.TryGetValue(result.Key, out var direct) && !direct.Answered)
            {
                if (DirectRunEnded(result, direct) is not { } confirmedBy) continue;
                if (result.Error is { } directError)
                {
                    failed ??= [];
                    if (!failed.TryGetValue(confirmedBy, out var directFailed)) failed[confirmedBy] = directFailed = [];
                    directFailed.Add(new FailedTask(result.Key, directError));
                }
                else
                {
                    finished ??= [];
                    if (!finished.TryGetValue(confirmedBy, out var directDone)) finished[confirmedBy] = directDone = ([], []);
                    directDone.Results.Add(new StoredKey(result.Key, result.Length, result.TypeName));
                    directDone.Runs.Add(result.Run);
                }
                continue;
            }
            if (_cancelledRunsOut.Contains(result.Key) || !_running.TryGetValue(result.Key, out var assignment))
            {
                result.Shared?.Stored?.Release();
                (answered ??= []).Add(result.Key); // the answer of a cancelled run: neither stored nor reported
                continue;
            }
            if (result.Error?.Kind == ErrorKind.TaskCancelled)
            {
                // Not cancelled here: the executor skipped it on a cancel of an earlier run of the key that
                // reached it too late for that run (it had started). That cancel is spent: the run goes again.
                (skipped ??= []).Add(run);
                continue;
            }
            RemoveRun(result.Key);
            _running.Remove(result.Key);
            var client = assignment.Client;
            Release(client);
            if (result.Error is { } error)
            {
                failed ??= [];
                if (!failed.TryGetValue(client, out var list)) failed[client] = list = [];
                list.Add(new FailedTask(result.Key, error));
                continue;
            }
            // The executor's answer is in a segment this worker lent it, or was read into arrays of its
            // own (chunks when large): either way the store may reuse them once the key is gone.
            var value = result.Shared?.Stored ?? result.Value!.AdoptedBy(_store.Buffers);
            _store.Put(result.Key, value);
            finished ??= [];
            if (!finished.TryGetValue(client, out var done)) finished[client] = done = ([], []);
            done.Results.Add(new StoredKey(result.Key, value.Length, result.TypeName));
            done.Runs.Add(result.Run);
        }
        // To the center only, which records the keys and then tells the client: whatever the client
        // asks the center after its Map returned already sees the results. One report per client.
        if (finished is not null)
            foreach (var (results, runs) in finished.Values) Emit(new WorkerCommand.ReportFinished(results, runs));
        if (failed is not null)
            foreach (var failures in failed.Values) ReportFailures(failures);
        if (skipped is not null)
            foreach (var run in skipped) Emit(new WorkerCommand.Execute(ExecutorFor(run.Code), run.Batch with { Tasks = [run.Task] }));
        if (answered is not null) foreach (var key in answered) RunAnswered(key);
        if (HopTrace.Enabled) foreach (var result in message.Results) HopTrace.Lap(result.Key, "worker: result read -> stored and reported", last: true);
    }

    /// <summary>Fails the tasks of a held batch that still run (not cancelled) with <paramref name="error"/>, each named in its message.</summary>
    private void Fail(HeldBatch batch, RemoteError error)
    {
        Unhold(batch);
        ReportFailures(batch.Message.Tasks.Where(t => IsAssignedBy(t.Key, batch)).Select(t => new FailedTask(t.Key, error with { Message = $"{t.Key}: {error.Message}" })).ToList());
    }

    private void ReportFailures(List<FailedTask> failures)
    {
        foreach (var failure in failures)
            if (_running.Remove(failure.Key, out var assignment)) Release(assignment.Client);
        Emit(new WorkerCommand.ReportFailed(failures)); // the center tells the client, and fails the tasks that needed these
    }

    /// <summary>
    /// The batch is no longer held: it no longer waits for any assembly, so that an assembly nobody
    /// waits for any more is asked for again by the next batch that needs it (not awaited for ever).
    /// </summary>
    private void Unhold(HeldBatch batch)
    {
        _held.Remove(batch.Id);
        foreach (var hash in batch.MissingAssemblies)
        {
            if (!_awaitedAssemblies.TryGetValue(hash, out var waiting) || !waiting.Remove(batch.Id)) continue;
            if (waiting.Count == 0)
            {
                _awaitedAssemblies.Remove(hash);
                _assemblyAskedOf.Remove(hash);
                continue;
            }
            // The batches still waiting are of other clients than the one asked: its answer would be
            // refused (code is taken only from a client of a waiting batch), so one of theirs is asked.
            var (assembly, askedOf) = _assemblyAskedOf[hash];
            if (waiting.Any(id => _held[id].Client.Id == askedOf)) continue;
            var client = _held[waiting.First()].Client.Id;
            _assemblyAskedOf[hash] = (assembly, client);
            Emit(new WorkerCommand.RequestAssemblies(client, [assembly]));
        }
        batch.MissingAssemblies.Clear();
        foreach (var key in batch.AwaitedRuns)
            if (_awaitedRuns.TryGetValue(key, out var waiting) && waiting.Remove(batch.Id) && waiting.Count == 0)
                _awaitedRuns.Remove(key);
        batch.AwaitedRuns.Clear();
        Release(batch.Client);
    }

    private void Release(ClientHolds client)
    {
        if (--client.Holds > 0) return;
        _clients.Remove(client.Id);
        Emit(new WorkerCommand.ForgetClient(client.Id));
    }

    /// <summary>
    /// Throws <see cref="InvalidOperationException"/> naming the first broken invariant of the state,
    /// for tests and simulations to call after every event.
    /// </summary>
    public void CheckInvariants()
    {
        foreach (var batch in _held.Values)
        {
            if (batch.MissingAssemblies.Count == 0 && !batch.FetchingInputs && batch.AwaitedRuns.Count == 0)
                throw new InvalidOperationException($"Batch {batch.Id} is held but waits for nothing: it would never run.");
            foreach (var hash in batch.MissingAssemblies)
                if (!_awaitedAssemblies.TryGetValue(hash, out var waiting) || !waiting.Contains(batch.Id))
                    throw new InvalidOperationException($"Batch {batch.Id} misses assembly {hash} but is not among its waiters: it would never run.");
            if (!_clients.TryGetValue(batch.Client.Id, out var client) || !ReferenceEquals(client, batch.Client))
                throw new InvalidOperationException($"Batch {batch.Id} is held for client {batch.Client.Id}, which is forgotten.");
        }
        foreach (var (hash, waiting) in _awaitedAssemblies)
        {
            if (waiting.Count == 0) throw new InvalidOperationException($"Assembly {hash} is awaited by no batch.");
            if (!_assemblyAskedOf.TryGetValue(hash, out var asked) || !waiting.Any(id => _held.TryGetValue(id, out var batch) && batch.Client.Id == asked.Client))
                throw new InvalidOperationException($"Assembly {hash} was asked of no client of a batch that waits for it: its answer would be refused.");
            foreach (var id in waiting)
                if (!_held.TryGetValue(id, out var batch) || !batch.MissingAssemblies.Contains(hash))
                    throw new InvalidOperationException($"Assembly {hash} is awaited by batch {id}, which does not wait for it.");
        }
        if (_assemblyAskedOf.Count != _awaitedAssemblies.Count) throw new InvalidOperationException("An assembly is recorded as asked for but not awaited.");
        foreach (var key in _cancelledRunsOut)
            if (!_runsOut.ContainsKey(key)) throw new InvalidOperationException($"The cancelled run of {key} is not out.");
        foreach (var (key, waiting) in _awaitedRuns)
        {
            if (waiting.Count == 0 || !_cancelledRunsOut.Contains(key))
                throw new InvalidOperationException($"Batches wait for the cancelled run of {key}, which is not out: they would never run.");
            foreach (var id in waiting)
                if (!_held.TryGetValue(id, out var batch) || !batch.AwaitedRuns.Contains(key))
                    throw new InvalidOperationException($"Batch {id} is listed as waiting for the run of {key}, and does not.");
        }
        foreach (var batch in _held.Values)
            foreach (var key in batch.AwaitedRuns)
                if (!_awaitedRuns.TryGetValue(key, out var waiting) || !waiting.Contains(batch.Id))
                    throw new InvalidOperationException($"Batch {batch.Id} waits for the run of {key} but is not among its waiters: it would never run.");
        var holds = new Dictionary<ClientHolds, int>();
        foreach (var assignment in _running.Values) holds[assignment.Client] = holds.GetValueOrDefault(assignment.Client) + 1;
        foreach (var batch in _held.Values) holds[batch.Client] = holds.GetValueOrDefault(batch.Client) + 1;
        foreach (var (id, client) in _clients)
            if (holds.GetValueOrDefault(client) != client.Holds || client.Holds <= 0)
                throw new InvalidOperationException($"Client {id} counts {client.Holds} holds, but {holds.GetValueOrDefault(client)} batches and tasks are held for it.");
        foreach (var client in holds.Keys)
            if (!_clients.ContainsKey(client.Id))
                throw new InvalidOperationException($"Tasks are held for client {client.Id}, which is forgotten.");
        CheckDirectInvariants();
        foreach (var (version, executor) in _executorOfVersion)
        {
            if (!_versionOfExecutor.TryGetValue(executor, out var back) || back != version)
                throw new InvalidOperationException($"Executor {executor} of code {version} is not recorded as running it.");
            if (executor == _spareExecutor) throw new InvalidOperationException($"Executor {executor} is both the spare and the one of code {version}.");
        }
        if (_versionOfExecutor.Count != _executorOfVersion.Count)
            throw new InvalidOperationException("An executor is recorded for a code version that does not name it.");
    }

    /// <summary>A client's id and how many held batches and running tasks are its.</summary>
    private sealed class ClientHolds(string id)
    {
        public string Id { get; } = id;
        public int Holds { get; set; }
    }

    /// <summary>A task's assignment: the client it runs for and the batch that brought it.</summary>
    private sealed record Assignment(ClientHolds Client, long BatchId);

    /// <summary>A task handed to an executor: its code, the batch (functions, input values) to hand it again in, and the leases on its inputs.</summary>
    private sealed record Run(CodeManifest Code, ExecuteBatch Batch, ExecutorTask Task, BatchInputs Inputs);

    /// <summary>The run of <paramref name="key"/> is no longer out: its batch's inputs are released with the batch's last run.</summary>
    private void RemoveRun(string key)
    {
        if (_runsOut.Remove(key, out var run)) run.Inputs.RunEnded();
    }

    /// <summary>
    /// The leases on a batch's input values, held while any of its runs is out (its reruns included):
    /// an executor may read them in place until then.
    /// </summary>
    private sealed class BatchInputs(List<ValueLease> leases, int runs)
    {
        private int _runsOut = runs;

        /// <summary>The inputs of a batch that has none (most small tasks): nothing to count or release.</summary>
        public static BatchInputs None { get; } = new([], 0);

        public void RunEnded()
        {
            if (leases.Count > 0 && --_runsOut == 0) Release();
        }

        public void Release()
        {
            foreach (var lease in leases) lease.Dispose();
            leases.Clear();
        }
    }

    /// <summary>A batch waiting for assemblies, for its remote inputs, or for the cancelled runs of its keys to answer.</summary>
    private sealed class HeldBatch(long id, ClientHolds client, WorkerEvent.BatchArrived message)
    {
        public long Id { get; } = id;
        public ClientHolds Client { get; } = client;
        public WorkerEvent.BatchArrived Message { get; } = message;
        public HashSet<string> MissingAssemblies { get; } = [];
        public bool FetchingInputs { get; set; }
        public HashSet<string> AwaitedRuns { get; } = [];
    }
}
