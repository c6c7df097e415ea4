namespace Distributed.Protocol;

/// <summary>
/// Marker of every message of our protocol. HOCON binds it to an explicit serializer, so nothing
/// falls back to a catch-all binding of <see cref="object"/>.
/// </summary>
public interface IProtocolMessage;

/// <summary>Where a worker's data channel listens: values move there, never through Akka.</summary>
public sealed record DataEndpoint(string Host, int Port)
{
    /// <inheritdoc />
    public override string ToString() => $"{Host}:{Port}";
}

/// <summary>One assembly of a client's code, named and content-addressed (SHA-256, hex).</summary>
public sealed record AssemblyRef(string Name, string Hash);

/// <summary>
/// One native library file of a package, for one runtime identifier (<c>runtimes/RID/native/FILE</c>
/// in the package), content-addressed like an assembly. A worker fetches those of its own RID.
/// </summary>
public sealed record NativeLibraryRef(string Package, string RuntimeId, string FileName, string Hash);

/// <summary>
/// The user assemblies a task needs, and the native libraries of their packages for every runtime
/// identifier the client has them for. <see cref="Version"/> hashes all of them, so two builds of one
/// program get different versions and run in different executor processes.
/// </summary>
public sealed record CodeManifest(string Version, IReadOnlyList<AssemblyRef> Assemblies, IReadOnlyList<NativeLibraryRef>? Natives = null)
{
    /// <summary>The native libraries, none when the manifest has no list.</summary>
    public IReadOnlyList<NativeLibraryRef> NativeLibraries => Natives ?? [];
}

/// <summary>A serialized user function (an <c>IUserFunction</c>), addressed by the hash of its bytes.</summary>
public sealed record FunctionSpec(string FunctionId, byte[] Payload);

/// <summary>How a task's arguments are encoded.</summary>
public enum ArgumentsKind : byte
{
    /// <summary>The arguments are the values of the dependencies, in order; <c>Args</c> is empty.</summary>
    Dependencies = 0,
    /// <summary><c>Args</c> holds one value encoded by the value codec.</summary>
    SingleValue = 1,
    /// <summary><c>Args</c> holds an <c>object?[]</c> template whose placeholders name dependencies by index.</summary>
    Template = 2,
}

/// <summary>
/// One call of a user function: its result is stored under <see cref="Key"/>. A graph's intermediate
/// result says how many tasks will read it (<see cref="ReleaseAfterConsumers"/>): the center deletes it
/// once they have all finished. Zero keeps the result until the client releases it. A graph's tasks
/// also carry a <see cref="Priority"/> (lower runs first; negative: no order, run at once), which the
/// center follows while it holds ready tasks back so that branches finish before new ones start.
/// <see cref="TimeoutMs"/> bounds how long the task may run once its executor starts it (0: no limit);
/// past it the task fails and its executor process is replaced. <see cref="Restrictions"/>, when not
/// null, says which workers may run it and what resources it takes while it runs.
/// </summary>
public sealed record TaskSpec(string Key, string FunctionId, ArgumentsKind Kind, byte[] Args, IReadOnlyList<string> Dependencies,
    int ReleaseAfterConsumers = 0, long Priority = -1, long TimeoutMs = 0, TaskRestrictions? Restrictions = null);

/// <summary>
/// Where a task may run (dask's <c>workers=</c> and <c>resources=</c>): only on one of
/// <see cref="Workers"/> (names or host:port addresses; empty: any), and only while that worker has
/// <see cref="Resources"/> free (name → amount, taken from its <c>--resources</c> while the task runs).
/// </summary>
/// <example>
/// <code>
/// // Made by the Pool from TaskOptions { Workers = ["gpu-box"], Resources = { ["GPU"] = 1 } }:
/// var restrictions = new TaskRestrictions(["gpu-box"], new Dictionary&lt;string, double&gt; { ["GPU"] = 1 });
/// var task = spec with { Restrictions = restrictions };
/// </code>
/// </example>
public sealed record TaskRestrictions(IReadOnlyList<string> Workers, IReadOnlyDictionary<string, double> Resources);

/// <summary>
/// Why a task failed, as any process can read it: <see cref="Kind"/> says what failed and is what every
/// process decides by; <see cref="TypeName"/> is the .NET type of the user's exception for
/// <see cref="ErrorKind.UserCode"/>, and otherwise the name the client shows for the kind.
/// </summary>
public sealed record RemoteError(ErrorKind Kind, string TypeName, string Message, string StackTrace)
{
    /// <summary>A failure of the cluster (not of user code) of this kind, named as the client shows it, without a stack trace.</summary>
    public static RemoteError Of(ErrorKind kind, string message) => new(kind, NameOf(kind), message, "");

    /// <summary>The name shown for a kind (as <see cref="TypeName"/>); it is also what these failures were called before they had a kind.</summary>
    public static string NameOf(ErrorKind kind) => kind switch
    {
        ErrorKind.UserCode => "Distributed.UserCodeException",
        ErrorKind.InputLost => "Distributed.InputLostException",
        ErrorKind.TaskTimeout => "Distributed.TaskTimeoutException",
        ErrorKind.TaskCancelled => "Distributed.TaskCancelled",
        ErrorKind.DuplicateKey => "DuplicateKey",
        ErrorKind.MissingFunction => "MissingFunction",
        ErrorKind.MissingInput => "MissingInput",
        ErrorKind.Released => "Released",
        ErrorKind.CodeShipping => "Distributed.CodeShippingException",
        ErrorKind.WorkerDeath => "Distributed.WorkerDeathException",
        ErrorKind.DataLost => "Distributed.DataLostException",
        ErrorKind.ExecutorCrashed => "Distributed.ExecutorCrashedException",
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, $"{(byte)kind} is not an {nameof(ErrorKind)}."),
    };

    /// <summary>Reads a kind's byte from the wire: an undefined one is a <see cref="WireFormatException"/> that names it.</summary>
    internal static ErrorKind KindFromWire(byte value, string key) =>
        Enum.IsDefined((ErrorKind)value) ? (ErrorKind)value : throw new WireFormatException($"The error of {key} has an unknown kind {value}.");
}

/// <summary>
/// Describes one worker, as the center knows it; <see cref="Resources"/>: what it was started with (<c>--resources</c>), null if nothing;
/// <see cref="State"/>: whether it is retiring (handing its values over before it leaves).
/// </summary>
/// <example>
/// <code>
/// foreach (var worker in pool.Workers())
///     Console.WriteLine($"{worker.Name}: {(worker.Resources is { } r ? ResourceAmounts.Format(r) : "no resources")}");
/// </code>
/// </example>
public sealed record WorkerInfo(string Name, string Address, int Cores, int KeyCount, long StoredBytes, DataEndpoint Data,
    IReadOnlyDictionary<string, double>? Resources = null, WorkerState State = WorkerState.Active);

/// <summary>Where a worker is in its life, as the center sees it.</summary>
public enum WorkerState
{
    /// <summary>It takes tasks and values.</summary>
    Active,

    /// <summary>
    /// It is retiring (<c>Pool.RetireWorkersAsync</c>, or SIGTERM to <c>dworker</c>): it gets no more tasks,
    /// finishes those it has, hands its values to active workers, and leaves.
    /// </summary>
    Retiring,
}

/// <summary>A stored value, as reported by the worker that made or copied it.</summary>
public sealed record StoredKey(string Key, long Size, string TypeName);

/// <summary>A task that failed.</summary>
public sealed record FailedTask(string Key, RemoteError Error);
