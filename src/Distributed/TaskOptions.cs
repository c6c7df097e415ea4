namespace Distributed;

/// <summary>
/// How a submitted call runs (dask's <c>submit(..., key=, pure=)</c>): for <c>Submit</c> and <c>SubmitMap</c>.
/// </summary>
/// <example>
/// <code>
/// var lines = pool.Submit(() => File.ReadAllLines("/data/app.log").Length, new TaskOptions { Key = "app-log-lines" });
/// var same = pool.Submit(() => File.ReadAllLines("/data/app.log").Length, new TaskOptions { Key = "app-log-lines" }); // the same future: nothing runs twice
/// var squares = pool.SubmitMap(x => x * x, Enumerable.Range(0, 10), new TaskOptions { Pure = true, Timeout = TimeSpan.FromMinutes(1) });
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
    /// <example>
    /// <code>
    /// var model = pool.Submit(() => "trained", new TaskOptions { Key = "model-v1" });
    /// var parts = pool.SubmitMap(x => x * 2, [1, 2, 3], new TaskOptions { Key = "doubled" }); // doubled-0, doubled-1, doubled-2
    /// </code>
    /// </example>
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
    /// <example>
    /// <code>
    /// var first = pool.Submit((int n) => n * n, 12, new TaskOptions { Pure = true });
    /// var again = pool.Submit((int n) => n * n, 12, new TaskOptions { Pure = true }); // the same future: computed once
    /// </code>
    /// </example>
    public bool Pure { get; init; }

    /// <summary>How long each task may run once started; past it the task fails with <see cref="TaskTimeoutException"/>. Null: no limit.</summary>
    /// <example>
    /// <code>
    /// var bounded = pool.SubmitMap(n => Enumerable.Range(0, n).Sum(), [10, 100], new TaskOptions { Timeout = TimeSpan.FromSeconds(30) });
    /// </code>
    /// </example>
    public TimeSpan? Timeout { get; init; }

    /// <summary>Hears how far a <c>SubmitMap</c>'s tasks have come as they end (on the pool's thread: keep it quick, or use <see cref="Progress{T}"/>).</summary>
    /// <example>
    /// <code>
    /// var options = new TaskOptions { Progress = new Progress&lt;ComputationProgress&gt;(p => Console.WriteLine($"{p.Done}/{p.Total}")) };
    /// var futures = pool.SubmitMap(x => x + 1, Enumerable.Range(0, 1_000), options);
    /// </code>
    /// </example>
    public IProgress<ComputationProgress>? Progress { get; init; }

    /// <summary>The longest key accepted.</summary>
    /// <example>
    /// <code>
    /// string key = $"report-{DateTime.UtcNow:yyyyMMdd}";
    /// if (key.Length &lt;= TaskOptions.MaxKeyLength) pool.Submit(() => "done", new TaskOptions { Key = key });
    /// </code>
    /// </example>
    public const int MaxKeyLength = 1024;
}
