using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net.Sockets;
using System.Reflection;
using System.Runtime.InteropServices;
using System.Runtime.Loader;
using System.Threading.Channels;
using Distributed.Protocol;
using Distributed.Protocol.Hosting;
using Distributed.Protocol.Security;
using Distributed.Data;
using Distributed.Data.Serialization;

namespace Distributed.Worker.Executor;

/// <summary>
/// The main loop of an executor process: the only place where user code runs. A worker starts one
/// per client code version, so each process loads exactly one build of the user's assemblies.
/// It exits when its worker closes the socket (including when the worker dies).
/// </summary>
public static class ExecutorHost
{
    /// <summary>The argument that turns a <c>dworker</c> process into an executor.</summary>
    public const string Verb = "executor";

    /// <summary>
    /// Runs an executor: <c>executor SOCKET THREADS [ASSEMBLY-PATH...]</c>. Without assembly paths it is
    /// a spare, started before any code needs it: it warms up and learns its code from a code frame.
    /// </summary>
    public static int Run(string[] args)
    {
        if (args.Length < 2 || !int.TryParse(args[1], out var threads) || threads < 1)
        {
            Console.Error.WriteLine("usage: executor SOCKET-PATH THREADS [ASSEMBLY-PATH...]");
            return 2;
        }
        var executor = new Executor(threads);
        // One handler for the life of the process: the shipped files first, then (a miss) the client.
        AssemblyLoadContext.Default.Resolving += (context, name) => ResolveShipped(context, name) ?? executor.ResolveOnDemand(context, name);
        if (args.Length > 2) InstallAssemblyResolver(args.Skip(2));
        else executor.WarmUpInBackground();
        using var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        socket.Connect(new UnixDomainSocketEndPoint(args[0]));
        Distributed.Protocol.Hosting.StartTrace.Mark("executor: connected to its worker");
        // The kernel's word for who the worker is: shared values are opened through its /proc entry.
        try { executor.WorkerProcessId = UnixIdentity.PeerOf(socket)?.ProcessId; }
        catch (SocketException e) { Console.Error.WriteLine($"warning: the executor cannot tell its worker's process, so values come over the socket: {e.Message}"); }
        using var stream = new NetworkStream(socket, ownsSocket: false);
        executor.Serve(stream);
        return 0;
    }

    /// <summary>The shipped assemblies of this process's code version by simple name (empty while a spare).</summary>
    private static volatile Dictionary<string, string> _shippedBySimpleName = new(StringComparer.OrdinalIgnoreCase);

    private static Assembly? ResolveShipped(AssemblyLoadContext context, AssemblyName name) =>
        name.Name is { } simple && string.IsNullOrEmpty(name.CultureName) && _shippedBySimpleName.TryGetValue(simple, out var path)
            ? context.LoadFromAssemblyPath(path) : null;

    private static void InstallAssemblyResolver(IEnumerable<string> paths)
    {
        // One process holds one code version, so the simple name identifies the assembly, and the name
        // without "lib" and extension the native library (the worker sent only its RID's).
        var all = paths.ToList();
        var natives = all.Where(NativeLibraryFiles.IsCachedNativePath).ToList();
        _shippedBySimpleName = all.Except(natives).ToDictionary(p => Path.GetFileNameWithoutExtension(p), StringComparer.OrdinalIgnoreCase);
        if (natives.Count == 0) return;
        var byLibraryKey = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (var native in natives) byLibraryKey.TryAdd(NativeLibraryFiles.LibraryKey(native), native);
        // Asked only when the runtime's own probing missed: a DllImport of a shipped package's library.
        AssemblyLoadContext.Default.ResolvingUnmanagedDll += (_, name) =>
            byLibraryKey.TryGetValue(NativeLibraryFiles.LibraryKey(name), out var path) ? NativeLibrary.Load(path) : IntPtr.Zero;
    }

#pragma warning disable CA1001 // one per executor process, serving until the process exits
    internal sealed class Executor(int threads)
#pragma warning restore CA1001
    {
        private readonly ValueCodec _codec = new();
        private readonly ConcurrentDictionary<string, Lazy<IUserFunction>> _functions = new();
        private readonly BlockingCollection<(ExecutorTask Task, BatchValues Values)> _queue = new();
        // A cancel applies to the runs still queued when it arrives, never to one that already started:
        // a mark left for a started (or answered) run would skip the next run of that key, which the
        // worker may send later. Both sets change under one lock, and every mark names a queued key.
        private readonly Lock _queueGate = new();
        private readonly Dictionary<string, int> _queued = new(StringComparer.Ordinal);
        private readonly HashSet<string> _cancelled = new(StringComparer.Ordinal);
        private readonly Channel<Output> _results = Channel.CreateUnbounded<Output>(new UnboundedChannelOptions { SingleReader = true });
        /// <summary>Held by whoever drains <see cref="_results"/> into the socket: the writer task, or a runner whose queue ran dry.</summary>
        private readonly object _outputGate = new();
        private BinaryWriter? _output;
        private long _writesByRunners;

        /// <summary>Times a runner thread wrote results itself (its queue empty), instead of the writer task.</summary>
        internal long WritesByRunners => Interlocked.Read(ref _writesByRunners);
        // Requests for a segment to write a result into, waiting for the worker's answer.
        private readonly ConcurrentDictionary<long, TaskCompletionSource<(int Descriptor, long SegmentId)>> _segmentRequests = new();
        private long _lastSegmentRequest;
        private volatile bool _serving = true;
        private volatile bool _sharingFailed;

        /// <summary>The worker's process, whose shared segments this executor opens; null: values only over the socket.</summary>
        public int? WorkerProcessId { get; set; }

        /// <summary>The worker's segments as this process keeps them mapped: made for <see cref="WorkerProcessId"/> when serving starts, unless set.</summary>
        internal ExecutorSegmentCache? Segments { get; set; }
        /// <summary>Assemblies asked of the worker on a miss, by the name asked: each asked once per process, found or not.</summary>
        private readonly ConcurrentDictionary<string, Lazy<OnDemandAnswer>> _onDemand = new(StringComparer.OrdinalIgnoreCase);
        private readonly ConcurrentDictionary<long, TaskCompletionSource<OnDemandAnswer>> _questions = new();
        private long _nextQuestion;
        private Thread? _frameReader;
        /// <summary>The task this runner thread runs: an assembly it misses is asked of that task's client.</summary>
        [ThreadStatic] private static string? _runningKey;
        /// <summary>The last task started, for a miss on a thread of the user's own.</summary>
        private volatile string? _lastStartedKey;

        public void Serve(Stream stream)
        {
            _frameReader = Thread.CurrentThread;
            var buffered = new BufferedStream(stream, 1 << 16);
            var input = new WireReader(buffered, WireLimits.Default);
            var output = _output = new BinaryWriter(new BufferedStream(stream, 1 << 16));
            if (Segments is null && WorkerProcessId is { } worker) Segments = ExecutorSegmentCache.OfWorker(worker);
            var runners = Enumerable.Range(0, threads).Select(slot => new Thread(() => RunTasks(slot)) { IsBackground = true, Name = "executor" }).ToList();
            runners.ForEach(t => t.Start());
            _ = Task.Run(() => WriteResults(output));
            try
            {
                while (true)
                {
                    int frame;
                    try { frame = buffered.ReadByte(); }
                    catch (IOException) { break; }
                    if (frame < 0) break;
                    if (frame == ExecutorFrames.Code)
                    {
                        InstallAssemblyResolver(ExecutorFrames.ReadCode(input));
                        continue;
                    }
                    if (frame == ExecutorFrames.SegmentLent)
                    {
                        var (request, descriptor, segmentId) = ExecutorFrames.ReadSegmentLent(input);
                        if (_segmentRequests.TryRemove(request, out var waiting)) waiting.TrySetResult((descriptor, segmentId));
                        continue;
                    }
                    if (frame == ExecutorFrames.SegmentsFreed)
                    {
                        Segments?.Forget(ExecutorFrames.ReadSegmentsFreed(input));
                        continue;
                    }
                    if (frame == ExecutorFrames.AssemblyResolved)
                    {
                        var (id, path, problem) = ExecutorFrames.ReadAssemblyResolved(input);
                        if (_questions.TryRemove(id, out var question)) question.TrySetResult(new OnDemandAnswer(path, problem));
                        continue;
                    }
                    if (frame == ExecutorFrames.Cancel)
                    {
                        var keys = ExecutorFrames.ReadCancel(input);
                        lock (_queueGate)
                            foreach (var key in keys)
                                if (_queued.ContainsKey(key)) _cancelled.Add(key);
                        continue;
                    }
                    if (frame != ExecutorFrames.Batch) throw new WireFormatException($"Unexpected frame {frame} from the worker.");
                    var batch = ExecutorFrames.ReadBatch(input);
                    if (HopTrace.Enabled) foreach (var task in batch.Tasks) HopTrace.Begin(task.Key);
                    // Decoded by the first task that runs it, not here: a closure whose types live in an
                    // assembly only the client has is resolved on demand, and that answer is read here.
                    foreach (var function in batch.Functions)
                        _functions.TryAdd(function.FunctionId, new Lazy<IUserFunction>(() => DecodeFunction(function)));
                    var values = new BatchValues(batch.Values, MapShared(batch.SharedValues), batch.Tasks.Count, _codec);
                    if (batch.Tasks.Count == 0) values.Dispose(); // nothing will read them
                    lock (_queueGate)
                        foreach (var task in batch.Tasks) _queued[task.Key] = _queued.GetValueOrDefault(task.Key) + 1;
                    foreach (var task in batch.Tasks) _queue.Add((task, values));
                }
            }
            finally
            {
                // The worker is gone (or stopped us): nobody can receive results any more, and a stuck
                // user task must not keep this process alive, so the runners are not awaited.
                _queue.CompleteAdding();
                _serving = false;
                foreach (var request in _segmentRequests.Keys)
                    if (_segmentRequests.TryRemove(request, out var waiting)) waiting.TrySetResult((-1, 0));
            }
        }

        /// <summary>
        /// The worker's segments that hold a batch's shared inputs, mapped (once per segment, kept across
        /// batches) and in use until the batch's last task is done; a value that cannot be mapped fails the
        /// tasks that read it, with the reason (the rest of the batch runs).
        /// </summary>
        private Dictionary<string, MappedInput>? MapShared(IReadOnlyDictionary<string, SharedReference>? references)
        {
            if (references is not { Count: > 0 }) return null;
            var mapped = new Dictionary<string, MappedInput>(references.Count);
            foreach (var (key, reference) in references)
            {
                try
                {
                    if (Segments is not { } segments) throw new IOException("the executor does not know its worker's process");
                    var use = segments.Use(reference.SegmentId, reference.Descriptor, checked((int)(reference.Offset + reference.Length)));
                    mapped[key] = new MappedInput(use, use.Memory.Slice((int)reference.Offset, reference.Length), null);
                }
                catch (Exception e) when (e is IOException or OverflowException or PlatformNotSupportedException or ArgumentException)
                {
                    mapped[key] = new MappedInput(null, default, new IOException($"The input {key} could not be read from the worker's shared memory: {e.Message}", e));
                }
            }
            return mapped;
        }
        /// <summary>
        /// A spare has time before its first task: the first decode of a function, call and encode of
        /// its result (Hyperion building its serializers, the JIT compiling both paths) happen now,
        /// not in the time of the first task on a new worker.
        /// </summary>
        public void WarmUpInBackground() => new Thread(() =>
        {
            try
            {
                var offset = Environment.ProcessId % 7; // captured, as in most user lambdas
                var encoded = _codec.Encode(new UnaryFunction<int, int>(x => x + offset));
                var function = (IUserFunction)_codec.Decode(encoded)!;
                _codec.Decode(_codec.Encode(function.Invoke([_codec.Decode(_codec.Encode(1))])));
#pragma warning disable CA1861 // runs once per process: a field would save nothing
                _codec.Decode(_codec.Encode(new[] { 1.5, 2.5 }));
#pragma warning restore CA1861
                _codec.Decode(_codec.Encode(new List<string> { "warm" }));
            }
            catch (Exception e)
            {
                // Only a head start: the real tasks meet the same problem and report it.
                Console.Error.WriteLine($"warning: the executor could not warm up: {e.Message}");
            }
        })
        { IsBackground = true, Name = "executor-warm-up", Priority = ThreadPriority.BelowNormal }.Start();

        private IUserFunction DecodeFunction(FunctionSpec spec)
        {
            try
            {
                return (IUserFunction)_codec.Decode(spec.Payload)!;
            }
            catch (Exception e)
            {
                return new BrokenFunction(e);
            }
        }

        /// <summary>One runner thread's loop; <paramref name="slot"/> numbers it among the executor's threads (the dashboard's lanes).</summary>
        private void RunTasks(int slot)
        {
            foreach (var (task, values) in _queue.GetConsumingEnumerable())
            {
                if (Dequeued(task.Key))
                {
                    values.TaskDone();
                    _results.Writer.TryWrite(new Output(null, new ExecutorResult(task.Key, null, "", ExecutorFrames.CancelledError)));
                    continue;
                }
                // The worker times a task from here, so that waiting in this queue does not count.
                if (task.TimeoutMs > 0) _results.Writer.TryWrite(new Output(task.Key, null));
                _runningKey = _lastStartedKey = task.Key;
                ExecutorResult result;
                try { result = Execute(task, values, slot); }
                finally { values.TaskDone(); } // done with before the worker hears the answer and may reuse the segment
                HopTrace.Lap(task.Key, "executor: batch read -> run");
                _results.Writer.TryWrite(new Output(null, result));
                // Nothing else to run: this thread writes the result itself, sparing the wait for the writer
                // task's wake-up (a lone Apply's answer); while tasks queue, the writer batches their results.
                if (_queue.Count == 0) WritePendingIfFree();
            }
        }

        /// <summary>Writes what waits in <see cref="_results"/> unless another thread is writing it (that one takes it along).</summary>
        private void WritePendingIfFree()
        {
            if (_output is not { } output || !Monitor.TryEnter(_outputGate)) return;
            try
            {
                if (WritePending(output)) Interlocked.Increment(ref _writesByRunners);
            }
            // The worker is gone: the frame reader ends this process; the writer task meets the same.
            catch (Exception e) when (e is IOException or ObjectDisposedException) { }
            finally { Monitor.Exit(_outputGate); }
        }

        /// <summary>Takes <paramref name="key"/>'s run off the queued set; whether it was cancelled while it waited.</summary>
        private bool Dequeued(string key)
        {
            lock (_queueGate)
            {
                var left = _queued[key] - 1;
                if (left == 0) _queued.Remove(key);
                else _queued[key] = left;
                return _cancelled.Remove(key);
            }
        }

        private ExecutorResult Execute(ExecutorTask task, BatchValues values, int slot)
        {
            var started = Stopwatch.GetTimestamp();
            object? result;
            try
            {
                var function = _functions[task.FunctionId].Value;
                if (function is BrokenFunction broken) throw broken.Reason;
                result = function.Invoke(Arguments(task, values));
            }
            catch (Exception e)
            {
                return new ExecutorResult(task.Key, null, "", Describe(e), new TaskRun(slot, started, Stopwatch.GetTimestamp()));
            }
            try
            {
                var encoded = Encoded(task.Key, result);
                return encoded with { Run = new TaskRun(slot, started, Stopwatch.GetTimestamp()) };
            }
            catch (Exception e)
            {
                return new ExecutorResult(task.Key, null, "", new RemoteError(ErrorKind.UserCode, e.GetType().FullName!,
                    $"The result of {task.Key} cannot be sent back: {e.Message}", e.StackTrace ?? ""), new TaskRun(slot, started, Stopwatch.GetTimestamp()));
            }
        }

        /// <summary>
        /// The result of <paramref name="key"/> encoded: a large one into a segment the worker lends (the
        /// worker stores that segment as the value, no copy on its side), the rest in the frame.
        /// </summary>
        private ExecutorResult Encoded(string key, object? result)
        {
            var typeName = TypeNameOf(result);
            var rawLength = ValueCodec.RawEncodedLength(result);
            var encoded = rawLength is null ? _codec.EncodeValue(result, typeName) : null;
            // Only a value of one buffer goes into a segment: a chunked one travels over the socket chunk by chunk.
            var length = rawLength ?? (encoded!.IsSingleChunk ? encoded.Length : 0);
            if (length >= ExecutorFrames.SharedResultMinimumBytes && Segments is { } segments && !_sharingFailed && BorrowSegment((int)length) is { } lent)
            {
                try
                {
                    // In use for this write only: nothing touches it once the worker hears of the result.
                    using var segment = segments.Use(lent.SegmentId, lent.Descriptor, (int)length);
                    var destination = segment.Memory.Span;
                    var writing = System.Diagnostics.Stopwatch.GetTimestamp();
                    if (encoded is null) ValueCodec.EncodeInto(result!, destination);
                    else encoded.Span.CopyTo(destination);
                    HopTrace.Once(writing, $"executor: result of {length >> 20} MiB written into lent segment {lent.SegmentId}");
                    return new ExecutorResult(key, null, typeName, null, Shared: new SharedResult(lent.SegmentId, (int)length));
                }
                catch (IOException e)
                {
                    // Not for this result nor the next: the segment stays lent until this process ends.
                    _sharingFailed = true;
                    Console.Error.WriteLine($"warning: the executor cannot write results into its worker's shared memory, so they go over the socket: {e.Message}");
                }
            }
            return new ExecutorResult(key, encoded ?? _codec.EncodeValue(result, typeName), typeName, null);
        }

        /// <summary>A segment of at least <paramref name="length"/> bytes lent by the worker, or null when it lends none.</summary>
        private (int Descriptor, long SegmentId)? BorrowSegment(int length)
        {
            var request = Interlocked.Increment(ref _lastSegmentRequest);
            var answer = new TaskCompletionSource<(int Descriptor, long SegmentId)>(TaskCreationOptions.RunContinuationsAsynchronously);
            _segmentRequests[request] = answer;
            if (!_serving) answer.TrySetResult((-1, 0)); // the worker is gone: nobody answers
            _results.Writer.TryWrite(new Output(null, null, new SegmentRequest(request, length)));
            var (descriptor, segmentId) = answer.Task.GetAwaiter().GetResult();
            return descriptor < 0 ? null : (descriptor, segmentId);
        }

        private object?[] Arguments(ExecutorTask task, BatchValues values)
        {
            switch (task.Kind)
            {
                case ArgumentsKind.Dependencies:
                    {
                        var arguments = new object?[task.Dependencies.Count];
                        for (var i = 0; i < arguments.Length; i++) arguments[i] = values.Get(task.Dependencies[i]);
                        return arguments;
                    }
                case ArgumentsKind.SingleValue:
                    return [_codec.Decode(task.Args)];
                case ArgumentsKind.Template:
                    {
                        var template = (object?[])_codec.Decode(task.Args)!;
                        var dependencies = task.Dependencies.Select(values.Get).ToArray();
                        return template.Select(t => TemplateConversion.Resolve(t, dependencies)).ToArray();
                    }
                default:
                    throw new InvalidDataException($"Unknown argument kind {task.Kind}.");
            }
        }

        private async Task WriteResults(BinaryWriter output)
        {
            while (await _results.Reader.WaitToReadAsync())
                lock (_outputGate) WritePending(output);
        }

        private readonly List<ExecutorResult> _pendingResults = [];
        private readonly List<string> _pendingStarts = [];

        /// <summary>Drains <see cref="_results"/> into frames, in the order queued; only under <see cref="_outputGate"/>. Whether it wrote any.</summary>
        private bool WritePending(BinaryWriter output)
        {
            var wrote = false;
            var reader = _results.Reader;
            var batch = _pendingResults;
            var started = _pendingStarts;
            while (true)
            {
                var taken = 0;
                while (batch.Count + started.Count < 4096 && reader.TryRead(out var item))
                {
                    taken++;
                    if (item.Result is { } result) batch.Add(result);
                    else if (item.Request is { } request) ExecutorFrames.WriteSegmentWanted(output, request.Id, request.Length);
                    else if (item.Question is { } question) ExecutorFrames.WriteResolveAssembly(output, question.Id, question.TaskKey, question.Name);
                    else started.Add(item.StartedKey!);
                }
                if (taken == 0) return wrote;
                wrote = true;
                try
                {
                    // Starts first: a task's start was queued before its result, and stays before it.
                    if (started.Count > 0) ExecutorFrames.WriteStarted(output, started);
                    if (batch.Count > 0) ExecutorFrames.WriteResults(output, batch);
                    else output.Flush();
                    if (HopTrace.Enabled) foreach (var result in batch) HopTrace.Lap(result.Key, "executor: run -> result written", last: true);
                }
                finally
                {
                    batch.Clear();
                    started.Clear();
                }
            }
        }

        private RemoteError Describe(Exception e) =>
            new(ErrorKind.UserCode, e.GetType().FullName ?? e.GetType().Name, e.Message + WhyNotResolved(e), e.StackTrace ?? "");

        /// <summary>
        /// Resolves, on a miss, an assembly no manifest listed (loaded by name or by reflection): the worker
        /// asks the client of the task that needs it, fetches it into its cache (by hash, once per worker)
        /// and answers with its file. Each name is asked once per process; a satellite only of an assembly
        /// that is not the framework's or ours (those are never shipped). Not on the reader thread, which
        /// reads the answer: a miss there fails as it would without shipping.
        /// </summary>
        public Assembly? ResolveOnDemand(AssemblyLoadContext context, AssemblyName name)
        {
            if (name.Name is not { Length: > 0 } simple || Thread.CurrentThread == _frameReader) return null;
            var culture = name.CultureName;
            var satellite = !string.IsNullOrEmpty(culture);
            if (satellite && !IsShippedOwnerOf(simple)) return null;
            var asked = satellite ? SatelliteNames.Of(culture!, simple) : simple;
            var answer = _onDemand.GetOrAdd(asked, key => new Lazy<OnDemandAnswer>(() => AskWorker(key))).Value;
            return answer.Path is { } path ? context.LoadFromAssemblyPath(path) : null;
        }

        /// <summary>How long a miss waits for the worker, which asks the client through the center and may fetch the file.</summary>
        private static readonly TimeSpan OnDemandTimeout = TimeSpan.FromMinutes(2);

        private OnDemandAnswer AskWorker(string name)
        {
            var id = Interlocked.Increment(ref _nextQuestion);
            var question = new TaskCompletionSource<OnDemandAnswer>(TaskCreationOptions.RunContinuationsAsynchronously);
            _questions[id] = question;
            _results.Writer.TryWrite(new Output(null, null, Question: new AssemblyQuestion(id, _runningKey ?? _lastStartedKey ?? "", name)));
            if (question.Task.Wait(OnDemandTimeout)) return question.Task.Result;
            _questions.TryRemove(id, out _);
            return new OnDemandAnswer(null, $"its worker did not answer within {OnDemandTimeout.TotalMinutes:0} minutes");
        }

        /// <summary>Whether a satellite's main assembly (<c>X</c> of <c>X.resources</c>) is user code: shipped, or resolved on demand.</summary>
        private bool IsShippedOwnerOf(string satelliteName)
        {
            if (!satelliteName.EndsWith(".resources", StringComparison.OrdinalIgnoreCase)) return false;
            var owner = satelliteName[..^".resources".Length];
            return _shippedBySimpleName.ContainsKey(owner) || (_onDemand.TryGetValue(owner, out var found) && found.IsValueCreated && found.Value.Path is not null);
        }

        /// <summary>For a failure to load an assembly that was asked of the client: why the client could not give it.</summary>
        private string WhyNotResolved(Exception e)
        {
            for (var inner = e; inner is not null; inner = inner.InnerException)
            {
                var fileName = inner switch { FileNotFoundException f => f.FileName, FileLoadException f => f.FileName, _ => null };
                if (fileName is null) continue;
                string? simple;
                try { simple = new AssemblyName(fileName).Name; }
                catch (Exception ex) when (ex is ArgumentException or FileLoadException) { continue; }
                if (simple is not null && _onDemand.TryGetValue(simple, out var answer) && answer.IsValueCreated && answer.Value.Problem is { } problem)
                    return $" It was asked of the client on demand (no manifest listed it): {problem}";
            }
            return "";
        }

        private static string TypeNameOf(object? value) => value?.GetType().FullName ?? "null";
    }

    /// <summary>What the executor tells its worker: a task (with a timeout) started, a task's result, that it needs a segment, or an assembly it misses.</summary>
    private readonly record struct Output(string? StartedKey, ExecutorResult? Result, SegmentRequest? Request = null, AssemblyQuestion? Question = null);

    /// <summary>An assembly missed while <see cref="TaskKey"/> ran, asked of the worker.</summary>
    private sealed record AssemblyQuestion(long Id, string TaskKey, string Name);

    /// <summary>The worker's answer to a miss: the file to load, or why there is none.</summary>
    private sealed record OnDemandAnswer(string? Path, string? Problem);

    /// <summary>A request for a segment of <paramref name="Length"/> bytes to write a result into.</summary>
    private sealed record SegmentRequest(long Id, int Length);

    /// <summary>A shared input in use from the worker's segment (or why it could not be).</summary>
    private sealed record MappedInput(ExecutorSegmentCache.SegmentUse? Use, ReadOnlyMemory<byte> Bytes, Exception? Failure);

    /// <summary>
    /// A batch's input values, decoded once each however many tasks read them. The worker's segments
    /// behind shared ones are in use until the batch's last task is done, then let go (they stay mapped
    /// for later batches; decoded values are copies: nothing reads the mapping after).
    /// </summary>
    private sealed class BatchValues(IReadOnlyDictionary<string, StoredValue> encoded, Dictionary<string, MappedInput>? shared, int tasks, ValueCodec codec)
    {
        private readonly ConcurrentDictionary<string, Lazy<object?>> _decoded = new();
        private int _tasksLeft = tasks;

        public object? Get(string key) => _decoded.GetOrAdd(key, k => new Lazy<object?>(() =>
            encoded.TryGetValue(k, out var bytes) ? codec.Decode(bytes)
            : shared is not null && shared.TryGetValue(k, out var mapped) ? DecodeShared(mapped)
            : throw new KeyNotFoundException($"The input {k} did not reach the executor."))).Value;

        private object? DecodeShared(MappedInput mapped)
        {
            if (mapped.Failure is not null) throw mapped.Failure;
            var decoding = System.Diagnostics.Stopwatch.GetTimestamp();
            var value = codec.Decode(mapped.Bytes);
            HopTrace.Once(decoding, $"executor: shared input of {mapped.Bytes.Length >> 20} MiB decoded");
            return value;
        }

        /// <summary>One of the batch's tasks is done (run or skipped); after the last, the uses of its segments end.</summary>
        public void TaskDone()
        {
            if (Interlocked.Decrement(ref _tasksLeft) == 0) Dispose();
        }

        /// <summary>Ends the uses of the shared inputs' segments.</summary>
        public void Dispose()
        {
            if (shared is null) return;
            foreach (var input in shared.Values) input.Use?.Dispose();
        }
    }

    /// <summary>A function whose payload could not be decoded: its tasks fail with the reason.</summary>
    private sealed class BrokenFunction(Exception reason) : IUserFunction
    {
        public Exception Reason { get; } = reason;
        public string Name => "broken";
        public Delegate Delegate => Invoke;
        public object? Invoke(object?[] arguments) => throw Reason;
    }
}
