using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net.Sockets;
using Akka.Actor;
using Akka.Event;
using Distributed.Data;
using Distributed.Protocol;
using Distributed.Protocol.Hosting;
using Distributed.Protocol.Security;

namespace Distributed.Worker.Executor;

/// <summary>
/// Owns one executor process, which runs the tasks of one client code version with
/// <c>threads</c> threads. User code never runs in the worker process itself: a crash or a stuck
/// task there cannot take the stored data down, and each code version gets its own assemblies.
/// A task that outlives its timeout fails, and since a thread stuck in user code cannot be stopped
/// in .NET, the process is killed: the actor retires, handing the other tasks it held back to the
/// worker, which runs them on a fresh executor. A spare (no version yet) starts its process before
/// any code needs it, so that a new worker's first tasks, or the tasks re-run after a timeout, do not
/// wait for a process to start and warm up; it learns its code version from <see cref="AdoptCode"/>.
/// </summary>
#pragma warning disable CA1001 // an actor releases what it owns in PostStop: nobody disposes an actor
internal sealed class ExecutorActor : ReceiveActor, IWithUnboundedStash, IWithTimers
#pragma warning restore CA1001
{
    /// <summary>How often running tasks' deadlines are checked: a timeout fires at most this late.</summary>
    private static readonly TimeSpan DeadlineCheckInterval = TimeSpan.FromMilliseconds(100);

    private const string DeadlineTimer = "deadlines";

    private readonly ILoggingAdapter _log = Context.GetLogger();
    private string? _version; // null while a spare
    private IReadOnlyList<string> _assemblyPaths;
    private readonly int _threads;
    private readonly string _socketPath;
    private readonly Dictionary<string, FunctionSpec> _sentFunctions = [];
    private readonly Dictionary<string, InFlightTask> _inFlight = [];
    private readonly Dictionary<string, long> _deadlines = []; // key → Environment.TickCount64 past which it has timed out
    private Socket? _listener;
    private Socket? _connection;
    private Process? _process;
    private BinaryWriter? _writer;
    private readonly ValueBufferPool? _buffers; // lends segments for large results; null: they come over the socket
    private readonly TransferCounters? _counters;
    // Segment id → a segment lent to the process for a result and not taken back yet. The reader thread
    // takes them back as results name them; only the ids lent to this process are honoured.
    private readonly ConcurrentDictionary<long, SharedSegment> _lent = new();
    // Ids of the pool's segments the process has been told of (inputs and loans), which it keeps mapped
    // across batches: when the pool unmaps one for good, the process is told to unmap it too.
    private readonly ConcurrentDictionary<long, byte> _knownToProcess = new();
    private IActorRef? _self; // for the pool's event, raised on whichever thread lets a segment go
    // The largest result lent a segment: one buffer, within the value limit (larger ones come in chunks over the socket).
    private readonly long _maxSharedResultBytes = Math.Min(WireLimits.From(Context.System.Settings.Config).MaxValueBytes, StoredValue.MaxChunkBytes);

    public ExecutorActor(string? version, IReadOnlyList<string> assemblyPaths, int threads, string socketDirectory, ValueBufferPool? buffers = null, TransferCounters? counters = null)
    {
        _version = version;
        _assemblyPaths = assemblyPaths;
        _threads = threads;
        _buffers = buffers;
        _counters = counters;
        _socketPath = Path.Combine(socketDirectory, $"executor-{version ?? "spare"}-{Guid.NewGuid():N}"[..40] + ".sock");
        Starting();
    }

    public IStash Stash { get; set; } = null!;

    public ITimerScheduler Timers { get; set; } = null!;

    public static Props Props(string version, IReadOnlyList<string> assemblyPaths, int threads, string socketDirectory, ValueBufferPool? buffers = null, TransferCounters? counters = null) =>
        Akka.Actor.Props.Create(() => new ExecutorActor(version, assemblyPaths, threads, socketDirectory, buffers, counters));

    /// <summary>Props of a spare: its process starts now and warms up; its code comes with <see cref="AdoptCode"/>.</summary>
    public static Props SpareProps(int threads, string socketDirectory, ValueBufferPool? buffers = null, TransferCounters? counters = null) =>
        Akka.Actor.Props.Create(() => new ExecutorActor(null, Array.Empty<string>(), threads, socketDirectory, buffers, counters));

    /// <summary>The code version, for log lines ("spare" before it has one).</summary>
    private string VersionName => _version ?? "spare";

    protected override void PreStart()
    {
        _self = Self;
        if (_buffers is not null) _buffers.SegmentUnmapped += OnSegmentUnmapped;
        _listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        _listener.Bind(new UnixDomainSocketEndPoint(_socketPath));
        // In a 0700 folder already; 0600 like every file the worker makes.
        if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(_socketPath, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        _listener.Listen(1);
        AcceptNext();
        _process = ExecutorLauncher.Start(_socketPath, _threads, _assemblyPaths);
        Distributed.Protocol.Hosting.StartTrace.Mark($"worker: executor process started ({VersionName})");
        var self = Self;
        _process.EnableRaisingEvents = true;
        _process.Exited += (_, _) => self.Tell(new ExecutorExited($"the executor process exited with code {SafeExitCode(_process)}"));
    }

    private void Starting()
    {
        Receive<ExecutorConnected>(m =>
        {
            if (RefusedPeer(m.Socket) is { } refusal)
            {
                _log.Warning("Refused a connection on the executor socket {0} of code {1}: {2}", _socketPath, VersionName, refusal);
                m.Socket.Dispose();
                AcceptNext();
                return;
            }
            // The executor is in: nobody else connects from now on.
            _listener?.Dispose();
            try { File.Delete(_socketPath); } catch (IOException) { }
            _connection = m.Socket;
            var stream = new NetworkStream(m.Socket, ownsSocket: false);
            _writer = new BinaryWriter(new BufferedStream(stream, 1 << 16));
            StartReader(new BufferedStream(stream, 1 << 16));
            Become(Running);
            Distributed.Protocol.Hosting.StartTrace.Mark($"worker: executor connected ({VersionName})");
            Stash.UnstashAll();
        });
        Receive<AdoptCode>(_ => Stash.Stash());
        Receive<ExecuteBatch>(_ => Stash.Stash());
        Receive<CancelExecution>(_ => Stash.Stash());
        Receive<ExecutorExited>(HandleExited);
    }

    private void AcceptNext() =>
        _listener!.AcceptAsync().PipeTo(Self, success: s => new ExecutorConnected(s), failure: e => new ExecutorExited($"the executor did not connect: {e.Message}"));

    /// <summary>
    /// Why the process on the other end of <paramref name="socket"/> is not the executor this actor
    /// started (another process of this user, or root, can reach the socket), or null when it is.
    /// The kernel's record of the peer (SO_PEERCRED) is checked: the process id must be the one
    /// started, and the user this worker's. Where the kernel cannot tell (not Linux), the socket's
    /// private folder is the only guard.
    /// </summary>
    private string? RefusedPeer(Socket socket)
    {
        PeerCredentials? peer;
        try { peer = UnixIdentity.PeerOf(socket); }
        catch (SocketException e) { return $"its peer cannot be identified ({e.Message})"; }
        if (peer is null) return null;
        var expected = _process?.Id;
        var user = UnixIdentity.EffectiveUserId();
        if (peer.ProcessId != expected || peer.UserId != user)
            return $"process {peer.ProcessId} of user {peer.UserId} connected, not the executor process {expected} of user {user} that this worker started; closed";
        return null;
    }

    private void Running()
    {
        Receive<AdoptCode>(HandleAdoptCode);
        Receive<ExecuteBatch>(HandleExecuteBatch);
        Receive<CancelExecution>(HandleCancelExecution);
        Receive<ExecutorResults>(m =>
        {
            foreach (var result in m.Results)
            {
                HopTrace.Lap(result.Key, "executor actor: results received");
                _inFlight.Remove(result.Key);
                _deadlines.Remove(result.Key);
            }
            Context.Parent.Tell(m);
        });
        Receive<TasksStarted>(HandleTasksStarted);
        Receive<SegmentWanted>(HandleSegmentWanted);
        Receive<SegmentsFreed>(HandleSegmentsFreed);
        // A miss of the process's load context: the worker finds the assembly and answers here.
        Receive<AssemblyWanted>(m => Context.Parent.Tell(m));
        Receive<AssemblyFound>(HandleAssemblyFound);
        Receive<CheckDeadlines>(_ => HandleCheckDeadlines());
        Receive<ExecutorExited>(HandleExited);
    }

    /// <summary>
    /// The process is gone (or being killed). Batches the worker sent before it heard go back to it,
    /// to run on the next executor; what the old process still says is void.
    /// </summary>
    private void Retired()
    {
        Receive<ExecuteBatch>(batch => Context.Parent.Tell(new ExecutorRetired(VersionName, _assemblyPaths, batch)));
        Receive<ExecutorResults>(m => ReleaseShared(m.Results)); // void, and their segments go back
        ReceiveAny(_ => { });
    }

    private void HandleAdoptCode(AdoptCode message)
    {
        if (_version is not null)
        {
            _log.Error("Executor of code {0} was asked to run code {1} too; ignored", _version, message.Version);
            return;
        }
        _version = message.Version;
        _assemblyPaths = message.AssemblyPaths;
        try
        {
            ExecutorFrames.WriteCode(_writer!, message.AssemblyPaths);
        }
        catch (IOException e)
        {
            HandleExited(new ExecutorExited($"the executor stopped reading: {e.Message}"));
        }
    }

    private void HandleExecuteBatch(ExecuteBatch batch)
    {
        var newFunctions = batch.Functions.Where(f => _sentFunctions.TryAdd(f.FunctionId, f)).ToList();
        foreach (var task in batch.Tasks) _inFlight[task.Key] = new InFlightTask(task, batch.Values);
        // A value in a shared segment goes by reference: the worker holds it until the batch's tasks
        // have all answered, so its bytes stay put while the process reads them in place. The rest (and
        // every chunked value) is copied over the socket.
        var values = batch.Values;
        Dictionary<string, SharedReference>? shared = null;
        if (values.Count > 0) // most small tasks have no inputs: nothing to sort
        {
            Dictionary<string, StoredValue>? copied = null;
            foreach (var (key, value) in batch.Values)
            {
                if (value.Segment is { } segment)
                {
                    (shared ??= [])[key] = new SharedReference(segment.Descriptor, segment.Id, 0, (int)value.Length);
                    _knownToProcess.TryAdd(segment.Id, 0);
                    _counters?.AddInputToExecutor(value.Length, shared: true);
                }
                else
                {
                    (copied ??= new Dictionary<string, StoredValue>(batch.Values.Count))[key] = value;
                    _counters?.AddInputToExecutor(value.Length, shared: false);
                }
            }
            if (shared is not null) values = copied ?? NoValues;
        }
        try
        {
            ExecutorFrames.WriteBatch(_writer!, new ExecutorBatch(newFunctions, values, batch.Tasks, shared));
            if (HopTrace.Enabled) foreach (var task in batch.Tasks) HopTrace.Lap(task.Key, "worker: batch arrived -> written to its executor");
        }
        catch (IOException e)
        {
            HandleExited(new ExecutorExited($"the executor stopped reading: {e.Message}"));
        }
    }

    /// <summary>
    /// The process needs a segment for a large result: one from the pool is lent (or none, and the result
    /// comes over the socket). It stays this actor's until a result names it, or the process is gone.
    /// </summary>
    private void HandleSegmentWanted(SegmentWanted message)
    {
        // Only for a result the pool would share anyway, within the frame limit, and a few at a time
        // (a loan per thread is what a sound executor needs): a process cannot make the worker map without end.
        var lend = _buffers is { } buffers && buffers.Shares(message.Length) && message.Length >= ExecutorFrames.SharedResultMinimumBytes
            && message.Length <= _maxSharedResultBytes && _lent.Count < 2 * _threads + 2;
        var segment = lend ? _buffers!.RentSegment(message.Length) : null;
        if (segment is not null)
        {
            _lent[segment.Id] = segment;
            _knownToProcess.TryAdd(segment.Id, 0);
        }
        try
        {
            ExecutorFrames.WriteSegmentLent(_writer!, message.Request, segment?.Descriptor ?? -1, segment?.Id ?? 0);
        }
        catch (IOException e)
        {
            HandleExited(new ExecutorExited($"the executor stopped reading: {e.Message}"));
        }
    }

    /// <summary>The pool unmapped a segment for good: if the process may have it mapped, it is told (in order, by this actor).</summary>
    private void OnSegmentUnmapped(long segmentId)
    {
        if (_knownToProcess.TryRemove(segmentId, out _)) _self?.Tell(new SegmentsFreed([segmentId]));
    }

    private void HandleSegmentsFreed(SegmentsFreed message)
    {
        try
        {
            ExecutorFrames.WriteSegmentsFreed(_writer!, message.SegmentIds);
        }
        catch (IOException e)
        {
            HandleExited(new ExecutorExited($"the executor stopped reading: {e.Message}"));
        }
    }

    /// <summary>
    /// The shared results of <paramref name="results"/>: each named segment taken back from the lent
    /// ones and made the stored value, its length checked against the segment.
    /// </summary>
    private List<ExecutorResult> TakeShared(List<ExecutorResult> results)
    {
        for (var i = 0; i < results.Count; i++)
        {
            var result = results[i];
            if (result.Shared is not { } shared)
            {
                if (result.Value is { } bytes) _counters?.AddResultFromExecutor(bytes.Length, shared: false);
                continue;
            }
            try
            {
                if (_buffers is null || !_lent.TryRemove(shared.SegmentId, out var segment))
                    throw new WireFormatException($"The result {result.Key} names segment {shared.SegmentId}, which was not lent to this executor.");
                if (shared.Length > segment.Capacity)
                {
                    _buffers.DiscardSegment(segment);
                    throw new WireFormatException($"The result {result.Key} claims {shared.Length} bytes of a segment of {segment.Capacity}.");
                }
                results[i] = result with { Shared = shared with { Stored = _buffers.AdoptSegment(segment, shared.Length, result.TypeName) } };
                _counters?.AddResultFromExecutor(shared.Length, shared: true);
            }
            catch
            {
                ReleaseShared(results.Take(i)); // taken already: back to the pool, the frame is void
                throw;
            }
        }
        return results;
    }

    /// <summary>Results nobody stores: the values made of their segments go back to the pool.</summary>
    private static void ReleaseShared(IEnumerable<ExecutorResult> results)
    {
        foreach (var result in results) result.Shared?.Stored?.Release();
    }

    /// <summary>
    /// Segments lent to a process that is gone or going: never reused (a process killed while it filled
    /// one may still write it for a moment), only unmapped here; the memory is freed once the process is gone.
    /// </summary>
    private void DiscardLent()
    {
        foreach (var id in _lent.Keys)
            if (_lent.TryRemove(id, out var segment)) _buffers?.DiscardSegment(segment);
    }

    private void HandleCancelExecution(CancelExecution message)
    {
        // Only tasks still here: a key the executor already answered would stay in its set for ever.
        var keys = message.Keys.Where(_inFlight.ContainsKey).ToList();
        if (keys.Count == 0) return;
        try
        {
            ExecutorFrames.WriteCancel(_writer!, keys);
        }
        catch (IOException e)
        {
            HandleExited(new ExecutorExited($"the executor stopped reading: {e.Message}"));
        }
    }

    private void HandleAssemblyFound(AssemblyFound message)
    {
        try
        {
            ExecutorFrames.WriteAssemblyResolved(_writer!, message.RequestId, message.Path, message.Problem);
        }
        catch (IOException e)
        {
            HandleExited(new ExecutorExited($"the executor stopped reading: {e.Message}"));
        }
    }

    private void HandleTasksStarted(TasksStarted message)
    {
        var now = Environment.TickCount64;
        foreach (var key in message.Keys)
            if (_inFlight.TryGetValue(key, out var running) && running.Task.TimeoutMs > 0)
                _deadlines[key] = now + running.Task.TimeoutMs;
        if (_deadlines.Count > 0 && !Timers.IsTimerActive(DeadlineTimer))
            Timers.StartPeriodicTimer(DeadlineTimer, CheckDeadlines.Instance, DeadlineCheckInterval);
    }

    private void HandleCheckDeadlines()
    {
        if (_deadlines.Count == 0)
        {
            Timers.Cancel(DeadlineTimer);
            return;
        }
        var now = Environment.TickCount64;
        var expired = _deadlines.Where(d => d.Value <= now).Select(d => d.Key).ToList();
        if (expired.Count == 0) return;
        var failures = expired.Select(key => new ExecutorResult(key, null, "", RemoteError.Of(ErrorKind.TaskTimeout,
                $"{key} did not finish within {DescribeTimeout(_inFlight[key].Task.TimeoutMs)} of starting; its executor process was stopped.")))
            .ToList();
        foreach (var key in expired) _inFlight.Remove(key);
        _log.Warning("Task(s) {0} of code {1} timed out: stopping their executor process; {2} other task(s) run again on a new one",
            string.Join(", ", expired), VersionName, _inFlight.Count);
        Context.Parent.Tell(new ExecutorResults(failures));
        // A thread stuck in user code cannot be aborted: the process goes, and its other tasks (not at
        // fault) run again from the start on a fresh process.
        Retire(BatchOf(_inFlight.Values));
    }

    /// <summary>One batch that runs these tasks again on another process: their functions and inputs included.</summary>
    private ExecuteBatch BatchOf(IEnumerable<InFlightTask> tasks)
    {
        var list = tasks.ToList();
        var values = new Dictionary<string, StoredValue>();
        foreach (var (task, batchValues) in list)
            foreach (var dependency in task.Dependencies)
                if (!values.ContainsKey(dependency) && batchValues.TryGetValue(dependency, out var bytes)) values[dependency] = bytes;
        var functions = list.Select(t => t.Task.FunctionId).Distinct().Select(id => _sentFunctions[id]).ToList();
        return new ExecuteBatch(functions, values, list.Select(t => t.Task).ToList());
    }

    /// <summary>
    /// Kills the process and tells the worker, which starts another executor for new batches and sends
    /// <paramref name="rerun"/> there, then stops this actor after the batches it had already sent.
    /// </summary>
    private void Retire(ExecuteBatch rerun)
    {
        _inFlight.Clear();
        _deadlines.Clear();
        Timers.CancelAll();
        KillProcess();
        _knownToProcess.Clear(); // its mappings died with it
        DiscardLent();
        Become(Retired);
        Context.Parent.Tell(new ExecutorRetired(VersionName, _assemblyPaths, rerun));
    }

    private void HandleExited(ExecutorExited message)
    {
        var stderr = ExecutorLauncher.RecentErrors(_process);
        var reason = string.IsNullOrWhiteSpace(stderr) ? message.Reason : $"{message.Reason}: {stderr}";
        _log.Warning("Executor for code {0} is gone: {1}", VersionName, reason);
        var pending = Stash.ClearStash().Select(e => e.Message).OfType<ExecuteBatch>().SelectMany(b => b.Tasks).Select(t => t.Key);
        var failures = _inFlight.Keys.Concat(pending)
            .Select(key => new ExecutorResult(key, null, "", RemoteError.Of(ErrorKind.ExecutorCrashed,
                $"The process running {key} died ({reason}).")))
            .ToList();
        if (failures.Count > 0) Context.Parent.Tell(new ExecutorResults(failures));
        Retire(new ExecuteBatch([], new Dictionary<string, StoredValue>(), []));
    }

    private void StartReader(Stream stream)
    {
        var self = Self;
        var limits = WireLimits.From(Context.System.Settings.Config);
        var log = _log;
        var version = VersionName;
        var thread = new Thread(() =>
        {
            var reader = new WireReader(stream, limits);
            try
            {
                while (true)
                {
                    var frame = stream.ReadByte();
                    switch (frame)
                    {
                        case -1: throw new EndOfStreamException();
                        case ExecutorFrames.Results:
                            {
                                var results = TakeShared(ExecutorFrames.ReadResults(reader));
                                if (HopTrace.Enabled) foreach (var result in results) HopTrace.Lap(result.Key, "executor process: batch written -> result read");
                                self.Tell(new ExecutorResults(results));
                                break;
                            }
                        case ExecutorFrames.Started: self.Tell(new TasksStarted(ExecutorFrames.ReadStarted(reader))); break;
                        case ExecutorFrames.SegmentWanted:
                            {
                                var (request, length) = ExecutorFrames.ReadSegmentWanted(reader);
                                self.Tell(new SegmentWanted(request, length));
                                break;
                            }
                        case ExecutorFrames.ResolveAssembly:
                            {
                                var (id, key, name) = ExecutorFrames.ReadResolveAssembly(reader);
                                self.Tell(new AssemblyWanted(id, key, name));
                                break;
                            }
                        default: throw new WireFormatException($"Unexpected frame {frame} from the executor.");
                    }
                }
            }
            catch (Exception e) when (e is IOException or EndOfStreamException or ObjectDisposedException)
            {
                self.Tell(new ExecutorExited($"the executor connection closed ({e.GetType().Name})"));
            }
            catch (Exception e)
            {
                // Whatever the executor sends, this thread must not end the worker (an exception that
                // escapes a thread ends the process): the connection closes and the executor is replaced.
                log.Warning("Closing the connection of executor {0}: it sent a malformed frame: {1}", version, e.Message);
                self.Tell(new ExecutorExited($"the executor sent a malformed frame ({e.GetType().Name}: {e.Message})"));
            }
        })
        { IsBackground = true, Name = $"executor-reader-{VersionName}" };
        thread.Start();
    }

    protected override void PostStop()
    {
        if (_buffers is not null) _buffers.SegmentUnmapped -= OnSegmentUnmapped;
        KillProcess();
        _knownToProcess.Clear();
        DiscardLent();
        _process?.Dispose();
        try { File.Delete(_socketPath); } catch (IOException) { }
    }

    private void KillProcess()
    {
        try { _connection?.Dispose(); } catch (ObjectDisposedException) { }
        _listener?.Dispose();
        // SIGKILL alone: killing the whole tree first SIGSTOPs the process to list its children, and a
        // worker that exits in between (it stops its executors as it shuts down) leaves it stopped for ever.
        try { if (_process is { HasExited: false } process) process.Kill(); }
        catch (InvalidOperationException) { }
        catch (System.ComponentModel.Win32Exception e) { _log.Warning("Could not kill executor process of code {0}: {1}", VersionName, e.Message); }
    }

    private static string DescribeTimeout(long milliseconds) => milliseconds % 1000 == 0 ? $"{milliseconds / 1000} s" : $"{milliseconds} ms";

    private static readonly IReadOnlyDictionary<string, StoredValue> NoValues = new Dictionary<string, StoredValue>();

    /// <summary>A task handed to the process, with its batch's input values (to run it again elsewhere).</summary>
    private sealed record InFlightTask(ExecutorTask Task, IReadOnlyDictionary<string, StoredValue> Values);

    /// <summary>The process asks for a segment of <paramref name="Length"/> bytes to write a result into.</summary>
    private sealed record SegmentWanted(long Request, int Length);

    /// <summary>The pool unmapped these segments, which the process may keep mapped: it should unmap them too.</summary>
    private sealed record SegmentsFreed(IReadOnlyList<long> SegmentIds);

    private sealed class CheckDeadlines
    {
        public static CheckDeadlines Instance { get; } = new();
    }

    private static string SafeExitCode(Process? process)
    {
        try { return process is { HasExited: true } ? process.ExitCode.ToString() : "?"; }
        catch (InvalidOperationException) { return "?"; }
    }
}

/// <summary>Starts executor processes: the running worker program itself, with the executor verb.</summary>
internal static class ExecutorLauncher
{
    private static readonly System.Runtime.CompilerServices.ConditionalWeakTable<Process, Queue<string>> Errors = new();

    /// <summary>The runtime setting <see cref="TierUpAtOnce"/> gives an executor.</summary>
    internal const string CallCountingDelayVariable = "DOTNET_TC_CallCountingDelayMs";

    /// <summary>
    /// An executor's hot methods (decoding inputs, the user's function, encoding results) go to optimized
    /// code after 30 calls instead of waiting until no new method was compiled for 100 ms: a batch keeps
    /// compiling new methods for seconds, which kept an array sum's first runs on unoptimized code (issue
    /// 12: 0.24–0.30 s against 0.08 s). Only executors: in dcenter and dworker the same setting made every
    /// start compete with the optimizing compiler (a worker's start 0.63 → 1.12 s, the quickstart 2.9 → 4.1 s).
    /// An explicit value in the environment is kept.
    /// </summary>
    internal static void TierUpAtOnce(ProcessStartInfo info)
    {
        if (!info.Environment.ContainsKey(CallCountingDelayVariable)) info.Environment[CallCountingDelayVariable] = "0";
    }

    public static Process Start(string socketPath, int threads, IReadOnlyList<string> assemblyPaths)
    {
        ChildProcessSwitch.ThrowIfForbidden("an executor");
        var host = Environment.ProcessPath ?? throw new InvalidOperationException("Cannot find the path of the worker program.");
        var info = new ProcessStartInfo(host)
        {
            UseShellExecute = false,
            RedirectStandardError = true,
            RedirectStandardOutput = true,
        };
        // Under 'dotnet dworker.dll' the host is the muxer and the program comes first.
        if (Path.GetFileNameWithoutExtension(host).Equals("dotnet", StringComparison.OrdinalIgnoreCase))
            info.ArgumentList.Add(System.Reflection.Assembly.GetEntryAssembly()!.Location);
        info.ArgumentList.Add(ExecutorHost.Verb);
        info.ArgumentList.Add(socketPath);
        info.ArgumentList.Add(threads.ToString());
        foreach (var path in assemblyPaths) info.ArgumentList.Add(path);
        TierUpAtOnce(info);
        var process = new Process { StartInfo = info };
        var errors = new Queue<string>();
        Errors.Add(process, errors);
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) Console.Out.WriteLine($"[executor] {e.Data}"); };
        process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is null) return;
            Console.Error.WriteLine($"[executor] {e.Data}");
            lock (errors)
            {
                errors.Enqueue(e.Data);
                while (errors.Count > 20) errors.Dequeue();
            }
        };
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return process;
    }

    /// <summary>The last lines the executor wrote to standard error (why it died, often).</summary>
    public static string RecentErrors(Process? process)
    {
        if (process is null || !Errors.TryGetValue(process, out var errors)) return "";
        lock (errors) return string.Join(" | ", errors.TakeLast(5));
    }
}
