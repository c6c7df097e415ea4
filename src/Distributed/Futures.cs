using System.Runtime.CompilerServices;
using System.Threading.Channels;

namespace Distributed;

/// <summary>What <see cref="Futures.WaitAsync{T}"/> waits for (dask's <c>wait(return_when=...)</c>).</summary>
/// <example>
/// <code>
/// var futures = pool.SubmitMap(x => 100 / (5 - x), Enumerable.Range(0, 10)); // x = 5 divides by zero
/// var sets = await Futures.WaitAsync(futures, WaitFor.FirstException);
/// var failed = sets.Done.FirstOrDefault(f => f.Status == FutureStatus.Failed);
/// </code>
/// </example>
public enum WaitFor
{
    /// <summary>Until every future has ended, one way or another.</summary>
    AllCompleted,
    /// <summary>Until one future has ended (at once if one already has).</summary>
    FirstCompleted,
    /// <summary>Until one future has failed or been cancelled, or else every one has ended.</summary>
    FirstException,
}

/// <summary>The futures that had ended when a wait returned, and those that had not, each in the order given.</summary>
/// <example>
/// <code>
/// var futures = pool.SubmitMap(seconds => { Thread.Sleep(seconds * 1_000); return seconds; }, [1, 2, 30]);
/// FutureSets&lt;int&gt; sets = await Futures.WaitAsync(futures, WaitFor.FirstCompleted);
/// Console.WriteLine($"{sets.Done.Count} done, {sets.NotDone.Count} still running");
/// </code>
/// </example>
/// <param name="Done">The futures that had ended (finished, failed or cancelled).</param>
/// <param name="NotDone">The futures still pending.</param>
public sealed record FutureSets<T>(IReadOnlyList<RemoteData<T>> Done, IReadOnlyList<RemoteData<T>> NotDone);

/// <summary>Waiting on many futures at once: in the order they end (<see cref="AsCompleted{T}"/>), or until a condition holds (<see cref="WaitAsync{T}"/>).</summary>
/// <example>
/// <code>
/// var futures = pool.SubmitMap(x => x * x, Enumerable.Range(0, 20));
/// await foreach (var done in Futures.AsCompleted(futures))
///     Console.WriteLine($"{done.Key}: {done.Status}");
/// </code>
/// </example>
public static class Futures
{
    /// <summary>
    /// The futures in the order their tasks end (finished, failed or cancelled: read
    /// <see cref="RemoteData{T}.Status"/>); ends once every one has been yielded.
    /// </summary>
    /// <example>
    /// <code>
    /// var futures = pool.SubmitMap(n => Enumerable.Range(0, n).Sum(), [10, 1_000, 100]);
    /// await foreach (var done in Futures.AsCompleted(futures, cancellation))
    ///     if (done.Status == FutureStatus.Finished) Console.WriteLine(await done);
    /// </code>
    /// </example>
    public static async IAsyncEnumerable<RemoteData<T>> AsCompleted<T>(IEnumerable<RemoteData<T>> futures,
        [EnumeratorCancellation] CancellationToken cancellation = default)
    {
        var list = futures.ToList();
        var ended = Channel.CreateUnbounded<RemoteData<T>>(new UnboundedChannelOptions { SingleReader = true });
        foreach (var future in list)
            _ = future.Completion.ContinueWith(_ => ended.Writer.TryWrite(future), CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        for (var i = 0; i < list.Count; i++)
            yield return await ended.Reader.ReadAsync(cancellation).ConfigureAwait(false);
    }

    /// <summary>
    /// The futures with their values, in the order their tasks end (each value fetched as its task ends);
    /// a failed or cancelled future throws its exception here, as awaiting it would.
    /// </summary>
    /// <example>
    /// <code>
    /// var futures = pool.SubmitMap(url => url.Length, ["https://a.example", "https://b.example"]);
    /// await foreach (var (future, length) in Futures.AsCompletedWithValues(futures, cancellation))
    ///     Console.WriteLine($"{future.Key} = {length}");
    /// </code>
    /// </example>
    public static async IAsyncEnumerable<(RemoteData<T> Future, T Value)> AsCompletedWithValues<T>(IEnumerable<RemoteData<T>> futures,
        [EnumeratorCancellation] CancellationToken cancellation = default)
    {
        await foreach (var future in AsCompleted(futures, cancellation).ConfigureAwait(false))
            yield return (future, await future.GetAsync(cancellation).ConfigureAwait(false));
    }

    /// <summary>
    /// Waits until <paramref name="until"/> holds, then says which futures had ended. Never throws a
    /// future's own error (read it from the future); throws <see cref="TimeoutException"/> after
    /// <paramref name="timeout"/>.
    /// </summary>
    /// <example>
    /// <code>
    /// var futures = pool.SubmitMap(x => x * 2, Enumerable.Range(0, 50));
    /// var sets = await Futures.WaitAsync(futures, WaitFor.AllCompleted, TimeSpan.FromMinutes(1), cancellation);
    /// foreach (var failed in sets.Done.Where(f => f.Status == FutureStatus.Failed)) Console.WriteLine(failed.Exception);
    /// </code>
    /// </example>
    public static async Task<FutureSets<T>> WaitAsync<T>(IEnumerable<RemoteData<T>> futures, WaitFor until = WaitFor.AllCompleted,
        TimeSpan? timeout = null, CancellationToken cancellation = default)
    {
        var list = futures.ToList();
        var wait = until switch
        {
            WaitFor.AllCompleted => Task.WhenAll(list.Select(Ended)),
            WaitFor.FirstCompleted => list.Count == 0 ? Task.CompletedTask : Task.WhenAny(list.Select(Ended)),
            WaitFor.FirstException => FirstExceptionAsync(list),
            _ => throw new ArgumentOutOfRangeException(nameof(until), until, "Wait for AllCompleted, FirstCompleted or FirstException."),
        };
        await wait.WaitAsync(timeout ?? Timeout.InfiniteTimeSpan, cancellation).ConfigureAwait(false);
        var done = list.Where(f => f.IsDone).ToList();
        return new FutureSets<T>(done, list.Where(f => !f.IsDone).ToList());
    }

    private static async Task FirstExceptionAsync<T>(List<RemoteData<T>> futures)
    {
        var pending = futures.Select(Ended).ToList();
        while (pending.Count > 0)
        {
            if (futures.Any(f => f.Status is FutureStatus.Failed or FutureStatus.Cancelled)) return;
            pending.Remove(await Task.WhenAny(pending).ConfigureAwait(false));
        }
    }

    /// <summary>Completes when the future ends, however it ends.</summary>
    private static Task Ended<T>(RemoteData<T> future) =>
        future.Completion.ContinueWith(static _ => { }, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
}
