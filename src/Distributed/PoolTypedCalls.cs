using Distributed.Client;
using Distributed.Data.Serialization;
using Distributed.Protocol;

namespace Distributed;

// Calls of functions of two to four arguments, each argument a plain value or a RemoteData of its
// type, written without type arguments: pool.Apply((int a, int b) => a + b, x, 10). The executor
// calls them through a typed wrapper (BinaryFunction and the like), not DynamicInvoke.
public sealed partial class Pool
{
    // ----- Apply with several arguments -----

    /// <summary>Runs <paramref name="function"/> once; each argument is a value or a <see cref="RemoteData{T}"/> of its type.</summary>
    /// <example>
    /// <code>
    /// RemoteData&lt;int&gt; x = pool.Apply(() => 32);
    /// RemoteData&lt;int&gt; sum = pool.Apply((int a, int b) => a + b, x, 10); // x is read where it lives: 42
    /// </code>
    /// </example>
    public RemoteData<TResult> Apply<T1, T2, TResult>(Func<T1, T2, TResult> function, TaskArgument<T1> first, TaskArgument<T2> second, TimeSpan? timeout = null) =>
        ApplyAsync(function, first, second, timeout: timeout).GetAwaiter().GetResult();

    /// <summary>Runs <paramref name="function"/> once; each argument is a value or a <see cref="RemoteData{T}"/> of its type.</summary>
    /// <example>
    /// <code>
    /// RemoteData&lt;double&gt; clamped = pool.Apply((double v, double low, double high) => Math.Clamp(v, low, high), 7.5, 0.0, 5.0);
    /// </code>
    /// </example>
    public RemoteData<TResult> Apply<T1, T2, T3, TResult>(Func<T1, T2, T3, TResult> function, TaskArgument<T1> first, TaskArgument<T2> second,
        TaskArgument<T3> third, TimeSpan? timeout = null) =>
        ApplyAsync(function, first, second, third, timeout: timeout).GetAwaiter().GetResult();

    /// <summary>Runs <paramref name="function"/> once; each argument is a value or a <see cref="RemoteData{T}"/> of its type.</summary>
    /// <example>
    /// <code>
    /// RemoteData&lt;string&gt; label = pool.Apply((string run, int id, double score, bool passed) => $"{run}#{id}: {score:F2} {passed}", "nightly", 7, 0.93, true);
    /// </code>
    /// </example>
    public RemoteData<TResult> Apply<T1, T2, T3, T4, TResult>(Func<T1, T2, T3, T4, TResult> function, TaskArgument<T1> first, TaskArgument<T2> second,
        TaskArgument<T3> third, TaskArgument<T4> fourth, TimeSpan? timeout = null) =>
        ApplyAsync(function, first, second, third, fourth, timeout: timeout).GetAwaiter().GetResult();

    /// <summary>Like <see cref="Apply{T1,T2,TResult}(Func{T1,T2,TResult},TaskArgument{T1},TaskArgument{T2},TimeSpan?)"/>, returning at once.</summary>
    /// <example>
    /// <code>
    /// RemoteData&lt;int[]&gt; data = await pool.ApplyAsync(() => new[] { 3, 1, 2 });
    /// RemoteData&lt;int&gt; first = await pool.ApplyAsync((int[] values, int index) => values.Order().ElementAt(index), data, 0, cancellation);
    /// </code>
    /// </example>
    public Task<RemoteData<TResult>> ApplyAsync<T1, T2, TResult>(Func<T1, T2, TResult> function, TaskArgument<T1> first, TaskArgument<T2> second,
        CancellationToken cancellation = default, TimeSpan? timeout = null) =>
        ApplyTypedAsync<TResult>(function, new BinaryFunction<T1, T2, TResult>(function), [first.Value, second.Value],
            [typeof(T1), typeof(T2), typeof(TResult)], cancellation, timeout);

    /// <summary>Like <see cref="Apply{T1,T2,T3,TResult}(Func{T1,T2,T3,TResult},TaskArgument{T1},TaskArgument{T2},TaskArgument{T3},TimeSpan?)"/>, returning at once.</summary>
    /// <example>
    /// <code>
    /// RemoteData&lt;string&gt; padded = await pool.ApplyAsync((string text, int width, char fill) => text.PadLeft(width, fill), "42", 6, '0', cancellation);
    /// </code>
    /// </example>
    public Task<RemoteData<TResult>> ApplyAsync<T1, T2, T3, TResult>(Func<T1, T2, T3, TResult> function, TaskArgument<T1> first, TaskArgument<T2> second,
        TaskArgument<T3> third, CancellationToken cancellation = default, TimeSpan? timeout = null) =>
        ApplyTypedAsync<TResult>(function, new TernaryFunction<T1, T2, T3, TResult>(function), [first.Value, second.Value, third.Value],
            [typeof(T1), typeof(T2), typeof(T3), typeof(TResult)], cancellation, timeout);

    /// <summary>Like <see cref="Apply{T1,T2,T3,T4,TResult}(Func{T1,T2,T3,T4,TResult},TaskArgument{T1},TaskArgument{T2},TaskArgument{T3},TaskArgument{T4},TimeSpan?)"/>, returning at once.</summary>
    /// <example>
    /// <code>
    /// RemoteData&lt;double&gt; distance = await pool.ApplyAsync((double x0, double y0, double x1, double y1) => Math.Sqrt(Math.Pow(x1 - x0, 2) + Math.Pow(y1 - y0, 2)),
    ///     0.0, 0.0, 3.0, 4.0, cancellation); // 5
    /// </code>
    /// </example>
    public Task<RemoteData<TResult>> ApplyAsync<T1, T2, T3, T4, TResult>(Func<T1, T2, T3, T4, TResult> function, TaskArgument<T1> first, TaskArgument<T2> second,
        TaskArgument<T3> third, TaskArgument<T4> fourth, CancellationToken cancellation = default, TimeSpan? timeout = null) =>
        ApplyTypedAsync<TResult>(function, new QuaternaryFunction<T1, T2, T3, T4, TResult>(function), [first.Value, second.Value, third.Value, fourth.Value],
            [typeof(T1), typeof(T2), typeof(T3), typeof(T4), typeof(TResult)], cancellation, timeout);

    // ----- Map over several lists (zip) -----

    /// <summary>Runs <paramref name="function"/> on the items of the lists taken pairwise (as <c>Zip</c>, but the lists must be as long as each other).</summary>
    /// <example>
    /// <code>
    /// List&lt;RemoteData&lt;int&gt;&gt; sums = pool.Map((int a, int b) => a + b, new[] { 1, 2, 3 }, new[] { 10, 20, 30 }); // 11, 22, 33
    /// </code>
    /// </example>
    public List<RemoteData<TResult>> Map<T1, T2, TResult>(Func<T1, T2, TResult> function, IEnumerable<T1> first, IEnumerable<T2> second, TimeSpan? timeout = null) =>
        MapAsync(function, first, second, timeout: timeout).GetAwaiter().GetResult();

    /// <summary>Runs <paramref name="function"/> on the remote values of the lists taken pairwise, where they live; no input comes to the client.</summary>
    /// <example>
    /// <code>
    /// List&lt;RemoteData&lt;double&gt;&gt; xs = pool.Map(i => (double)i, Enumerable.Range(0, 4));
    /// List&lt;RemoteData&lt;double&gt;&gt; ys = pool.Map(i => i * 0.5, Enumerable.Range(0, 4));
    /// List&lt;RemoteData&lt;double&gt;&gt; products = pool.Map((double x, double y) => x * y, xs, ys);
    /// </code>
    /// </example>
    public List<RemoteData<TResult>> Map<T1, T2, TResult>(Func<T1, T2, TResult> function, IEnumerable<RemoteData<T1>> first, IEnumerable<RemoteData<T2>> second,
        TimeSpan? timeout = null) =>
        MapAsync(function, first, second, timeout: timeout).GetAwaiter().GetResult();

    /// <summary>Runs <paramref name="function"/> on the items of the lists taken three at a time (the lists must be as long as each other).</summary>
    /// <example>
    /// <code>
    /// var lines = pool.Map((string name, int count, double price) => $"{count} x {name} = {count * price}", ["tea", "jam"], [2, 1], [3.5, 4.0]);
    /// </code>
    /// </example>
    public List<RemoteData<TResult>> Map<T1, T2, T3, TResult>(Func<T1, T2, T3, TResult> function, IEnumerable<T1> first, IEnumerable<T2> second,
        IEnumerable<T3> third, TimeSpan? timeout = null) =>
        MapAsync(function, first, second, third, timeout: timeout).GetAwaiter().GetResult();

    /// <summary>Runs <paramref name="function"/> on the remote values of the lists taken three at a time, where they live.</summary>
    /// <example>
    /// <code>
    /// List&lt;RemoteData&lt;double&gt;&gt; a = pool.Map(i => (double)i, Enumerable.Range(0, 3));
    /// var fused = pool.Map((double x, double y, double z) => x * y + z, a, a, a); // x² + x, for each x
    /// </code>
    /// </example>
    public List<RemoteData<TResult>> Map<T1, T2, T3, TResult>(Func<T1, T2, T3, TResult> function, IEnumerable<RemoteData<T1>> first,
        IEnumerable<RemoteData<T2>> second, IEnumerable<RemoteData<T3>> third, TimeSpan? timeout = null) =>
        MapAsync(function, first, second, third, timeout: timeout).GetAwaiter().GetResult();

    /// <summary>Like <see cref="Map{T1,T2,TResult}(Func{T1,T2,TResult},IEnumerable{T1},IEnumerable{T2},TimeSpan?)"/>, returning at once.</summary>
    /// <example>
    /// <code>
    /// var powers = await pool.MapAsync((double x, double y) => Math.Pow(x, y), [2.0, 3.0], [10.0, 2.0], cancellation); // 1024, 9
    /// </code>
    /// </example>
    public Task<List<RemoteData<TResult>>> MapAsync<T1, T2, TResult>(Func<T1, T2, TResult> function, IEnumerable<T1> first, IEnumerable<T2> second,
        CancellationToken cancellation = default, TimeSpan? timeout = null) =>
        MapZippedAsync<TResult>(function, new BinaryFunction<T1, T2, TResult>(function), Zip(Boxed(first), Boxed(second)),
            [typeof(T1), typeof(T2), typeof(TResult)], remote: false, cancellation, timeout);

    /// <summary>Like <see cref="Map{T1,T2,TResult}(Func{T1,T2,TResult},IEnumerable{RemoteData{T1}},IEnumerable{RemoteData{T2}},TimeSpan?)"/>, returning at once.</summary>
    /// <example>
    /// <code>
    /// var left = await pool.MapAsync(i => new[] { i }, Enumerable.Range(0, 4));
    /// var right = await pool.MapAsync(i => new[] { i * 10 }, Enumerable.Range(0, 4));
    /// var joined = await pool.MapAsync((int[] l, int[] r) => l.Concat(r).ToArray(), left, right, cancellation);
    /// </code>
    /// </example>
    public Task<List<RemoteData<TResult>>> MapAsync<T1, T2, TResult>(Func<T1, T2, TResult> function, IEnumerable<RemoteData<T1>> first,
        IEnumerable<RemoteData<T2>> second, CancellationToken cancellation = default, TimeSpan? timeout = null) =>
        MapZippedAsync<TResult>(function, new BinaryFunction<T1, T2, TResult>(function), Zip(Boxed(first), Boxed(second)),
            [typeof(T1), typeof(T2), typeof(TResult)], remote: true, cancellation, timeout);

    /// <summary>Like <see cref="Map{T1,T2,T3,TResult}(Func{T1,T2,T3,TResult},IEnumerable{T1},IEnumerable{T2},IEnumerable{T3},TimeSpan?)"/>, returning at once.</summary>
    /// <example>
    /// <code>
    /// var dates = await pool.MapAsync((int y, int m, int d) => new DateOnly(y, m, d), [2024, 2025], [2, 12], [29, 31], cancellation);
    /// </code>
    /// </example>
    public Task<List<RemoteData<TResult>>> MapAsync<T1, T2, T3, TResult>(Func<T1, T2, T3, TResult> function, IEnumerable<T1> first, IEnumerable<T2> second,
        IEnumerable<T3> third, CancellationToken cancellation = default, TimeSpan? timeout = null) =>
        MapZippedAsync<TResult>(function, new TernaryFunction<T1, T2, T3, TResult>(function), Zip(Boxed(first), Boxed(second), Boxed(third)),
            [typeof(T1), typeof(T2), typeof(T3), typeof(TResult)], remote: false, cancellation, timeout);

    /// <summary>Like <see cref="Map{T1,T2,T3,TResult}(Func{T1,T2,T3,TResult},IEnumerable{RemoteData{T1}},IEnumerable{RemoteData{T2}},IEnumerable{RemoteData{T3}},TimeSpan?)"/>, returning at once.</summary>
    /// <example>
    /// <code>
    /// var x = await pool.MapAsync(i => (double)i, Enumerable.Range(0, 4));
    /// var ranged = await pool.MapAsync((double v, double low, double high) => Math.Clamp(v, low, high), x, x, x, cancellation);
    /// </code>
    /// </example>
    public Task<List<RemoteData<TResult>>> MapAsync<T1, T2, T3, TResult>(Func<T1, T2, T3, TResult> function, IEnumerable<RemoteData<T1>> first,
        IEnumerable<RemoteData<T2>> second, IEnumerable<RemoteData<T3>> third, CancellationToken cancellation = default, TimeSpan? timeout = null) =>
        MapZippedAsync<TResult>(function, new TernaryFunction<T1, T2, T3, TResult>(function), Zip(Boxed(first), Boxed(second), Boxed(third)),
            [typeof(T1), typeof(T2), typeof(T3), typeof(TResult)], remote: true, cancellation, timeout);

    /// <summary>Runs <paramref name="function"/> on the items of the lists taken four at a time (the lists must be as long as each other).</summary>
    /// <example>
    /// <code>
    /// var boxes = pool.Map((int x, int y, int width, int height) => width * height, [0, 5], [0, 5], [2, 3], [4, 1]); // 8, 3
    /// </code>
    /// </example>
    public List<RemoteData<TResult>> Map<T1, T2, T3, T4, TResult>(Func<T1, T2, T3, T4, TResult> function, IEnumerable<T1> first, IEnumerable<T2> second,
        IEnumerable<T3> third, IEnumerable<T4> fourth, TimeSpan? timeout = null) =>
        MapAsync(function, first, second, third, fourth, timeout: timeout).GetAwaiter().GetResult();

    /// <summary>Runs <paramref name="function"/> on the remote values of the lists taken four at a time, where they live.</summary>
    /// <example>
    /// <code>
    /// List&lt;RemoteData&lt;double&gt;&gt; w = pool.Map(i => i + 1.0, Enumerable.Range(0, 3));
    /// var blended = pool.Map((double a, double b, double c, double d) => (a + b + c + d) / 4, w, w, w, w);
    /// </code>
    /// </example>
    public List<RemoteData<TResult>> Map<T1, T2, T3, T4, TResult>(Func<T1, T2, T3, T4, TResult> function, IEnumerable<RemoteData<T1>> first,
        IEnumerable<RemoteData<T2>> second, IEnumerable<RemoteData<T3>> third, IEnumerable<RemoteData<T4>> fourth, TimeSpan? timeout = null) =>
        MapAsync(function, first, second, third, fourth, timeout: timeout).GetAwaiter().GetResult();

    /// <summary>Like <see cref="Map{T1,T2,T3,T4,TResult}(Func{T1,T2,T3,T4,TResult},IEnumerable{T1},IEnumerable{T2},IEnumerable{T3},IEnumerable{T4},TimeSpan?)"/>, returning at once.</summary>
    /// <example>
    /// <code>
    /// var sums = await pool.MapAsync((int a, int b, int c, int d) => a + b + c + d, [1, 2], [3, 4], [5, 6], [7, 8], cancellation); // 16, 20
    /// </code>
    /// </example>
    public Task<List<RemoteData<TResult>>> MapAsync<T1, T2, T3, T4, TResult>(Func<T1, T2, T3, T4, TResult> function, IEnumerable<T1> first, IEnumerable<T2> second,
        IEnumerable<T3> third, IEnumerable<T4> fourth, CancellationToken cancellation = default, TimeSpan? timeout = null) =>
        MapZippedAsync<TResult>(function, new QuaternaryFunction<T1, T2, T3, T4, TResult>(function), Zip(Boxed(first), Boxed(second), Boxed(third), Boxed(fourth)),
            [typeof(T1), typeof(T2), typeof(T3), typeof(T4), typeof(TResult)], remote: false, cancellation, timeout);

    /// <summary>Like <see cref="Map{T1,T2,T3,T4,TResult}(Func{T1,T2,T3,T4,TResult},IEnumerable{RemoteData{T1}},IEnumerable{RemoteData{T2}},IEnumerable{RemoteData{T3}},IEnumerable{RemoteData{T4}},TimeSpan?)"/>, returning at once.</summary>
    /// <example>
    /// <code>
    /// var q = await pool.MapAsync(i => (long)i, Enumerable.Range(1, 3));
    /// var products = await pool.MapAsync((long a, long b, long c, long d) => a * b * c * d, q, q, q, q, cancellation); // 1, 16, 81
    /// </code>
    /// </example>
    public Task<List<RemoteData<TResult>>> MapAsync<T1, T2, T3, T4, TResult>(Func<T1, T2, T3, T4, TResult> function, IEnumerable<RemoteData<T1>> first,
        IEnumerable<RemoteData<T2>> second, IEnumerable<RemoteData<T3>> third, IEnumerable<RemoteData<T4>> fourth, CancellationToken cancellation = default,
        TimeSpan? timeout = null) =>
        MapZippedAsync<TResult>(function, new QuaternaryFunction<T1, T2, T3, T4, TResult>(function), Zip(Boxed(first), Boxed(second), Boxed(third), Boxed(fourth)),
            [typeof(T1), typeof(T2), typeof(T3), typeof(T4), typeof(TResult)], remote: true, cancellation, timeout);

    // ----- plumbing -----

    private async Task<RemoteData<TResult>> ApplyTypedAsync<TResult>(Delegate function, IUserFunction wrapper, object?[] arguments, Type[] declared,
        CancellationToken cancellation, TimeSpan? timeout)
    {
        var timeoutMs = TaskEncoder.TimeoutMilliseconds(timeout, nameof(timeout));
        var key = TaskEncoder.KeyPrefix(function);
        var templating = new TaskTemplating(_encoder);
        var template = templating.Template(arguments);
        var encoded = _encoder.EncodeFunction(wrapper, key);
        var task = templating.Task(key, encoded, template, timeoutMs: timeoutMs);
        return (await SubmitAsync<TResult>(ManifestFor(templating, function, declared), encoded, [task], cancellation, arguments).ConfigureAwait(false))[0];
    }

    /// <summary>
    /// One task per row of <paramref name="rows"/>: plain values travel in a template, remote values
    /// (<paramref name="remote"/>) are the task's dependencies in order, so it runs where they are.
    /// </summary>
    private Task<List<RemoteData<TResult>>> MapZippedAsync<TResult>(Delegate function, IUserFunction wrapper, List<object?[]> rows, Type[] declared,
        bool remote, CancellationToken cancellation, TimeSpan? timeout)
    {
        var timeoutMs = TaskEncoder.TimeoutMilliseconds(timeout, nameof(timeout));
        var name = TaskEncoder.KeyPrefix(function);
        var templating = new TaskTemplating(_encoder);
        var encoded = _encoder.EncodeFunction(wrapper, name + "-0");
        var tasks = new List<TaskSpec>(rows.Count);
        for (var i = 0; i < rows.Count; i++)
        {
            var key = $"{name}-{i}";
            tasks.Add(remote
                ? TaskTemplating.TaskOnRemote(key, encoded, rows[i].Select(r => ((IRemoteData)r!).Key).ToList(), timeoutMs)
                : templating.Task(key, encoded, templating.Template(rows[i]), timeoutMs: timeoutMs));
        }
        // The remote inputs stay referenced until the tasks are submitted, so none is released under them.
        return SubmitAsync<TResult>(ManifestFor(templating, function, declared), encoded, tasks, cancellation, rows);
    }

    private static List<object?> Boxed<T>(IEnumerable<T> items)
    {
        ArgumentNullException.ThrowIfNull(items);
        return items.Select(item => (object?)item).ToList();
    }

    private static List<object?[]> Zip(params List<object?>[] lists)
    {
        var count = lists[0].Count;
        if (lists.Any(list => list.Count != count))
            throw new ArgumentException($"The lists of a Map must be as long as each other; these have {string.Join(", ", lists.Select(l => l.Count))} items.");
        var rows = new List<object?[]>(count);
        for (var i = 0; i < count; i++) rows.Add(lists.Select(list => list[i]).ToArray());
        return rows;
    }
}
