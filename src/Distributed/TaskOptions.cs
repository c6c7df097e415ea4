namespace Distributed;

/// <summary>
/// How a submitted call runs (dask's <c>submit(..., key=, pure=)</c>): for <c>Submit</c> and <c>SubmitMap</c>.
/// </summary>
/// <example>
/// <code>
/// var model = pool.Submit(() => Train(data), new TaskOptions { Key = "model-v1" });
/// var same = pool.Submit(() => Train(data), new TaskOptions { Key = "model-v1" }); // the same future: nothing runs twice
/// var squares = pool.SubmitMap(x => x * x, items, new TaskOptions { Pure = true });
/// </code>
/// </example>
public sealed record TaskOptions
{
    private readonly string? _key;

    /// <summary>
    /// The key of the task's result (for <c>SubmitMap</c>, the prefix of <c>{Key}-{i}</c>). A key this pool
    /// already has a live result or pending task of is not computed again: its future is returned.
    /// Another client's key is refused.
    /// </summary>
    public string? Key
    {
        get => _key;
        init => _key = value is null || !string.IsNullOrWhiteSpace(value) && value.Length <= MaxKeyLength
            ? value
            : throw new ArgumentException($"A task key must be 1 to {MaxKeyLength} characters, not blank.", nameof(Key));
    }

    /// <summary>
    /// The call depends only on its function (code and captured values) and arguments: calls that are
    /// the same share one result, computed once, while this pool holds it. Off by default: a .NET
    /// lambda may read a clock, a file or a random number.
    /// </summary>
    public bool Pure { get; init; }

    /// <summary>How long each task may run once started; past it the task fails with <see cref="TaskTimeoutException"/>. Null: no limit.</summary>
    public TimeSpan? Timeout { get; init; }

    /// <summary>Hears how far a <c>SubmitMap</c>'s tasks have come as they end (on the pool's thread: keep it quick, or use <see cref="Progress{T}"/>).</summary>
    public IProgress<ComputationProgress>? Progress { get; init; }

    /// <summary>The longest key accepted.</summary>
    public const int MaxKeyLength = 1024;
}
