using Distributed.Protocol;

namespace Distributed;

/// <summary>
/// How a submitted call runs (dask's <c>submit(..., key=, pure=, workers=, resources=)</c>): for <c>Submit</c> and <c>SubmitMap</c>.
/// </summary>
/// <example>
/// <code>
/// var lines = pool.Submit(() => File.ReadAllLines("/data/app.log").Length, new TaskOptions { Key = "app-log-lines" });
/// var same = pool.Submit(() => File.ReadAllLines("/data/app.log").Length, new TaskOptions { Key = "app-log-lines" }); // the same future: nothing runs twice
/// var squares = pool.SubmitMap(x => x * x, Enumerable.Range(0, 10), new TaskOptions { Pure = true, Timeout = TimeSpan.FromMinutes(1) });
/// var onGpu = pool.Submit(() => Environment.ProcessorCount, new TaskOptions { Resources = new Dictionary&lt;string, double&gt; { ["GPU"] = 1 } });
/// </code>
/// </example>
public sealed record TaskOptions
{
    private readonly string? _key;
    private readonly IReadOnlyList<string>? _workers;
    private readonly IReadOnlyDictionary<string, double>? _resources;

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

    /// <summary>
    /// The workers the tasks may run on, by name (<c>dworker --name</c>, as <c>Pool.Workers()</c> shows them) or
    /// host:port address (dask's <c>workers=</c>); null or empty: any. A task waits, never runs elsewhere,
    /// while none of them is registered (the center logs why), and is never taken by another worker.
    /// </summary>
    /// <example>
    /// <code>
    /// var sizes = pool.SubmitMap((string path) => new FileInfo(path).Length, new[] { "/data/a.bin", "/data/b.bin" }, new TaskOptions { Workers = ["storage-node"] });
    /// </code>
    /// </example>
    public IReadOnlyList<string>? Workers
    {
        get => _workers;
        init => _workers = value is null || value.All(w => !string.IsNullOrWhiteSpace(w))
            ? value?.ToArray()
            : throw new ArgumentException("An allowed worker is named by a name or a host:port address, not blank.", nameof(Workers));
    }

    /// <summary>
    /// What each task takes of its worker while it runs, by resource name (dask's <c>resources=</c>):
    /// a task asking for <c>GPU = 1</c> runs only on a worker started with <c>dworker --resources GPU=N</c>,
    /// and only while one of its N is free. It waits while no such worker is registered (the center logs why).
    /// </summary>
    /// <example>
    /// <code>
    /// // dworker 10.0.0.1:8787 --resources GPU=2,MEM=8e9
    /// var frames = pool.SubmitMap((int frame) => $"frame-{frame}.png", Enumerable.Range(0, 100), new TaskOptions { Resources = new Dictionary&lt;string, double&gt; { ["GPU"] = 1 } });
    /// </code>
    /// </example>
    public IReadOnlyDictionary<string, double>? Resources
    {
        get => _resources;
        init => _resources = value is null || ResourceAmounts.Problem(value) is not { } problem
            ? value?.ToDictionary(StringComparer.Ordinal)
            : throw new ArgumentException($"Resources: {problem}", nameof(Resources));
    }

    /// <summary>The restrictions the tasks travel with, or null when none (the common case costs nothing on the wire).</summary>
    internal TaskRestrictions? Restrictions =>
        _workers is { Count: > 0 } || _resources is { Count: > 0 }
            ? new TaskRestrictions(_workers ?? [], _resources ?? new Dictionary<string, double>())
            : null;

    /// <summary>The longest key accepted.</summary>
    /// <example>
    /// <code>
    /// string key = $"report-{DateTime.UtcNow:yyyyMMdd}";
    /// if (key.Length &lt;= TaskOptions.MaxKeyLength) pool.Submit(() => "done", new TaskOptions { Key = key });
    /// </code>
    /// </example>
    public const int MaxKeyLength = 1024;
}
