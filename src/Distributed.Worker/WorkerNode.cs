using System.Net.Sockets;
using Akka.Actor;
using Akka.Cluster.Tools.Singleton;
using Distributed.Data;
using Distributed.Protocol;
using Distributed.Protocol.Security;
using Distributed.Protocol.Hosting;

namespace Distributed.Worker;

/// <summary>How to start a worker.</summary>
/// <param name="Center">The center's address.</param>
/// <param name="Host">The address to listen on (0.0.0.0: all of this machine's); by default the one that reaches the center.</param>
/// <param name="Port">The Akka port; null means 8788 or the next free one.</param>
/// <param name="Threads">Threads of each executor; by default the number of cores.</param>
/// <param name="Name">The worker's name; by default host:port.</param>
/// <param name="MemoryLimit">Bytes of stored values kept in memory before the least recently used spill to disk; by default <see cref="DefaultMemoryShare"/> of the machine's memory.</param>
/// <param name="Credentials">The cluster's credentials: with them every connection is mutual TLS; without, the worker binds only loopback unless <paramref name="Insecure"/>.</param>
/// <param name="Insecure">Run without credentials on a non-loopback address (<c>--insecure</c>).</param>
/// <param name="DataChannel">Limits of the worker's data channel; by default <see cref="DataChannelSettings.Default"/>.</param>
/// <param name="Resources">What it offers to tasks that ask for resources (<c>--resources GPU=1</c>, see <see cref="ResourceAmounts"/>); null: nothing.</param>
/// <param name="Advertise">The address the center, workers and clients dial (<c>--advertise</c>); by default <paramref name="Host"/>, or the one that reaches the center when <paramref name="Host"/> is 0.0.0.0.</param>
/// <param name="DataPorts">The port, or range of ports, of the data channel (<c>--data-port</c>, <c>--data-ports</c>); by default any free one.</param>
/// <example>
/// <code>
/// var node = await WorkerNode.StartAsync(new WorkerOptions(HostPort.Parse("10.0.0.1:8787"), Resources: ResourceAmounts.Parse("GPU=1")), token);
/// </code>
/// </example>
public sealed record WorkerOptions(HostPort Center, string? Host = null, int? Port = null, int? Threads = null, string? Name = null, long? MemoryLimit = null,
    ClusterCredentials? Credentials = null, bool Insecure = false, DataChannelSettings? DataChannel = null, IReadOnlyDictionary<string, double>? Resources = null,
    string? Advertise = null, PortRange? DataPorts = null)
{
    /// <summary>
    /// How long the worker tries again a center that refuses its connection (started at the same time,
    /// not listening yet) before it gives up; zero (the default): a refused center is an error at once.
    /// Its own start goes on meanwhile, and it joins the moment the center listens.
    /// </summary>
    public TimeSpan WaitForCenter { get; init; }

    /// <summary>The port a worker tries first.</summary>
    public const int DefaultPort = 8788;

    /// <summary>The share of the machine's memory a worker's stored values may take by default: the rest is for the executors' working copies, the runtime and the rest of the machine.</summary>
    public const double DefaultMemoryShare = 0.6;

    /// <summary>The memory this process may use: the machine's, or its container's (the GC reads the cgroup limit).</summary>
    public static long MachineMemory => GC.GetGCMemoryInfo().TotalAvailableMemoryBytes;

    /// <summary>The memory limit of a worker started without one.</summary>
    public static long DefaultMemoryLimit => Math.Max(1, (long)(MachineMemory * DefaultMemoryShare));

    /// <summary>
    /// An actor that plays each executor (given its code version; null for a spare) instead of a child
    /// process. Only for the in-process tests: their tier forbids child processes.
    /// </summary>
    internal Func<string?, Props>? ExecutorStandIn { get; init; }
}

/// <summary>A running worker: its actor system, data store and data server.</summary>
public sealed class WorkerNode
{
    private readonly DataServer _dataServer;
    private readonly string _workDirectory;

    private readonly DataStore _store;
    private readonly IActorRef _worker;
    private readonly TaskCompletionSource<WorkerRetired> _retired;

    private WorkerNode(ActorSystem system, HostPort address, string name, HostPort center, string centerIncarnation, DataStore store, DataServer dataServer, string workDirectory,
        NodeAddress chosen, IActorRef worker, TaskCompletionSource<WorkerRetired> retired)
    {
        Bound = new HostPort(chosen.Bind, address.Port);
        AddressNote = chosen.Note;
        _worker = worker;
        _retired = retired;
        System = system;
        Address = address;
        Name = name;
        Center = center;
        CenterIncarnation = centerIncarnation;
        _store = store;
        _dataServer = dataServer;
        _workDirectory = workDirectory;
    }

    /// <summary>The actor system of the worker.</summary>
    public ActorSystem System { get; }
    /// <summary>The address of the worker's Akka node as its peers dial it (advertised).</summary>
    public HostPort Address { get; }
    /// <summary>Where the worker's Akka node listens: <see cref="Address"/>, or 0.0.0.0 with its port.</summary>
    public HostPort Bound { get; }
    /// <summary>How the advertised address was chosen when the user did not name it (bound to 0.0.0.0), else null.</summary>
    public string? AddressNote { get; }
    /// <summary>Where the data channel listens, as peers dial it.</summary>
    public DataEndpoint DataEndpoint => _dataServer.Endpoint;
    /// <summary>The worker's name.</summary>
    public string Name { get; }
    /// <summary>The center it registered with, as the center reports its own address.</summary>
    public HostPort Center { get; }
    /// <summary>The run of the center that registered this worker (a restarted center has a new one).</summary>
    public string CenterIncarnation { get; }
    /// <summary>Bytes of stored values it keeps in memory; past them it spills to disk.</summary>
    public long MemoryLimit => _store.MemoryLimit;

    /// <summary>
    /// Starts a worker and returns once the center has registered it; fails within 10 s when the center
    /// cannot be reached or refuses the TLS handshake. Refuses, before binding anything, a non-loopback
    /// address without credentials (<see cref="InsecureAddressException"/>) unless told <see cref="WorkerOptions.Insecure"/>.
    /// </summary>
    public static Task<WorkerNode> StartAsync(WorkerOptions options, CancellationToken cancellation = default)
    {
        // The default address only opens a UDP socket that sends nothing, to pick the route to the center.
        var chosen = NodeAddresses.ForWorker(options.Host, options.Advertise, options.Center, MachineNetwork.Local());
        if (NodeSecurity.Check(chosen.Bind, options.Credentials, options.Insecure) is { } warning) Console.Error.WriteLine($"warning: {warning}");
        // Before any folder of this worker exists, and once per process: a rejoining node keeps its folders.
        _ = WorkerFolders.ClaimAndRemoveAbandoned(message => Console.Error.WriteLine($"warning: {message}"));
        return StartAsync(options, kept: null, cancellation);
    }

    /// <summary>How long a rejoining worker waits for its port to be free again before it gives up.</summary>
    private static readonly TimeSpan PortHeldLimit = TimeSpan.FromSeconds(60);

    /// <summary>How often a worker whose center is gone tries to join it again.</summary>
    private static readonly TimeSpan RejoinInterval = TimeSpan.FromSeconds(1);

    /// <summary>
    /// Starts the worker again after its node left the cluster, with the values it held: the center
    /// was lost (its node downs itself then), or downed this worker while it was paused. It tries
    /// until a center answers at the same address, for as long as it takes (until stopped), and then
    /// reports its values; a new center adopts them, the center that downed it has them deleted.
    /// </summary>
    public static async Task<WorkerNode> RejoinAsync(WorkerOptions options, WorkerNode previous, CancellationToken cancellation = default)
    {
        var waiting = global::System.Diagnostics.Stopwatch.StartNew();
        var lastSaid = TimeSpan.MinValue;
        global::System.Diagnostics.Stopwatch? portTaken = null;
        while (true)
        {
            try
            {
                return await StartAsync(options, (previous._store, previous.CenterIncarnation), cancellation).ConfigureAwait(false);
            }
            // The port too may still be held for a moment by the node that just ended; held for long,
            // another program has it, and this worker could never join again: it says so and ends.
            catch (PortInUseException) when (portTaken is { } taken && taken.Elapsed > PortHeldLimit)
            {
                throw;
            }
            catch (Exception e) when (e is CenterUnreachableException or PortInUseException or SocketException)
            {
                if (e is PortInUseException) portTaken ??= global::System.Diagnostics.Stopwatch.StartNew();
                else portTaken = null;
                // One line now and then: a center may be down for minutes.
                if (lastSaid == TimeSpan.MinValue || waiting.Elapsed - lastSaid > TimeSpan.FromSeconds(30))
                {
                    lastSaid = waiting.Elapsed;
                    Console.Error.WriteLine($"warning: {e.Message} Trying again until it comes back ({waiting.Elapsed.TotalSeconds:0} s so far); the {previous._store.Count} values held here are kept.");
                }
            }
            await Task.Delay(RejoinInterval, cancellation).ConfigureAwait(false);
        }
    }

    private static async Task<WorkerNode> StartAsync(WorkerOptions options, (DataStore Store, string PreviousCenter)? kept, CancellationToken cancellation)
    {
        // One budget for reaching the center and registering, so that the user hears within 10 s
        // when the center cannot be reached, with time left to stop the half-started node and for a
        // starved machine (CI saw 1.6 s between the budget running out and the error line).
        var budget = global::System.Diagnostics.Stopwatch.StartNew();
        var timeout = TimeSpan.FromSeconds(7.5);
        // A center named by a host name answers only to its own address: learn it before the node names the center.
        options = options with { Center = await NetworkAddresses.CenterAnswersToAsync(options.Center, timeout, cancellation, options.Credentials, options.WaitForCenter).ConfigureAwait(false) };
        var chosen = NodeAddresses.ForWorker(options.Host, options.Advertise, options.Center, MachineNetwork.Local());
        var host = chosen.Bind;
        var advertised = chosen.Advertised;
        if (options.Port is { } requested && !NetworkAddresses.IsPortFree(host, requested))
            throw new PortInUseException(host, requested);
        // A fixed data port that is taken is said before the node joins the cluster, not after.
        if (options.DataPorts is { } data && data.First == data.Last && !NetworkAddresses.IsPortFree(host, data.First))
            throw DataServer.PortsTaken(host, data);
        var probe = NetworkAddresses.ProbeCenterAnsweringAsync(options.Center, timeout, cancellation, options.Credentials, options.WaitForCenter);
        // An Akka handshake with the center's node proves a center answers there (a silent listener
        // never completes one): from then on joining and registering may take as long as a busy
        // machine needs, while a silent or absent center is still reported within the budget, and
        // a refused one (TLS, credentials) at once, with the reason.
        var handshake = new CenterHandshake(options.Center, options.Credentials is not null);
        // The probe (a TCP connect and, with credentials, a TLS handshake) runs while the actor system starts.
        var (system, port) = await NetworkAddresses.StartWhileProbingAsync(probe, async () =>
        {
            var bound = await BindAsync(options, chosen, handshake, budget, cancellation).ConfigureAwait(false);
            Distributed.Protocol.Hosting.StartTrace.Mark("worker: actor system created");
            handshake.Watch(bound.System);
            return bound;
        }, bound => StopUnstartedAsync(bound.System)).ConfigureAwait(false);
        Distributed.Protocol.Hosting.StartTrace.Mark("worker: center probed");
        var answered = handshake.Answered;
        // The node joins only now that the center listens (see ClusterConfig.For); the budget for its
        // answer starts now too when the worker was told to wait for the center to start.
        ClusterConfig.JoinCenter(system, options.Center, secure: options.Credentials is not null);
        if (options.WaitForCenter > TimeSpan.Zero) budget.Restart();

        var name = options.Name ?? $"{advertised}:{port}";
        var threads = options.Threads ?? Environment.ProcessorCount;
        var workDirectory = WorkerFolders.WorkFolder(port);
        DataServer? dataServer = null;
        try
        {
            PrivateFiles.CreateDirectory(workDirectory);
            // The store outlives this node when the worker rejoins (the center was lost): so does its
            // spill folder, which is why it is not inside the node's work directory.
            var store = kept?.Store ?? NewStore(options, port);
            var counters = new TransferCounters();
            var dataChannel = (options.DataChannel ?? DataChannelSettings.Default) with { SameHostSharing = WorkerConfig.SameHostSharing(system.Settings.Config) };
            dataServer = new DataServer(host, store, counters, options.Credentials, dataChannel, advertisedHost: advertised, ports: options.DataPorts);
            Distributed.Protocol.Hosting.StartTrace.Mark("worker: data server started");
            var center = system.ActorOf(ClusterSingletonProxy.Props("/user/center", ClusterSingletonProxySettings.Create(system)), "center-proxy");
            var registered = new TaskCompletionSource<WorkerRegistered>(TaskCreationOptions.RunContinuationsAsynchronously);
            var settings = new WorkerSettings(name, $"{advertised}:{port}", threads, dataServer.Endpoint, workDirectory, kept?.PreviousCenter, options.Credentials)
            {
                ExecutorStandIn = options.ExecutorStandIn,
                Resources = options.Resources,
                ExecutorIdleTimeout = WorkerConfig.ExecutorIdleTimeout(system.Settings.Config),
                StatusInterval = WorkerConfig.StatusInterval(system.Settings.Config),
                RuntimeIdentifier = WorkerConfig.RuntimeIdentifier(system.Settings.Config),
                DataChannel = dataChannel,
            };
            var centerPath = ClusterConfig.CenterPath(options.Center, secure: options.Credentials is not null);
            var retired = new TaskCompletionSource<WorkerRetired>(TaskCreationOptions.RunContinuationsAsynchronously);
            var worker = system.ActorOf(WorkerActor.Props(settings, center, centerPath, store, counters, registered, retired), "worker");
            // Values a client scatters are stored by the worker actor, the store's one writer.
            dataServer.AcceptPuts(async (scatterId, values) =>
                (await worker.Ask<ScatterAnswer>(new StoreScattered(scatterId, values), ScatterStoreTimeout).ConfigureAwait(false)).Refusal);
            // Tasks a client hands over directly are decided and answered by the worker actor too.
            dataServer.AcceptDirectRuns(run => worker.Tell(run));
            // Joining (or registering) proves the same, should the handshake come before the listener subscribed.
            var joined = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            Akka.Cluster.Cluster.Get(system).RegisterOnMemberUp(() => joined.TrySetResult());
            try
            {
                var first = await Task.WhenAny(registered.Task, joined.Task, answered, system.WhenTerminated).WaitAsync(Remaining(timeout, budget), cancellation).ConfigureAwait(false);
                await first.ConfigureAwait(false); // a refused handshake throws its reason here
                Distributed.Protocol.Hosting.StartTrace.Mark("worker: center answered");
            }
            catch (TimeoutException)
            {
                // A center without credentials never completes a TLS handshake: it waits for a frame.
                var hint = options.Credentials is null ? "" : " (over TLS: does the center run with the same credentials?)";
                throw new CenterUnreachableException($"Could not register with the center at {options.Center}: no answer within {budget.Elapsed.TotalSeconds:0} s{hint}.");
            }
            try
            {
                // A node that the center refuses (or that fails to join) shuts down: say so now rather than wait out the minute.
                await Task.WhenAny(registered.Task, system.WhenTerminated).WaitAsync(RegistrationAfterJoin, cancellation).ConfigureAwait(false);
            }
            catch (TimeoutException)
            {
                throw new CenterUnreachableException($"The center at {options.Center} answered, but did not register this worker within {RegistrationAfterJoin.TotalSeconds:0} s.");
            }
            if (!registered.Task.IsCompleted)
                throw new CenterUnreachableException($"The node of this worker shut down before the center at {options.Center} registered it (the log above says why: e.g. the center refused it).");
            var answer = await registered.Task.ConfigureAwait(false);
            Distributed.Protocol.Hosting.StartTrace.Mark("worker: registered");
            return new WorkerNode(system, new HostPort(advertised, port), answer.AssignedName, HostPort.Parse(answer.CenterAddress), answer.CenterIncarnation, store, dataServer, workDirectory,
                chosen, worker, retired);
        }
        catch
        {
            await StopUnstartedAsync(system).ConfigureAwait(false);
            if (dataServer is not null) await dataServer.DisposeAsync().ConfigureAwait(false);
            try { Directory.Delete(workDirectory, recursive: true); } catch (IOException) { }
            throw;
        }
    }

    /// <summary>
    /// Stops the actor system of a start that failed, bounded: the error matters more than a graceful
    /// goodbye to a center that is not there (termination goes on in the background, and the process
    /// usually exits next). Not the caller's token: a start that was cancelled still stops its node.
    /// </summary>
    private static async Task StopUnstartedAsync(ActorSystem system)
    {
        try { await system.Terminate().WaitAsync(TimeSpan.FromSeconds(0.5), CancellationToken.None).ConfigureAwait(false); }
        catch (TimeoutException) { }
    }

    /// <summary>How many ports a worker without <c>--port</c> tries when each is taken between its check and its bind.</summary>
    private const int BindAttempts = 5;

    /// <summary>
    /// Starts the worker's actor system, which binds its port: the one asked for, else the first free
    /// one from 8788 up. The listener does not share a port (see hocon/worker.hocon), so a port that
    /// another process took after the check fails the bind: a worker without <c>--port</c> then takes
    /// the next free one, a few times, and announces the one it bound. Workers of this user choose one
    /// after the other (<see cref="WorkerFolders.LockPortChoiceAsync"/>), so workers started together
    /// get ports in order without failing binds.
    /// </summary>
    private static async Task<(ActorSystem System, int Port)> BindAsync(WorkerOptions options, NodeAddress chosen, CenterHandshake handshake,
        global::System.Diagnostics.Stopwatch budget, CancellationToken cancellation)
    {
        var host = chosen.Bind;
        if (options.Port is { } requested)
            return (TryCreateSystem(options, chosen, requested, handshake) ?? throw new PortInUseException(host, requested), requested);
        // Waiting for other workers to choose their ports is not the center's time; starting the
        // actor system is, since the user hears within the budget that a center is unreachable.
        budget.Stop();
        using var choosing = await WorkerFolders.LockPortChoiceAsync(TimeSpan.FromSeconds(30), cancellation).ConfigureAwait(false);
        budget.Start();
        var tried = new List<int>();
        var from = WorkerOptions.DefaultPort;
        while (true)
        {
            int port;
            try { port = NetworkAddresses.FirstFreePort(host, from); }
            catch (InvalidOperationException e) { throw new PortInUseException(host, from, e.Message); }
            if (TryCreateSystem(options, chosen, port, handshake) is { } system) return (system, port);
            tried.Add(port);
            if (tried.Count == BindAttempts)
                throw new PortInUseException(host, port, $"Could not bind a port on {host}: ports {string.Join(", ", tried)} were each taken by another process between the check and the bind. Choose one with --port.");
            from = port + 1;
        }
    }

    /// <summary>The worker's actor system bound to <paramref name="port"/>, or null when that port is taken.</summary>
    private static ActorSystem? TryCreateSystem(WorkerOptions options, NodeAddress chosen, int port, CenterHandshake handshake)
    {
        try
        {
            return ClusterConfig.CreateSystem(Role.Worker, chosen.Bind, port, options.Center, options.Credentials, handshake.OnRejected, advertise: chosen.Advertised, joinAtStart: false);
        }
        catch (Exception e) when (IsAddressInUse(e))
        {
            return null; // the failed system has terminated itself
        }
    }

    private static bool IsAddressInUse(Exception e) => e switch
    {
        SocketException { SocketErrorCode: SocketError.AddressAlreadyInUse } => true,
        AggregateException all => all.InnerExceptions.Any(IsAddressInUse),
        _ => e.InnerException is { } inner && IsAddressInUse(inner),
    };

    /// <summary>
    /// The worker's store, spilling past its memory limit to a folder of its own that is deleted when
    /// the process exits (a killed worker leaves it, as it leaves its work directory).
    /// </summary>
    /// <summary>How long the data server waits for the worker actor to store scattered values (it stores them in memory, or spills them).</summary>
    private static readonly TimeSpan ScatterStoreTimeout = TimeSpan.FromMinutes(5);

    private static DataStore NewStore(WorkerOptions options, int port)
    {
        var spillDirectory = WorkerFolders.SpillFolder(port);
        AppDomain.CurrentDomain.ProcessExit += (_, _) =>
        {
            try { Directory.Delete(spillDirectory, recursive: true); }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
        };
        var memoryLimit = options.MemoryLimit ?? WorkerOptions.DefaultMemoryLimit;
        // Large values live in memory shared with the executors, unless switched off (to compare, or
        // where /proc of another process cannot be opened): then they are copied over the socket.
        var shared = Environment.GetEnvironmentVariable(SharedMemoryVariable) != "0";
        var buffers = new ValueBufferPool(Math.Min(DataStore.DefaultMaxIdleBufferBytes, memoryLimit / 4),
            shared ? ValueBufferPool.DefaultSharedMinimumBytes : int.MaxValue);
        return new DataStore(memoryLimit, spillDirectory, message => Console.Error.WriteLine($"error: {message}"), buffers);
    }

    /// <summary>The environment variable that, set to 0, keeps values out of shared memory (they travel to executors over the socket).</summary>
    public const string SharedMemoryVariable = "DISTRIBUTED_SHARED_MEMORY";

    /// <summary>How long a worker that has joined the cluster waits for the center to register it.</summary>
    private static readonly TimeSpan RegistrationAfterJoin = TimeSpan.FromSeconds(60);

    private static TimeSpan Remaining(TimeSpan total, global::System.Diagnostics.Stopwatch elapsed) =>
        total > elapsed.Elapsed ? total - elapsed.Elapsed : TimeSpan.Zero;


    /// <summary>
    /// Ends this worker as a killed process ends, for the tests that run workers inside their own
    /// process: its node drops out of the cluster without leaving (no coordinated shutdown), and its
    /// data port refuses connections at once. Its folders stay, as a killed worker's do.
    /// </summary>
    internal async Task KillAsync()
    {
        // The data port first: the center probes it when the node's connection drops.
        await _dataServer.DisposeAsync().ConfigureAwait(false);
        ((ExtendedActorSystem)System).Abort();
        await System.WhenTerminated.ConfigureAwait(false);
    }

    /// <summary>
    /// Completes when the center has retired this worker (a client asked for it, <c>Pool.RetireWorkersAsync</c>,
    /// or <see cref="RetireAsync"/> did): other workers hold its values, and it should leave (<see cref="StopAsync"/>).
    /// </summary>
    public Task Retired => _retired.Task;

    /// <summary>
    /// Asks the center to retire this worker before it stops: no more tasks come, it finishes those it
    /// has, and other workers copy the values only it holds. True once they hold them; false when some
    /// could not be handed over (no other worker, say, or the center's <c>distributed.center.retirement-timeout</c>
    /// passed), the node stopped (its center was lost) or <paramref name="limit"/> passed without an answer:
    /// the center then makes them again from their lineage when this worker has left, as after a crash.
    /// </summary>
    public async Task<bool> RetireAsync(TimeSpan limit)
    {
        if (System.WhenTerminated.IsCompleted) return false;
        _worker.Tell(Retire.Instance);
        try
        {
            await Task.WhenAny(_retired.Task, System.WhenTerminated).WaitAsync(limit).ConfigureAwait(false);
            return _retired.Task.IsCompletedSuccessfully && _retired.Task.Result.Error is null;
        }
        catch (TimeoutException)
        {
            Console.Error.WriteLine($"warning: the center did not retire this worker within {limit.TotalSeconds:0} s; it stops anyway, and the center makes its values again elsewhere.");
            return false;
        }
    }

    /// <summary>How long a stopping worker waits for the center to note that it leaves.</summary>
    private static readonly TimeSpan LeaveNoticeLimit = TimeSpan.FromSeconds(2);

    /// <summary>Leaves the cluster, stops the executors and the data server, and deletes the work directory (spilled values included).</summary>
    public async Task StopAsync()
    {
        if (!System.WhenTerminated.IsCompleted)
        {
            // The center forgets this worker first: Akka's gossip of its removal can reach the center
            // after this process has exited, and a center stopped meanwhile never saw it leave.
            var noted = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            _worker.Tell(new TellCenterLeaving(noted));
            try { await Task.WhenAny(noted.Task, System.WhenTerminated).WaitAsync(LeaveNoticeLimit).ConfigureAwait(false); }
            catch (TimeoutException) { } // a center that does not answer learns it from the cluster's gossip, as before
        }
        try
        {
            await CoordinatedShutdown.Get(System).Run(CoordinatedShutdown.ClrExitReason.Instance).WaitAsync(TimeSpan.FromSeconds(10)).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            await System.Terminate().ConfigureAwait(false);
        }
        Distributed.Protocol.Hosting.StartTrace.Mark("worker: left the cluster");
        await _dataServer.DisposeAsync().ConfigureAwait(false);
        try { Directory.Delete(_workDirectory, recursive: true); }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
    }
}
