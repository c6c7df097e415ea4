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
/// <example>
/// <code>
/// RemoteData&lt;int&gt; x = pool.Apply(() => 32);
/// RemoteData&lt;int&gt; sum = pool.Apply((int a, int b) => a + b, x, 10); // x becomes a remote TaskArgument&lt;int&gt;, 10 a plain one
/// </code>
/// </example>
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
    /// <example>
    /// <code>
    /// TaskArgument&lt;int&gt; plain = 10, remote = pool.Apply(() => 32);
    /// Console.WriteLine($"{plain.IsRemote} {remote.IsRemote}"); // False True
    /// </code>
    /// </example>
    public bool IsRemote { get; }

    /// <summary>A plain value, sent with the task.</summary>
    /// <example>
    /// <code>
    /// TaskArgument&lt;string&gt; greeting = "hello"; // sent with the task
    /// var shout = pool.Submit((string text, int times) => string.Concat(Enumerable.Repeat(text, times)), greeting, 3);
    /// </code>
    /// </example>
    public static implicit operator TaskArgument<T>(T value) => new(value, isRemote: false);

    /// <summary>A value on the cluster: the task runs where it is, or fetches it there.</summary>
    /// <example>
    /// <code>
    /// RemoteData&lt;double[]&gt; weights = pool.Apply(() => new[] { 0.2, 0.8 });
    /// TaskArgument&lt;double[]&gt; argument = weights; // the task reads it on the cluster
    /// var dot = pool.Apply((double[] w, double[] v) => w.Zip(v, (a, b) => a * b).Sum(), argument, new[] { 1.0, 2.0 });
    /// </code>
    /// </example>
    public static implicit operator TaskArgument<T>(RemoteData<T> remote) =>
        new(remote ?? throw new ArgumentNullException(nameof(remote), "A remote argument must not be null."), isRemote: true);
}
