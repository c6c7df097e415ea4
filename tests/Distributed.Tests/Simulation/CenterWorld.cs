using Distributed.Center.Core;
using Distributed.Protocol;
using static Distributed.Tests.Simulation.SimulationDraw;

namespace Distributed.Tests.Simulation;

/// <summary>What the simulation can do next; the numbers pick among what exists at that moment (modulo), so any subsequence still replays.</summary>
internal enum Act : byte
{
    Submit, DeliverToWorker, DeliverFromWorker, DeliverToClient, DeliverFromClient, FinishTasks, CompleteFetch,
    AnswerProbe, DeliverNodeEvent, KillWorker, PauseWorker, ResumeWorker, JoinWorker, Release, AskHolders,
    Replicate, AskWorkers, ClientLeave, ClientCrash, ClientJoin, RestartCenter, Tick,
    Publish, Unpublish,
}

/// <summary>One step of a run: an act and the numbers that pick its targets.</summary>
internal readonly record struct Step(Act Act, int A, int B, int C)
{
    public override string ToString() => $"{Act}({A},{B},{C})";
}

/// <summary>An invariant broken, or a run that did not settle.</summary>
internal sealed class SimulationFailure(string message) : Exception(message);

/// <summary>
/// A center core among simulated workers and clients, driven one step at a time. Messages between
/// the center and each node travel in order each way, but the nodes' streams interleave as the steps
/// say; workers die, pause and come back, clients leave or crash, the center restarts. After every
/// step the world checks the core's invariants.
/// </summary>
internal sealed class CenterWorld : ISimulatedWorld<Act, Step>
{
    private static readonly FunctionSpec Succeeds = ContentAddress.Function([1]);
    private static readonly FunctionSpec Throws = ContentAddress.Function([2]);
    private static readonly CodeManifest Code = new("version-1", [new AssemblyRef("UserCode", new string('a', 64))]);

    private readonly CenterSettings _settings = new()
    {
        // Small windows and batches, so that a handful of tasks already queue, split and get stolen.
        MaxTasksPerMessage = 3,
        GraphTasksPerCore = 2,
        IntermediatesPerCore = 2,
        MaxWindow = 8,
        MaxInputRetries = 5,
        UnclaimedKeysGrace = TimeSpan.FromSeconds(30),
    };

    private readonly ManualClock _clock = new();
    private CenterCore _core;
    private int _incarnation;
    private long _nextId;
    private long _nextKey;
    private readonly List<SimulatedWorker> _workers = [];
    private readonly List<SimulatedClient> _clients = [];
    /// <summary>The workers and clients the center's actor would hear, by the ids it gave them.</summary>
    private readonly Dictionary<WorkerId, SimulatedWorker> _workerById = [];
    private readonly Dictionary<ClientId, SimulatedClient> _clientById = [];
    private readonly List<WorkerId> _probes = [];
    private readonly List<(long Timer, TimeSpan Due)> _timers = [];
    /// <summary>What the cluster's membership tells the center (a connection dropped, a node removed), in order.</summary>
    private readonly List<CenterEvent> _nodeEvents = [];
    private readonly List<string> _trace = [];
    /// <summary>The keys each holders question asked about, by client and request: one about a task that cannot run waits as the task does.</summary>
    private readonly Dictionary<(int Client, long Request), List<string>> _holdersAsked = [];

    public long EventsHandled { get; private set; }
    public int Refusals { get; private set; }
    public IReadOnlyList<string> Trace => _trace;

    public CenterWorld()
    {
        _core = NewCore();
        for (var i = 0; i < 2; i++) StartWorker(cores: i + 1);
        _ = StartClient();
    }

    private CenterCore NewCore() => new(_settings, _clock, "center:8787", $"center-{++_incarnation}");

    // ---------------------------------------------------------------- steps

    public void Apply(Step step)
    {
        switch (step.Act)
        {
            case Act.Submit: Submit(step); break;
            case Act.DeliverToWorker: DeliverToWorker(Pick(_workers.Where(w => w.Alive && !w.Paused && w.Inbox.Count > 0), step.A)); break;
            case Act.DeliverFromWorker: DeliverFromWorker(Pick(_workers.Where(w => !w.Paused && w.Outbox.Count > 0), step.A)); break;
            case Act.DeliverToClient: DeliverToClient(Pick(_clients.Where(c => c.Connected && c.Inbox.Count > 0), step.A)); break;
            case Act.DeliverFromClient: DeliverFromClient(Pick(_clients.Where(c => c.Outbox.Count > 0), step.A)); break;
            case Act.FinishTasks: FinishTasks(Pick(_workers.Where(w => w.Alive && !w.Paused && w.Running.Count > 0), step.A), step.B, step.C); break;
            case Act.CompleteFetch: CompleteFetch(Pick(_workers.Where(w => w.Alive && !w.Paused && (w.Fetching.Count > 0 || w.Replications.Count > 0)), step.A), step.B); break;
            case Act.AnswerProbe: AnswerProbe(step.A); break;
            case Act.DeliverNodeEvent: DeliverNodeEvent(); break;
            case Act.KillWorker: Kill(Pick(_workers.Where(w => w.Alive), step.A)); break;
            case Act.PauseWorker: Pause(Pick(_workers.Where(w => w.Alive && !w.Paused), step.A)); break;
            case Act.ResumeWorker: Resume(Pick(_workers.Where(w => w.Paused), step.A)); break;
            case Act.JoinWorker: if (_workers.Count(w => w.Alive) < 5) StartWorker(1 + step.A % 3); break;
            case Act.Release: Release(Pick(_clients.Where(c => c.Connected), step.A), step.B, step.C); break;
            case Act.AskHolders: AskHolders(Pick(_clients.Where(c => c.Connected), step.A), step.B); break;
            case Act.Replicate: Replicate(Pick(_clients.Where(c => c.Connected), step.A), step.B, step.C); break;
            case Act.AskWorkers: AskWorkers(Pick(_clients.Where(c => c.Connected), step.A), step.B); break;
            case Act.ClientLeave: Leave(Pick(_clients.Where(c => c.Connected), step.A), crashed: false); break;
            case Act.ClientCrash: Leave(Pick(_clients.Where(c => c.Connected), step.A), crashed: true); break;
            case Act.ClientJoin: if (_clients.Count(c => c.Connected) < 3) _ = StartClient(); break;
            case Act.RestartCenter: RestartCenter(); break;
            case Act.Tick: Tick(TimeSpan.FromMilliseconds(1 + step.A % 20_000)); break;
            case Act.Publish: Publish(Pick(_clients.Where(c => c.Connected && c.Owned.Count > 0), step.A), step.B, step.C); break;
            case Act.Unpublish: Unpublish(Pick(_clients.Where(c => c.Connected), step.A), step.B); break;
            default: throw new ArgumentOutOfRangeException(nameof(step), step.Act, null);
        }
        CheckInvariants(step);
    }

    /// <summary>Whether <paramref name="act"/> would do anything now: the generator draws among these only.</summary>
    public bool IsEnabled(Act act) => act switch
    {
        Act.Submit or Act.Release or Act.AskHolders or Act.AskWorkers or Act.ClientLeave or Act.ClientCrash => _clients.Any(c => c.Connected && c.Id is not null),
        Act.Replicate or Act.Publish => _clients.Any(c => c.Connected && c.Owned.Count > 0),
        Act.Unpublish => _clients.Any(c => c.Connected && c.Id is not null),
        Act.DeliverToWorker => _workers.Any(w => w.Alive && !w.Paused && w.Inbox.Count > 0),
        Act.DeliverFromWorker => _workers.Any(w => !w.Paused && w.Outbox.Count > 0),
        Act.DeliverToClient => _clients.Any(c => c.Connected && c.Inbox.Count > 0),
        Act.DeliverFromClient => _clients.Any(c => c.Outbox.Count > 0),
        Act.FinishTasks => _workers.Any(w => w.Alive && !w.Paused && w.Id is not null && w.Running.Values.Any(b => b.Fetched)),
        Act.CompleteFetch => _workers.Any(w => w.Alive && !w.Paused && w.Id is not null && (w.Fetching.Count > 0 || w.Replications.Count > 0)),
        Act.AnswerProbe => _probes.Count > 0,
        Act.DeliverNodeEvent => _nodeEvents.Count > 0,
        Act.KillWorker or Act.PauseWorker => _workers.Count(w => w.Alive && !w.Paused) > 1,
        Act.ResumeWorker => _workers.Any(w => w.Paused),
        Act.JoinWorker => _workers.Count(w => w.Alive) < 5,
        Act.ClientJoin => _clients.Count(c => c.Connected) < 3,
        Act.RestartCenter or Act.Tick => true,
        _ => false,
    };

    private void Note(string line)
    {
        _trace.Add(line);
        if (_trace.Count > 400) _trace.RemoveRange(0, 100);
    }

    // ---------------------------------------------------------------- the center

    private void Handle(CenterEvent happened)
    {
        EventsHandled++;
        Note($"  -> center: {Describe(happened)}");
        foreach (var command in _core.Handle(happened)) Carry(command);
    }

    private void Carry(CenterCommand command)
    {
        switch (command)
        {
            case TellWorker c:
                if (_workerById.TryGetValue(c.Worker, out var worker) && worker.Alive) worker.Inbox.Enqueue(c.Message);
                break;
            case RunOnWorker c:
                if (_workerById.TryGetValue(c.Worker, out var runner) && runner.Alive) runner.Inbox.Enqueue(c);
                break;
            case TellClient c:
                if (_clientById.TryGetValue(c.Client, out var client) && client.Connected) client.Inbox.Enqueue(c.Message);
                break;
            case ProbeWorker c:
                _probes.Add(c.Worker);
                break;
            case DownWorker c:
                Note($"  center downs {c.Worker}");
                break;
            case WorkerForgotten c:
                if (_workerById.Remove(c.Worker, out var forgotten) && forgotten.Id == c.Worker)
                {
                    forgotten.Id = null;
                    // A live process whose node was removed joins again as a new node (with its store).
                    if (forgotten.Alive) forgotten.MustRejoin = true;
                }
                break;
            case ClientForgotten c:
                _clientById.Remove(c.Client);
                break;
            case StartTimer c:
                _timers.Add((c.Timer, _clock.Now + c.Delay));
                break;
            case LogLine c:
                Note($"  center log: {c.Text}");
                break;
            case RefuseWorker c:
                Refusals++;
                Note($"  center refuses {c.MessageKind} from {c.Worker}: {c.Why}");
                break;
            case RefuseClient c:
                Refusals++;
                Note($"  center refuses {c.MessageKind} from {c.Client}: {c.Why}");
                break;
            default:
                throw new SimulationFailure($"The core returned a command the simulation does not know: {command}");
        }
    }

    private void RestartCenter()
    {
        Note("RESTART center");
        _core = NewCore();
        _workerById.Clear();
        _clientById.Clear();
        _probes.Clear();
        _timers.Clear();
        _nodeEvents.Clear();
        foreach (var worker in _workers.Where(w => w.Alive))
        {
            worker.ForgetSession();
            worker.Id = null;
            worker.MustRejoin = true;
            if (!worker.Paused) Rejoin(worker);
        }
        foreach (var client in _clients.Where(c => c.Connected))
        {
            // The pool joins the new center, claims the values of its live RemoteData, and releases
            // the keys of computations that failed with the loss (CenterRestartedException).
            client.Inbox.Clear();
            client.Outbox.Clear();
            client.OpenQuestions.Clear();
            var abandoned = client.Waiting.ToList();
            client.Waiting.Clear();
            client.Id = new ClientId(++_nextId);
            client.Outbox.Enqueue(new ClientJoined(client.Id.Value, ++client.NextRequest));
            client.OpenQuestions.Add(client.NextRequest);
            client.Outbox.Enqueue(new KeysClaimedBy(client.Id.Value, client.Owned.ToList(), abandoned, ++client.NextRequest));
            client.OpenQuestions.Add(client.NextRequest);
        }
    }

    private void Tick(TimeSpan by)
    {
        _clock.Advance(by);
        foreach (var due in _timers.Where(t => t.Due <= _clock.Now).ToList())
        {
            _timers.Remove(due);
            Handle(new TimerFired(due.Timer));
        }
    }

    private void AnswerProbe(int pick)
    {
        if (_probes.Count == 0) return;
        var index = (int)((uint)pick % (uint)_probes.Count);
        var id = _probes[index];
        _probes.RemoveAt(index);
        // The kernel refuses a dead process's port, and answers for a live or paused one.
        var alive = _workers.Any(w => w.Alive && (w.Id == id || _workerById.GetValueOrDefault(id) == w));
        Handle(new WorkerProbed(id, alive));
    }

    private void DeliverNodeEvent()
    {
        if (_nodeEvents.Count == 0) return;
        var next = _nodeEvents[0];
        _nodeEvents.RemoveAt(0);
        Handle(next);
    }

    // ---------------------------------------------------------------- workers

    private SimulatedWorker StartWorker(int cores)
    {
        var worker = new SimulatedWorker(_workers.Count, cores);
        _workers.Add(worker);
        Note($"START {worker.Name} with {cores} cores");
        Rejoin(worker);
        return worker;
    }

    /// <summary>Registers (again), reporting the store kept and the center known before.</summary>
    private void Rejoin(SimulatedWorker worker)
    {
        worker.ForgetSession();
        worker.MustRejoin = false;
        worker.Id = new WorkerId(++_nextId);
        var held = worker.KnownCenter is null ? null : worker.Store.Select(kv => new StoredKey(kv.Key, kv.Value, "System.Int32")).ToList();
        worker.Outbox.Enqueue(new WorkerJoined(worker.Id.Value, worker.Name, $"{worker.Data.Host}:{worker.Data.Port - 1}", worker.Cores, worker.Data, held, worker.KnownCenter, worker.Resources));
    }

    private void Kill(SimulatedWorker? worker)
    {
        if (worker is null) return;
        Note($"KILL {worker.Name}");
        worker.Alive = false;
        worker.Paused = false;
        worker.Store.Clear();
        var outbox = worker.Outbox.ToList();
        worker.ForgetSession();
        foreach (var sent in outbox) worker.Outbox.Enqueue(sent); // already on the wire
        if (worker.Id is { } id)
        {
            _nodeEvents.Add(new WorkerConnectionDropped(id));
            _nodeEvents.Add(new WorkerLeft(id));
        }
    }

    private void Pause(SimulatedWorker? worker)
    {
        if (worker is null) return;
        Note($"PAUSE {worker.Name}");
        worker.Paused = true;
        if (worker.Id is { } id) _nodeEvents.Add(new WorkerLeft(id)); // the failure detector, some time later
    }

    private void Resume(SimulatedWorker? worker)
    {
        if (worker is null) return;
        Note($"RESUME {worker.Name}");
        worker.Paused = false;
        _nodeEvents.RemoveAll(e => e is WorkerLeft left && left.Worker == worker.Id); // back before the detector gave up
        if (worker.MustRejoin) Rejoin(worker);
    }

    private void DeliverFromWorker(SimulatedWorker? worker)
    {
        if (worker is null) return;
        var happened = worker.Outbox.Dequeue();
        var from = happened switch
        {
            WorkerJoined j => j.Worker,
            TasksDone d => d.Worker,
            TasksFailedOn f => f.Worker,
            CopiesStored s => s.Worker,
            _ => throw new SimulationFailure($"A worker sent {happened}"),
        };
        if (happened is WorkerJoined)
        {
            _workerById[from] = worker;
            // The actor watches what registers: a process already dead is reported terminated.
            if (!worker.Alive) _nodeEvents.Add(new WorkerLeft(from));
        }
        else if (!_workerById.ContainsKey(from))
        {
            Note($"  (refused by the actor: {Describe(happened)} from a forgotten {from})");
            return;
        }
        Handle(happened);
    }

    private void DeliverToWorker(SimulatedWorker? worker)
    {
        if (worker is null) return;
        var message = worker.Inbox.Dequeue();
        Note($"{worker.Name} gets {Describe(message)}");
        switch (message)
        {
            case WorkerRegistered registered:
                worker.KnownCenter = registered.CenterIncarnation;
                break;
            case RunOnWorker run:
                var batch = new SimulatedBatch(run.Tasks, run.RemoteInputs.Where(r => !worker.Store.ContainsKey(r.Key)).ToList());
                batch.Fetched = batch.Remote.Count == 0;
                foreach (var task in run.Tasks) worker.Running[task.Key] = batch;
                if (!batch.Fetched) worker.Fetching.Add(batch);
                break;
            case DeleteKeys delete:
                foreach (var key in delete.Keys) worker.Store.Remove(key);
                break;
            case CancelTasks cancel:
                foreach (var key in cancel.Keys) worker.Running.Remove(key);
                break;
            case FetchKeys fetch:
                worker.Replications.Add(fetch);
                break;
            default:
                throw new SimulationFailure($"The center sent a worker {message}");
        }
    }

    /// <summary>Where a value can be fetched from: the first of its holders that lives, runs and still has it.</summary>
    private SimulatedWorker? Source(RemoteInput input) =>
        input.Holders.Select(h => _workers.FirstOrDefault(w => w.Data == h)).FirstOrDefault(w => w is { Alive: true, Paused: false } && w.Store.ContainsKey(input.Key));

    private void CompleteFetch(SimulatedWorker? worker, int pick)
    {
        if (worker is null || worker.Id is not { } id) return;
        var total = worker.Fetching.Count + worker.Replications.Count;
        var index = (int)((uint)pick % (uint)total);
        if (index < worker.Fetching.Count)
        {
            var batch = worker.Fetching[index];
            worker.Fetching.RemoveAt(index);
            var sources = batch.Remote.Select(r => (Input: r, From: Source(r))).ToList();
            if (sources.FirstOrDefault(s => s.From is null) is { Input: { } lost })
            {
                // The center takes such tasks back rather than failing them.
                var failed = batch.Tasks.Where(t => worker.Running.GetValueOrDefault(t.Key) == batch)
                    .Select(t => new FailedTask(t.Key, RemoteError.Of(ErrorKind.InputLost, $"{t.Key}: no holder of input {lost.Key} still has it"))).ToList();
                foreach (var f in failed) worker.Running.Remove(f.Key);
                if (failed.Count > 0) worker.Outbox.Enqueue(new TasksFailedOn(id, failed));
                return;
            }
            var copies = new List<StoredKey>();
            foreach (var (input, from) in sources)
            {
                worker.Store[input.Key] = from!.Store[input.Key];
                copies.Add(new StoredKey(input.Key, from.Store[input.Key], "System.Int32"));
            }
            if (copies.Count > 0) worker.Outbox.Enqueue(new CopiesStored(id, copies));
            batch.Fetched = true;
            return;
        }
        var fetch = worker.Replications[index - worker.Fetching.Count];
        worker.Replications.Remove(fetch);
        var found = fetch.Inputs.Select(r => (Input: r, From: Source(r))).ToList();
        if (found.Any(f => f.From is null))
        {
            worker.Outbox.Enqueue(new CopiesStored(id, [], fetch.ReplicationId, $"Worker {worker.Name} could not fetch the copies"));
            return;
        }
        foreach (var (input, from) in found) worker.Store[input.Key] = from!.Store[input.Key];
        worker.Outbox.Enqueue(new CopiesStored(id, found.Select(f => new StoredKey(f.Input.Key, f.From!.Store[f.Input.Key], "System.Int32")).ToList(), fetch.ReplicationId));
    }

    /// <summary>Runs up to <paramref name="count"/> of the worker's ready tasks and reports them in one message each way.</summary>
    private static void FinishTasks(SimulatedWorker? worker, int pick, int count)
    {
        if (worker is null || worker.Id is not { } id) return;
        var ready = worker.Running.Where(r => r.Value.Fetched).Select(r => r.Key).ToList();
        if (ready.Count == 0) return;
        var start = (int)((uint)pick % (uint)ready.Count);
        var done = new List<StoredKey>();
        var failed = new List<FailedTask>();
        foreach (var key in ready.Skip(start).Take(1 + count % 3))
        {
            var task = worker.Running[key].Tasks.First(t => t.Key == key);
            worker.Running.Remove(key);
            if (task.Dependencies.FirstOrDefault(d => !worker.Store.ContainsKey(d)) is { } missing)
                failed.Add(new FailedTask(key, RemoteError.Of(ErrorKind.InputLost, $"The input {missing} of {key} is not on worker {worker.Name}.")));
            else if (task.FunctionId == Throws.FunctionId)
                failed.Add(new FailedTask(key, new RemoteError(ErrorKind.UserCode, "Distributed.InputLostException", $"{key} threw an exception named like a cluster failure", "at UserCode")));
            else
            {
                var size = 8 + key.Length * 3;
                worker.Store[key] = size;
                done.Add(new StoredKey(key, size, "System.Int32"));
            }
        }
        if (done.Count > 0) worker.Outbox.Enqueue(new TasksDone(id, done));
        if (failed.Count > 0) worker.Outbox.Enqueue(new TasksFailedOn(id, failed));
    }

    // ---------------------------------------------------------------- clients

    private SimulatedClient StartClient()
    {
        var client = new SimulatedClient(_clients.Count) { Id = new ClientId(++_nextId) };
        _clients.Add(client);
        Note($"START client {client.Index}");
        client.Outbox.Enqueue(new ClientJoined(client.Id.Value, ++client.NextRequest));
        client.OpenQuestions.Add(client.NextRequest);
        return client;
    }

    private void DeliverFromClient(SimulatedClient? client)
    {
        if (client is null) return;
        var happened = client.Outbox.Dequeue();
        var from = happened switch
        {
            ClientJoined j => j.Client,
            TasksSubmitted s => s.Client,
            KeysReleased r => r.Client,
            KeysClaimedBy c => c.Client,
            HoldersAsked h => h.Client,
            WorkersAsked w => w.Client,
            ReplicationAsked r => r.Client,
            DatasetPublished p => p.Client,
            DatasetUnpublished u => u.Client,
            ClientLeft l => l.Client,
            _ => throw new SimulationFailure($"A client sent {happened}"),
        };
        if (happened is ClientJoined)
        {
            _clientById[from] = client;
            if (client.Crashed) _nodeEvents.Add(new ClientLeft(from, ProcessGone: true));
        }
        else if (!_clientById.ContainsKey(from))
        {
            Note($"  (refused by the actor: {Describe(happened)} from a forgotten {from})");
            return;
        }
        Handle(happened);
    }

    private void DeliverToClient(SimulatedClient? client)
    {
        if (client is null) return;
        var message = client.Inbox.Dequeue();
        Note($"client {client.Index} gets {Describe(message)}");
        switch (message)
        {
            case ClientConnected connected:
                Answered(client, connected.RequestId);
                break;
            case KeysClaimed claimed:
                Answered(client, claimed.RequestId);
                break;
            case TasksFinished finished:
                foreach (var result in finished.Results)
                {
                    if (!client.Submitted.Contains(result.Key))
                        throw new SimulationFailure($"Client {client.Index} was told {result.Key} finished, which it never submitted.");
                    if (client.Owned.Contains(result.Key))
                        throw new SimulationFailure($"Client {client.Index} was told twice that {result.Key} finished.");
                    if (client.Waiting.Remove(result.Key)) client.Owned.Add(result.Key);
                }
                break;
            case TasksFailed failed:
                foreach (var failure in failed.Failures)
                {
                    if (!client.Submitted.Contains(failure.Key))
                        throw new SimulationFailure($"Client {client.Index} was told {failure.Key} failed, which it never submitted.");
                    if (string.IsNullOrEmpty(failure.Error.TypeName) || string.IsNullOrEmpty(failure.Error.Message))
                        throw new SimulationFailure($"{failure.Key} failed without a named error.");
                    client.Waiting.Remove(failure.Key);
                    client.Owned.Remove(failure.Key); // a value made again that could not be
                }
                break;
            case WhoHasReply reply:
                Answered(client, reply.RequestId);
                foreach (var (key, holders) in reply.Holders)
                    if (!client.Submitted.Contains(key) && holders.Count > 0)
                        throw new SimulationFailure($"Client {client.Index} was told who holds {key}, another client's value.");
                break;
            case WorkersReply workers:
                Answered(client, workers.RequestId);
                foreach (var keys in workers.KeysByWorker.Values)
                    if (keys.FirstOrDefault(k => !client.Submitted.Contains(k)) is { } foreign)
                        throw new SimulationFailure($"Client {client.Index} was shown {foreign}, another client's key.");
                break;
            case ReplicationFinished replication:
                Answered(client, replication.RequestId);
                break;
            case DatasetReply dataset:
                Answered(client, dataset.RequestId);
                break;
            default:
                throw new SimulationFailure($"The center sent a client {message}");
        }
    }

    private static void Answered(SimulatedClient client, long requestId)
    {
        if (!client.OpenQuestions.Remove(requestId))
            throw new SimulationFailure($"Client {client.Index} got an answer to request {requestId}, which it is not waiting for.");
    }

    private string NewKey(SimulatedClient client) => $"k{++_nextKey}-c{client.Index}";

    private void Submit(Step step)
    {
        if (Pick(_clients.Where(c => c.Connected), step.A) is not { Id: { } id } client) return;
        var tasks = new List<TaskSpec>();
        var function = step.C % 7 == 0 ? Throws : Succeeds;
        switch (step.B % 4)
        {
            case 0: // Map: independent tasks
                for (var i = 0; i < 1 + step.C % 5; i++) tasks.Add(new TaskSpec(NewKey(client), function.FunctionId, ArgumentsKind.Dependencies, [], []));
                break;
            case 1: // Apply on values it holds (now and then one it released, or another client's)
                {
                    var inputs = client.Owned.Where((_, i) => (i + step.C) % 3 != 0).Take(1 + step.C % 3).ToList();
                    if (step.C % 11 == 0) inputs.Add(_clients.SelectMany(c => c.Submitted).OrderBy(k => k, StringComparer.Ordinal).FirstOrDefault() ?? "nothing");
                    if (inputs.Count > 1 && step.C % 5 == 0) inputs.Add(inputs[0]); // an input read twice
                    tasks.Add(new TaskSpec(NewKey(client), function.FunctionId, ArgumentsKind.Dependencies, [], inputs));
                    break;
                }
            default: // a graph: intermediates read by later tasks and deleted after, outputs kept
                {
                    var size = 2 + step.C % 6;
                    var keys = Enumerable.Range(0, size).Select(_ => NewKey(client)).ToList();
                    var dependencies = new List<List<string>>();
                    for (var i = 0; i < size; i++)
                    {
                        var inputs = new List<string>();
                        if (i > 0) inputs.Add(keys[(i * 7 + step.C) % i]);
                        if (i > 1 && (i + step.C) % 2 == 0) inputs.Add(keys[(i * 3 + step.C) % i]);
                        if (i == 0 && client.Owned.Count > 0 && step.C % 3 == 0) inputs.Add(client.Owned.First());
                        dependencies.Add(inputs);
                    }
                    for (var i = 0; i < size; i++)
                    {
                        var consumers = dependencies.Skip(i + 1).Count(d => d.Contains(keys[i])); // tasks that read it, as the Pool counts
                        var taskFunction = i == size - 1 ? function : Succeeds;
                        tasks.Add(new TaskSpec(keys[i], taskFunction.FunctionId, ArgumentsKind.Dependencies, [], dependencies[i], consumers, Priority: i));
                    }
                    break;
                }
        }
        // Now and then the tasks name allowed workers (by name or address, maybe one that is gone) or
        // ask for a GPU, or a part of one: the center must keep them to such workers and count the GPUs.
        if (Restrictions(step) is { } restrictions)
            for (var i = 0; i < tasks.Count; i++)
                if (step.B % 4 < 2 || i == tasks.Count - 1) tasks[i] = tasks[i] with { Restrictions = restrictions };
        foreach (var task in tasks)
        {
            client.Submitted.Add(task.Key);
            if (task.ReleaseAfterConsumers == 0) client.Waiting.Add(task.Key);
        }
        Note($"client {client.Index} submits {string.Join(" ", tasks.Select(t => $"{t.Key}[{string.Join(",", t.Dependencies)}]{(t.ReleaseAfterConsumers > 0 ? $"x{t.ReleaseAfterConsumers}" : "")}"))}");
        client.Outbox.Enqueue(new TasksSubmitted(id, Code, [function, Succeeds], tasks));
    }

    private TaskRestrictions? Restrictions(Step step)
    {
        var named = _workers[(int)((uint)(step.A + step.C) % (uint)_workers.Count)];
        var anyWorker = Array.Empty<string>();
        var noResources = new Dictionary<string, double>();
        return (step.C / 7 % 6) switch
        {
            1 => new TaskRestrictions(anyWorker, new Dictionary<string, double> { ["GPU"] = 1 }),
            2 => new TaskRestrictions(anyWorker, new Dictionary<string, double> { ["GPU"] = 0.5 }),
            3 => new TaskRestrictions([named.Name], noResources),
            4 => new TaskRestrictions([$"{named.Data.Host}:{named.Data.Port - 1}", "nobody"], new Dictionary<string, double> { ["GPU"] = 0.5 }),
            _ => null,
        };
    }

    /// <summary>Whether no worker the center knows could ever run <paramref name="task"/>: it may wait for ever, as in dask.</summary>
    private bool Unrunnable(PendingTask task) =>
        task.Spec.Restrictions is { } restrictions && !_core.Workers.All.Any(w => w.CouldRun(restrictions));

    private void Release(SimulatedClient? client, int pick, int count)
    {
        if (client is not { Id: { } id }) return;
        var candidates = client.Owned.Concat(client.Waiting).ToList();
        if (candidates.Count == 0) return;
        var keys = candidates.Skip((int)((uint)pick % (uint)candidates.Count)).Take(1 + count % 2).ToList();
        foreach (var key in keys)
        {
            client.Owned.Remove(key);
            client.Waiting.Remove(key);
        }
        Note($"client {client.Index} releases {string.Join(" ", keys)}");
        client.Outbox.Enqueue(new KeysReleased(id, keys));
    }

    private void AskHolders(SimulatedClient? client, int pick)
    {
        if (client is not { Id: { } id }) return;
        var keys = client.Owned.Concat(client.Waiting).Where((_, i) => (i + pick) % 2 == 0).Take(3).ToList();
        if (pick % 5 == 0) keys.Add(_clients.SelectMany(c => c.Submitted).OrderBy(k => k, StringComparer.Ordinal).LastOrDefault() ?? "nothing");
        client.Outbox.Enqueue(new HoldersAsked(id, keys, ++client.NextRequest));
        client.OpenQuestions.Add(client.NextRequest);
        _holdersAsked[(client.Index, client.NextRequest)] = keys;
    }

    private static void AskWorkers(SimulatedClient? client, int pick)
    {
        if (client is not { Id: { } id }) return;
        client.Outbox.Enqueue(new WorkersAsked(id, pick % 2 == 0, ++client.NextRequest));
        client.OpenQuestions.Add(client.NextRequest);
    }

    private void Replicate(SimulatedClient? client, int pick, int target)
    {
        if (client is not { Id: { } id } || client.Owned.Count == 0) return;
        var keys = client.Owned.Skip((int)((uint)pick % (uint)client.Owned.Count)).Take(2).ToList();
        var worker = _workers[(int)((uint)target % (uint)_workers.Count)].Name;
        client.Outbox.Enqueue(new ReplicationAsked(id, keys, target % 9 == 0 ? "nobody" : worker, ++client.NextRequest));
        client.OpenQuestions.Add(client.NextRequest);
    }

    /// <summary>Publishes some of the client's values under one of three names (now and then over an existing one), which keeps them past their release.</summary>
    private static void Publish(SimulatedClient? client, int pick, int count)
    {
        if (client is not { Id: { } id }) return;
        var keys = client.Owned.Skip(client.Owned.Count == 0 ? 0 : (int)((uint)pick % (uint)client.Owned.Count)).Take(1 + count % 3).ToList();
        if (count % 7 == 0) keys.Add("never-made");
        client.Outbox.Enqueue(new DatasetPublished(id, $"ds{pick % 3}", keys, Overwrite: count % 2 == 0, ++client.NextRequest));
        client.OpenQuestions.Add(client.NextRequest);
    }

    private static void Unpublish(SimulatedClient? client, int pick)
    {
        if (client is not { Id: { } id }) return;
        client.Outbox.Enqueue(new DatasetUnpublished(id, $"ds{pick % 3}", ++client.NextRequest));
        client.OpenQuestions.Add(client.NextRequest);
    }

    private void Leave(SimulatedClient? client, bool crashed)
    {
        if (client is not { Id: { } id }) return;
        Note($"client {client.Index} {(crashed ? "CRASHES" : "leaves")}");
        client.Connected = false;
        client.Crashed = crashed;
        client.Waiting.Clear();
        client.OpenQuestions.Clear();
        client.Inbox.Clear();
        if (crashed) _nodeEvents.Add(new ClientLeft(id, ProcessGone: true));
        else client.Outbox.Enqueue(new ClientLeft(id));
    }

    // ---------------------------------------------------------------- settling

    /// <summary>
    /// Lets the world settle: no more failures, paused workers resume, every message, fetch, task,
    /// probe and timer is carried through, until nothing is left to do. Then every question and wait
    /// of a connected client must be answered.
    /// </summary>
    public void Settle()
    {
        Note("SETTLE");
        foreach (var paused in _workers.Where(w => w.Paused).ToList()) Resume(paused);
        if (!_workers.Any(w => w.Alive)) StartWorker(2);
        // Tasks asking for a GPU wait for a worker that has one: there is one once the world settles.
        while (!_workers.Any(w => w.Alive && w.Gpus > 0)) StartWorker(1);
        for (var rounds = 0; ; rounds++)
        {
            if (rounds > 200_000) throw new SimulationFailure("The world did not settle within 200,000 steps.");
            if (!SettleOnce()) break;
            CheckInvariants(new Step(Act.Tick, 0, 0, 0));
        }
        foreach (var client in _clients.Where(c => c.Connected))
        {
            // A task pinned to workers that are all gone waits (a matching worker may join), and so
            // does what reads it; nothing else may.
            var stuck = client.Waiting.Where(k => !_core.Tasks.TryGet(k, out var task) || !WaitsForUnrunnable(task)).ToList();
            if (stuck.Count > 0)
                throw new SimulationFailure($"Settled, client {client.Index} still waits for {string.Join(", ", stuck.Take(5))}: never delivered nor failed.");
            var unanswered = client.OpenQuestions.Where(r => !(_holdersAsked.TryGetValue((client.Index, r), out var asked)
                && asked.Any(k => _core.Tasks.TryGet(k, out var task) && WaitsForUnrunnable(task)))).ToList();
            if (unanswered.Count > 0)
                throw new SimulationFailure($"Settled, client {client.Index} still waits for answers to requests {string.Join(", ", unanswered)}.");
        }
        if (_core.Tasks.All.FirstOrDefault(t => !WaitsForUnrunnable(t)) is { } pending)
            throw new SimulationFailure($"Settled, the center still has {_core.Tasks.Count} pending tasks (e.g. {pending.Spec.Key}) that nobody will finish.");
    }

    /// <summary>Whether the task, or a task it waits for (upstream), is one that no registered worker could run.</summary>
    private bool WaitsForUnrunnable(PendingTask task)
    {
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var next = new Stack<PendingTask>();
        next.Push(task);
        while (next.TryPop(out var current))
        {
            if (!seen.Add(current.Spec.Key)) continue;
            if (Unrunnable(current) && current.AssignedTo is null) return true;
            foreach (var input in current.Spec.Dependencies)
                if (_core.Tasks.TryGet(input, out var producer)) next.Push(producer);
        }
        return false;
    }

    private bool SettleOnce()
    {
        if (_nodeEvents.Count > 0) { DeliverNodeEvent(); return true; }
        if (_probes.Count > 0) { AnswerProbe(0); return true; }
        if (_clients.FirstOrDefault(c => c.Outbox.Count > 0) is { } sender) { DeliverFromClient(sender); return true; }
        if (_workers.FirstOrDefault(w => w.Outbox.Count > 0) is { } reporter) { DeliverFromWorker(reporter); return true; }
        if (_workers.FirstOrDefault(w => w.Alive && w.Inbox.Count > 0) is { } told) { DeliverToWorker(told); return true; }
        if (_clients.FirstOrDefault(c => c.Connected && c.Inbox.Count > 0) is { } answered) { DeliverToClient(answered); return true; }
        if (_workers.FirstOrDefault(w => w.Alive && (w.Fetching.Count > 0 || w.Replications.Count > 0)) is { } fetcher) { CompleteFetch(fetcher, 0); return true; }
        if (_workers.FirstOrDefault(w => w.Alive && w.Running.Values.Any(b => b.Fetched)) is { } busy) { FinishTasks(busy, 0, 2); return true; }
        if (_timers.Count > 0) { Tick(_timers.Min(t => t.Due) - _clock.Now + TimeSpan.FromMilliseconds(1)); return true; }
        return false;
    }

    /// <summary>Every client releases what it keeps and leaves; once settled, nothing of anything may remain anywhere.</summary>
    /// <summary>The end of a run: everything delivered, then everything released, and nothing left.</summary>
    public void Finish()
    {
        Settle();
        ReleaseEverythingAndCheckEmpty();
    }

    public void ReleaseEverythingAndCheckEmpty()
    {
        // Datasets keep their values past every release: a client unpublishes them first.
        if (_core.DatasetNames.Count > 0)
        {
            var unpublisher = _clients.FirstOrDefault(c => c.Connected && c.Id is not null) ?? StartClient();
            Settle();
            foreach (var name in _core.DatasetNames.ToList())
            {
                unpublisher.Outbox.Enqueue(new DatasetUnpublished(unpublisher.Id!.Value, name, ++unpublisher.NextRequest));
                unpublisher.OpenQuestions.Add(unpublisher.NextRequest);
            }
            Settle();
        }
        foreach (var client in _clients.Where(c => c.Connected && c.Id is not null))
        {
            if (client.Owned.Count > 0) client.Outbox.Enqueue(new KeysReleased(client.Id!.Value, client.Owned.ToList()));
            client.Owned.Clear();
            Leave(client, crashed: false);
        }
        Settle();
        var problems = new List<string>();
        if (_core.Clients.All.Count > 0) problems.Add($"{_core.Clients.All.Count} clients still known");
        if (_core.Keys.Count > 0) problems.Add($"{_core.Keys.Count} keys still known (e.g. {_core.Keys.All.First().Key})");
        if (_core.Keys.Lost.Count > 0) problems.Add($"{_core.Keys.Lost.Count} lost keys still remembered");
        if (_core.Lineage.Count > 0) problems.Add($"{_core.Lineage.Count} lineages still kept (e.g. {_core.Lineage.Keys.First()})");
        if (_core.Tasks.Dependents.Count > 0) problems.Add($"tasks still wait for {string.Join(", ", _core.Tasks.Dependents.Keys.Take(3))}");
        if (_core.Tasks.Parked.Count > 0) problems.Add($"{_core.Tasks.Parked.Count} tasks still parked");
        if (_core.ParkedWhoHas > 0) problems.Add($"{_core.ParkedWhoHas} questions still parked");
        if (_core.OpenReplications > 0) problems.Add($"{_core.OpenReplications} replications still open");
        foreach (var worker in _core.Workers.All)
        {
            if (worker.Load != 0 || worker.Held.Count != 0 || worker.StoredBytes != 0 || worker.HeldIntermediates != 0 || worker.Keys.Count != 0 || worker.AddingInFlight != 0)
                problems.Add($"worker {worker.Name}: load {worker.Load}, held {worker.Held.Count}, bytes {worker.StoredBytes}, intermediates {worker.HeldIntermediates}, keys {worker.Keys.Count}, adding {worker.AddingInFlight}");
        }
        foreach (var worker in _workers.Where(w => w.Alive && w.Store.Count > 0))
            problems.Add($"{worker.Name} still stores {string.Join(", ", worker.Store.Keys.Take(5))}");
        if (problems.Count > 0) throw new SimulationFailure("After every client released everything and left: " + string.Join("; ", problems));
    }

    // ---------------------------------------------------------------- invariants

    private void CheckInvariants(Step step)
    {
        var tasks = _core.Tasks;
        var waits = new Dictionary<PendingTaskRef, int>();
        foreach (var (_, list) in tasks.Dependents)
            foreach (var waiting in list)
                if (waiting.Current) waits[new PendingTaskRef(waiting)] = waits.GetValueOrDefault(new PendingTaskRef(waiting)) + 1;
        foreach (var task in tasks.All)
        {
            if (!task.Current) Fail(step, $"task {task.Spec.Key} is in the table but not current");
            if (!_core.Clients.TryGet(task.Client, out var owner)) Fail(step, $"task {task.Spec.Key} belongs to {task.Client}, who is gone");
            else if (!owner.PendingTasks.Contains(task.Spec.Key)) Fail(step, $"task {task.Spec.Key} is not among its client's pending tasks");
            if (task.AssignedTo is { } assigned && !_core.Workers.TryGet(assigned.Id, out _)) Fail(step, $"task {task.Spec.Key} is assigned to gone worker {assigned.Name}");
            if (task.WaitingFor != waits.GetValueOrDefault(new PendingTaskRef(task)))
                Fail(step, $"task {task.Spec.Key} waits for {task.WaitingFor} inputs but is listed {waits.GetValueOrDefault(new PendingTaskRef(task))} times");
            if (task.AssignedTo is not null && task.WaitingFor > 0) Fail(step, $"task {task.Spec.Key} was sent while waiting for inputs");
            if (task.AssignedTo is { } runner && task.Spec.Restrictions is { } restrictions && !runner.IsAllowed(restrictions))
                Fail(step, $"task {task.Spec.Key}, allowed on [{string.Join(", ", restrictions.Workers)}], was sent to {runner.Name} at {runner.Address}");
            var takes = task.Spec.Restrictions is { Resources.Count: > 0 } && task.AssignedTo is not null;
            if (task.TookResources != takes) Fail(step, $"task {task.Spec.Key} {(task.TookResources ? "holds" : "does not hold")} resources, assigned to {task.AssignedTo?.Name ?? "nobody"}");
        }
        foreach (var client in _core.Clients.All)
            foreach (var key in client.PendingTasks)
                if (!tasks.TryGet(key, out var task) || task.Client != client.Id) Fail(step, $"{client.Id} counts {key} as pending, but no such task of its is");
        var assignedTo = new Dictionary<string, (int Load, int Adding)>(StringComparer.Ordinal);
        foreach (var task in tasks.All)
            if (task.AssignedTo is { } worker)
            {
                var (load, adding) = assignedTo.GetValueOrDefault(worker.Name);
                assignedTo[worker.Name] = (load + 1, adding + (task.AddsValue ? 1 : 0));
            }
        var heldBy = new Dictionary<string, (int Keys, long Bytes, int Intermediates)>(StringComparer.Ordinal);
        foreach (var key in _core.Keys.All)
            foreach (var holder in key.Holders)
            {
                var (count, bytes, intermediates) = heldBy.GetValueOrDefault(holder.Name);
                heldBy[holder.Name] = (count + 1, bytes + key.Size, intermediates + (key.IsIntermediate ? 1 : 0));
                if (!holder.Keys.Contains(key.Key)) Fail(step, $"{key.Key} lists {holder.Name} as a holder, which does not count it");
            }
        foreach (var worker in _core.Workers.All)
        {
            var (load, adding) = assignedTo.GetValueOrDefault(worker.Name);
            if (worker.Load != load) Fail(step, $"worker {worker.Name} has load {worker.Load} but {load} tasks assigned");
            if (worker.AddingInFlight != adding) Fail(step, $"worker {worker.Name} counts {worker.AddingInFlight} value-adding tasks, {adding} are");
            var bound = Math.Max(_core.Placement.OrderedWindow(worker), _settings.MaxWindow);
            if (worker.Load > bound) Fail(step, $"worker {worker.Name} has {worker.Load} tasks, beyond its window bound {bound}");
            var (count, bytes, intermediates) = heldBy.GetValueOrDefault(worker.Name);
            if (worker.Keys.Count != count) Fail(step, $"worker {worker.Name} counts {worker.Keys.Count} keys, holds {count}");
            if (worker.StoredBytes != bytes) Fail(step, $"worker {worker.Name} counts {worker.StoredBytes} bytes, holds {bytes}");
            if (worker.HeldIntermediates != intermediates) Fail(step, $"worker {worker.Name} counts {worker.HeldIntermediates} intermediates, holds {intermediates}");
            CheckResources(step, worker, tasks);
        }
        foreach (var key in _core.Keys.All)
        {
            if (key.Holders.Distinct().Count() != key.Holders.Count) Fail(step, $"{key.Key} lists a holder twice");
            foreach (var holder in key.Holders)
            {
                if (!_core.Workers.TryGet(holder.Id, out _)) Fail(step, $"{key.Key} is held by gone worker {holder.Name}");
                // A value is never lost while a holder of it lives: the center's holders have it.
                if (_workerById.TryGetValue(holder.Id, out var simulated) && simulated.Alive && simulated.Id == holder.Id && !simulated.Store.ContainsKey(key.Key))
                    Fail(step, $"the center says {holder.Name} holds {key.Key}, which it does not store");
            }
            if (tasks.Contains(key.Key)) Fail(step, $"{key.Key} is both stored and pending");
        }
        // A published value stays known: stored, being made again, or remembered as lost.
        foreach (var name in _core.DatasetNames)
            foreach (var key in _core.DatasetKeys(name))
                if (!_core.Keys.Contains(key) && !_core.Keys.Lost.ContainsKey(key) && !tasks.Contains(key))
                    Fail(step, $"{key} of dataset {name} is neither stored, pending nor remembered as lost");
        // A task never runs twice at once, except after its worker's death (or downing); a worker
        // never runs more GPU than it has.
        var running = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var worker in _workers.Where(w => w.Alive && w.Id is { } id && _workerById.ContainsKey(id)))
        {
            double gpus = 0;
            foreach (var (key, batch) in worker.Running)
            {
                if (!running.TryAdd(key, worker.Name)) Fail(step, $"{key} runs on {running[key]} and {worker.Name} at once");
                gpus += batch.Tasks.First(t => t.Key == key).Restrictions?.Resources.GetValueOrDefault("GPU") ?? 0;
            }
            if (gpus > worker.Gpus + 1e-9) Fail(step, $"{worker.Name} runs tasks taking {gpus} GPU, it has {worker.Gpus}");
        }
    }

    /// <summary>A worker's resources in use are those of the tasks running there, never beyond what it offers, and none when none runs.</summary>
    private static void CheckResources(Step step, WorkerEntry worker, TaskTable tasks)
    {
        var sum = new Dictionary<string, double>(StringComparer.Ordinal);
        foreach (var task in tasks.All)
            if (task.AssignedTo == worker && task.TookResources)
                foreach (var (name, amount) in task.Spec.Restrictions!.Resources) sum[name] = sum.GetValueOrDefault(name) + amount;
        if (sum.Count == 0)
        {
            if (worker.ResourcesInUse is not null || worker.ResourceTasks != 0)
                Fail(step, $"worker {worker.Name} runs no task that takes resources, but counts {worker.ResourceTasks} and {FormatAmounts(worker.ResourcesInUse)} in use");
            return;
        }
        foreach (var (name, amount) in sum)
        {
            var counted = worker.ResourcesInUse?.GetValueOrDefault(name) ?? 0;
            if (Math.Abs(counted - amount) > 1e-9) Fail(step, $"worker {worker.Name} counts {counted} {name} in use, its tasks take {amount}");
            var total = worker.Resources?.GetValueOrDefault(name) ?? 0;
            if (amount > total + 1e-9) Fail(step, $"worker {worker.Name} runs tasks taking {amount} {name}, beyond the {total} it offers");
        }
    }

    private static string FormatAmounts(IReadOnlyDictionary<string, double>? amounts) => amounts is null ? "nothing" : ResourceAmounts.Format(amounts);

    private readonly record struct PendingTaskRef(PendingTask Task)
    {
        public bool Equals(PendingTaskRef other) => ReferenceEquals(Task, other.Task);
        public override int GetHashCode() => System.Runtime.CompilerServices.RuntimeHelpers.GetHashCode(Task);
    }

    private static void Fail(Step step, string what) => throw new SimulationFailure($"after {step}: {what}");

    private static string Describe(object message) => message switch
    {
        RunOnWorker r => $"RunOnWorker({r.Worker}: {string.Join(" ", r.Tasks.Select(t => t.Key))}; fetch {string.Join(" ", r.RemoteInputs.Select(i => i.Key))})",
        TasksSubmitted s => $"TasksSubmitted({s.Client}: {string.Join(" ", s.Tasks.Select(t => t.Key))})",
        TasksDone d => $"TasksDone({d.Worker}: {string.Join(" ", d.Results.Select(r => r.Key))})",
        TasksFailedOn f => $"TasksFailedOn({f.Worker}: {string.Join(" ", f.Failures.Select(r => $"{r.Key}:{r.Error.TypeName}"))})",
        TasksFinished f => $"TasksFinished({string.Join(" ", f.Results.Select(r => r.Key))})",
        TasksFailed f => $"TasksFailed({string.Join(" ", f.Failures.Select(r => $"{r.Key}:{r.Error.TypeName}"))})",
        CopiesStored c => $"CopiesStored({c.Worker}: {string.Join(" ", c.Keys.Select(k => k.Key))}{(c.ReplicationId is { } r ? $" for #{r}" : "")}{(c.Error is null ? "" : " error")})",
        DeleteKeys d => $"DeleteKeys({string.Join(" ", d.Keys)})",
        CancelTasks c => $"CancelTasks({string.Join(" ", c.Keys)})",
        KeysReleased r => $"KeysReleased({r.Client}: {string.Join(" ", r.Keys)})",
        WorkerJoined j => $"WorkerJoined({j.Worker} {j.Name}, held {j.HeldKeys?.Count ?? 0}, knew {j.PreviousCenter ?? "none"})",
        _ => message.ToString() ?? message.GetType().Name,
    };
}
