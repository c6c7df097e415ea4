using Akka.Actor;
using Akka.Event;
using Distributed.Data;
using Distributed.Protocol;
using Distributed.Worker.Executor;

namespace Distributed.Worker;

/// <summary>
/// Settings of a worker, fixed at start. <c>PreviousCenter</c>: when the worker joins again with the
/// store it kept, the incarnation of the center it was registered with. <c>Credentials</c>: the
/// cluster's, for the data channel to other workers (null on an insecure loopback cluster).
/// </summary>
public sealed record WorkerSettings(string Name, string Address, int Threads, DataEndpoint Data, string WorkDirectory, string? PreviousCenter = null,
    Security.ClusterCredentials? Credentials = null);

/// <summary>
/// One per <c>dworker</c> process: registers with the center, keeps the data store, fetches missing
/// inputs straight from the workers that hold them, gets the client's code when it is new, and hands
/// tasks to an executor child per client code version. It takes commands only from the center actor
/// that registered it (at the path it was told), and a batch's assemblies only from the client the
/// center named for that batch.
/// </summary>
public sealed class WorkerActor : ReceiveActor, IWithTimers
{
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private WorkerSettings _settings;
    private readonly IActorRef _center;
    private readonly ActorPath _centerPath;
    private readonly Refusals _refusals;
    /// <summary>The center actor that answered the registration: the only sender of commands heard.</summary>
    private IActorRef? _registeredWith;
    private readonly DataStore _store;
    private readonly DataClient _peers;
    private readonly AssemblyCache _assemblies;
    private readonly TaskCompletionSource<WorkerRegistered> _registered;
    private readonly TransferCounters _counters;
    private readonly Dictionary<long, PendingBatch> _pending = [];
    private readonly Dictionary<string, HashSet<long>> _waitingForAssembly = [];
    private readonly Dictionary<string, IActorRef> _executors = [];
    private readonly Dictionary<IActorRef, string> _executorVersions = [];
    private readonly Dictionary<string, IActorRef> _running = []; // task key → client to notify
    private long _nextBatchId;
    private long _executorsStarted; // names each executor child apart from the retired ones still stopping
    private IActorRef? _spareExecutor; // a started, warmed-up executor process waiting for a code version

    /// <summary>
    /// How long after a spare executor is taken the next one starts: its start and warm-up would
    /// otherwise compete for the cores with the first tasks it was taken for.
    /// </summary>
    private static readonly TimeSpan SpareExecutorDelay = TimeSpan.FromSeconds(2);

    /// <summary>Creates the worker actor.</summary>
    public WorkerActor(WorkerSettings settings, IActorRef center, ActorPath centerPath, DataStore store, TransferCounters counters, TaskCompletionSource<WorkerRegistered> registered)
    {
        _settings = settings;
        _center = center;
        _centerPath = centerPath;
        _refusals = new Refusals(_log, $"Worker {settings.Name}");
        _store = store;
        _registered = registered;
        _counters = counters;
        _peers = new DataClient(PeerKind.Worker, counters, settings.Credentials);
        _assemblies = new AssemblyCache(Path.Combine(settings.WorkDirectory, "assemblies"), warning => _log.Warning(warning));
        Receive<WorkerRegistered>(HandleWorkerRegistered);
        Receive<RetryRegistration>(_ => Register());
        Receive<RunTasks>(m => FromCenter(m, HandleRunTasks));
        Receive<AssemblyBytes>(HandleAssemblyBytes);
        Receive<InputsFetched>(HandleInputsFetched);
        Receive<FetchKeys>(m => FromCenter(m, HandleFetchKeys));
        Receive<KeysFetched>(HandleKeysFetched);
        Receive<ExecutorResults>(HandleExecutorResults);
        Receive<DeleteKeys>(m => FromCenter(m, m => { foreach (var key in m.Keys) _store.Delete(key); }));
        Receive<CancelTasks>(m => FromCenter(m, HandleCancelTasks));
        Receive<ExecutorRetired>(HandleExecutorRetired);
        Receive<Terminated>(HandleExecutorTerminated);
        Receive<StartSpareExecutor>(_ => StartSpare());
    }

    /// <inheritdoc />
    public ITimerScheduler Timers { get; set; } = null!;

    /// <summary>Props of a worker.</summary>
    public static Props Props(WorkerSettings settings, IActorRef center, ActorPath centerPath, DataStore store, TransferCounters counters, TaskCompletionSource<WorkerRegistered> registered) =>
        Akka.Actor.Props.Create(() => new WorkerActor(settings, center, centerPath, store, counters, registered));

    /// <summary>Handles a command when it comes from the center this worker registered with; refuses it otherwise.</summary>
    private void FromCenter<T>(T message, Action<T> handle) where T : notnull
    {
        if (_registeredWith is not null && Sender.Equals(_registeredWith)) handle(message);
        else _refusals.Refuse(Sender, message, _registeredWith is null
            ? "the worker is not registered yet, and takes commands only from the center that registers it"
            : $"only the center it registered with ({_registeredWith.Path}) sends it commands");
    }

    /// <inheritdoc />
    protected override void PreStart()
    {
        Register();
        // The proxy buffers until the singleton is found, but a registration can still be lost when the
        // center restarts in between: repeat it until the center answers.
        Timers.StartPeriodicTimer("register", RetryRegistration.Instance, TimeSpan.FromSeconds(1));
    }

    /// <inheritdoc />
    protected override void PostStop() => _peers.Dispose();

    private void Register() => _center.Tell(new RegisterWorker(_settings.Name, _settings.Address, _settings.Threads, _settings.Data,
        _settings.PreviousCenter is null ? null : _store.Keys(), _settings.PreviousCenter));

    private void HandleWorkerRegistered(WorkerRegistered message)
    {
        // The center actor is the one at the center's address; once registered, the worker keeps it
        // (a restarted center has the worker join again as a new node, with a new worker actor).
        if (_registeredWith is not null || !Peers.IsAt(Sender, _centerPath))
        {
            _refusals.Refuse(Sender, message, _registeredWith is null ? $"the center is at {_centerPath}" : "the worker is registered already");
            return;
        }
        _registeredWith = Sender;
        Timers.Cancel("register");
        // Completions and copies are reported under the name the center knows this worker by.
        _settings = _settings with { Name = message.AssignedName };
        _registered.TrySetResult(message);
        // A spare executor warms up before the first tasks need it; not before registering, where its
        // start would compete with the worker's own (start-up and join are CPU-bound on a small machine).
        if (_executorsStarted == 0) StartSpare();
    }

    private void HandleRunTasks(RunTasks message)
    {
        var batch = new PendingBatch(_nextBatchId++, message);
        _pending[batch.Id] = batch;
        foreach (var task in message.Tasks) _running[task.Key] = message.Client;
        _counters.RecordTasksInFlight(_running.Count);

        // Content addresses are checked where they arrive: a name that could leave the assembly cache,
        // or a function whose id is not the hash of its bytes, fails the batch before anything runs.
        if (message.Code.Assemblies.Select(ContentAddress.Problem).FirstOrDefault(p => p is not null) is { } codeProblem)
        {
            Fail(batch, RemoteError.Of(ErrorKind.CodeShipping, codeProblem));
            return;
        }
        if (message.Functions.FirstOrDefault(f => !ContentAddress.IsIntact(f)) is { } forged)
        {
            Fail(batch, RemoteError.Of(ErrorKind.CodeShipping, $"The function {forged.FunctionId} is refused: its id is not the hash of its bytes."));
            return;
        }

        RequestAssemblies(batch, message.Code.Assemblies.Where(a => !_assemblies.Contains(a)).ToList());

        var remote = message.RemoteInputs.Where(r => !_store.Contains(r.Key)).ToList();
        if (remote.Count > 0)
        {
            batch.FetchingInputs = true;
            var id = batch.Id;
            FetchAsync(remote).PipeTo(Self,
                success: values => new InputsFetched(id, values, null),
                failure: e => new InputsFetched(id, null, e));
        }
        TryDispatch(batch);
    }

    /// <summary>Makes <paramref name="batch"/> wait for these assemblies, asking its client for those nobody was asked for yet.</summary>
    private void RequestAssemblies(PendingBatch batch, IReadOnlyList<AssemblyRef> missing)
    {
        var toRequest = new List<AssemblyRef>();
        foreach (var assembly in missing)
        {
            batch.MissingAssemblies.Add(assembly.Hash);
            if (!_waitingForAssembly.TryGetValue(assembly.Hash, out var waiting))
            {
                _waitingForAssembly[assembly.Hash] = waiting = [];
                toRequest.Add(assembly);
            }
            waiting.Add(batch.Id);
        }
        if (toRequest.Count > 0) batch.Message.Client.Tell(new RequestAssemblies(toRequest));
    }

    private async Task<IReadOnlyDictionary<string, StoredValue>> FetchAsync(IReadOnlyList<RemoteInput> inputs)
    {
        var values = new Dictionary<string, StoredValue>();
        if (inputs.FirstOrDefault(i => i.Holders.Count == 0) is { } orphan)
            throw new KeyNotFoundException($"No worker holds the input {orphan.Key}.");
        var fetches = inputs.GroupBy(i => i.Holders[0]).Select(async group =>
        {
            var wanted = group.ToList();
            IReadOnlyList<StoredValue?> fetched;
            try { fetched = await _peers.GetAsync(group.Key, wanted.Select(i => i.Key).ToList()).ConfigureAwait(false); }
            catch (Exception e) when (e is IOException or System.Net.Sockets.SocketException) { fetched = new StoredValue?[wanted.Count]; }
            return wanted.Select((input, i) => (Input: input, Value: fetched[i]));
        });
        foreach (var (input, value) in (await Task.WhenAll(fetches).ConfigureAwait(false)).SelectMany(r => r))
        {
            var found = value;
            // The first holder may have lost it (deleted, or died in between): try the others.
            foreach (var other in input.Holders.Skip(1))
            {
                if (found is not null) break;
                try { found = (await _peers.GetAsync(other, [input.Key]).ConfigureAwait(false))[0]; }
                catch (Exception e) when (e is IOException or System.Net.Sockets.SocketException) { }
            }
            values[input.Key] = found ?? throw new KeyNotFoundException($"No holder of input {input.Key} still has it.");
        }
        return values;
    }

    private void HandleFetchKeys(FetchKeys message)
    {
        var keys = message.Inputs.Select(i => i.Key).ToList();
        FetchAsync(message.Inputs).PipeTo(Self,
            success: values => new KeysFetched(keys, values, null, message.ReplicationId),
            failure: e => new KeysFetched(keys, null, e, message.ReplicationId));
    }

    private void HandleKeysFetched(KeysFetched message)
    {
        if (message.Values is null)
        {
            var reason = message.Failure is AggregateException { InnerException: { } inner } ? inner : message.Failure!;
            _center.Tell(new KeysAdded([], message.ReplicationId, $"Worker {_settings.Name} could not fetch the copies: {reason.Message}"));
            return;
        }
        StoreCopies(message.Values, message.ReplicationId);
    }

    /// <summary>Keeps values fetched from peers and tells the center this worker holds them too.</summary>
    private void StoreCopies(IReadOnlyDictionary<string, StoredValue> values, long? replicationId = null)
    {
        var added = new List<StoredKey>();
        foreach (var (key, value) in values)
        {
            _store.Put(key, value);
            added.Add(new StoredKey(key, value.Bytes.Length, value.TypeName));
        }
        if (added.Count > 0 || replicationId is not null) _center.Tell(new KeysAdded(added, replicationId));
    }

    private void HandleInputsFetched(InputsFetched message)
    {
        if (!_pending.TryGetValue(message.BatchId, out var batch)) return;
        batch.FetchingInputs = false;
        if (message.Failure is { } failure)
        {
            var reason = failure is AggregateException { InnerException: { } inner } ? inner : failure;
            // The center takes such tasks back (an input's holder most often just died) rather than failing them.
            Fail(batch, RemoteError.Of(ErrorKind.InputLost, $"Could not fetch the inputs of the task: {reason.Message}"));
            return;
        }
        StoreCopies(message.Values!);
        TryDispatch(batch);
    }

    private void HandleAssemblyBytes(AssemblyBytes message)
    {
        if (!_waitingForAssembly.TryGetValue(message.Assembly.Hash, out var waiting)) return;
        // Code comes only from a client the center named for a batch that needs it.
        if (!waiting.Any(id => _pending.TryGetValue(id, out var waitingBatch) && waitingBatch.Message.Client.Equals(Sender)))
        {
            _refusals.Refuse(Sender, message, $"assembly {message.Assembly.Name} was asked of the client the center named for its code, not of this sender");
            return;
        }
        _waitingForAssembly.Remove(message.Assembly.Hash);
        var batchIds = waiting;
        RemoteError? error = null;
        if (message.Bytes is null)
        {
            error = RemoteError.Of(ErrorKind.CodeShipping, $"The client could not send assembly {message.Assembly.Name}.");
        }
        else
        {
            try
            {
                _assemblies.Store(message.Assembly, message.Bytes);
                _counters.AddAssembly(message.Assembly.Name, message.Assembly.Hash);
            }
            catch (Exception e) when (e is IOException or InvalidDataException or UnauthorizedAccessException or ArgumentException)
            {
                error = RemoteError.Of(ErrorKind.CodeShipping, $"Assembly {message.Assembly.Name} could not be stored: {e.Message}");
            }
        }
        foreach (var id in batchIds)
        {
            if (!_pending.TryGetValue(id, out var batch)) continue;
            if (error is not null) { Fail(batch, error); continue; }
            batch.MissingAssemblies.Remove(message.Assembly.Hash);
            TryDispatch(batch);
        }
    }

    private void TryDispatch(PendingBatch batch)
    {
        if (batch.MissingAssemblies.Count > 0 || batch.FetchingInputs) return;
        var message = batch.Message;
        // A new executor loads the assemblies from the cache: their files are hashed again right
        // before, and a changed one is deleted and fetched again from the client rather than loaded.
        if (!_executors.ContainsKey(message.Code.Version) && message.Code.Assemblies.Where(a => !_assemblies.Contains(a, recheck: true)).ToList() is { Count: > 0 } changed)
        {
            RequestAssemblies(batch, changed);
            return;
        }
        _pending.Remove(batch.Id);
        var values = new Dictionary<string, byte[]>();
        var tasks = new List<ExecutorTask>(message.Tasks.Count);
        var failures = new List<FailedTask>();
        foreach (var task in message.Tasks)
        {
            if (!_running.ContainsKey(task.Key))
            {
                _counters.AddCancelledBeforeStart(1); // cancelled while the batch waited
                continue;
            }
            // Each input read once: a spilled one comes from disk, and a read that fails counts as lost.
            string? missing = null;
            foreach (var dependency in task.Dependencies)
            {
                if (values.ContainsKey(dependency)) continue;
                if (_store.Get(dependency) is { } stored) values[dependency] = stored.Bytes;
                else { missing = dependency; break; }
            }
            if (missing is not null)
            {
                failures.Add(new FailedTask(task.Key, RemoteError.Of(ErrorKind.InputLost, $"The input {missing} of {task.Key} is not on worker {_settings.Name}.")));
                continue;
            }
            tasks.Add(new ExecutorTask(task.Key, task.FunctionId, task.Kind, task.Args, task.Dependencies, task.TimeoutMs));
        }
        if (failures.Count > 0) ReportFailures(message.Client, failures);
        if (tasks.Count == 0) return;
        ExecutorFor(message.Code).Tell(new ExecuteBatch(message.Functions, values, tasks));
    }

    private IActorRef ExecutorFor(CodeManifest code) =>
        _executors.TryGetValue(code.Version, out var executor) ? executor : ExecutorFor(code.Version, code.Assemblies.Select(_assemblies.PathOf).ToList());

    private IActorRef ExecutorFor(string version, IReadOnlyList<string> assemblyPaths)
    {
        if (_executors.TryGetValue(version, out var executor)) return executor;
        if (_spareExecutor is { } spare)
        {
            _spareExecutor = null;
            spare.Tell(new AdoptCode(version, assemblyPaths));
            executor = spare;
            _counters.AddSpareExecutorTaken();
        }
        else
        {
            executor = Context.ActorOf(ExecutorActor.Props(version, assemblyPaths, _settings.Threads, _settings.WorkDirectory), $"executor-{version}-{++_executorsStarted}");
            Context.Watch(executor);
            _counters.AddExecutorStarted();
        }
        // Another code version, or a re-run after a timeout, will want one too.
        if (!Timers.IsTimerActive(nameof(StartSpareExecutor)))
            Timers.StartSingleTimer(nameof(StartSpareExecutor), StartSpareExecutor.Instance, SpareExecutorDelay);
        _executors[version] = executor;
        _executorVersions[executor] = version;
        return executor;
    }

    private void StartSpare()
    {
        if (_spareExecutor is not null) return;
        _spareExecutor = Context.ActorOf(ExecutorActor.SpareProps(_settings.Threads, _settings.WorkDirectory), $"executor-spare-{++_executorsStarted}");
        Context.Watch(_spareExecutor);
        _counters.AddExecutorStarted();
    }

    private void HandleExecutorRetired(ExecutorRetired message)
    {
        if (Sender.Equals(_spareExecutor))
        {
            // Its process died before any code needed it: no new spare until an executor is taken
            // (a machine that cannot start executors must not start one every moment).
            _spareExecutor = null;
            Sender.Tell(PoisonPill.Instance);
            return;
        }
        if (_executorVersions.Remove(Sender, out var version))
        {
            _executors.Remove(version);
            // In mailbox order, after the batches already sent to it, which it hands back here.
            Sender.Tell(PoisonPill.Instance);
        }
        if (message.Rerun.Tasks.Count > 0) ExecutorFor(message.Version, message.AssemblyPaths).Tell(message.Rerun);
    }

    private void HandleExecutorTerminated(Terminated message)
    {
        if (message.ActorRef.Equals(_spareExecutor)) _spareExecutor = null;
        if (_executorVersions.Remove(message.ActorRef, out var version)) _executors.Remove(version);
    }

    private void HandleCancelTasks(CancelTasks message)
    {
        // Forgotten here, a task's result is neither stored nor reported; batches still waiting for
        // inputs or assemblies skip it, and the executors skip it if it has not started.
        var cancelled = message.Keys.Where(key => _running.Remove(key)).ToList();
        if (cancelled.Count == 0) return;
        foreach (var executor in _executors.Values) executor.Tell(new CancelExecution(cancelled));
    }

    private void HandleExecutorResults(ExecutorResults message)
    {
        var finished = new Dictionary<IActorRef, List<StoredKey>>();
        var failed = new Dictionary<IActorRef, List<FailedTask>>();
        foreach (var result in message.Results)
        {
            if (result.Error?.Kind == ErrorKind.TaskCancelled) _counters.AddCancelledBeforeStart(1);
            else _counters.AddTaskRun();
            if (!_running.Remove(result.Key, out var client)) continue;
            if (result.Error is { } error)
            {
                if (!failed.TryGetValue(client, out var list)) failed[client] = list = [];
                list.Add(new FailedTask(result.Key, error));
                continue;
            }
            _store.Put(result.Key, new StoredValue(result.Value!, result.TypeName));
            if (!finished.TryGetValue(client, out var done)) finished[client] = done = [];
            done.Add(new StoredKey(result.Key, result.Value!.Length, result.TypeName));
        }
        foreach (var (client, results) in finished)
        {
            // To the center only, which records the keys and then tells the client: whatever the
            // client asks the center after its Map returned already sees the results.
            _center.Tell(new TasksFinished(_settings.Name, _settings.Data, results));
        }
        foreach (var (client, failures) in failed) ReportFailures(client, failures);
    }

    private void Fail(PendingBatch batch, RemoteError error)
    {
        _pending.Remove(batch.Id);
        ReportFailures(batch.Message.Client, batch.Message.Tasks.Where(t => _running.ContainsKey(t.Key)).Select(t => new FailedTask(t.Key, error with { Message = $"{t.Key}: {error.Message}" })).ToList());
    }

    private void ReportFailures(IActorRef client, List<FailedTask> failures)
    {
        foreach (var failure in failures) _running.Remove(failure.Key);
        var message = new TasksFailed(_settings.Name, failures);
        _center.Tell(message); // the center tells the client, and fails the tasks that needed these
    }

    private sealed class PendingBatch(long id, RunTasks message)
    {
        public long Id { get; } = id;
        public RunTasks Message { get; } = message;
        public HashSet<string> MissingAssemblies { get; } = [];
        public bool FetchingInputs { get; set; }
    }
}
