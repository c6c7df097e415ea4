namespace Distributed;

/// <summary>
/// One argument of a typed call (<c>pool.Apply((int a, int b) => a + b, x, 10)</c>): a plain value that
/// travels with the task, or a <see cref="RemoteData{T}"/> whose value the task receives where it
/// lives. Written implicitly: pass a <typeparamref name="T"/> or a <see cref="RemoteData{T}"/>.
/// </summary>
/// <remarks>
/// The lambda's declared parameter types fix <typeparamref name="T"/>, so a call compiles without type
/// arguments whichever form each argument takes (C# infers type arguments from the lambda, and only
/// then converts each argument to this type).
/// </remarks>
public readonly struct TaskArgument<T>
{
    private TaskArgument(object? value, bool isRemote)
    {
        Value = value;
        IsRemote = isRemote;
    }

    /// <summary>The plain value, or the <see cref="RemoteData{T}"/>.</summary>
    internal object? Value { get; }

    /// <summary>Whether the argument is a value on the cluster.</summary>
    public bool IsRemote { get; }

    /// <summary>A plain value, sent with the task.</summary>
    public static implicit operator TaskArgument<T>(T value) => new(value, isRemote: false);

    /// <summary>A value on the cluster: the task runs where it is, or fetches it there.</summary>
    public static implicit operator TaskArgument<T>(RemoteData<T> remote) =>
        new(remote ?? throw new ArgumentNullException(nameof(remote), "A remote argument must not be null."), isRemote: true);
}
