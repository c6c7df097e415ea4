using System.Diagnostics;
using System.Runtime.InteropServices;
using Distributed.Protocol;

namespace Distributed.Programs.Worker;

/// <summary>
/// <c>dworker --nworkers N</c>: N worker processes under this one, as dask's nanny keeps its worker. A
/// worker that dies is started again after a back-off that doubles while it keeps dying young (so a
/// crash loop does not hammer the machine or the center); one that dies before it registered
/// <see cref="MaxDeathsAtStart"/> times in a row is not started again, with one line saying why.
/// SIGTERM or Ctrl+C stops them all (each retires, handing its values to workers that remain, and
/// leaves the cluster cleanly) and then this process.
/// </summary>
internal static partial class WorkerSupervisor
{
    /// <summary>Deaths before registering, in a row, after which a worker is given up.</summary>
    public const int MaxDeathsAtStart = 5;

    private const int SigTerm = 15;
    private const string RegisteredLine = "Registered with center at:";
    private static readonly TimeSpan FirstDelay = TimeSpan.FromMilliseconds(500);
    private static readonly TimeSpan MaxDelay = TimeSpan.FromSeconds(30);
    // A worker that ran this long before it died was healthy: its next death starts the back-off afresh.
    private static readonly TimeSpan Healthy = TimeSpan.FromMinutes(1);
    // A worker's SIGTERM first hands its values over (up to the center's retirement-timeout, 20 s by default), then leaves (up to 10 s).
    private static readonly TimeSpan StopGrace = TimeSpan.FromSeconds(40);

    /// <summary>
    /// Runs <paramref name="count"/> workers, the i-th (from 1) with the arguments <paramref name="argumentsOf"/>(i),
    /// until a stop signal (exit code 0) or until every one was given up (1).
    /// </summary>
    public static async Task<int> RunAsync(int count, Func<int, IReadOnlyList<string>> argumentsOf, bool prefixErrors)
    {
        using var stopping = new CancellationTokenSource();
        void OnSignal(PosixSignalContext context)
        {
            context.Cancel = true;
            try { stopping.Cancel(); }
            catch (ObjectDisposedException) { }
        }
        using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, OnSignal);
        using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, OnSignal);
        Console.WriteLine($"Supervising {count} workers (pid {Environment.ProcessId}): each is started again when it dies; SIGTERM stops them all.");
        var slots = Enumerable.Range(1, count).Select(i => SuperviseAsync(i, argumentsOf(i), prefixErrors, stopping.Token)).ToList();
        var kept = await Task.WhenAll(slots).ConfigureAwait(false);
        if (stopping.IsCancellationRequested) return 0;
        Console.Error.WriteLine("error: every worker was given up; the supervisor stops.");
        return kept.Any(k => k) ? 0 : 1;
    }

    /// <summary>Keeps worker <paramref name="index"/> running; false when it was given up.</summary>
    private static async Task<bool> SuperviseAsync(int index, IReadOnlyList<string> arguments, bool prefixErrors, CancellationToken stopping)
    {
        var deathsAtStart = 0;
        var youngDeaths = 0;
        while (!stopping.IsCancellationRequested)
        {
            var registered = false;
            string? lastError = null;
            using var child = Start(arguments, line =>
            {
                if (line.StartsWith(RegisteredLine, StringComparison.Ordinal)) registered = true;
                Console.Out.WriteLine($"[worker {index}] {line}");
            }, line =>
            {
                lastError = line;
                Console.Error.WriteLine(prefixErrors ? $"[worker {index}] {line}" : line);
            });
            var started = Stopwatch.StartNew();
            Console.WriteLine($"Started worker {index} (pid {child.Id})");
            var exited = child.WaitForExitAsync(CancellationToken.None);
            await Task.WhenAny(exited, Task.Delay(Timeout.Infinite, stopping)).ConfigureAwait(false);
            if (!exited.IsCompleted)
            {
                await StopAsync(child).ConfigureAwait(false);
                return true;
            }
            await exited.ConfigureAwait(false); // and its last lines
            var lived = started.Elapsed;
            deathsAtStart = registered ? 0 : deathsAtStart + 1;
            youngDeaths = lived < Healthy ? youngDeaths + 1 : 1;
            if (deathsAtStart >= MaxDeathsAtStart)
            {
                Console.Error.WriteLine($"error: worker {index} died before it registered {deathsAtStart} times in a row (last exit code {child.ExitCode}" +
                    $"{(lastError is null ? "" : $", last error: {lastError}")}); it is not started again.");
                return false;
            }
            var delay = TimeSpan.FromTicks(Math.Min(MaxDelay.Ticks, FirstDelay.Ticks << Math.Min(youngDeaths - 1, 16)));
            Console.Error.WriteLine($"warning: worker {index} (pid {child.Id}) exited with code {child.ExitCode} after {lived.TotalSeconds:0.0} s; it starts again in {delay.TotalSeconds:0.0} s.");
            try
            {
                await Task.Delay(delay, stopping).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return true;
            }
        }
        return true;
    }

    private static Process Start(IReadOnlyList<string> arguments, Action<string> onOutput, Action<string> onError)
    {
        ChildProcessSwitch.ThrowIfForbidden("a supervised worker");
        var host = Environment.ProcessPath ?? throw new InvalidOperationException("Cannot find the path of the worker program.");
        var info = new ProcessStartInfo(host) { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        // Under 'dotnet dworker.dll' the host is the muxer and the program comes first.
        if (Path.GetFileNameWithoutExtension(host).Equals("dotnet", StringComparison.OrdinalIgnoreCase))
            info.ArgumentList.Add(System.Reflection.Assembly.GetEntryAssembly()!.Location);
        foreach (var argument in arguments) info.ArgumentList.Add(argument);
        var process = new Process { StartInfo = info };
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) onOutput(e.Data); };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) onError(e.Data); };
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return process;
    }

    /// <summary>SIGTERM, so that the worker retires and leaves the cluster cleanly; killed when it has not stopped in time.</summary>
    private static async Task StopAsync(Process child)
    {
        if (child.HasExited) return;
        if (SendSignal(child.Id, SigTerm) != 0) { Kill(child); return; }
        using var grace = new CancellationTokenSource(StopGrace);
        try
        {
            await child.WaitForExitAsync(grace.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            Console.Error.WriteLine($"warning: worker pid {child.Id} did not stop within {StopGrace.TotalSeconds:0} s of SIGTERM; killed.");
            Kill(child);
        }
    }

    private static void Kill(Process child)
    {
        try { child.Kill(entireProcessTree: true); }
        catch (InvalidOperationException) { } // gone meanwhile
    }

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int SendSignal(int pid, int signal);
}

/// <summary>The command line of a supervised worker: the supervisor's own, less the options it gives each worker itself.</summary>
internal static class SupervisedArguments
{
    /// <summary><paramref name="arguments"/> without the <paramref name="options"/> (each with its value, as <c>--opt V</c> or <c>--opt=V</c>).</summary>
    public static IEnumerable<string> Without(IReadOnlyList<string> arguments, params string[] options)
    {
        for (var i = 0; i < arguments.Count; i++)
        {
            var argument = arguments[i];
            if (options.Contains(argument, StringComparer.Ordinal))
            {
                i++; // and its value
                continue;
            }
            if (options.Any(o => argument.StartsWith(o + "=", StringComparison.Ordinal))) continue;
            yield return argument;
        }
    }
}
