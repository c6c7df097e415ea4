using Spectre.Console;
using Spectre.Console.Rendering;

namespace Distributed.Terminal;

/// <summary>
/// A live progress bar on the console for a computation on the cluster (dask's <c>progress()</c>), fed
/// by the <see cref="ComputationProgress"/> the client library reports. It draws on standard error, as
/// command-line tools' bars do, so that standard output stays the program's own; when standard error is
/// not a terminal (redirected to a file or a pipe) it draws nothing and writes nothing.
/// </summary>
/// <example>
/// <code>
/// using Distributed.Terminal;
///
/// var squares = await ConsoleProgress.ShowAsync(progress => pool.MapAsync(x => x * x, Enumerable.Range(0, 10_000), progress: progress), "squares");
/// var futures = await pool.SubmitMap(x => x + 1, Enumerable.Range(0, 1_000)).WithProgress("plus one");
/// </code>
/// </example>
public static class ConsoleProgress
{
    /// <summary>
    /// Runs <paramref name="computation"/>, handing it the <see cref="IProgress{T}"/> to pass on (a Map's,
    /// a graph's or a <see cref="TaskOptions.Progress"/>), with a bar that follows it until it ends.
    /// Returns (or throws) what the computation does.
    /// </summary>
    /// <example>
    /// <code>
    /// List&lt;RemoteData&lt;double&gt;&gt; roots = await ConsoleProgress.ShowAsync(
    ///     progress => pool.MapAsync(x => Math.Sqrt(x), Enumerable.Range(0, 100_000), progress: progress), "roots");
    /// </code>
    /// </example>
    public static async Task<T> ShowAsync<T>(Func<IProgress<ComputationProgress>, Task<T>> computation, string description = "tasks")
    {
        ArgumentNullException.ThrowIfNull(computation);
        if (!CanDraw)
            return await computation(new Progress<ComputationProgress>()).ConfigureAwait(false);
        var console = StandardErrorConsole();
        return await console.Progress()
            .AutoClear(false)
            .HideCompleted(false)
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new CountColumn(), new ElapsedTimeColumn())
            .StartAsync(async context =>
            {
                var task = context.AddTask(Markup.Escape(description), autoStart: true, maxValue: 1);
                task.IsIndeterminate = true; // until the first report says how many tasks there are
                var bar = new BarProgress(task, description);
                try
                {
                    var result = await computation(bar).ConfigureAwait(false);
                    bar.Completed();
                    return result;
                }
                catch
                {
                    bar.Stopped();
                    throw;
                }
            }).ConfigureAwait(false);
    }

    /// <summary>Like <see cref="ShowAsync{T}(Func{IProgress{ComputationProgress}, Task{T}}, string)"/>, for a computation without a result.</summary>
    /// <example>
    /// <code>
    /// await ConsoleProgress.ShowAsync(async progress =>
    /// {
    ///     var parts = pool.SubmitMap(x => x * 2, Enumerable.Range(0, 500), new TaskOptions { Progress = progress });
    ///     await Futures.WaitAsync(parts);
    /// }, "doubling");
    /// </code>
    /// </example>
    public static Task ShowAsync(Func<IProgress<ComputationProgress>, Task> computation, string description = "tasks")
    {
        ArgumentNullException.ThrowIfNull(computation);
        return ShowAsync(async progress =>
        {
            await computation(progress).ConfigureAwait(false);
            return true;
        }, description);
    }

    /// <summary>
    /// Waits until every one of <paramref name="futures"/> has ended (finished, failed or cancelled), with a
    /// bar that counts them as they end and names how many failed; returns the futures. A failed future
    /// is not thrown here: read its <see cref="RemoteData{T}.Status"/>, or await it.
    /// </summary>
    /// <example>
    /// <code>
    /// IReadOnlyList&lt;RemoteData&lt;int&gt;&gt; doubled = await pool.SubmitMap(x => x * 2, Enumerable.Range(0, 1_000)).WithProgress("doubling");
    /// int[] values = [.. await pool.GatherAsync(doubled)];
    /// </code>
    /// </example>
    public static Task<IReadOnlyList<RemoteData<T>>> WithProgress<T>(this IEnumerable<RemoteData<T>> futures, string description = "futures",
        CancellationToken cancellation = default)
    {
        ArgumentNullException.ThrowIfNull(futures);
        var list = futures.ToList();
        return ShowAsync<IReadOnlyList<RemoteData<T>>>(async progress =>
        {
            int done = 0, failed = 0;
            progress.Report(new ComputationProgress(list.Count, 0, 0, 0));
            await foreach (var ended in Futures.AsCompleted(list, cancellation).ConfigureAwait(false))
            {
                if (ended.Status == FutureStatus.Finished) done++;
                else failed++;
                progress.Report(new ComputationProgress(list.Count, done, failed, 0));
            }
            return list;
        }, description);
    }

    /// <summary>Whether a bar would be drawn now: standard error is a terminal.</summary>
    /// <example>
    /// <code>
    /// if (!ConsoleProgress.CanDraw) Console.Error.WriteLine("computing (no terminal: no progress bar)");
    /// </code>
    /// </example>
    public static bool CanDraw => !Console.IsErrorRedirected;

    private static IAnsiConsole StandardErrorConsole() => AnsiConsole.Create(new AnsiConsoleSettings
    {
        Ansi = AnsiSupport.Detect,
        ColorSystem = ColorSystemSupport.Detect,
        Interactive = InteractionSupport.Detect,
        Out = new AnsiConsoleOutput(Console.Error),
    });

    /// <summary>Moves one bar as the reports arrive (on the pool's thread; a ProgressTask takes its own lock).</summary>
    private sealed class BarProgress(ProgressTask bar, string description) : IProgress<ComputationProgress>
    {
        private int _failed;

        public void Report(ComputationProgress value)
        {
            bar.MaxValue = Math.Max(1, value.Total);
            bar.IsIndeterminate = false;
            bar.Value = value.Done + value.Failed;
            if (value.Failed != Volatile.Read(ref _failed))
            {
                Volatile.Write(ref _failed, value.Failed);
                bar.Description = $"{Markup.Escape(description)} [red]({value.Failed} failed)[/]";
            }
        }

        /// <summary>The computation returned: every task has ended, whichever report came last.</summary>
        public void Completed()
        {
            bar.IsIndeterminate = false;
            bar.Value = bar.MaxValue;
            bar.StopTask();
        }

        /// <summary>The computation threw: the bar stays where it got to.</summary>
        public void Stopped()
        {
            bar.Description = $"{Markup.Escape(description)} [red](stopped)[/]";
            bar.StopTask();
        }
    }

    /// <summary>"ended/total", the count a percentage hides.</summary>
    private sealed class CountColumn : ProgressColumn
    {
        public override IRenderable Render(RenderOptions options, ProgressTask task, TimeSpan deltaTime) =>
            new Text(task.IsIndeterminate ? "?" : $"{(long)task.Value}/{(long)task.MaxValue}");
    }
}
