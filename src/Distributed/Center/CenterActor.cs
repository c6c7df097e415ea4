using System.Diagnostics;
using System.Net.Sockets;
using Akka.Actor;
using Akka.Cluster;
using Akka.Event;
using Akka.Remote;
using Distributed.Protocol;

namespace Distributed.Center;

/// <summary>
/// The registry of workers and keys, and the scheduler: it runs each task once its inputs exist, on
/// the worker that holds most of its input bytes unless that worker is much busier than another.
/// A cluster singleton on the center node. It routes user payloads as opaque bytes.
/// </summary>
public sealed class CenterActor : ReceiveActor, IWithTimers
{
    /// <summary>Tasks per <see cref="RunTasks"/> message: small enough for a fast frame, big enough to amortize it.</summary>
    private const int MaxTasksPerMessage = 2048;

    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly Refusals _refusals;
    /// <summary>Copies a client asked for (<see cref="ReplicateKeys"/>), by the id their worker reports them under.</summary>
    private readonly Dictionary<long, Replication> _replications = [];
    private long _nextReplication;
    private readonly Dictionary<string, WorkerState> _workers = [];
    private readonly Dictionary<IActorRef, WorkerState> _workersByRef = [];
    private readonly Dictionary<string, KeyState> _keys = [];
    private readonly Dictionary<string, PendingTask> _tasks = [];
    private readonly Dictionary<string, List<PendingTask>> _dependents = [];
    private readonly Dictionary<string, FunctionSpec> _functions = [];
    private readonly Dictionary<IActorRef, ClientState> _clients = [];
    private readonly Queue<PendingTask> _unplaced = new();
    private readonly Dictionary<string, Lineage> _lineage = [];
    private readonly HashSet<PendingTask> _parked = [];
    private readonly HashSet<string> _probing = [];
    private readonly List<(IActorRef Asker, WhoHas Question)> _whoHasWaiting = [];
    private WorkerState[]? _workersInOrder; // by name, for WorkerForInput; reset when workers come and go
    private readonly string _centerAddress;
    /// <summary>This run of the center: a worker that rejoins tells which center it knew, so that a restart is told from a downing.</summary>
    private readonly string _incarnation = Guid.NewGuid().ToString("N");
    /// <summary>Values reported by workers that rejoined after a center restart: they have no lineage.</summary>
    private readonly HashSet<string> _adopted = [];
    /// <summary>Keys a client released while the center was down, not reported yet: deleted when a worker reports them.</summary>
    private readonly HashSet<string> _releasedBeforeReport = [];
    /// <summary>Values lost for good with a worker, and why, until their client releases them.</summary>
    private readonly Dictionary<string, string> _lost = [];
    private const string HolderGoneDuringRestart = "The value was held by a worker that is no longer on the cluster (it did not come back after the center restarted) " +
        "and cannot be made again: it was made before the restart, so the task that made it is not known.";
    /// <summary>How long an adopted value may wait for a client to claim it before it is deleted (<c>distributed.center.unclaimed-keys-grace</c>).</summary>
    private readonly TimeSpan _unclaimedKeysGrace;

    private int _adoptions;

    /// <inheritdoc />
    public ITimerScheduler Timers { get; set; } = null!;

    /// <summary>Creates the center.</summary>
    public CenterActor()
    {
        var self = Cluster.Get(Context.System).SelfAddress;
        _centerAddress = $"{self.Host}:{self.Port}";
        _unclaimedKeysGrace = UnclaimedKeysGrace(Context.System.Settings.Config);
        _refusals = new Refusals(_log, "The center");
        Receive<RegisterWorker>(HandleRegisterWorker);
        Receive<ConnectClient>(HandleConnectClient);
        // A client is the actor that connected, a worker the actor that registered: the messages of
        // each role are heard from those actors only (the sender, never a name inside the message).
        Receive<ClaimKeys>(m => FromClient(m, client => HandleClaimKeys(m, client)));
        Receive<SubmitTasks>(m => FromClient(m, client => HandleSubmitTasks(m, client)));
        Receive<WhoHas>(m => FromClient(m, client => HandleWhoHas(m, client)));
        Receive<GetWorkers>(m => FromClient(m, client => HandleGetWorkers(m, client)));
        Receive<ReleaseKeys>(m => FromClient(m, client => HandleReleaseKeys(m, client)));
        Receive<DisconnectClient>(m => FromClient(m, _ => HandleClientGone(Sender)));
        Receive<ReplicateKeys>(m => FromClient(m, client => HandleReplicateKeys(m, client)));
        Receive<TasksFinished>(m => FromWorker(m, worker => HandleTasksFinished(m, worker)));
        Receive<TasksFailed>(m => FromWorker(m, worker => FailTasks(m.Failures, worker)));
        Receive<KeysAdded>(m => FromWorker(m, worker => HandleKeysAdded(m, worker)));
        Receive<Terminated>(HandleTerminated);
        Receive<DisassociatedEvent>(HandleDisassociated);
        Receive<ProbeResult>(HandleProbeResult);
        Receive<ClientProbeResult>(HandleClientProbeResult);
        Receive<ReleaseUnclaimedKeys>(HandleReleaseUnclaimedKeys);
    }

    /// <inheritdoc />
    protected override void PreStart() => Context.System.EventStream.Subscribe(Self, typeof(DisassociatedEvent));

    /// <inheritdoc />
    protected override void PostStop() => Context.System.EventStream.Unsubscribe(Self);

    /// <summary>The answer of a probe of a worker's data port: refused means its process is gone.</summary>
    private sealed record ProbeResult(IActorRef Worker, bool Alive);

    private sealed record ClientProbeResult(IActorRef Client, bool Alive);

    /// <summary>The grace period of values adopted from a rejoining worker is over: those no client claimed are deleted.</summary>
    private sealed record ReleaseUnclaimedKeys(IReadOnlyList<string> Keys);

    /// <summary>The setting <c>distributed.center.unclaimed-keys-grace</c>, checked: a positive duration.</summary>
    public static TimeSpan UnclaimedKeysGrace(Akka.Configuration.Config config)
    {
        const string path = "distributed.center.unclaimed-keys-grace";
        TimeSpan grace;
        try
        {
            grace = config.GetTimeSpan(path, TimeSpan.FromSeconds(150), allowInfinite: false);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            string? text;
            try { text = config.GetString(path); }
            catch (Exception) { text = null; }
            throw new FormatException($"The setting {path} is not a duration such as 150s (it is {(string.IsNullOrWhiteSpace(text) ? "empty" : $"'{text}'")}).", e);
        }
        return grace > TimeSpan.Zero ? grace : throw new FormatException($"The setting {path} must be a positive duration, not {grace}.");
    }

    /// <summary>Props of the center.</summary>
    public static Props Props() => Akka.Actor.Props.Create(() => new CenterActor());

    /// <summary>Copies asked by a client, made by <see cref="Target"/>.</summary>
    private sealed record Replication(IActorRef Asker, long RequestId, WorkerState Target, IReadOnlyList<string> Keys);

    /// <summary>Handles a client's message when its sender is a connected client; refuses it otherwise.</summary>
    private void FromClient(object message, Action<ClientState> handle)
    {
        if (_clients.TryGetValue(Sender, out var client)) handle(client);
        else _refusals.Refuse(Sender, message, "the sender is not a connected client (it sent no ConnectClient)");
    }

    /// <summary>
    /// Handles a worker's message when its sender is a registered worker, by its actor only: a worker
    /// downed while paused may still speak after a new incarnation registered under the same name,
    /// and must not be heard. Refuses it otherwise.
    /// </summary>
    private void FromWorker(object message, Action<WorkerState> handle)
    {
        if (_workersByRef.TryGetValue(Sender, out var worker)) handle(worker);
        else _refusals.Refuse(Sender, message, "the sender is not a registered worker (or it was counted as gone)");
    }

    /// <summary>Whether <paramref name="keyName"/> is a value or a pending task of <paramref name="client"/>.</summary>
    private static bool Owns(ClientState client, string keyName) => client.Keys.Contains(keyName) || client.PendingTasks.Contains(keyName);

    /// <summary>Whether a client other than <paramref name="client"/> has <paramref name="keyName"/> as a value or a pending task.</summary>
    private bool OwnedByAnother(ClientState client, string keyName)
    {
        foreach (var other in _clients.Values)
            if (other != client && Owns(other, keyName)) return true;
        return false;
    }

    /// <summary>The keys among <paramref name="keys"/> that are <paramref name="client"/>'s; another client's are refused (and logged).</summary>
    private IReadOnlyList<string> OwnKeys(ClientState client, IReadOnlyList<string> keys, object message)
    {
        List<string>? own = null;
        for (var i = 0; i < keys.Count; i++)
        {
            if (Owns(client, keys[i]))
            {
                own?.Add(keys[i]);
                continue;
            }
            own ??= keys.Take(i).ToList();
            // A key nobody has is answered as unknown (released twice, or lost); another client's is refused.
            if (OwnedByAnother(client, keys[i])) _refusals.Refuse(Sender, message, $"the key {keys[i]} belongs to another client");
        }
        return own ?? keys;
    }
    private void HandleRegisterWorker(RegisterWorker message)
    {
        var workerRef = Sender;
        if (workerRef.IsNobody() || _clients.ContainsKey(workerRef))
        {
            _refusals.Refuse(workerRef, message, "a worker registers from its own actor, and a client cannot be one");
            return;
        }
        if (_workersByRef.TryGetValue(workerRef, out var known))
        {
            Sender.Tell(new WorkerRegistered(_centerAddress, known.Name, _incarnation));
            return;
        }
        var name = message.Name;
        for (var n = 2; _workers.ContainsKey(name); n++) name = $"{message.Name}#{n}";
        var worker = new WorkerState(name, workerRef, message.Address, message.Cores, message.Data);
        _workers[name] = worker;
        _workersInOrder = null;
        _workersByRef[workerRef] = worker;
        Context.Watch(workerRef);
        _log.Info("Worker {0} registered at {1} with {2} cores", name, message.Address, message.Cores);
        Sender.Tell(new WorkerRegistered(_centerAddress, name, _incarnation));
        if (message.HeldKeys is { Count: > 0 } held)
        {
            // This center downed the worker (it was paused) and has made its values again elsewhere;
            // only values kept across a restart of the center are taken back.
            if (message.PreviousCenter == _incarnation) workerRef.Tell(new DeleteKeys(held.Select(k => k.Key).ToList()));
            else AdoptKeys(worker, held);
        }
        var waiting = _unplaced.ToList();
        _unplaced.Clear();
        Place(waiting); // also hands held graph tasks to the new worker
    }

    private void HandleConnectClient(ConnectClient message)
    {
        if (Sender.IsNobody() || _workersByRef.ContainsKey(Sender))
        {
            _refusals.Refuse(Sender, message, "a client connects from its own actor, and a worker cannot be one");
            return;
        }
        if (!_clients.ContainsKey(Sender))
        {
            _clients[Sender] = new ClientState();
            Context.Watch(Sender);
        }
        Sender.Tell(new ClientConnected(_workers.Values.Select(w => w.Describe()).ToList(), message.RequestId));
    }

    /// <summary>
    /// Records the values a worker kept across a restart of the center. They have no lineage (the
    /// task that made each is unknown here): lost with their last holder, they cannot be made again.
    /// </summary>
    private void AdoptKeys(WorkerState worker, IReadOnlyList<StoredKey> held)
    {
        var refused = new List<string>();
        foreach (var stored in held)
        {
            // Being made again (the new value counts), or released by its client while the center was down.
            if (_tasks.ContainsKey(stored.Key) || _releasedBeforeReport.Remove(stored.Key)) { refused.Add(stored.Key); continue; }
            // A value this center made and knows the holders of is not taken from a report: a rejoining
            // worker adds itself only to values kept across the restart (a copy of one, say).
            if (_keys.ContainsKey(stored.Key) && !_adopted.Contains(stored.Key))
            {
                _refusals.Refuse(worker.Ref, new RegisterWorker(worker.Name, worker.Address, worker.Cores, worker.Data), $"it reported holding {stored.Key}, a value this center made elsewhere");
                continue;
            }
            if (!_keys.TryGetValue(stored.Key, out var key))
            {
                _keys[stored.Key] = key = new KeyState(stored.Key, stored.Size, stored.TypeName, ActorRefs.Nobody);
                _adopted.Add(stored.Key);
                _lost.Remove(stored.Key);
            }
            AddHolder(key, worker);
        }
        if (refused.Count > 0) worker.Ref.Tell(new DeleteKeys(refused));
        _log.Info("Worker {0} rejoined with {1} values kept across a restart of the center", worker.Name, held.Count - refused.Count);
        // A value whose client died or dropped it while the center was down is claimed by nobody and
        // would stay on the worker forever; live clients claim theirs when they reconnect.
        var adopted = held.Select(k => k.Key).Where(_adopted.Contains).ToList();
        if (adopted.Count > 0) Timers.StartSingleTimer($"unclaimed-{++_adoptions}", new ReleaseUnclaimedKeys(adopted), _unclaimedKeysGrace);
    }

    private void HandleReleaseUnclaimedKeys(ReleaseUnclaimedKeys message)
    {
        // Released or lost meanwhile, a key is no longer adopted; claimed, it is in its client's keys.
        var unclaimed = message.Keys.Where(k => _adopted.Contains(k) && !_clients.Values.Any(c => c.Keys.Contains(k))).ToList();
        if (unclaimed.Count == 0) return;
        // A warning, so that it shows at the default log level: data was deleted without a client asking.
        _log.Warning("Released {0} values kept across a restart of the center that no client claimed within {1} s", unclaimed.Count, _unclaimedKeysGrace.TotalSeconds);
        Release(unclaimed);
    }

    private void HandleClaimKeys(ClaimKeys message, ClientState client)
    {
        // A client claims (or releases) only what no other client has: its own values, kept across a
        // restart of the center, which this center knows no owner of.
        var keys = Claimable(client, message.Keys, message);
        if (message.Released is { Count: > 0 } releasedKeys && Claimable(client, releasedKeys, message) is { Count: > 0 } released)
        {
            _releasedBeforeReport.UnionWith(released.Where(k => !_keys.ContainsKey(k)));
            Release(released);
        }
        // Claimed before its worker rejoined, a key is the client's as soon as it is reported.
        client.Keys.UnionWith(keys);
        // Until a worker reports it (which clears this), a claimed value's only known story is that its
        // holder did not come back: it died while the center was down, and this center has no lineage.
        // One shared reason, not one string per key: a dead worker may have held millions of values.
        foreach (var key in keys)
            if (!_keys.ContainsKey(key) && !_tasks.ContainsKey(key))
                _lost.TryAdd(key, HolderGoneDuringRestart);
        Sender.Tell(new KeysClaimed(keys.Where(k => !_keys.ContainsKey(k)).ToList(), message.RequestId));
    }

    /// <summary>The keys <paramref name="client"/> may claim: its own, or kept across a restart and no other client's.</summary>
    private IReadOnlyList<string> Claimable(ClientState client, IReadOnlyList<string> keys, ClaimKeys message)
    {
        var claimable = new List<string>(keys.Count);
        foreach (var key in keys)
        {
            if (Owns(client, key)) claimable.Add(key);
            else if (OwnedByAnother(client, key) || (_keys.ContainsKey(key) && !_adopted.Contains(key)) || _tasks.ContainsKey(key))
                _refusals.Refuse(Sender, message, $"the key {key} belongs to another client");
            else claimable.Add(key);
        }
        return claimable;
    }

    private void HandleSubmitTasks(SubmitTasks message, ClientState client)
    {
        var clientRef = Sender;
        // Functions are shared by id between clients: an id is only taken with the bytes it hashes.
        var forged = new HashSet<string>(StringComparer.Ordinal);
        foreach (var function in message.Functions)
        {
            if (ContentAddress.IsIntact(function)) _functions.TryAdd(function.FunctionId, function);
            else forged.Add(function.FunctionId);
        }
        var codeProblem = message.Code.Assemblies.Select(ContentAddress.Problem).FirstOrDefault(p => p is not null);
        var ready = new List<PendingTask>();
        var refused = new List<FailedTask>();
        // A task may come before the tasks it depends on in the same submission.
        var submitted = message.Tasks.Select(t => t.Key).ToHashSet();
        foreach (var spec in message.Tasks)
        {
            if (_tasks.ContainsKey(spec.Key) || _keys.ContainsKey(spec.Key))
            {
                refused.Add(new FailedTask(spec.Key, Error(ErrorKind.DuplicateKey, $"The key {spec.Key} already exists on the cluster.")));
                continue;
            }
            if (codeProblem is not null)
            {
                refused.Add(new FailedTask(spec.Key, Error(ErrorKind.CodeShipping, $"Task {spec.Key} is refused: {codeProblem}")));
                continue;
            }
            if (forged.Contains(spec.FunctionId))
            {
                refused.Add(new FailedTask(spec.Key, Error(ErrorKind.CodeShipping, $"The function {spec.FunctionId} of task {spec.Key} is refused: its id is not the hash of its bytes.")));
                continue;
            }
            if (!_functions.ContainsKey(spec.FunctionId))
            {
                refused.Add(new FailedTask(spec.Key, Error(ErrorKind.MissingFunction, $"The function {spec.FunctionId} of task {spec.Key} was not sent.")));
                continue;
            }
            var task = new PendingTask(spec, clientRef, message.Code);
            // A task reads only its own client's values: another client's input counts as absent.
            var missing = spec.Dependencies.FirstOrDefault(d => !submitted.Contains(d) && !(Owns(client, d) && (_keys.ContainsKey(d) || _tasks.ContainsKey(d))));
            if (missing is not null)
            {
                refused.Add(new FailedTask(spec.Key, Error(ErrorKind.MissingInput, _lost.TryGetValue(missing, out var why)
                    ? $"The input of task {spec.Key} is not on the cluster: {why}"
                    : $"The input {missing} of task {spec.Key} is not on the cluster (it was released or lost).")));
                continue;
            }
            foreach (var dependency in UniqueInputs(spec.Dependencies))
                if (!_keys.ContainsKey(dependency)) WaitFor(task, dependency);
            _tasks[spec.Key] = task;
            client.PendingTasks.Add(spec.Key);
            if (task.WaitingFor == 0) ready.Add(task);
        }
        if (refused.Count > 0)
        {
            clientRef.Tell(new TasksFailed("center", refused));
            FailDependents(refused); // tasks of this submission that waited for a refused one
        }
        var inputs = ready.Where(t => t.Spec.Priority >= 0 && t.Spec.Dependencies.Count == 0).OrderBy(t => t.Spec.Priority).ToList();
        for (var rank = 0; rank < inputs.Count; rank++) inputs[rank].InputShare = (double)rank / inputs.Count;
        Place(ready);
    }

    private void HandleTasksFinished(TasksFinished message, WorkerState worker)
    {
        var ready = new List<PendingTask>();
        var orphans = new List<string>();
        var consumed = new List<string>();
        var byClient = new Dictionary<IActorRef, List<StoredKey>>();
        foreach (var result in message.Results)
        {
            if (!_tasks.TryGetValue(result.Key, out var task))
            {
                orphans.Add(result.Key); // its client left or released it while it ran
                continue;
            }
            if (task.AssignedTo != worker)
            {
                // Only the worker a task was sent to makes its value: nobody else can put one under its key.
                _refusals.Refuse(Sender, message, $"it reported {result.Key}, a task it was not given");
                continue;
            }
            _tasks.Remove(result.Key);
            if (task.AssignedTo is { } assigned) assigned.Unload(task);
            if (!_clients.TryGetValue(task.Client, out var client))
            {
                orphans.Add(result.Key);
                continue;
            }
            client.PendingTasks.Remove(result.Key);
            client.Keys.Add(result.Key);
            _parked.Remove(task);
            var key = new KeyState(result.Key, result.Size, result.TypeName, task.Client) { RemainingConsumers = task.RemakeForConsumers ?? task.Spec.ReleaseAfterConsumers };
            _keys[result.Key] = key;
            if (task.RemakeForConsumers is null) RecordLineage(task);
            ConsumeInputs(task, consumed);
            AddHolder(key, worker);
            if (_dependents.Remove(result.Key, out var dependents))
                foreach (var dependent in dependents)
                    if (IsCurrent(dependent) && --dependent.WaitingFor == 0) ready.Add(dependent);
            // An intermediate is the center's business only: the client waits for what it keeps; a
            // value made again after a worker died was already reported once.
            if (task.Spec.ReleaseAfterConsumers > 0 || task.RemakeForConsumers is not null) continue;
            if (!byClient.TryGetValue(task.Client, out var finished)) byClient[task.Client] = finished = [];
            finished.Add(result);
        }
        if (orphans.Count > 0) worker.Ref.Tell(new DeleteKeys(orphans));
        MeasureRate(worker, message.Results.Count);
        // Consumed inputs first, so that the window sees the memory they free; then dependents,
        // whose placement does not wait for the client.
        if (consumed.Count > 0) Release(consumed);
        Place(ready);
        // The client fetches from the worker this center registered, whatever the report says.
        foreach (var (client, results) in byClient)
            client.Tell(new TasksFinished(worker.Name, worker.Data, results));
        AnswerWaitingWhoHas();
    }

    private bool IsCurrent(PendingTask task) => _tasks.TryGetValue(task.Spec.Key, out var current) && current == task;

    /// <summary>Makes <paramref name="task"/> wait for <paramref name="input"/>: it is ready again once that key is stored.</summary>
    private void WaitFor(PendingTask task, string input)
    {
        task.WaitingFor++;
        if (!_dependents.TryGetValue(input, out var waiting)) _dependents[input] = waiting = [];
        waiting.Add(task);
    }

    /// <summary>Keeps how a value was made, and counts it as a reader of its inputs' lineages.</summary>
    private void RecordLineage(PendingTask task)
    {
        _lineage[task.Spec.Key] = new Lineage(task);
        foreach (var input in UniqueInputs(task.Spec.Dependencies))
            if (_lineage.TryGetValue(input, out var parent)) parent.References++;
    }

    /// <summary>A task's inputs, each once: most tasks have zero to a few distinct inputs, and allocate nothing here.</summary>
    private static IReadOnlyList<string> UniqueInputs(IReadOnlyList<string> inputs)
    {
        if (inputs.Count <= 1) return inputs;
        if (inputs.Count <= 8)
        {
            for (var i = 1; i < inputs.Count; i++)
                for (var j = 0; j < i; j++)
                    if (string.Equals(inputs[i], inputs[j], StringComparison.Ordinal)) return inputs.Distinct().ToList();
            return inputs;
        }
        return inputs.Distinct().ToList();
    }

    /// <summary>A value was released or consumed: its lineage, and upstream what only it needed, is forgotten.</summary>
    private void ForgetLineage(string keyName)
    {
        if (!_lineage.TryGetValue(keyName, out var node) || !node.Live) return;
        node.Live = false;
        if (--node.References > 0) return;
        _lineage.Remove(keyName);
        if (node.Producer.Spec.Dependencies.Count == 0) return; // most values: nothing upstream
        var unreferenced = new Stack<Lineage>();
        unreferenced.Push(node);
        while (unreferenced.TryPop(out var next))
        {
            foreach (var input in UniqueInputs(next.Producer.Spec.Dependencies))
            {
                if (!_lineage.TryGetValue(input, out var parent) || --parent.References > 0) continue;
                _lineage.Remove(input);
                unreferenced.Push(parent);
            }
        }
    }

    /// <summary>Fails tasks, as <paramref name="reporter"/> reported or (null) as this center decided.</summary>
    private void FailTasks(IReadOnlyList<FailedTask> reported, WorkerState? reporter)
    {
        var byClient = new Dictionary<IActorRef, List<FailedTask>>();
        var retried = new List<PendingTask>();
        var failures = new List<FailedTask>();
        foreach (var failure in reported)
        {
            if (!_tasks.TryGetValue(failure.Key, out var task)) continue;
            if (reporter is not null && task.AssignedTo != reporter) continue; // it was sent elsewhere meanwhile
            // An input that could not be fetched is the cluster's failure, not the task's: most often
            // its holder just died. The task waits for it to be found or made again.
            if (reporter is not null && failure.Error.Kind == ErrorKind.InputLost && task.InputRetries < MaxInputRetries)
            {
                retried.Add(task);
                continue;
            }
            failures.Add(failure);
            _tasks.Remove(failure.Key);
            if (task.AssignedTo is { } assigned) assigned.Unload(task);
            _parked.Remove(task);
            if (_clients.TryGetValue(task.Client, out var client)) client.PendingTasks.Remove(failure.Key);
            if (!byClient.TryGetValue(task.Client, out var failed)) byClient[task.Client] = failed = [];
            failed.Add(failure);
        }
        foreach (var (client, failed) in byClient) client.Tell(new TasksFailed(reporter?.Name ?? "center", failed));
        FailDependents(failures);
        foreach (var task in retried) RetryAfterInputLoss(task, reporter!);
        Place([]); // freed room for held tasks
        AnswerWaitingWhoHas();
    }

    /// <summary>Deaths of the workers running one task after which it fails instead of running again.</summary>
    private const int MaxWorkerDeaths = 3;

    private const int MaxInputRetries = 20;

    /// <summary>
    /// Takes back a task whose worker could not fetch an input: it waits for inputs being made
    /// again, and the holders of the others are probed; it goes out again once they are sorted out.
    /// </summary>
    private void RetryAfterInputLoss(PendingTask task, WorkerState reporter)
    {
        task.InputRetries++;
        reporter.Unload(task);
        task.AssignedTo = null;
        foreach (var input in UniqueInputs(task.Spec.Dependencies))
        {
            if (_keys.TryGetValue(input, out var key))
            {
                foreach (var holder in key.Holders) if (holder != reporter) Probe(holder);
                continue;
            }
            if (!_tasks.ContainsKey(input)) continue; // gone for good: running it again reports that
            WaitFor(task, input);
        }
        _parked.Add(task);
        if (_probing.Count == 0) PlaceParked(); // nothing to wait for: the input is there again
    }

    /// <summary>Sends out again the tasks taken back for an input loss that wait for nothing now.</summary>
    private void PlaceParked()
    {
        var ready = _parked.Where(t => IsCurrent(t) && t.WaitingFor == 0 && t.AssignedTo is null).ToList();
        _parked.Clear();
        Place(ready);
    }

    /// <summary>Fails, transitively, the tasks waiting for these failed (or dropped) ones, telling their clients why.</summary>
    private void FailDependents(IEnumerable<FailedTask> causes)
    {
        var cascade = new Dictionary<IActorRef, List<FailedTask>>();
        var failed = new Queue<FailedTask>(causes);
        while (failed.TryDequeue(out var failure))
        {
            if (!_dependents.Remove(failure.Key, out var dependents)) continue;
            // Tasks that needed the failed result can never run: fail them too, naming the cause.
            foreach (var dependent in dependents)
            {
                var error = failure.Error with { Message = $"Input {failure.Key} of {dependent.Spec.Key} failed: {failure.Error.Message}" };
                var dependentFailure = new FailedTask(dependent.Spec.Key, error);
                if (!_tasks.Remove(dependent.Spec.Key)) continue;
                if (dependent.AssignedTo is { } assigned) assigned.Unload(dependent);
                if (_clients.TryGetValue(dependent.Client, out var owner)) owner.PendingTasks.Remove(dependent.Spec.Key);
                if (!cascade.TryGetValue(dependent.Client, out var list)) cascade[dependent.Client] = list = [];
                list.Add(dependentFailure);
                failed.Enqueue(dependentFailure);
            }
        }
        foreach (var (client, failures) in cascade) client.Tell(new TasksFailed("center", failures));
    }

    private void HandleKeysAdded(KeysAdded message, WorkerState worker)
    {
        Replication? replication = null;
        if (message.ReplicationId is { } id && (!_replications.TryGetValue(id, out replication) || replication.Target != worker))
        {
            _refusals.Refuse(Sender, message, $"it answered replication {id}, which it was not asked for");
            return;
        }
        if (replication is not null) _replications.Remove(message.ReplicationId!.Value);
        var unknown = new List<string>();
        foreach (var stored in message.Keys)
        {
            // A worker holds a copy only of what this center told it to fetch: nobody else becomes a holder.
            if (!worker.ExpectedCopies.Remove(stored.Key))
            {
                _refusals.Refuse(Sender, message, $"it reported a copy of {stored.Key}, which it was not told to fetch");
                continue;
            }
            if (_keys.TryGetValue(stored.Key, out var key)) AddHolder(key, worker);
            else unknown.Add(stored.Key);
        }
        if (unknown.Count > 0) worker.Ref.Tell(new DeleteKeys(unknown));
        if (replication is null) return;
        var error = message.Error ?? (unknown.Count == 0 ? null : $"The keys {string.Join(", ", unknown)} were released while being copied.");
        replication.Asker.Tell(new ReplicationFinished(replication.Keys, error, replication.RequestId));
    }

    private void HandleReplicateKeys(ReplicateKeys message, ClientState client)
    {
        if (!_workers.TryGetValue(message.Worker, out var target))
        {
            Sender.Tell(new ReplicationFinished(message.Keys, $"There is no worker named {message.Worker}.", message.RequestId));
            return;
        }
        var inputs = new List<RemoteInput>();
        foreach (var keyName in message.Keys)
        {
            if (!Owns(client, keyName) || !_keys.TryGetValue(keyName, out var key) || key.Holders.Count == 0)
            {
                if (OwnedByAnother(client, keyName)) _refusals.Refuse(Sender, message, $"the key {keyName} belongs to another client");
                Sender.Tell(new ReplicationFinished(message.Keys, $"The key {keyName} is not on the cluster.", message.RequestId));
                return;
            }
            if (!key.Holders.Contains(target)) inputs.Add(new RemoteInput(keyName, key.Holders.Select(h => h.Data).ToList()));
        }
        if (inputs.Count == 0)
        {
            Sender.Tell(new ReplicationFinished(message.Keys, null, message.RequestId));
            return;
        }
        var id = ++_nextReplication;
        _replications[id] = new Replication(Sender, message.RequestId, target, message.Keys);
        foreach (var input in inputs) target.ExpectedCopies.Add(input.Key);
        target.Ref.Tell(new FetchKeys(inputs, id));
    }

    private void HandleReleaseKeys(ReleaseKeys message, ClientState client)
    {
        var own = OwnKeys(client, message.Keys, message);
        if (own.Count > 0) Release(own);
    }

    private void HandleWhoHas(WhoHas message, ClientState client)
    {
        OwnKeys(client, message.Keys, message); // logs a question about another client's keys
        // A value being made again (its only copy died) is answered once it exists again.
        if (message.Keys.Any(k => _tasks.ContainsKey(k) && Owns(client, k)))
        {
            _whoHasWaiting.Add((Sender, message));
            return;
        }
        AnswerWhoHas(Sender, message);
    }

    private void AnswerWaitingWhoHas()
    {
        if (_whoHasWaiting.Count == 0) return;
        var answerable = _whoHasWaiting.Where(w => !w.Question.Keys.Any(_tasks.ContainsKey) || !_clients.ContainsKey(w.Asker)).ToList();
        foreach (var waiting in answerable)
        {
            _whoHasWaiting.Remove(waiting);
            AnswerWhoHas(waiting.Asker, waiting.Question);
        }
    }

    private void AnswerWhoHas(IActorRef asker, WhoHas message)
    {
        if (!_clients.TryGetValue(asker, out var client)) return; // gone while it waited
        var holders = new Dictionary<string, IReadOnlyList<WorkerInfo>>();
        Dictionary<string, string>? lost = null;
        foreach (var key in message.Keys)
        {
            // Another client's key is answered as one nobody holds.
            if (!Owns(client, key))
            {
                holders[key] = [];
                continue;
            }
            holders[key] = _keys.TryGetValue(key, out var state) ? state.Holders.Select(h => h.Describe()).ToList() : [];
            if (_lost.TryGetValue(key, out var why)) (lost ??= [])[key] = why;
        }
        asker.Tell(new WhoHasReply(holders, lost, message.RequestId));
    }

    private void HandleGetWorkers(GetWorkers message, ClientState client)
    {
        // A client sees the keys of its own values only: other clients' key names are theirs.
        var keys = message.IncludeKeys
            ? _workers.Values.ToDictionary(w => w.Name, w => (IReadOnlyList<string>)w.Keys.Where(client.Keys.Contains).OrderBy(k => k, StringComparer.Ordinal).ToList())
            : new Dictionary<string, IReadOnlyList<string>>();
        Sender.Tell(new WorkersReply(_workers.Values.Select(w => w.Describe()).ToList(), keys, message.RequestId));
    }

    private void HandleTerminated(Terminated message)
    {
        if (_workersByRef.ContainsKey(message.ActorRef)) HandleWorkerGone(message.ActorRef);
        else if (_clients.ContainsKey(message.ActorRef)) HandleClientGone(message.ActorRef);
    }

    private void HandleWorkerGone(IActorRef workerRef)
    {
        if (!_workersByRef.Remove(workerRef, out var worker)) return;
        _workers.Remove(worker.Name);
        _workersInOrder = null;
        _probing.Remove(worker.Name);
        _log.Warning("Worker {0} at {1} is gone", worker.Name, worker.Address);
        foreach (var (id, replication) in _replications.Where(r => r.Value.Target == worker).ToList())
        {
            _replications.Remove(id);
            replication.Asker.Tell(new ReplicationFinished(replication.Keys, $"Worker {worker.Name} left the cluster.", replication.RequestId));
        }
        var lost = new Dictionary<string, int>(); // key → reads it still owed
        foreach (var keyName in worker.Keys)
        {
            if (!_keys.TryGetValue(keyName, out var key)) continue;
            key.Holders.Remove(worker);
            if (key.Holders.Count > 0) continue;
            lost[keyName] = key.RemainingConsumers;
            _keys.Remove(keyName);
        }
        // Every value whose only copy died is made again from its lineage, upstream as far as needed,
        // without telling its client, which already has its completion.
        var ready = new List<PendingTask>();
        var remakes = new HashSet<PendingTask>();
        var unrecoverable = new List<FailedTask>();
        foreach (var (keyName, consumers) in lost) Remake(keyName, consumers, worker, ready, remakes, unrecoverable);
        // Tasks that have not run yet and read a lost value wait for it again; those that were running
        // on the dead worker run again elsewhere. Tasks sent to live workers are left alone: an input
        // they cannot fetch brings them back (RetryAfterInputLoss).
        var killers = new List<FailedTask>();
        foreach (var task in _tasks.Values)
        {
            if (remakes.Contains(task)) continue;
            var wasRunningThere = task.AssignedTo == worker;
            if (task.AssignedTo is not null && !wasRunningThere) continue;
            task.AssignedTo = null;
            // A task that takes its worker down every time must not take the cluster down worker by worker.
            if (wasRunningThere && ++task.WorkerDeaths >= MaxWorkerDeaths)
            {
                killers.Add(new FailedTask(task.Spec.Key, Error(ErrorKind.WorkerDeath,
                    $"{task.Spec.Key} was running on {task.WorkerDeaths} workers that died (the last: {worker.Name}); it is not run again.")));
                continue;
            }
            foreach (var input in UniqueInputs(task.Spec.Dependencies))
                if (lost.ContainsKey(input)) WaitFor(task, input);
            if (wasRunningThere && task.WaitingFor == 0) ready.Add(task);
        }
        while (NextHeld(worker) is { } held) ready.Add(held); // never sent: they wait for another worker
        if (killers.Count > 0) FailTasks(killers, null);
        if (unrecoverable.Count > 0) FailDependents(unrecoverable);
        Place(ready);
        AnswerWaitingWhoHas();
    }

    /// <summary>
    /// Makes <paramref name="keyName"/> again from the task that made it, after its only copy died
    /// with <paramref name="worker"/>; its inputs that are gone too are made again first.
    /// </summary>
    private void Remake(string keyName, int consumers, WorkerState worker, List<PendingTask> ready, HashSet<PendingTask> remakes, List<FailedTask> unrecoverable)
    {
        if (_tasks.TryGetValue(keyName, out var existing))
        {
            // Already being made again: one more reader, unless it is kept anyway (0 = until released).
            if (existing.RemakeForConsumers is > 0) existing.RemakeForConsumers += consumers;
            return;
        }
        if (!_lineage.TryGetValue(keyName, out var lineage) || !_clients.TryGetValue(lineage.Producer.Client, out var client))
        {
            var why = _adopted.Remove(keyName)
                ? $"{keyName} was lost with worker {worker.Name} and cannot be made again: it was made before the center restarted, so the task that made it is not known."
                : $"{keyName} was lost with worker {worker.Name} and cannot be made again (its task is not known any more).";
            _lost[keyName] = why;
            unrecoverable.Add(new FailedTask(keyName, Error(ErrorKind.DataLost, why)));
            return;
        }
        var producer = lineage.Producer;
        var task = new PendingTask(producer.Spec, producer.Client, producer.Code) { RemakeForConsumers = consumers, InputShare = producer.InputShare };
        _tasks[keyName] = task;
        client.PendingTasks.Add(keyName);
        remakes.Add(task);
        foreach (var input in UniqueInputs(producer.Spec.Dependencies))
        {
            if (_keys.TryGetValue(input, out var key))
            {
                if (key.RemainingConsumers > 0) key.RemainingConsumers++; // this run reads it once more
                continue;
            }
            Remake(input, 1, worker, ready, remakes, unrecoverable);
            WaitFor(task, input);
        }
        if (task.WaitingFor == 0) ready.Add(task);
    }

    private void HandleDisassociated(DisassociatedEvent message)
    {
        // A killed worker's connection drops at once, long before heartbeats are missed: look closer.
        foreach (var worker in _workers.Values)
            if (worker.Ref.Path.Address.Equals(message.RemoteAddress)) Probe(worker);
        // The same for a killed client program: its queued tasks are dropped and its data released
        // now rather than after the failure detector. A client has no data port; its Akka port serves.
        foreach (var clientRef in _clients.Keys)
        {
            var address = clientRef.Path.Address;
            if (!address.Equals(message.RemoteAddress) || address.Host is not { } host || address.Port is not { } port) continue;
            ProbeAsync(new DataEndpoint(host, port)).PipeTo(Self, success: alive => new ClientProbeResult(clientRef, alive), failure: _ => new ClientProbeResult(clientRef, true));
        }
    }

    /// <summary>
    /// Tries to connect to the worker's data port. Refused means its process is gone (the kernel
    /// answers for a live or paused one): it is downed at once. A timeout proves nothing and is left
    /// to the failure detector.
    /// </summary>
    private void Probe(WorkerState worker)
    {
        if (!_probing.Add(worker.Name)) return;
        var workerRef = worker.Ref;
        var data = worker.Data;
        ProbeAsync(data).PipeTo(Self, success: alive => new ProbeResult(workerRef, alive), failure: _ => new ProbeResult(workerRef, true));
    }

    private static async Task<bool> ProbeAsync(DataEndpoint data)
    {
        using var client = new TcpClient();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(2));
        try
        {
            await client.ConnectAsync(data.Host, data.Port, timeout.Token).ConfigureAwait(false);
            return true;
        }
        catch (SocketException e) when (e.SocketErrorCode == SocketError.ConnectionRefused)
        {
            return false;
        }
        catch (Exception e) when (e is SocketException or OperationCanceledException)
        {
            return true;
        }
    }

    private void HandleProbeResult(ProbeResult message)
    {
        if (_workersByRef.TryGetValue(message.Worker, out var worker))
        {
            _probing.Remove(worker.Name);
            if (!message.Alive)
            {
                _log.Warning("Worker {0} at {1} refuses connections: its process is gone", worker.Name, worker.Address);
                Cluster.Get(Context.System).Down(worker.Ref.Path.Address);
                HandleWorkerGone(worker.Ref);
            }
        }
        if (_probing.Count == 0) PlaceParked();
    }

    private void HandleClientProbeResult(ClientProbeResult message)
    {
        if (message.Alive || !_clients.ContainsKey(message.Client)) return;
        _log.Warning("Client at {0} refuses connections: its process is gone; its tasks are dropped and its data released", message.Client.Path.Address);
        Cluster.Get(Context.System).Down(message.Client.Path.Address);
        HandleClientGone(message.Client);
    }

    private void HandleClientGone(IActorRef clientRef)
    {
        if (!_clients.Remove(clientRef, out var client)) return;
        Context.Unwatch(clientRef);
        var dropped = new List<PendingTask>();
        foreach (var taskKey in client.PendingTasks)
        {
            if (!_tasks.Remove(taskKey, out var task)) continue;
            if (task.AssignedTo is { } assigned) assigned.Unload(task);
            _dependents.Remove(taskKey);
            dropped.Add(task);
        }
        CancelOnWorkers(dropped);
        ReleaseOwned(client.Keys.ToList());
        Place([]);
        AnswerWaitingWhoHas();
    }

    private void Release(IReadOnlyList<string> keys)
    {
        foreach (var client in _clients.Values) client.Keys.ExceptWith(keys);
        // A released task that has not finished is dropped; if it is running, its result is deleted
        // when it arrives (it is then an orphan). Tasks waiting for it fail: their input is gone.
        var dropped = new List<FailedTask>();
        var droppedTasks = new List<PendingTask>();
        foreach (var keyName in keys)
        {
            if (!_tasks.Remove(keyName, out var task)) continue;
            if (task.AssignedTo is { } assigned) assigned.Unload(task);
            if (_clients.TryGetValue(task.Client, out var owner)) owner.PendingTasks.Remove(keyName);
            dropped.Add(new FailedTask(keyName, Error(ErrorKind.Released, $"{keyName} was released before it finished.")));
            droppedTasks.Add(task);
        }
        CancelOnWorkers(droppedTasks);
        if (dropped.Count > 0) FailDependents(dropped);
        ReleaseOwned(keys);
        if (dropped.Count > 0) Place([]);
        AnswerWaitingWhoHas();
    }

    /// <summary>Tells the workers that were sent dropped tasks not to run them, or at least not to keep their results.</summary>
    private static void CancelOnWorkers(IEnumerable<PendingTask> dropped)
    {
        foreach (var group in dropped.Where(t => t.AssignedTo is not null).GroupBy(t => t.AssignedTo!))
            group.Key.Ref.Tell(new CancelTasks(group.Select(t => t.Spec.Key).ToList()));
    }

    private void ReleaseOwned(IReadOnlyList<string> keys)
    {
        var byWorker = new Dictionary<WorkerState, List<string>>();
        foreach (var keyName in keys)
        {
            ForgetLineage(keyName);
            _adopted.Remove(keyName);
            _lost.Remove(keyName);
            if (!_keys.Remove(keyName, out var key)) continue;
            foreach (var worker in _workers.Values) worker.ExpectedCopies.Remove(keyName);
            foreach (var holder in key.Holders)
            {
                holder.Keys.Remove(keyName);
                holder.StoredBytes -= key.Size;
                if (key.IsIntermediate) holder.HeldIntermediates--;
                if (!byWorker.TryGetValue(holder, out var list)) byWorker[holder] = list = [];
                list.Add(keyName);
            }
        }
        foreach (var (worker, list) in byWorker) worker.Ref.Tell(new DeleteKeys(list));
    }

    /// <summary>Counts a finished task as one read of each of its inputs; intermediates read by all their consumers are collected.</summary>
    private void ConsumeInputs(PendingTask task, List<string> consumed)
    {
        foreach (var input in UniqueInputs(task.Spec.Dependencies))
            if (_keys.TryGetValue(input, out var key) && key.RemainingConsumers > 0 && --key.RemainingConsumers == 0)
                consumed.Add(input);
    }

    private static void AddHolder(KeyState key, WorkerState worker)
    {
        if (key.Holders.Contains(worker)) return;
        key.Holders.Add(worker);
        worker.Keys.Add(key.Key);
        worker.StoredBytes += key.Size;
        if (key.RemainingConsumers > 0) key.IsIntermediate = true;
        if (key.IsIntermediate) worker.HeldIntermediates++;
    }

    private void Place(IReadOnlyCollection<PendingTask> ready)
    {
        if (_workers.Count == 0)
        {
            foreach (var task in ready) _unplaced.Enqueue(task);
            return;
        }
        var batches = new Dictionary<(WorkerState Worker, IActorRef Client, string Version), List<PendingTask>>();
        foreach (var task in ready)
        {
            if (task.Spec.Priority >= 0)
            {
                // A graph task waits in the queue of the worker it is meant for until that worker has room.
                // Balance comes from the windows and from idle workers taking held tasks, so a graph
                // task simply goes where its inputs are.
                var target = task.InputShare is { } share ? WorkerForInput(share) : Choose(task, _workers.Values, balance: false);
                target.Held.Enqueue(task, task.Spec.Priority);
                continue;
            }
            // A Map or Apply task too waits in its worker's queue, so that a worker that joins or
            // runs short later can take it: only a window of tasks is sent ahead to each worker.
            Choose(task, _workers.Values).Held.Enqueue(task, UnorderedPriority + _unorderedSequence++);
        }
        // Graph tasks go out only while their worker has room, lowest priority first: a task that
        // finishes a branch overtakes the inputs of branches not yet started, which is what keeps a
        // wide graph's intermediates few. A worker with room and nothing of its own takes the next
        // task of the worker with the most waiting.
        foreach (var worker in _workers.Values)
        {
            while (NextHeld(worker, worker) is { } next) Assign(next, worker, batches);
        }
        foreach (var worker in _workers.Values)
        {
            while (worker.Held.Count == 0)
            {
                // Only from a busier worker: a worker with a large window must not empty the queue of
                // one with a small window that will get to its tasks as soon.
                var victim = _workers.Values.MaxBy(w => w.Held.Count);
                if (victim is null || victim.Busyness <= worker.Busyness + 1.0 / worker.Cores || NextHeld(victim, worker) is not { } stolen) break;
                Assign(stolen, worker, batches);
            }
        }
        foreach (var ((worker, client, _), tasks) in batches)
            for (var start = 0; start < tasks.Count; start += MaxTasksPerMessage)
                worker.Ref.Tell(Batch(worker, client, tasks.Skip(start).Take(MaxTasksPerMessage).ToList()));
    }

    /// <summary>Graph tasks a worker may always have at once: enough to keep its threads and the pipe busy, few enough to bound memory.</summary>
    private static int OrderedWindow(WorkerState worker) => Math.Max(16, worker.Cores * 16);

    /// <summary>
    /// Map and Apply tasks a worker may have at once: as many as for a graph, or as many as it
    /// finishes in <see cref="WindowSeconds"/> when that is more (tiny tasks then travel in large
    /// batches), but beyond that never more than half of its queue, so that a worker that joins or
    /// runs short can still take a share (a rate measured on quick tasks can overstate slow ones).
    /// </summary>
    private static int UnorderedWindow(WorkerState worker) =>
        Math.Max(OrderedWindow(worker), (int)Math.Min(Math.Min(MaxWindow, worker.TasksPerSecond * WindowSeconds), (worker.Load + worker.Held.Count) / 2));

    /// <summary>
    /// Whether <paramref name="worker"/> may be sent <paramref name="task"/> now. A graph task always
    /// fits in the fixed window; beyond it, up to the rate-sized window, a task that frees an input
    /// (it is the last reader of one) goes, and a task that adds a value (<see cref="PendingTask.AddsValue"/>,
    /// set just before) only while the worker has few such tasks in flight and few unread
    /// intermediates: graph inputs cannot run far ahead of the tasks that read them.
    /// </summary>
    private bool HasRoomFor(PendingTask task, WorkerState worker)
    {
        if (task.Spec.Priority < 0) return worker.Load < UnorderedWindow(worker);
        if (worker.Load < OrderedWindow(worker)) return true;
        if (worker.Load >= UnorderedWindow(worker)) return false;
        return !task.AddsValue || worker.AddingInFlight + worker.HeldIntermediates < IntermediatesWindow(worker);
    }

    /// <summary>Value-adding graph tasks in flight plus unread intermediates a worker may have before more such tasks wait beyond the fixed window.</summary>
    private static int IntermediatesWindow(WorkerState worker) => worker.Cores * IntermediatesPerCore;

    private const int IntermediatesPerCore = 64;

    /// <summary>Whether running the task lets an input be deleted: it is the last task to read it.</summary>
    private bool FreesAnInput(PendingTask task)
    {
        foreach (var input in task.Spec.Dependencies)
            if (_keys.TryGetValue(input, out var key) && key.RemainingConsumers == 1) return true;
        return false;
    }

    private const double WindowSeconds = 0.25;
    private static readonly TimeSpan StaleRate = TimeSpan.FromSeconds(1);
    private const int MaxWindow = 16_384;

    /// <summary>Map and Apply tasks wait behind graph tasks in a worker's queue, in their order of arrival.</summary>
    private const long UnorderedPriority = 1L << 48;
    private long _unorderedSequence;

    /// <summary>Updates the worker's finishing rate with <paramref name="finished"/> tasks reported now.</summary>
    private static void MeasureRate(WorkerState worker, int finished)
    {
        var now = Stopwatch.GetTimestamp();
        var since = worker.RateSince;
        worker.RateSince = now;
        if (since == 0 || finished == 0) return;
        var rate = finished / Math.Max(Stopwatch.GetElapsedTime(since, now).TotalSeconds, 0.001);
        worker.TasksPerSecond = worker.TasksPerSecond == 0 ? rate : 0.7 * worker.TasksPerSecond + 0.3 * rate;
    }

    private static void Assign(PendingTask task, WorkerState worker, Dictionary<(WorkerState Worker, IActorRef Client, string Version), List<PendingTask>> batches)
    {
        task.AssignedTo = worker;
        if (worker.Load == 0)
        {
            // Idle time is not counted against its rate, and after a pause the rate of earlier work
            // (tiny warm-up tasks, say) says nothing about the next: the window starts small again.
            var now = Stopwatch.GetTimestamp();
            if (worker.RateSince != 0 && Stopwatch.GetElapsedTime(worker.RateSince, now) > StaleRate) worker.TasksPerSecond = 0;
            worker.RateSince = now;
        }
        worker.Load++;
        if (task.AddsValue) worker.AddingInFlight++;
        var group = (worker, task.Client, task.Code.Version);
        if (!batches.TryGetValue(group, out var list)) batches[group] = list = [];
        list.Add(task);
    }

    private RunTasks Batch(WorkerState worker, IActorRef client, List<PendingTask> tasks)
    {
        var functions = new Dictionary<string, FunctionSpec>();
        var remote = new Dictionary<string, RemoteInput>();
        foreach (var task in tasks)
        {
            functions.TryAdd(task.Spec.FunctionId, _functions[task.Spec.FunctionId]);
            foreach (var dependency in task.Spec.Dependencies)
            {
                if (remote.ContainsKey(dependency) || !_keys.TryGetValue(dependency, out var key) || key.Holders.Contains(worker)) continue;
                remote[dependency] = new RemoteInput(dependency, key.Holders.Select(h => h.Data).ToList());
                worker.ExpectedCopies.Add(dependency);
            }
        }
        return new RunTasks(client, tasks[0].Code, functions.Values.ToList(), tasks.Select(t => t.Spec).ToList(), remote.Values.ToList());
    }

    /// <summary>
    /// Graph inputs next to each other in the graph's order are siblings: each worker takes one
    /// contiguous share of them, so the tasks that combine them find their inputs in place instead of
    /// fetching every other one (a worker that runs out of its own work takes from the others).
    /// </summary>
    private WorkerState WorkerForInput(double share)
    {
        _workersInOrder ??= _workers.Values.OrderBy(w => w.Name, StringComparer.Ordinal).ToArray();
        return _workersInOrder[Math.Min(_workersInOrder.Length - 1, (int)(share * _workersInOrder.Length))];
    }

    /// <summary>The held task of <paramref name="source"/> to send to <paramref name="target"/> next, if the target has room for it.</summary>
    private PendingTask? NextHeld(WorkerState source, WorkerState target)
    {
        while (source.Held.TryPeek(out var next, out _))
        {
            if (!IsSendable(next))
            {
                source.Held.Dequeue(); // dropped, failed or placed meanwhile
                continue;
            }
            next.AddsValue = next.Spec.Priority >= 0 && !FreesAnInput(next);
            if (!HasRoomFor(next, target)) return null;
            source.Held.Dequeue();
            return next;
        }
        return null;
    }

    /// <summary>The held task of <paramref name="worker"/> to run next, skipping those dropped or failed meanwhile.</summary>
    private PendingTask? NextHeld(WorkerState worker)
    {
        while (worker.Held.TryDequeue(out var next, out _))
            if (IsSendable(next))
                return next;
        return null;
    }

    /// <summary>Whether a held task may still go out: not dropped or failed, not placed, and its inputs are there.</summary>
    private bool IsSendable(PendingTask task) => IsCurrent(task) && task.AssignedTo is null && task.WaitingFor == 0;

    /// <summary>
    /// The worker holding most of the task's input bytes, unless it is much busier than the least busy
    /// worker (moving inputs is cheaper than waiting behind a long queue); otherwise the least busy.
    /// </summary>
    private WorkerState Choose(PendingTask task, IReadOnlyCollection<WorkerState> among, bool balance = true)
    {
        WorkerState? leastBusy = null;
        foreach (var worker in among)
            if (leastBusy is null || worker.Busyness < leastBusy.Busyness) leastBusy = worker;
        if (task.Spec.Dependencies.Count == 0) return leastBusy!;
        WorkerState? holder = null;
        long holderBytes = -1;
        Dictionary<WorkerState, long>? bytes = null;
        foreach (var dependency in task.Spec.Dependencies)
        {
            if (!_keys.TryGetValue(dependency, out var key)) continue;
            bytes ??= [];
            foreach (var h in key.Holders)
            {
                if (!among.Contains(h)) continue;
                var total = bytes[h] = bytes.GetValueOrDefault(h) + Math.Max(1, key.Size);
                if (total > holderBytes) (holder, holderBytes) = (h, total);
            }
        }
        if (holder is null) return leastBusy!;
        return !balance || holder.Busyness <= leastBusy!.Busyness + BusyMargin ? holder : leastBusy!;
    }

    /// <summary>How many more queued tasks per core a holder may have before its input is moved instead.</summary>
    private const double BusyMargin = 8;

    private static RemoteError Error(ErrorKind kind, string message) => RemoteError.Of(kind, message);
}
