using System.Diagnostics;
using System.Globalization;
using System.Text.Json;

namespace Distributed.Benchmarks.Dask;

/// <summary>
/// Runs the same workloads on dask.distributed: <c>dask/bench_dask.py</c> (next to this program)
/// with the system's Python, relaying its JSON lines into this run's output, so that one command
/// prints the whole comparison. When dask is not importable, one line says it was skipped.
/// </summary>
internal static class DaskRunner
{
    private static readonly TimeSpan ImportTimeout = TimeSpan.FromSeconds(60);

    /// <summary>The least time the map, round trip and transfer group gets (what it had when each ran once).</summary>
    private static readonly TimeSpan RunTimeout = TimeSpan.FromMinutes(30);

    /// <summary>Starting Python, importing dask and starting its local cluster, with room to spare.</summary>
    private static readonly TimeSpan StartUpAllowance = TimeSpan.FromMinutes(2);

    /// <summary>The array sum is about 200 tasks over 1.6 GB of int64: seconds per run, --repeats + 1 runs on the cluster and as many threaded.</summary>
    private static readonly TimeSpan ArraySumTimeout = TimeSpan.FromMinutes(15);

    /// <summary>What <see cref="RunPythonAsync"/> returns for a run stopped at its time limit.</summary>
    private const int TimedOut = -1;

    public static async Task RunAsync(BenchmarkOptions options, ResultWriter writer, CancellationToken cancellation)
    {
        var script = Path.Combine(AppContext.BaseDirectory, "dask", "bench_dask.py");
        if (!File.Exists(script))
        {
            writer.Write(new BenchmarkNotRun("dask", SystemUnderTest.DaskLabel, "failed", $"{script} is missing from the build output."));
            return;
        }
        var (importable, why) = await CanImportAsync(options.Python, cancellation);
        if (!importable)
        {
            writer.Write(new BenchmarkNotRun("dask", SystemUnderTest.DaskLabel, "skipped", why));
            return;
        }

        // Each group runs in a Python process (and dask cluster) of its own, under its own time
        // limit, so that a large graph that hangs or crawls cannot use up the others' time.
        foreach (var (workloads, timeout) in Groups(options))
        {
            cancellation.ThrowIfCancellationRequested();
            string[] arguments =
            [
                script,
                "--only", string.Join(",", workloads),
                "--tasks", options.DaskTasks.ToString(CultureInfo.InvariantCulture),
                "--roundtrips", options.RoundTrips.ToString(CultureInfo.InvariantCulture),
                "--transfer-mb", options.TransferMegabytes.ToString(CultureInfo.InvariantCulture),
                "--repeats", options.Repeats.ToString(CultureInfo.InvariantCulture),
                "--graph-tasks", options.DaskGraphTasks.ToString(CultureInfo.InvariantCulture),
                "--workers", options.Workers.ToString(CultureInfo.InvariantCulture),
                "--chaos-runs", options.ChaosRuns.ToString(CultureInfo.InvariantCulture),
                "--chaos-seed", options.ChaosSeed.ToString(CultureInfo.InvariantCulture),
            ];
            ResultWriter.Log($"dask: {options.Python} {string.Join(' ', arguments)} (time limit {timeout.TotalMinutes:0.#} min)");
            var exit = await RunPythonAsync(options.Python, arguments, RelayLine(writer), timeout, cancellation);
            var what = string.Join(",", workloads);
            if (exit == TimedOut) writer.Write(new BenchmarkNotRun(what, SystemUnderTest.DaskLabel, "failed", $"bench_dask.py --only {what} did not finish within {timeout.TotalMinutes:0.#} min and was stopped."));
            else if (exit != 0) writer.Write(new BenchmarkNotRun(what, SystemUnderTest.DaskLabel, "failed", $"bench_dask.py --only {what} exited with code {exit}; its log is on standard error."));
        }
    }

    /// <summary>The selected workloads, grouped by Python run, each group with its time limit.</summary>
    private static IEnumerable<(List<string> Workloads, TimeSpan Timeout)> Groups(BenchmarkOptions options)
    {
        List<string>[] groups = [[Workload.Map, Workload.RoundTrip, Workload.Transfer], [Workload.Graph], [Workload.ArraySum], [Workload.Chaos]];
        foreach (var group in groups)
        {
            var selected = group.Where(options.Workloads.Contains).ToList();
            if (selected.Count == 0) continue;
            var timeout = selected[0] switch
            {
                Workload.Graph => GraphTimeout(options),
                Workload.ArraySum => ArraySumTimeout,
                Workload.Chaos => ChaosTimeout(options),
                _ => MapGroupTimeout(options),
            };
            yield return (selected, timeout);
        }
    }

    /// <summary>
    /// The graph runs repeats + 1 times on dask.distributed (a warm-up first), which managed ~180
    /// graph tasks/s on this 2-core machine under load, and as often on the threaded scheduler (~100×
    /// faster): 12 ms per task and run leaves twice that time, plus the cluster's start.
    /// </summary>
    private static TimeSpan GraphTimeout(BenchmarkOptions options) =>
        StartUpAllowance + TimeSpan.FromMilliseconds(12.0 * options.DaskGraphTasks * (options.Repeats + 1));

    /// <summary>
    /// The Map runs repeats + 1 times at dask's few hundred tasks/s (4 ms per task leaves room under
    /// load), the round trips as often at ~11 ms each (25 ms leaves room); 10 minutes more for the
    /// transfers, the baselines and the cluster's start; never less than <see cref="RunTimeout"/>.
    /// </summary>
    private static TimeSpan MapGroupTimeout(BenchmarkOptions options)
    {
        var runs = options.Repeats + 1;
        var needed = TimeSpan.FromMinutes(10) + TimeSpan.FromMilliseconds((4.0 * options.DaskTasks + 25.0 * options.RoundTrips) * runs);
        return needed > RunTimeout ? needed : RunTimeout;
    }

    /// <summary>
    /// Each chaos run starts two dask clusters and computes twice on each (~30 s per cluster here);
    /// 2 minutes per cluster, and the start-up, stop only a run that hangs.
    /// </summary>
    private static TimeSpan ChaosTimeout(BenchmarkOptions options) =>
        StartUpAllowance + TimeSpan.FromMinutes(2 * 2 * options.ChaosRuns);

    /// <summary>JSON objects go to the results; anything else the script prints goes to the log.</summary>
    private static Action<string> RelayLine(ResultWriter writer) => line =>
    {
        if (IsJsonObject(line)) writer.WriteRaw(line);
        else if (line.Length > 0) Console.Error.WriteLine($"[dask] {line}");
    };

    private static bool IsJsonObject(string line)
    {
        if (!line.StartsWith('{')) return false;
        try
        {
            using var document = JsonDocument.Parse(line);
            return document.RootElement.ValueKind == JsonValueKind.Object;
        }
        catch (JsonException)
        {
            return false;
        }
    }

    private static async Task<(bool Importable, string Why)> CanImportAsync(string python, CancellationToken cancellation)
    {
        if (!File.Exists(python)) return (false, $"{python} does not exist (install python3-distributed).");
        var output = new List<string>();
        var exit = await RunPythonAsync(python, ["-c", "import distributed, numpy; print(distributed.__version__)"],
            line => { lock (output) output.Add(line); }, ImportTimeout, cancellation, quiet: true);
        lock (output)
        {
            return exit == 0
                ? (true, "")
                : (false, $"`{python} -c \"import distributed, numpy\"` failed (install python3-distributed): {string.Join(" | ", output.TakeLast(3))}");
        }
    }

    /// <summary>
    /// Runs Python, handing each line of its standard output to <paramref name="onLine"/> and copying
    /// its standard error to ours (unless <paramref name="quiet"/>, when it goes to <paramref name="onLine"/>
    /// too); kills it by process id, with its children, when it outlives <paramref name="timeout"/>.
    /// </summary>
    private static async Task<int> RunPythonAsync(string python, IEnumerable<string> arguments, Action<string> onLine, TimeSpan timeout, CancellationToken cancellation, bool quiet = false)
    {
        var info = new ProcessStartInfo(python)
        {
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (var argument in arguments) info.ArgumentList.Add(argument);
        info.Environment["PYTHONUNBUFFERED"] = "1";
        info.Environment["PYTHONDONTWRITEBYTECODE"] = "1";

        using var process = new Process { StartInfo = info };
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) onLine(e.Data); };
        process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is null) return;
            if (quiet) onLine(e.Data);
            else Console.Error.WriteLine($"[dask] {e.Data}");
        };
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        using var limit = CancellationTokenSource.CreateLinkedTokenSource(cancellation);
        limit.CancelAfter(timeout);
        try
        {
            await process.WaitForExitAsync(limit.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync(CancellationToken.None);
            cancellation.ThrowIfCancellationRequested();
            return TimedOut;
        }
        process.WaitForExit(); // drains the redirected streams
        return process.ExitCode;
    }
}
