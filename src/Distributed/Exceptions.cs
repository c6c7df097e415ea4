using Distributed.Protocol;

namespace Distributed;

/// <summary>
/// A task failed on the cluster. Carries what failed (<see cref="Kind"/>: the user's code, or the
/// cluster), the remote exception's type, message and stack trace, and the task's key.
/// </summary>
public sealed class RemoteTaskException(string key, string remoteTypeName, string remoteMessage, string remoteStackTrace, string worker,
    ErrorKind kind = ErrorKind.UserCode)
    : Exception($"Task {key} failed on {worker} with {remoteTypeName}: {remoteMessage}")
{
    /// <summary>
    /// What failed: <see cref="ErrorKind.UserCode"/> when the user's function threw (then
    /// <see cref="RemoteTypeName"/> is its exception's type), otherwise the cluster's reason.
    /// </summary>
    public ErrorKind Kind { get; } = kind;
    /// <summary>The key of the task that failed.</summary>
    public string Key { get; } = key;
    /// <summary>The full name of the exception type thrown remotely (for a failure of the cluster, the name of its <see cref="Kind"/>).</summary>
    public string RemoteTypeName { get; } = remoteTypeName;
    /// <summary>The remote exception's message.</summary>
    public string RemoteMessage { get; } = remoteMessage;
    /// <summary>The remote exception's stack trace.</summary>
    public string RemoteStackTrace { get; } = remoteStackTrace;
    /// <summary>The worker where it failed (or "center" when it was refused before running).</summary>
    public string Worker { get; } = worker;

    /// <inheritdoc />
    public override string ToString() => $"{base.ToString()}{Environment.NewLine}--- remote stack trace ---{Environment.NewLine}{RemoteStackTrace}";
}

/// <summary>A function, argument or result cannot be sent to the cluster (it captures something bound to this process).</summary>
public sealed class TaskSerializationException(string key, Type type, string reason, Exception? inner)
    : Exception($"Task {key} cannot be sent: a value of type {type.FullName} cannot be serialized ({reason}).", inner)
{
    /// <summary>The key of the task.</summary>
    public string Key { get; } = key;
    /// <summary>The type that cannot be serialized.</summary>
    public Type OffendingType { get; } = type;
}

/// <summary>A value is no longer on the cluster (released, or lost with its workers).</summary>
public sealed class DataLostException(string key, string message) : Exception(message)
{
    /// <summary>The key of the value.</summary>
    public string Key { get; } = key;
}

/// <summary>
/// A task ran longer than its timeout after it started: it was stopped (the executor process running
/// it was killed, the worker kept its data and got a fresh executor) and is not run again.
/// </summary>
public sealed class TaskTimeoutException(string key, TimeSpan timeout, string worker)
    : Exception($"Task {key} did not finish within {Describe(timeout)} of starting on {worker}; it was stopped and is not run again.")
{
    /// <summary>The key of the task that timed out.</summary>
    public string Key { get; } = key;
    /// <summary>The task's timeout.</summary>
    public TimeSpan Timeout { get; } = timeout;
    /// <summary>The worker where it ran.</summary>
    public string Worker { get; } = worker;

    private static string Describe(TimeSpan timeout) =>
        timeout.Ticks % TimeSpan.TicksPerSecond == 0 ? $"{timeout.TotalSeconds:0} s" : $"{timeout.TotalMilliseconds:0.###} ms";
}

/// <summary>
/// The center was lost (killed, or restarted) while a computation waited for it: the computation is
/// not resumed. Values returned before stay valid once the pool has reconnected to the center.
/// </summary>
public sealed class CenterRestartedException(string message, Exception? inner = null) : Exception(message, inner);
