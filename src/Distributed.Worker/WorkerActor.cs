using System.Diagnostics;
using Akka.Actor;
using Akka.Event;
using Distributed.Data;
using Distributed.Protocol;
using Distributed.Protocol.Hosting;
using Distributed.Worker.Core;
using Distributed.Worker.Executor;

namespace Distributed.Worker;

/// <summary>
/// Settings of a worker, fixed at start. <c>PreviousCenter</c>: when the worker joins again with the
/// store it kept, the incarnation of the center it was registered with. <c>Credentials</c>: the
/// cluster's, for the data channel to other workers (null on an insecure loopback cluster).
/// </summary>
public sealed record WorkerSettings(string Name, string Address, int Threads, DataEndpoint Data, string WorkDirectory, string? PreviousCenter = null,
    Protocol.Security.ClusterCredentials? Credentials = null)
{
    /// <summary>What plays the executors instead of child processes (<see cref="WorkerOptions.ExecutorStandIn"/>); null in the programs.</summary>
    internal Func<string?, Props>? ExecutorStandIn { get; init; }

    /// <summary>What the worker offers to tasks that ask for resources (<see cref="WorkerOptions.Resources"/>); null: nothing.</summary>
    /// <example><code>settings with { Resources = ResourceAmounts.Parse("GPU=1") }</code></example>
    public IReadOnlyDictionary<string, double>? Resources { get; init; }

    /// <summary>How long an executor may run no task before it is stopped (<c>executor-idle-timeout</c>); null: never.</summary>
    public TimeSpan? ExecutorIdleTimeout { get; init; } = WorkerConfig.DefaultExecutorIdleTimeout;

    /// <summary>How often the worker tells the center its <see cref="WorkerStatus"/> once registered (<c>status-interval</c>); null: never.</summary>
    public TimeSpan? StatusInterval { get; init; } = WorkerConfig.DefaultStatusInterval;

    /// <summary>
    /// The runtime identifier whose native libraries this worker fetches (<c>runtime-identifier</c>); null:
    /// the machine's own. A worker may claim another (a test of what a linux-arm64 worker gets, say).
    /// </summary>
    public string? RuntimeIdentifier { get; init; }

    /// <summary>Limits of the data channel this worker fetches over, and whether it asks holders on its machine for references (<c>same-host-sharing</c>).</summary>
    public DataChannelSettings DataChannel { get; init; } = DataChannelSettings.Default;
}

/// <summary>
/// One per <c>dworker</c> process: registers with the center, keeps the data store, fetches missing
/// inputs straight from the workers that hold them, gets the client's code when it is new, and hands
/// tasks to an executor child per client code version. It takes commands only from the center actor
/// that registered it (at the path it was told), and a batch's assemblies only from the client the
/// center named for that batch. Its decisions are <see cref="WorkerCore"/>'s: this actor turns
/// messages into the core's events, carries out the commands it returns, and owns the I/O (fetches
/// from peers, the assembly cache, the executor children).
/// </summary>
#pragma warning disable CA1001 // an actor releases what it owns in PostStop: nobody disposes an actor
public sealed class WorkerActor : ReceiveActor, IWithTimers
#pragma warning restore CA1001
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
    /// <summary>Completed when the center says this worker is retired (its values handed over): the node then leaves.</summary>
    private readonly TaskCompletionSource<WorkerRetired>? _retired;
    /// <summary>Completed when the center has answered this worker's <see cref="LeavingNow"/>.</summary>
    private TaskCompletionSource? _leaveNoted;
    private readonly TransferCounters _counters;
    /// <summary>The decisions: this actor turns messages into its events and carries out its commands.</summary>
    private readonly WorkerCore _core;
    // The core names clients and executors by plain values; these translate them to actors and back.
    private readonly Dictionary<IActorRef, string> _clientIds = [];
    private readonly Dictionary<string, IActorRef> _clients = [];
    private long _clientsSeen;
    private readonly Dictionary<long, IActorRef> _executors = [];
    private readonly Dictionary<IActorRef, long> _executorIds = [];
    private readonly WorkerStatusProbe _status;
    /// <summary>Tasks clients handed over directly, by the request id the core answers them with, until answered.</summary>
    private readonly Dictionary<long, DirectRun> _directRuns = [];
    private long _directRunsSeen;
    /// <summary>Code version → the client (its actor, as the center named it) of the last batch of that code: asked for assemblies a direct task loads by name.</summary>
    private readonly Dictionary<string, IActorRef> _clientOfVersion = [];
    private readonly OnDemandAssemblies _onDemand = new();

    /// <summary>Creates the worker actor.</summary>
    public WorkerActor(WorkerSettings settings, IActorRef center, ActorPath centerPath, DataStore store, TransferCounters counters, TaskCompletionSource<WorkerRegistered> registered,
        TaskCompletionSource<WorkerRetired>? retired)
    {
        _retired = retired;
        _settings = settings;
        _center = center;
        _centerPath = centerPath;
        _refusals = new Refusals(_log, $"Worker {settings.Name}");
        _store = store;
        _registered = registered;
        _counters = counters;
        _peers = new DataClient(PeerKind.Worker, counters, settings.Credentials, settings.DataChannel, buffers: _store.Buffers);
        _assemblies = new AssemblyCache(Path.Combine(settings.WorkDirectory, "assemblies"), warning => _log.Warning(warning));
        _core = new WorkerCore(settings.Name, store, _assemblies, counters, settings.RuntimeIdentifier, settings.Threads);
        _status = new WorkerStatusProbe(store, counters);
        Receive<WorkerRegistered>(HandleWorkerRegistered);
        Receive<RetryRegistration>(_ => Register());
        Receive<RunTasks>(m => FromCenter(m, m =>
        {
            _clientOfVersion[m.Code.Version] = m.Client;
            HopTrace.Count("worker: tasks per RunTasks", m.Tasks.Count);
            Apply(new WorkerEvent.BatchArrived(ClientId(m.Client), m.Code, m.Functions, m.Tasks, m.RemoteInputs));
        }));
        Receive<AssemblyBytes>(HandleAssemblyBytes);
        Receive<DirectRun>(HandleDirectRun);
        Receive<AssemblyWanted>(HandleAssemblyWanted);
        Receive<AssemblyNameResolved>(HandleAssemblyNameResolved);
        Receive<FetchKeys>(m => FromCenter(m, m => Apply(new WorkerEvent.CopiesRequested(m.Inputs, m.ReplicationId))));
        Receive<ExecutorResults>(m =>
        {
            HopTrace.Count("worker: results per ExecutorResults", m.Results.Count);
            if (HopTrace.Enabled) foreach (var result in m.Results) HopTrace.Lap(result.Key, "worker actor: executor results received");
            Apply(new WorkerEvent.ExecutorResults(m.Results));
        });
        Receive<DeleteKeys>(m => FromCenter(m, m => Apply(new WorkerEvent.KeysDeleted(m.Keys))));
        Receive<CancelTasks>(m => FromCenter(m, m => Apply(new WorkerEvent.TasksCancelled(m.Keys))));
        // An executor's last words can come after it stopped: what it hands back still runs (null: no executor known).
        Receive<ExecutorRetired>(m =>
        {
            _status.ExecutorRestarts++; // its process died or was killed for a timeout: another takes its place
            Apply(new WorkerEvent.ExecutorRetired(_executorIds.TryGetValue(Sender, out var id) ? id : null, m.Version, m.AssemblyPaths, m.Rerun));
        });
        Receive<Terminated>(HandleTerminated);
        Receive<SendStatus>(_ =>
        {
            if (_leaveNoted is null) _registeredWith?.Tell(_status.Measure(_core.TasksHeld)); // a leaving worker is no longer the center's
        });
        Receive<StoreScattered>(HandleStoreScattered);
        // Graceful retirement: the node asks (SIGTERM); the center answers once other workers hold the values.
        Receive<Retire>(_ =>
        {
            if (_registeredWith is { } registeredWith) registeredWith.Tell(RetireMe.Instance);
            else _retired?.TrySetResult(new WorkerRetired("it was not registered with a center"));
        });
        Receive<WorkerRetired>(m => FromCenter(m, m =>
        {
            if (m.Error is { } error) _log.Warning("Worker {0} retires: {1}", _settings.Name, error);
            else _log.Info("Worker {0} retires: its values are on other workers", _settings.Name);
            _retired?.TrySetResult(m);
        }));
        // Leaving: the center forgets this worker before its node leaves, so it never sees the process gone first.
        Receive<TellCenterLeaving>(m =>
        {
            if (_registeredWith is not { } registeredWith) m.Noted.TrySetResult();
            else
            {
                _leaveNoted = m.Noted;
                registeredWith.Tell(LeavingNow.Instance);
            }
        });
        Receive<LeaveNoted>(m => FromCenter(m, _ => _leaveNoted?.TrySetResult()));
        // The ends of fetches and timers this actor started, piped back as the core's events.
        Receive<WorkerEvent>(Apply);
    }

    /// <inheritdoc />
    public ITimerScheduler Timers { get; set; } = null!;

    /// <summary>Props of a worker.</summary>
    public static Props Props(WorkerSettings settings, IActorRef center, ActorPath centerPath, DataStore store, TransferCounters counters, TaskCompletionSource<WorkerRegistered> registered,
        TaskCompletionSource<WorkerRetired>? retired = null) =>
        Akka.Actor.Props.Create(() => new WorkerActor(settings, center, centerPath, store, counters, registered, retired));

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
        Timers.StartPeriodicTimer("direct-sweep", WorkerEvent.DirectSweepFired.Instance, WorkerCore.DirectSweepInterval);
        if (_settings.ExecutorIdleTimeout is { } idle)
            Timers.StartPeriodicTimer("idle-check", WorkerEvent.IdleCheckFired.Instance, idle / 4);
    }

    /// <inheritdoc />
    protected override void PostStop()
    {
        _peers.Dispose();
        // Nobody answers them any more: their clients hear the ends from the center.
        foreach (var run in _directRuns.Values) run.Outcome.TrySetResult(DirectOutcome.Unanswered);
        _directRuns.Clear();
    }

    /// <summary>A task a client handed to this worker's data channel: the core takes it or says why not.</summary>
    private void HandleDirectRun(DirectRun run)
    {
        // Only this process's data server hands them over (a DirectRun cannot cross the wire).
        if (!Sender.IsNobody() && !Sender.Path.Address.HasLocalScope)
        {
            _refusals.Refuse(Sender, run, "only this worker's data channel hands it tasks directly");
            return;
        }
        if (_registeredWith is null)
        {
            run.Outcome.TrySetResult(new DirectOutcome(null, null, "the worker is not registered yet"));
            return;
        }
        HopTrace.Lap(run.Submission.Tasks[0].Key, "worker actor: direct run received");
        var id = ++_directRunsSeen;
        _directRuns[id] = run;
        var submission = run.Submission;
        Apply(new WorkerEvent.DirectTaskArrived(id, submission.Code, submission.Functions, submission.Tasks[0]));
    }

    private void Register() => _center.Tell(new RegisterWorker(_settings.Name, _settings.Address, _settings.Threads, _settings.Data,
        _settings.PreviousCenter is null ? null : _store.Keys(), _settings.PreviousCenter, _settings.Resources));

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
        _settings = _settings with { Name = message.AssignedName };
        _registered.TrySetResult(message);
        Apply(new WorkerEvent.Registered(message.AssignedName));
        if (_settings.StatusInterval is { } interval) Timers.StartPeriodicTimer("status", SendStatus.Instance, interval);
    }

    /// <summary>Time to tell the center how this worker is doing.</summary>
    private sealed class SendStatus
    {
        public static readonly SendStatus Instance = new();
    }

    private void HandleAssemblyBytes(AssemblyBytes message)
    {
        // Code comes only from a client the center named for a batch that needs it, or that an executor's
        // miss was asked of (a task of that client needed it).
        var client = _clientIds.GetValueOrDefault(Sender);
        var onDemand = _onDemand.AwaitsBytes(message.Assembly.Hash, client);
        var awaited = _core.Awaits(message.Assembly.Hash, client);
        if (!onDemand)
            switch (awaited)
            {
                case AssemblyAwaited.No: return;
                case AssemblyAwaited.FromOtherClients:
                    _refusals.Refuse(Sender, message, $"assembly {message.Assembly.Name} was asked of the client the center named for its code, not of this sender");
                    return;
            }
        var problem = message.Bytes is null ? $"The client could not send assembly {message.Assembly.Name}." : null;
        if (message.Bytes is not null)
            try
            {
                _assemblies.Store(message.Assembly, message.Bytes);
                _counters.AddAssembly(message.Assembly.Name, message.Assembly.Hash);
            }
            catch (Exception e) when (e is IOException or InvalidDataException or UnauthorizedAccessException or ArgumentException)
            {
                problem = $"Assembly {message.Assembly.Name} could not be stored: {e.Message}";
            }
        if (onDemand)
            foreach (var waiter in _onDemand.BytesArrived(message.Assembly.Hash))
                waiter.Executor.Tell(problem is null ? new AssemblyFound(waiter.RequestId, _assemblies.PathOf(message.Assembly), null) : new AssemblyFound(waiter.RequestId, null, problem));
        if (awaited != AssemblyAwaited.FromThisClient) return;
        Apply(problem is null ? new WorkerEvent.AssemblyStored(message.Assembly) : new WorkerEvent.AssemblyFailed(message.Assembly, problem));
    }

    /// <summary>
    /// An executor missed an assembly no manifest listed: the client of the task it ran is asked which file
    /// that name is (through the center's relay, like the bytes), once per name however many wait.
    /// </summary>
    private void HandleAssemblyWanted(AssemblyWanted message)
    {
        var client = _core.ClientOfTask(message.TaskKey);
        IActorRef? clientActor = null;
        if (client is not null) _clients.TryGetValue(client, out clientActor);
        else if (_core.VersionOfRun(message.TaskKey) is { } version && _clientOfVersion.TryGetValue(version, out var byVersion))
        {
            // A task a client handed over directly has no client here until the center sends it: the client
            // whose batch last brought its code has the same assemblies.
            clientActor = byVersion;
            client = ClientId(byVersion);
        }
        if (client is null || clientActor is null)
        {
            Sender.Tell(new AssemblyFound(message.RequestId, null, $"no task of a client is known to have asked for it (task '{message.TaskKey}'), so there is nobody to ask"));
            return;
        }
        if (_onDemand.AwaitName(client, message.Name, new OnDemandAssemblies.Waiter(Sender, message.RequestId)))
            clientActor.Tell(new ResolveAssemblyName(message.Name));
    }

    private void HandleAssemblyNameResolved(AssemblyNameResolved message)
    {
        if (_clientIds.GetValueOrDefault(Sender) is not { } client) return;
        var waiters = _onDemand.NameAnswered(client, message.Name);
        if (waiters.Count == 0) return;
        var assembly = message.Assembly;
        // The answer must name what was asked, by a name that stays in the cache's folder.
        var problem = assembly is null ? message.Problem ?? $"the client has no assembly {message.Name}"
            : assembly.Name != message.Name ? $"the client answered {assembly.Name} for {message.Name}"
            : ContentAddress.Problem(assembly);
        if (problem is not null || _assemblies.Contains(assembly!, recheck: true))
        {
            foreach (var waiter in waiters)
                waiter.Executor.Tell(new AssemblyFound(waiter.RequestId, problem is null ? _assemblies.PathOf(assembly!) : null, problem));
            return;
        }
        if (_onDemand.AwaitBytes(client, assembly!, waiters)) Sender.Tell(new RequestAssemblies([assembly!]));
    }

    private void HandleTerminated(Terminated message)
    {
        if (!_executorIds.Remove(message.ActorRef, out var executor)) return;
        _executors.Remove(executor);
        Apply(new WorkerEvent.ExecutorStopped(executor));
    }

    /// <summary>
    /// Stores values a client put here (its data server read them) and reports them to the center under
    /// their scatter id, as copies are. A put never replaces a value held here: not a task's result, not
    /// another client's value. The center keeps them only if it planned them here.
    /// </summary>
    private void HandleStoreScattered(StoreScattered message)
    {
        if (message.Values.FirstOrDefault(v => _store.Contains(v.Key)) is { Key: { } held })
        {
            foreach (var (_, value) in message.Values) value.Release();
            Sender.Tell(new ScatterAnswer($"the key {held} is held here already"));
            return;
        }
        Apply(new WorkerEvent.CopiesFetched(message.ScatterId, message.Values.ToDictionary(v => v.Key, v => v.Value, StringComparer.Ordinal)));
        Sender.Tell(new ScatterAnswer(null));
    }

    /// <summary>The id the core knows <paramref name="client"/> by, given on its first batch here.</summary>
    private string ClientId(IActorRef client)
    {
        if (_clientIds.TryGetValue(client, out var id)) return id;
        id = $"client-{++_clientsSeen}";
        _clientIds[client] = id;
        _clients[id] = client;
        return id;
    }

    private void Apply(WorkerEvent stimulus)
    {
        foreach (var command in _core.Handle(stimulus)) Execute(command);
    }

    private void Execute(WorkerCommand command)
    {
        switch (command)
        {
            case WorkerCommand.Execute execute: ExecutorNumbered(execute.Executor)?.Tell(execute.Batch); break;
            case WorkerCommand.DirectDecided decided:
                if (decided.Declined is { } reason)
                {
                    if (_directRuns.Remove(decided.RequestId, out var declined))
                    {
                        HopTrace.Lap(declined.Submission.Tasks[0].Key, "worker actor: direct run declined", last: true);
                        declined.Outcome.TrySetResult(new DirectOutcome(null, null, reason));
                    }
                }
                else _counters.AddTaskTakenDirectly();
                break;
            case WorkerCommand.DirectAnswered answered:
                // The data server's answer is written on this thread, now (see DirectRun.Outcome).
                if (_directRuns.Remove(answered.RequestId, out var run)) run.Outcome.TrySetResult(new DirectOutcome(answered.Result, answered.Failure));
                break;
            case WorkerCommand.ReportFinished finished:
                HopTrace.Count("worker: results per TasksFinished", finished.Results.Count);
                // The runs go as times before now: the center's clock is another machine's.
                _center.Tell(new TasksFinished(_settings.Name, _settings.Data, finished.Results,
                    finished.Runs is { } runs ? TaskTimes.Encode(runs, Stopwatch.GetTimestamp()) : null));
                break;
            // The center tells the client, and fails the tasks that needed these.
            case WorkerCommand.ReportFailed failed: _center.Tell(new TasksFailed(_settings.Name, failed.Failures)); break;
            case WorkerCommand.ReportKeysAdded added: _center.Tell(new KeysAdded(added.Keys, added.ReplicationId, added.Error)); break;
            case WorkerCommand.FetchInputs fetch:
                var batchId = fetch.BatchId;
                FetchAsync(fetch.Inputs).PipeTo(Self,
                    success: values => new WorkerEvent.InputsFetched(batchId, values),
                    failure: e => new WorkerEvent.InputsNotFetched(batchId, ReasonOf(e)));
                break;
            case WorkerCommand.FetchCopies copies:
                var replicationId = copies.ReplicationId;
                FetchAsync(copies.Inputs).PipeTo(Self,
                    success: values => new WorkerEvent.CopiesFetched(replicationId, values),
                    failure: e => new WorkerEvent.CopiesNotFetched(replicationId, ReasonOf(e)));
                break;
            case WorkerCommand.RequestAssemblies request: _clients[request.Client].Tell(new RequestAssemblies(request.Assemblies)); break;
            case WorkerCommand.CancelExecution cancel: ExecutorNumbered(cancel.Executor)?.Tell(new CancelExecution(cancel.Keys)); break;
            case WorkerCommand.StartExecutor start: StartExecutor(start); break;
            case WorkerCommand.AdoptCode adopt: ExecutorNumbered(adopt.Executor)?.Tell(new AdoptCode(adopt.Version, adopt.AssemblyPaths)); break;
            case WorkerCommand.StopExecutor stop: ExecutorNumbered(stop.Executor)?.Tell(PoisonPill.Instance); break;
            case WorkerCommand.StopIdleExecutor idle:
                _log.Info("Worker {0} stops the executor of code {1}: it ran no task for {2} (its assemblies stay cached)",
                    _settings.Name, idle.Version, _settings.ExecutorIdleTimeout);
                ExecutorNumbered(idle.Executor)?.Tell(PoisonPill.Instance);
                break;
            case WorkerCommand.StartSpareTimer timer: Timers.StartSingleTimer(nameof(WorkerEvent.SpareTimerFired), WorkerEvent.SpareTimerFired.Instance, timer.Delay); break;
            case WorkerCommand.ForgetClient forget:
                if (_clients.Remove(forget.Client, out var client)) _clientIds.Remove(client);
                break;
            default: throw new ArgumentException($"The worker actor cannot carry out {command.GetType().Name}.", nameof(command));
        }
    }

    private void StartExecutor(WorkerCommand.StartExecutor start)
    {
        var props = _settings.ExecutorStandIn?.Invoke(start.Version) ?? (start.Version is null
            ? ExecutorActor.SpareProps(_settings.Threads, _settings.WorkDirectory, _store.Buffers, _counters)
            : ExecutorActor.Props(start.Version, start.AssemblyPaths, _settings.Threads, _settings.WorkDirectory, _store.Buffers, _counters));
        var executor = Context.ActorOf(props, $"executor-{start.Version ?? "spare"}-{start.Executor}");
        Context.Watch(executor);
        _executors[start.Executor] = executor;
        _executorIds[executor] = start.Executor;
    }

    private IActorRef? ExecutorNumbered(long executor)
    {
        if (_executors.TryGetValue(executor, out var actor)) return actor;
        _log.Error("Worker {0} has no executor {1} any more; a command for it is dropped", _settings.Name, executor);
        return null;
    }

    private static string ReasonOf(Exception failure) =>
        (failure is AggregateException { InnerException: { } inner } ? inner : failure).Message;

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
}
