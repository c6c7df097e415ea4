using Distributed.Protocol;

namespace Distributed;

/// <summary>
/// A task failed on the cluster. Carries what failed (<see cref="Kind"/>: the user's code, or the
/// cluster), the remote exception's type, message and stack trace, and the task's key.
/// </summary>
/// <example>
/// <code>
/// try { pool.Apply(() => int.Parse("forty-two")); }
/// catch (RemoteTaskException e) when (e.Kind == ErrorKind.UserCode)
/// {
///     Console.WriteLine($"{e.Key} threw {e.RemoteTypeName} on {e.Worker}: {e.RemoteMessage}"); // System.FormatException
/// }
/// </code>
/// </example>
public sealed class RemoteTaskException(string key, string remoteTypeName, string remoteMessage, string remoteStackTrace, string worker,
    ErrorKind kind = ErrorKind.UserCode)
    : Exception($"Task {key} failed on {worker} with {remoteTypeName}: {remoteMessage}")
{
    /// <summary>
    /// What failed: <see cref="ErrorKind.UserCode"/> when the user's function threw (then
    /// <see cref="RemoteTypeName"/> is its exception's type), otherwise the cluster's reason.
    /// </summary>
    /// <example>
    /// <code>
    /// try { pool.Map(x => 10 / x, Enumerable.Range(0, 3)); }
    /// catch (RemoteTaskException e) { Console.WriteLine(e.Kind == ErrorKind.UserCode ? "a bug in the lambda" : $"the cluster: {e.Kind}"); }
    /// </code>
    /// </example>
    public ErrorKind Kind { get; } = kind;
    /// <summary>The key of the task that failed.</summary>
    /// <example>
    /// <code>
    /// try { await pool.SubmitMap(x => 10 / x, [5, 0, 2])[1]; }
    /// catch (RemoteTaskException e) { Console.WriteLine($"task {e.Key} failed"); }
    /// </code>
    /// </example>
    public string Key { get; } = key;
    /// <summary>The full name of the exception type thrown remotely (for a failure of the cluster, the name of its <see cref="Kind"/>).</summary>
    /// <example>
    /// <code>
    /// try { pool.Apply(() => "abc"[5]); }
    /// catch (RemoteTaskException e) when (e.RemoteTypeName == typeof(IndexOutOfRangeException).FullName) { Console.WriteLine("index bug"); }
    /// </code>
    /// </example>
    public string RemoteTypeName { get; } = remoteTypeName;
    /// <summary>The remote exception's message.</summary>
    /// <example>
    /// <code>
    /// try { pool.Apply((string path) => File.ReadAllText(path), "/no/such/file"); }
    /// catch (RemoteTaskException e) { Console.WriteLine(e.RemoteMessage); } // Could not find file '/no/such/file'.
    /// </code>
    /// </example>
    public string RemoteMessage { get; } = remoteMessage;
    /// <summary>The remote exception's stack trace.</summary>
    /// <example>
    /// <code>
    /// try { pool.Apply(() => Convert.ToInt32("x")); }
    /// catch (RemoteTaskException e) { Console.Error.WriteLine(e.RemoteStackTrace); } // where it threw, on the worker
    /// </code>
    /// </example>
    public string RemoteStackTrace { get; } = remoteStackTrace;
    /// <summary>The worker where it failed (or "center" when it was refused before running).</summary>
    /// <example>
    /// <code>
    /// try { pool.Apply(() => Environment.GetEnvironmentVariable("NEEDED") ?? throw new InvalidOperationException("NEEDED is unset")); }
    /// catch (RemoteTaskException e) { Console.WriteLine($"{e.Worker} lacks NEEDED"); }
    /// </code>
    /// </example>
    public string Worker { get; } = worker;

    /// <summary>The exception as .NET prints it, then the remote stack trace.</summary>
    /// <example>
    /// <code>
    /// try { pool.Apply(() => int.Parse("x")); }
    /// catch (RemoteTaskException e) { Console.Error.WriteLine(e); } // both stack traces: this process's and the worker's
    /// </code>
    /// </example>
    public override string ToString() => $"{base.ToString()}{Environment.NewLine}--- remote stack trace ---{Environment.NewLine}{RemoteStackTrace}";
}

/// <summary>A function, argument or result cannot be sent to the cluster (it captures something bound to this process).</summary>
/// <example>
/// <code>
/// using var file = File.OpenRead("data.bin");
/// try { pool.Apply(() => file.Length); } // a FileStream is bound to this process
/// catch (TaskSerializationException e) { Console.WriteLine($"{e.Key}: {e.OffendingType.Name} cannot be sent"); }
/// </code>
/// </example>
public sealed class TaskSerializationException(string key, Type type, string reason, Exception? inner)
    : Exception($"Task {key} cannot be sent: a value of type {type.FullName} cannot be serialized ({reason}).", inner)
{
    /// <summary>The key of the task.</summary>
    /// <example>
    /// <code>
    /// using var stop = new CancellationTokenSource(); // bound to this process
    /// try { pool.Map(x => stop.IsCancellationRequested ? 0 : x, Enumerable.Range(0, 3)); }
    /// catch (TaskSerializationException e) { Console.WriteLine($"{e.Key} was not sent"); }
    /// </code>
    /// </example>
    public string Key { get; } = key;
    /// <summary>The type that cannot be serialized.</summary>
    /// <example>
    /// <code>
    /// var thread = new Thread(() => { });
    /// try { pool.Apply(() => thread.ManagedThreadId); }
    /// catch (TaskSerializationException e) { Console.WriteLine(e.OffendingType); } // System.Threading.Thread
    /// </code>
    /// </example>
    public Type OffendingType { get; } = type;
}

/// <summary>A value is no longer on the cluster (released, or lost with its workers).</summary>
/// <example>
/// <code>
/// RemoteData&lt;int[]&gt; data = pool.Apply(() => new int[1_000]);
/// pool.Release([data]);
/// try { await data; } catch (DataLostException e) { Console.WriteLine($"{e.Key}: {e.Message}"); }
/// </code>
/// </example>
public sealed class DataLostException(string key, string message) : Exception(message)
{
    /// <summary>The key of the value.</summary>
    /// <example>
    /// <code>
    /// var values = pool.Map(x => x * 2, Enumerable.Range(0, 4));
    /// try { await pool.GatherAsync(values); }
    /// catch (DataLostException e) { Console.WriteLine($"{e.Key} is gone: compute it again"); } // e.g. lost with its worker while the center was down
    /// </code>
    /// </example>
    public string Key { get; } = key;
}

/// <summary>
/// A task ran longer than its timeout after it started: it was stopped (the executor process running
/// it was killed, the worker kept its data and got a fresh executor) and is not run again.
/// </summary>
/// <example>
/// <code>
/// try { pool.Apply(() => { Thread.Sleep(60_000); return 1; }, timeout: TimeSpan.FromSeconds(5)); }
/// catch (TaskTimeoutException e) { Console.WriteLine($"{e.Key} ran over {e.Timeout} on {e.Worker}"); }
/// </code>
/// </example>
public sealed class TaskTimeoutException(string key, TimeSpan timeout, string worker)
    : Exception($"Task {key} did not finish within {Describe(timeout)} of starting on {worker}; it was stopped and is not run again.")
{
    /// <summary>The key of the task that timed out.</summary>
    /// <example>
    /// <code>
    /// var future = pool.Submit(() => { Thread.Sleep(Timeout.Infinite); return 0; }, new TaskOptions { Timeout = TimeSpan.FromSeconds(1) });
    /// try { await future; } catch (TaskTimeoutException e) { Console.WriteLine($"stopped {e.Key}"); }
    /// </code>
    /// </example>
    public string Key { get; } = key;
    /// <summary>The task's timeout.</summary>
    /// <example>
    /// <code>
    /// try { pool.Map(n => { Thread.Sleep(n); return n; }, [10, 10_000], timeout: TimeSpan.FromSeconds(2)); }
    /// catch (TaskTimeoutException e) { Console.WriteLine($"limit was {e.Timeout.TotalSeconds} s"); }
    /// </code>
    /// </example>
    public TimeSpan Timeout { get; } = timeout;
    /// <summary>The worker where it ran.</summary>
    /// <example>
    /// <code>
    /// try { pool.Apply(() => { Thread.Sleep(10_000); return 0; }, TimeSpan.FromSeconds(1)); }
    /// catch (TaskTimeoutException e) { Console.WriteLine($"{e.Worker} got a fresh executor"); }
    /// </code>
    /// </example>
    public string Worker { get; } = worker;

    private static string Describe(TimeSpan timeout) =>
        timeout.Ticks % TimeSpan.TicksPerSecond == 0 ? $"{timeout.TotalSeconds:0} s" : $"{timeout.TotalMilliseconds:0.###} ms";
}

/// <summary>
/// The center was lost (killed, or restarted) while a computation waited for it: the computation is
/// not resumed. Values returned before stay valid once the pool has reconnected to the center.
/// </summary>
/// <example>
/// <code>
/// try { var squares = await pool.MapAsync(x => x * x, Enumerable.Range(0, 1_000)); }
/// catch (CenterRestartedException) { /* the center died mid-computation: submit it again once it is back */ }
/// </code>
/// </example>
public sealed class CenterRestartedException(string message, Exception? inner = null) : Exception(message, inner);
