using System.Net.Sockets;
using Akka.Actor;
using Akka.Cluster;
using Akka.Event;
using Akka.Remote;
using Distributed.Center.Core;
using Distributed.Center.Dashboard;
using Distributed.Protocol;
using Distributed.Protocol.Hosting;

namespace Distributed.Center;

/// <summary>
/// The center as an actor, a cluster singleton on the center node: it checks who sent each message
/// (a client is the actor that connected, a worker the actor that registered), hands it to the
/// <see cref="CenterCore"/> as an event, and carries out the commands the core returns. Probes of
/// data ports and timers are its I/O; every decision is the core's.
/// </summary>
public sealed class CenterActor : ReceiveActor, IWithTimers
{
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly Refusals _refusals;
    private readonly CenterCore _core;
    private readonly CenterRecorder _recorder;
    private readonly Dictionary<IActorRef, WorkerId> _workerIds = [];
    private readonly Dictionary<WorkerId, IActorRef> _workerRefs = [];
    private readonly Dictionary<IActorRef, ClientId> _clientIds = [];
    private readonly Dictionary<ClientId, IActorRef> _clientRefs = [];
    /// <summary>Each client's <see cref="AssemblyRelay"/>, which the workers are given in its place.</summary>
    private readonly Dictionary<ClientId, IActorRef> _assemblyRelays = [];
    private long _nextId;

    /// <inheritdoc />
    public ITimerScheduler Timers { get; set; } = null!;

    /// <summary>Creates the center.</summary>
    public CenterActor()
    {
        var self = Cluster.Get(Context.System).SelfAddress;
        _core = new CenterCore(CenterConfig.Read(Context.System.Settings.Config), TimeProvider.System, $"{self.Host}:{self.Port}", Guid.NewGuid().ToString("N"));
        _refusals = new Refusals(_log, "The center");
        _recorder = new CenterRecorder(CenterObservations.Get(Context.System), TimeProvider.System);
        Receive<RegisterWorker>(HandleRegisterWorker);
        Receive<ConnectClient>(HandleConnectClient);
        Receive<ClaimKeys>(m => FromClient(m, client => new KeysClaimedBy(client, m.Keys, m.Released, m.RequestId)));
        Receive<SubmitTasks>(m => FromClient(m, client =>
        {
            _recorder.Submitted(client, m.Tasks);
            return new TasksSubmitted(client, m.Code, m.Functions, m.Tasks, m.DirectWorker);
        }));
        Receive<WhoHas>(m => FromClient(m, client => new HoldersAsked(client, m.Keys, m.RequestId)));
        Receive<GetWorkers>(m => FromClient(m, client => new WorkersAsked(client, m.IncludeKeys, m.RequestId)));
        Receive<GetProgress>(m => FromClient(m, client => new ProgressAsked(client, m.RequestId)));
        Receive<ReleaseKeys>(m => FromClient(m, client => new KeysReleased(client, m.Keys)));
        Receive<DisconnectClient>(m => FromClient(m, client => new ClientLeft(client)));
        Receive<ReplicateKeys>(m => FromClient(m, client => new ReplicationAsked(client, m.Keys, m.Worker, m.RequestId)));
        Receive<ScatterKeys>(m => FromClient(m, client => new ScatterAsked(client, m.Keys, m.Broadcast, m.RequestId)));
        Receive<AwaitScattered>(m => FromClient(m, client => new ScatterAwaited(client, m.Keys, m.RequestId)));
        Receive<PublishDataset>(m => FromClient(m, client => new DatasetPublished(client, m.Name, m.Keys, m.Overwrite, m.RequestId)));
        Receive<UnpublishDataset>(m => FromClient(m, client => new DatasetUnpublished(client, m.Name, m.RequestId)));
        Receive<GetDataset>(m => FromClient(m, client => new DatasetAsked(client, m.Name, m.RequestId)));
        Receive<ListDatasets>(m => FromClient(m, client => new DatasetsListed(client, m.RequestId)));
        Receive<RetireWorkers>(m => FromClient(m, client => new RetirementAsked(client, m.Workers, m.RequestId)));
        Receive<RetireMe>(m => FromWorker(m, worker => new RetirementOffered(worker)));
        // A stopping worker says so before its node leaves: forgotten now, not after the cluster's gossip.
        Receive<LeavingNow>(_ =>
        {
            if (_workerIds.TryGetValue(Sender, out var worker)) Apply(new WorkerLeft(worker));
            Sender.Tell(LeaveNoted.Instance);
        });
        Receive<TasksFinished>(m => FromWorker(m, worker =>
        {
            _recorder.Finished(m.Results, m.Times);
            return new TasksDone(worker, m.Results);
        }));
        Receive<TasksFailed>(m => FromWorker(m, worker =>
        {
            _recorder.FailedOnWorker(m.Failures);
            return new TasksFailedOn(worker, m.Failures);
        }));
        Receive<KeysAdded>(m => FromWorker(m, worker => new CopiesStored(worker, m.Keys, m.ReplicationId, m.Error)));
        Receive<Terminated>(HandleTerminated);
        Receive<DisassociatedEvent>(HandleDisassociated);
        Receive<ProbeResult>(m => Apply(new WorkerProbed(m.Worker, m.Alive)));
        Receive<ClientProbeResult>(HandleClientProbeResult);
        Receive<TimerDue>(m => Apply(new TimerFired(m.Timer)));
        // Not a decision of the core: recorded for the dashboard only.
        Receive<WorkerStatus>(m =>
        {
            if (_workerIds.TryGetValue(Sender, out var worker)) _recorder.Status(worker, m);
            else _refusals.Refuse(Sender, m, "the sender is not a registered worker (or it was counted as gone)");
        });
        // From the dashboard, in this process only (the message is not a protocol message, so no peer can send it).
        Receive<CenterViewAsked>(_ => Sender.Tell(_core.View()));
    }

    /// <summary>Props of the center.</summary>
    public static Props Props() => Akka.Actor.Props.Create(() => new CenterActor());

    /// <inheritdoc />
    protected override void PreStart() => Context.System.EventStream.Subscribe(Self, typeof(DisassociatedEvent));

    /// <inheritdoc />
    protected override void PostStop() => Context.System.EventStream.Unsubscribe(Self);

    private sealed record ProbeResult(WorkerId Worker, bool Alive);
    private sealed record ClientProbeResult(IActorRef Client, bool Alive);
    private sealed record TimerDue(long Timer);

    /// <summary>Hands a client's message to the core when its sender is a connected client; refuses it otherwise.</summary>
    private void FromClient(object message, Func<ClientId, CenterEvent> toEvent)
    {
        if (_clientIds.TryGetValue(Sender, out var client)) Apply(toEvent(client));
        else _refusals.Refuse(Sender, message, "the sender is not a connected client (it sent no ConnectClient)");
    }

    /// <summary>
    /// Hands a worker's message to the core when its sender is a registered worker, by its actor only:
    /// a worker downed while paused may still speak after a new incarnation registered under the same
    /// name, and must not be heard. Refuses it otherwise.
    /// </summary>
    private void FromWorker(object message, Func<WorkerId, CenterEvent> toEvent)
    {
        if (_workerIds.TryGetValue(Sender, out var worker)) Apply(toEvent(worker));
        else _refusals.Refuse(Sender, message, "the sender is not a registered worker (or it was counted as gone)");
    }

    private void HandleRegisterWorker(RegisterWorker message)
    {
        if (Sender.IsNobody() || _clientIds.ContainsKey(Sender))
        {
            _refusals.Refuse(Sender, message, "a worker registers from its own actor, and a client cannot be one");
            return;
        }
        if (!_workerIds.TryGetValue(Sender, out var id))
        {
            id = new WorkerId(++_nextId);
            _workerIds[Sender] = id;
            _workerRefs[id] = Sender;
            Context.Watch(Sender);
        }
        Apply(new WorkerJoined(id, message.Name, message.Address, message.Cores, message.Data, message.HeldKeys, message.PreviousCenter, message.Resources));
    }

    private void HandleConnectClient(ConnectClient message)
    {
        if (Sender.IsNobody() || _workerIds.ContainsKey(Sender))
        {
            _refusals.Refuse(Sender, message, "a client connects from its own actor, and a worker cannot be one");
            return;
        }
        if (!_clientIds.TryGetValue(Sender, out var id))
        {
            id = new ClientId(++_nextId);
            _clientIds[Sender] = id;
            _clientRefs[id] = Sender;
            _assemblyRelays[id] = Context.ActorOf(AssemblyRelay.Props(Sender), $"code-of-client-{id.Value}");
            Context.Watch(Sender);
        }
        Apply(new ClientJoined(id, message.RequestId));
    }

    private void HandleTerminated(Terminated message)
    {
        if (_workerIds.TryGetValue(message.ActorRef, out var worker)) Apply(new WorkerLeft(worker));
        else if (_clientIds.TryGetValue(message.ActorRef, out var client)) Apply(new ClientLeft(client));
    }

    private void HandleDisassociated(DisassociatedEvent message)
    {
        foreach (var (workerRef, worker) in _workerIds.ToList())
            if (workerRef.Path.Address.Equals(message.RemoteAddress)) Apply(new WorkerConnectionDropped(worker));
        // A killed client program: its queued tasks are dropped and its data released now rather than
        // after the failure detector. A client has no data port; its Akka port serves. Not a client that
        // is no member: it only dials out, its port may be behind a firewall or NAT (a refusal there, or
        // another host at that address, proves nothing), and its death watch tells within seconds.
        foreach (var clientRef in _clientIds.Keys)
        {
            var address = clientRef.Path.Address;
            if (!address.Equals(message.RemoteAddress) || address.Host is not { } host || address.Port is not { } port || !IsMember(address)) continue;
            ProbeAsync(new DataEndpoint(host, port)).PipeTo(Self, success: alive => new ClientProbeResult(clientRef, alive), failure: _ => new ClientProbeResult(clientRef, true));
        }
    }

    /// <summary>Whether <paramref name="address"/> is a node of the cluster (a member client, a worker), not a client that only dials out.</summary>
    private static bool IsMember(Address address) => Cluster.Get(Context.System).State.Members.Any(m => m.Address.Equals(address));

    private void HandleClientProbeResult(ClientProbeResult message)
    {
        if (message.Alive || !_clientIds.TryGetValue(message.Client, out var client)) return;
        Apply(new ClientLeft(client, ProcessGone: true));
    }

    /// <summary>Hands an event to the core and carries out its commands, in order.</summary>
    private void Apply(CenterEvent happened)
    {
        // Traced: how many tasks each message carries, and how long the center takes per event.
        long started = 0;
        if (HopTrace.Enabled)
        {
            started = System.Diagnostics.Stopwatch.GetTimestamp();
            if (happened is TasksDone done) HopTrace.Count("center: results per TasksFinished", done.Results.Count);
            else if (happened is TasksSubmitted submitted) HopTrace.Count("center: tasks per SubmitTasks", submitted.Tasks.Count);
        }
        foreach (var command in _core.Handle(happened))
        {
            switch (command)
            {
                case TellWorker c:
                    if (_workerRefs.TryGetValue(c.Worker, out var worker)) worker.Tell(c.Message);
                    if (c.Message is WorkerRegistered registered) _recorder.Registered(c.Worker, registered.AssignedName);
                    break;
                case TellClient c:
                    if (_clientRefs.TryGetValue(c.Client, out var client)) client.Tell(c.Message);
                    if (c.Message is TasksFailed failed) _recorder.ClientToldOfFailures(c.Client, failed);
                    break;
                case RunOnWorker c:
                    _recorder.Sent(c.Worker, c.Tasks);
                    HopTrace.Count("center: tasks per RunTasks", c.Tasks.Count);
                    if (_workerRefs.TryGetValue(c.Worker, out var runner))
                        runner.Tell(new RunTasks(_assemblyRelays.GetValueOrDefault(c.Client, ActorRefs.Nobody), c.Code, c.Functions, c.Tasks, c.RemoteInputs));
                    break;
                case ProbeWorker c:
                    var probed = c.Worker;
                    ProbeAsync(c.Data).PipeTo(Self, success: alive => new ProbeResult(probed, alive), failure: _ => new ProbeResult(probed, true));
                    break;
                case DownWorker c:
                    _recorder.Downed(c.Worker);
                    if (_workerRefs.TryGetValue(c.Worker, out var downed)) Cluster.Get(Context.System).Down(downed.Path.Address);
                    break;
                case WorkerForgotten c:
                    _recorder.Left(c.Worker);
                    if (_workerRefs.Remove(c.Worker, out var forgotten))
                    {
                        _workerIds.Remove(forgotten);
                        Context.Unwatch(forgotten);
                    }
                    break;
                case ClientForgotten c:
                    if (!_clientRefs.Remove(c.Client, out var gone)) break;
                    // One line at information: a client that goes is routine, whether it closed or was killed.
                    _log.Info("Client at {0} left{1}: its queued tasks are dropped and the values only it kept released",
                        gone.Path.Address, c.DownNode ? " (its process is gone)" : "");
                    _clientIds.Remove(gone);
                    if (_assemblyRelays.Remove(c.Client, out var relay)) Context.Stop(relay);
                    Context.Unwatch(gone);
                    if (c.DownNode && IsMember(gone.Path.Address)) Cluster.Get(Context.System).Down(gone.Path.Address);
                    break;
                case StartTimer c:
                    Timers.StartSingleTimer($"timer-{c.Timer}", new TimerDue(c.Timer), c.Delay);
                    break;
                case LogLine { Warning: true } c:
                    _recorder.Warning(c.Text);
                    _log.Warning(c.Text);
                    break;
                case LogLine c:
                    _log.Info(c.Text);
                    break;
                case RefuseWorker c:
                    _refusals.Refuse(_workerRefs.GetValueOrDefault(c.Worker, Sender), c.MessageKind, c.Why);
                    break;
                case RefuseClient c:
                    _refusals.Refuse(_clientRefs.GetValueOrDefault(c.Client, Sender), c.MessageKind, c.Why);
                    break;
                default:
                    throw new InvalidOperationException($"The center actor cannot carry out {command.GetType().Name}.");
            }
        }
        if (HopTrace.Enabled) HopTrace.Since(started, $"center: {happened.GetType().Name} handled and carried out");
    }

    /// <summary>How long a probe that connected waits for the connection to be reset by a dying process.</summary>
    private static readonly TimeSpan ProbeSettle = TimeSpan.FromMilliseconds(200);

    /// <summary>
    /// Tries to connect to a data port. Refused means its process is gone (the kernel answers for a
    /// live or paused one). A timeout proves nothing and counts as alive, left to the failure detector.
    /// </summary>
    private static async Task<bool> ProbeAsync(DataEndpoint data)
    {
        using var client = new TcpClient();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(2));
        try
        {
            await client.ConnectAsync(data.Host, data.Port, timeout.Token).ConfigureAwait(false);
            // A killed process closes its sockets one by one: its Akka connection can drop while its data
            // listener still accepts, and the kernel then resets what it accepted. A live server waits for
            // the prober to speak, so a short read tells the two apart.
            using var settle = new CancellationTokenSource(ProbeSettle);
            var read = await client.GetStream().ReadAsync(new byte[1], settle.Token).ConfigureAwait(false);
            return read > 0; // 0: closed at once, as a dying process's listener does
        }
        catch (SocketException e) when (e.SocketErrorCode is SocketError.ConnectionRefused or SocketError.ConnectionReset)
        {
            return false;
        }
        catch (IOException e) when (e.InnerException is SocketException { SocketErrorCode: SocketError.ConnectionReset })
        {
            return false;
        }
        catch (Exception e) when (e is SocketException or OperationCanceledException)
        {
            return true; // no answer in time, or not reset within the settle time: a live or paused process
        }
    }
}
