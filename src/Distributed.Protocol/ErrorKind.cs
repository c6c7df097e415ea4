namespace Distributed.Protocol;

/// <summary>
/// What failed, as every process reads it: the center, the worker and the client decide by this kind,
/// never by <see cref="RemoteError.TypeName"/>, which user code controls. It travels as one byte; 0 is
/// no kind, so a zeroed frame is refused rather than read as a failure of user code.
/// </summary>
public enum ErrorKind : byte
{
    /// <summary>The user's function (or the encoding of its result) threw; the type name is that exception's .NET type.</summary>
    UserCode = 1,
    /// <summary>A worker could not fetch a task's input; the center runs the task again once the input is found or made.</summary>
    InputLost = 2,
    /// <summary>A task ran past its timeout after it started; its executor process was stopped.</summary>
    TaskTimeout = 3,
    /// <summary>A task was cancelled before it started; the worker drops the answer.</summary>
    TaskCancelled = 4,
    /// <summary>A submitted task's key already exists on the cluster.</summary>
    DuplicateKey = 5,
    /// <summary>A submitted task names a function that was not sent with it.</summary>
    MissingFunction = 6,
    /// <summary>A submitted task depends on a key that is neither stored nor being made.</summary>
    MissingInput = 7,
    /// <summary>The task's key was released before it finished.</summary>
    Released = 8,
    /// <summary>The task's code (assemblies or function) is refused or could not be delivered.</summary>
    CodeShipping = 9,
    /// <summary>The task took down every worker it ran on, too many times to run again.</summary>
    WorkerDeath = 10,
    /// <summary>A value the task needs was lost with its workers and cannot be made again.</summary>
    DataLost = 11,
    /// <summary>The executor process running the task died.</summary>
    ExecutorCrashed = 12,
}
