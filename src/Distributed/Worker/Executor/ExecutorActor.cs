using System.Diagnostics;
using System.Net.Sockets;
using Akka.Actor;
using Akka.Event;
using Distributed.Protocol;

namespace Distributed.Worker.Executor;

/// <summary>
/// Owns one executor process, which runs the tasks of one client code version with
/// <c>threads</c> threads. User code never runs in the worker process itself: a crash or a stuck
/// task there cannot take the stored data down, and each code version gets its own assemblies.
/// </summary>
internal sealed class ExecutorActor : ReceiveActor, IWithUnboundedStash
{
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly string _version;
    private readonly IReadOnlyList<string> _assemblyPaths;
    private readonly int _threads;
    private readonly string _socketPath;
    private readonly HashSet<string> _sentFunctions = [];
    private readonly HashSet<string> _inFlight = [];
    private Socket? _listener;
    private Socket? _connection;
    private Process? _process;
    private BinaryWriter? _writer;

    public ExecutorActor(string version, IReadOnlyList<string> assemblyPaths, int threads, string socketDirectory)
    {
        _version = version;
        _assemblyPaths = assemblyPaths;
        _threads = threads;
        _socketPath = Path.Combine(socketDirectory, $"executor-{version}-{Guid.NewGuid():N}"[..40] + ".sock");
        Starting();
    }

    public IStash Stash { get; set; } = null!;

    public static Props Props(string version, IReadOnlyList<string> assemblyPaths, int threads, string socketDirectory) =>
        Akka.Actor.Props.Create(() => new ExecutorActor(version, assemblyPaths, threads, socketDirectory));

    protected override void PreStart()
    {
        _listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        _listener.Bind(new UnixDomainSocketEndPoint(_socketPath));
        _listener.Listen(1);
        _listener.AcceptAsync().PipeTo(Self, success: s => new ExecutorConnected(s), failure: e => new ExecutorExited($"the executor did not connect: {e.Message}"));
        _process = ExecutorLauncher.Start(_socketPath, _threads, _assemblyPaths);
        var self = Self;
        _process.EnableRaisingEvents = true;
        _process.Exited += (_, _) => self.Tell(new ExecutorExited($"the executor process exited with code {SafeExitCode(_process)}"));
    }

    private void Starting()
    {
        Receive<ExecutorConnected>(m =>
        {
            _connection = m.Socket;
            var stream = new NetworkStream(m.Socket, ownsSocket: false);
            _writer = new BinaryWriter(new BufferedStream(stream, 1 << 16));
            StartReader(new BinaryReader(new BufferedStream(stream, 1 << 16)));
            Become(Running);
            Stash.UnstashAll();
        });
        Receive<ExecuteBatch>(_ => Stash.Stash());
        Receive<CancelExecution>(_ => Stash.Stash());
        Receive<ExecutorExited>(HandleExited);
    }

    private void Running()
    {
        Receive<ExecuteBatch>(HandleExecuteBatch);
        Receive<CancelExecution>(HandleCancelExecution);
        Receive<ExecutorResults>(m =>
        {
            foreach (var result in m.Results) _inFlight.Remove(result.Key);
            Context.Parent.Tell(m);
        });
        Receive<ExecutorExited>(HandleExited);
    }

    private void HandleExecuteBatch(ExecuteBatch batch)
    {
        var newFunctions = batch.Functions.Where(f => _sentFunctions.Add(f.FunctionId)).ToList();
        foreach (var task in batch.Tasks) _inFlight.Add(task.Key);
        try
        {
            ExecutorFrames.WriteBatch(_writer!, new ExecutorBatch(newFunctions, batch.Values, batch.Tasks));
        }
        catch (IOException e)
        {
            HandleExited(new ExecutorExited($"the executor stopped reading: {e.Message}"));
        }
    }

    private void HandleCancelExecution(CancelExecution message)
    {
        // Only tasks still here: a key the executor already answered would stay in its set for ever.
        var keys = message.Keys.Where(_inFlight.Contains).ToList();
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

    private void HandleExited(ExecutorExited message)
    {
        var stderr = ExecutorLauncher.RecentErrors(_process);
        var reason = string.IsNullOrWhiteSpace(stderr) ? message.Reason : $"{message.Reason}: {stderr}";
        _log.Warning("Executor for code {0} is gone: {1}", _version, reason);
        var pending = Stash.ClearStash().Select(e => e.Message).OfType<ExecuteBatch>().SelectMany(b => b.Tasks).Select(t => t.Key);
        var failures = _inFlight.Concat(pending)
            .Select(key => new ExecutorResult(key, null, "", new RemoteError("Distributed.ExecutorCrashedException",
                $"The process running {key} died ({reason}).", "")))
            .ToList();
        _inFlight.Clear();
        if (failures.Count > 0) Context.Parent.Tell(new ExecutorResults(failures));
        Context.Stop(Self);
    }

    private void StartReader(BinaryReader reader)
    {
        var self = Self;
        var thread = new Thread(() =>
        {
            try
            {
                while (true)
                {
                    var frame = reader.ReadByte();
                    if (frame != ExecutorFrames.Results) throw new InvalidDataException($"Unexpected frame {frame} from the executor.");
                    self.Tell(new ExecutorResults(ExecutorFrames.ReadResults(reader)));
                }
            }
            catch (Exception e) when (e is IOException or EndOfStreamException or ObjectDisposedException or InvalidDataException)
            {
                self.Tell(new ExecutorExited($"the executor connection closed ({e.GetType().Name})"));
            }
        }) { IsBackground = true, Name = $"executor-reader-{_version}" };
        thread.Start();
    }

    protected override void PostStop()
    {
        try { _connection?.Dispose(); } catch (ObjectDisposedException) { }
        _listener?.Dispose();
        if (_process is { } process)
        {
            try { if (!process.HasExited) process.Kill(entireProcessTree: true); }
            catch (InvalidOperationException) { }
            process.Dispose();
        }
        try { File.Delete(_socketPath); } catch (IOException) { }
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

    public static Process Start(string socketPath, int threads, IReadOnlyList<string> assemblyPaths)
    {
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
