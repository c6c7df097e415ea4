using Distributed.Protocol;

namespace Distributed.Center.Core;

/// <summary>
/// The center's decisions, with no actor, network or clock of its own: <see cref="Handle"/> takes one
/// event (a worker's or a client's message, a worker or client gone, a probe's answer, a timer) and
/// returns the commands that follow from it (messages to send, probes, timers, log lines), in order.
/// The same events in the same order give the same commands, which is what lets the simulation
/// reproduce any run from its seed.
/// </summary>
/// <remarks>
/// Parts, each in its own file: <see cref="WorkerRegistry"/> and <see cref="ClientRegistry"/> (who is
/// there), <see cref="KeyTable"/> (what is stored where), <see cref="TaskTable"/> (what is pending,
/// with one removal path), <see cref="LineageGraph"/> (how to make a lost value again),
/// <see cref="Placement"/> (where and when tasks run); recovery from lost workers and inputs
/// (CenterCore.Recovery.cs), adoption after a restart (CenterCore.Adoption.cs) and the clients'
/// questions (CenterCore.Queries.cs).
/// </remarks>
public sealed partial class CenterCore
{
    private readonly CenterSettings _settings;
    private readonly string _centerAddress;
    private readonly string _incarnation;
    private readonly List<CenterCommand> _commands = [];
    private readonly WorkerRegistry _workers = new();
    private readonly ClientRegistry _clients = new();
    private readonly KeyTable _keys = new();
    private readonly TaskTable _tasks = new();
    private readonly LineageGraph _lineage = new();
    private readonly Dictionary<string, FunctionSpec> _functions = [];
    private readonly Placement _placement;

    /// <summary>
    /// Creates the core of the center at <paramref name="centerAddress"/> (host:port, told to workers).
    /// <paramref name="incarnation"/> names this run of the center: a worker that rejoins tells which
    /// center it knew, so that a restart is told from a downing.
    /// </summary>
    public CenterCore(CenterSettings settings, TimeProvider clock, string centerAddress, string incarnation)
    {
        _settings = settings.Checked();
        _centerAddress = centerAddress;
        _incarnation = incarnation;
        _placement = new Placement(_settings, clock, _workers, _keys, _functions, _commands);
    }

    /// <summary>This run of the center.</summary>
    public string Incarnation => _incarnation;

    /// <summary>
    /// Applies one event and returns what to do about it, in order. The list is the core's own and
    /// is reused by the next call: act on it (or copy it) first.
    /// </summary>
    public IReadOnlyList<CenterCommand> Handle(CenterEvent happened)
    {
        _commands.Clear();
        switch (happened)
        {
            case TasksDone e: OnTasksDone(e); break;
            case TasksSubmitted e: OnTasksSubmitted(e); break;
            case TasksFailedOn e: OnTasksFailed(e); break;
            case KeysReleased e: OnKeysReleased(e); break;
            case HoldersAsked e: OnHoldersAsked(e); break;
            case CopiesStored e: OnCopiesStored(e); break;
            case WorkerJoined e: OnWorkerJoined(e); break;
            case WorkerLeft e: OnWorkerGone(e.Worker); break;
            case WorkerConnectionDropped e: OnWorkerConnectionDropped(e); break;
            case WorkerProbed e: OnWorkerProbed(e); break;
            case ClientJoined e: OnClientJoined(e); break;
            case ClientLeft e: OnClientLeft(e); break;
            case KeysClaimedBy e: OnKeysClaimed(e); break;
            case WorkersAsked e: OnWorkersAsked(e); break;
            case ProgressAsked e: OnProgressAsked(e); break;
            case ReplicationAsked e: OnReplicationAsked(e); break;
            case TimerFired e: OnTimerFired(e); break;
            case ScatterAsked e: OnScatterAsked(e); break;
            case ScatterAwaited e: OnScatterAwaited(e); break;
            case DatasetPublished e: OnDatasetPublished(e); break;
            case DatasetUnpublished e: OnDatasetUnpublished(e); break;
            case DatasetAsked e: OnDatasetAsked(e); break;
            case DatasetsListed e: OnDatasetsListed(e); break;
            case RetirementOffered e: OnRetirementOffered(e); break;
            case RetirementAsked e: OnRetirementAsked(e); break;
            default: throw new ArgumentException($"The center has no handling for {happened.GetType().Name}.", nameof(happened));
        }
        if (_remakingPublished.Count > 0) SettleRemakingPublished();
        if (_retirements.Count > 0) AdvanceRetirements();
        return _commands;
    }

    private void Tell(WorkerEntry worker, IProtocolMessage message) => _commands.Add(new TellWorker(worker.Id, message));
    private void Tell(ClientId client, IProtocolMessage message)
    {
        // Every failure a client hears of goes through here: its progress counts them.
        if (message is TasksFailed failed && _clients.TryGet(client, out var entry))
        {
            entry.Failed += failed.Failures.Count;
            _tasksFailedTotal += failed.Failures.Count;
        }
        _commands.Add(new TellClient(client, message));
    }
    private void Log(string text) => _commands.Add(new LogLine(false, text));
    private void Warn(string text) => _commands.Add(new LogLine(true, text));

    private void OnWorkerJoined(WorkerJoined e)
    {
        if (_workers.TryGet(e.Worker, out var known))
        {
            Tell(known, new WorkerRegistered(_centerAddress, known.Name, _incarnation));
            return;
        }
        var resources = e.Resources;
        if (resources is not null && ResourceAmounts.Problem(resources) is { } problem)
        {
            Warn($"Worker {e.Name} at {e.Address} offers resources that cannot be: {problem} It offers none.");
            resources = null;
        }
        var worker = new WorkerEntry(e.Worker, _workers.FreeName(e.Name), e.Address, e.Cores, e.Data, resources);
        _workers.Add(worker);
        _placement.WorkerJoined();
        Log($"Worker {worker.Name} at {e.Address} joined with {e.Cores} cores"
            + (worker.Resources is { } offered ? $" and resources {ResourceAmounts.Format(offered)}" : ""));
        Tell(worker, new WorkerRegistered(_centerAddress, worker.Name, _incarnation));
        if (e.HeldKeys is { Count: > 0 } held)
        {
            // This center downed the worker (it was paused) and has made its values again elsewhere;
            // only values kept across a restart of the center are taken back.
            if (e.PreviousCenter == _incarnation) Tell(worker, new DeleteKeys(held.Select(k => k.Key).ToList()));
            else AdoptKeys(worker, held);
        }
        _placement.Place(_placement.TakeUnplaced()); // also hands held graph tasks to the new worker
    }

    private void OnClientJoined(ClientJoined e)
    {
        _clients.Add(e.Client);
        Tell(e.Client, new ClientConnected(_workers.All.Select(w => w.Describe()).ToList(), e.RequestId));
    }

    private void OnTasksSubmitted(TasksSubmitted e)
    {
        if (!_clients.TryGet(e.Client, out var client)) return;
        // Functions are shared by id between clients: an id is only taken with the bytes it hashes.
        var forged = new HashSet<string>(StringComparer.Ordinal);
        foreach (var function in e.Functions)
        {
            if (ContentAddress.IsIntact(function)) _functions.TryAdd(function.FunctionId, function);
            else forged.Add(function.FunctionId);
        }
        var codeProblem = e.Code.Assemblies.Select(ContentAddress.Problem).FirstOrDefault(p => p is not null);
        var ready = new List<PendingTask>();
        var refused = new List<FailedTask>();
        // A task may come before the tasks it depends on in the same submission.
        var submitted = e.Tasks.Select(t => t.Key).ToHashSet();
        List<(KeyEntry Key, WorkerEntry Holder)>? existing = null;
        // Tasks a worker took straight from the client are sent there too, to be recorded as they run;
        // those this center does not take (refused, or that worker is retiring) it tells the worker to drop.
        var direct = e.DirectWorker is { } directName && _workers.TryGet(directName, out var named) ? named : null;
        HashSet<string>? directTaken = null;
        foreach (var spec in e.Tasks)
        {
            if (_tasks.Contains(spec.Key) || _keys.Contains(spec.Key))
            {
                // The client's own key again (a named or pure call made before): nothing runs twice. A
                // value that exists is reported at once; a task still to finish reports to it anyway.
                if (client.Owns(spec.Key))
                {
                    if (_keys.TryGet(spec.Key, out var key) && key is { Holders.Count: > 0, RemainingConsumers: 0 })
                    {
                        (existing ??= []).Add((key, key.Holders[0]));
                        continue;
                    }
                    if (_tasks.TryGet(spec.Key, out var running) && running.Client == e.Client && running.RemakeForConsumers is null
                        && running.Spec.ReleaseAfterConsumers == 0)
                        continue;
                }
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
            var task = new PendingTask(spec, e.Client, e.Code);
            // A task reads only its own client's values: another client's input counts as absent.
            var missing = spec.Dependencies.FirstOrDefault(d => !submitted.Contains(d) && !(client.Owns(d) && (_keys.Contains(d) || _tasks.Contains(d))));
            if (missing is not null)
            {
                refused.Add(new FailedTask(spec.Key, Error(ErrorKind.MissingInput, _keys.Lost.TryGetValue(missing, out var why)
                    ? $"The input of task {spec.Key} is not on the cluster: {why}"
                    : $"The input {missing} of task {spec.Key} is not on the cluster (it was released or lost).")));
                continue;
            }
            foreach (var dependency in Inputs.Unique(spec.Dependencies))
                if (!_keys.Contains(dependency)) _tasks.WaitFor(task, dependency);
            if (direct is { Retiring: false })
            {
                task.DirectTo = direct;
                (directTaken ??= []).Add(spec.Key);
            }
            _tasks.Add(task, client);
            client.Submitted++;
            _tasksSubmittedTotal++;
            if (task.WaitingFor == 0) ready.Add(task);
        }
        if (existing is not null)
            foreach (var group in existing.GroupBy(x => x.Holder))
                Tell(e.Client, new TasksFinished(group.Key.Name, group.Key.Data, group.Select(x => new StoredKey(x.Key.Key, x.Key.Size, x.Key.TypeName)).ToList()));
        if (direct is not null && (directTaken?.Count ?? 0) < e.Tasks.Count)
            Tell(direct, new CancelTasks(e.Tasks.Select(t => t.Key).Where(k => directTaken?.Contains(k) != true).ToList()));
        if (refused.Count > 0)
        {
            Tell(e.Client, new TasksFailed("center", refused));
            FailDependents(refused); // tasks of this submission that waited for a refused one
        }
        var inputs = ready.Where(t => t.Spec.Priority >= 0 && t.Spec.Dependencies.Count == 0).OrderBy(t => t.Spec.Priority).ToList();
        for (var rank = 0; rank < inputs.Count; rank++) inputs[rank].InputShare = (double)rank / inputs.Count;
        _placement.Place(ready);
    }

    private void OnTasksDone(TasksDone e)
    {
        if (!_workers.TryGet(e.Worker, out var worker)) return;
        var ready = new List<PendingTask>();
        var orphans = new List<string>();
        var consumed = new List<string>();
        Dictionary<ClientId, List<StoredKey>>? byClient = null;
        foreach (var result in e.Results)
        {
            if (!_tasks.TryGet(result.Key, out var task))
            {
                orphans.Add(result.Key); // its client left or released it while it ran
                continue;
            }
            if (task.AssignedTo != worker)
            {
                // Only the worker a task was sent to makes its value: nobody else can put one under its key.
                _commands.Add(new RefuseWorker(worker.Id, nameof(TasksFinished), $"it reported {result.Key}, a task it was not given"));
                continue;
            }
            _clients.TryGet(task.Client, out var client);
            _tasks.Remove(task, client);
            if (client is null)
            {
                orphans.Add(result.Key);
                continue;
            }
            client.Keys.Add(result.Key);
            if (task.RemakeForConsumers is null)
            {
                client.Finished++;
                _tasksFinishedTotal++;
                client.ResultBytes += result.Size;
            }
            var key = new KeyEntry(result.Key, result.Size, result.TypeName) { RemainingConsumers = task.RemakeForConsumers ?? task.Spec.ReleaseAfterConsumers };
            _keys.Add(key);
            if (task.RemakeForConsumers is null) _lineage.Record(task);
            ConsumeInputs(task, consumed);
            KeyTable.AddHolder(key, worker);
            if (_tasks.TakeDependents(result.Key) is { } dependents)
                foreach (var dependent in dependents)
                    if (dependent.Current && --dependent.WaitingFor == 0) ready.Add(dependent);
            // An intermediate is the center's business only: the client waits for what it keeps; a
            // value made again after a worker died was already reported once.
            if (task.Spec.ReleaseAfterConsumers > 0 || task.RemakeForConsumers is not null) continue;
            byClient ??= [];
            if (!byClient.TryGetValue(task.Client, out var finished)) byClient[task.Client] = finished = [];
            finished.Add(result);
        }
        if (orphans.Count > 0) Tell(worker, new DeleteKeys(orphans));
        _placement.MeasureRate(worker, e.Results.Count);
        // Consumed inputs first, so that the window sees the memory they free; then dependents,
        // whose placement does not wait for the client.
        if (consumed.Count > 0) Release(consumed);
        _placement.Place(ready);
        // The client fetches from the worker this center registered, whatever the report says.
        if (byClient is not null)
            foreach (var (client, results) in byClient)
                Tell(client, new TasksFinished(worker.Name, worker.Data, results));
        AnswerWaitingWhoHas();
    }

    /// <summary>Counts a finished task as one read of each of its inputs; intermediates read by all their consumers are collected.</summary>
    private void ConsumeInputs(PendingTask task, List<string> consumed)
    {
        foreach (var input in Inputs.Unique(task.Spec.Dependencies))
            if (_keys.TryGet(input, out var key) && key.RemainingConsumers > 0 && --key.RemainingConsumers == 0)
                consumed.Add(input);
    }

    private void OnTasksFailed(TasksFailedOn e)
    {
        if (_workers.TryGet(e.Worker, out var worker)) FailTasks(e.Failures, worker);
    }

    /// <summary>Fails tasks, as <paramref name="reporter"/> reported or (null) as this center decided.</summary>
    private void FailTasks(IReadOnlyList<FailedTask> reported, WorkerEntry? reporter)
    {
        var byClient = new Dictionary<ClientId, List<FailedTask>>();
        var retried = new List<PendingTask>();
        var failures = new List<FailedTask>();
        foreach (var failure in reported)
        {
            if (!_tasks.TryGet(failure.Key, out var task)) continue;
            if (reporter is not null && task.AssignedTo != reporter) continue; // it was sent elsewhere meanwhile
            // An input that could not be fetched is the cluster's failure, not the task's: most often
            // its holder just died. The task waits for it to be found or made again.
            if (reporter is not null && failure.Error.Kind == ErrorKind.InputLost && task.InputRetries < _settings.MaxInputRetries)
            {
                retried.Add(task);
                continue;
            }
            failures.Add(failure);
            _clients.TryGet(task.Client, out var client);
            _tasks.Remove(task, client);
            if (!byClient.TryGetValue(task.Client, out var failed)) byClient[task.Client] = failed = [];
            failed.Add(failure);
        }
        foreach (var (client, failed) in byClient) Tell(client, new TasksFailed(reporter?.Name ?? "center", failed));
        FailDependents(failures);
        foreach (var task in retried) RetryAfterInputLoss(task, reporter!);
        _placement.Place([]); // freed room for held tasks
        AnswerWaitingWhoHas();
    }

    /// <summary>Fails, transitively, the tasks waiting for these failed (or dropped) ones, telling their clients why.</summary>
    private void FailDependents(IEnumerable<FailedTask> causes)
    {
        var cascade = new Dictionary<ClientId, List<FailedTask>>();
        var failed = new Queue<FailedTask>(causes);
        while (failed.TryDequeue(out var failure))
        {
            if (_tasks.TakeDependents(failure.Key) is not { } dependents) continue;
            // Tasks that needed the failed result can never run: fail them too, naming the cause.
            foreach (var dependent in dependents)
            {
                if (!dependent.Current) continue;
                var error = failure.Error with { Message = $"Input {failure.Key} of {dependent.Spec.Key} failed: {failure.Error.Message}" };
                var dependentFailure = new FailedTask(dependent.Spec.Key, error);
                _clients.TryGet(dependent.Client, out var owner);
                _tasks.Remove(dependent, owner);
                if (!cascade.TryGetValue(dependent.Client, out var list)) cascade[dependent.Client] = list = [];
                list.Add(dependentFailure);
                failed.Enqueue(dependentFailure);
            }
        }
        foreach (var (client, failures) in cascade) Tell(client, new TasksFailed("center", failures));
    }

    private void OnKeysReleased(KeysReleased e)
    {
        if (!_clients.TryGet(e.Client, out var client)) return;
        var own = OwnKeys(client, e.Keys, nameof(ReleaseKeys));
        if (own.Count == 0) return;
        // A value another client (or a dataset) keeps too stays: only this client lets go of it.
        client.Keys.ExceptWith(own);
        var free = own.Where(k => !KeptByAnyone(k)).ToList();
        if (free.Count > 0) Release(free);
    }

    /// <summary>The keys among <paramref name="keys"/> that are <paramref name="client"/>'s; another client's are refused (and logged).</summary>
    private IReadOnlyList<string> OwnKeys(ClientEntry client, IReadOnlyList<string> keys, string messageKind)
    {
        List<string>? own = null;
        for (var i = 0; i < keys.Count; i++)
        {
            if (client.Owns(keys[i]))
            {
                own?.Add(keys[i]);
                continue;
            }
            own ??= keys.Take(i).ToList();
            // A key nobody has is answered as unknown (released twice, or lost); another client's is refused.
            if (_clients.OwnedByAnother(client, keys[i])) _commands.Add(new RefuseClient(client.Id, messageKind, $"the key {keys[i]} belongs to another client"));
        }
        return own ?? keys;
    }

    /// <summary>
    /// Releases keys: a task not finished is dropped (a running one's result is deleted when it
    /// arrives, as an orphan), tasks waiting for it fail as their input is gone, and stored values are
    /// deleted from their holders.
    /// </summary>
    private void Release(IReadOnlyList<string> keys)
    {
        foreach (var client in _clients.All) client.Keys.ExceptWith(keys);
        var dropped = new List<FailedTask>();
        var droppedTasks = new List<PendingTask>();
        foreach (var keyName in keys)
        {
            if (!_tasks.TryGet(keyName, out var task)) continue;
            _clients.TryGet(task.Client, out var owner);
            _tasks.Remove(task, owner);
            dropped.Add(new FailedTask(keyName, Error(ErrorKind.Released, $"{keyName} was released before it finished.")));
            droppedTasks.Add(task);
        }
        CancelOnWorkers(droppedTasks);
        if (dropped.Count > 0) FailDependents(dropped);
        DeleteValues(keys);
        if (dropped.Count > 0) _placement.Place([]);
        AnswerWaitingWhoHas();
    }

    /// <summary>Tells the workers that were sent dropped tasks not to run them, or at least not to keep their results.</summary>
    private void CancelOnWorkers(IEnumerable<PendingTask> dropped)
    {
        foreach (var group in dropped.Where(t => t.AssignedTo is not null).GroupBy(t => t.AssignedTo!))
            Tell(group.Key, new CancelTasks(group.Select(t => t.Spec.Key).ToList()));
    }

    /// <summary>Forgets values and their lineage, and tells their holders to delete them.</summary>
    private void DeleteValues(IReadOnlyList<string> keys)
    {
        var deletions = new Dictionary<WorkerEntry, List<string>>();
        foreach (var keyName in keys)
        {
            _lineage.Forget(keyName);
            _scattered.Remove(keyName);
            _keys.Delete(keyName, _workers.All, deletions);
        }
        foreach (var (worker, list) in deletions) Tell(worker, new DeleteKeys(list));
    }

    private void OnClientLeft(ClientLeft e)
    {
        if (!_clients.Remove(e.Client, out var client)) return;
        _commands.Add(new ClientForgotten(e.Client, e.ProcessGone));
        var dropped = new List<PendingTask>();
        foreach (var taskKey in client.PendingTasks.ToList())
        {
            if (!_tasks.TryGet(taskKey, out var task)) continue;
            _tasks.Remove(task, client);
            _tasks.TakeDependents(taskKey);
            dropped.Add(task);
        }
        CancelOnWorkers(dropped);
        ForgetScattersOf(e.Client);
        DeleteValues(client.Keys.Where(k => !KeptByAnyone(k)).ToList());
        _placement.Place([]);
        AnswerWaitingWhoHas();
    }

    private static RemoteError Error(ErrorKind kind, string message) => RemoteError.Of(kind, message);
}
