using System.Diagnostics;
using Distributed.Hosting;
using Distributed.Protocol.Security;

namespace Distributed.Benchmarks.Workloads;

/// <summary>
/// How long the programs take to start, as a user waits for them: <c>dcenter</c> from process start
/// to accepting members, <c>dworker</c> from process start to registered with a running center,
/// <c>LocalCluster.StartAsync</c> plus a connected <see cref="Pool"/>, and the quickstart program
/// (README command 1, already built) from process start to its exit after printing the result.
/// Each is run <c>--repeats</c> times (at least 5) after one warm-up run that fills the disk cache;
/// the median is the figure, min, max and every run are in the params (<see cref="Summary"/>).
/// </summary>
internal static class Start
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(60);

    public static async Task RunAsync(BenchmarkOptions options, ResultWriter writer, CancellationToken cancellation)
    {
        var bin = Environment.GetEnvironmentVariable("DISTRIBUTED_BIN") ?? AppContext.BaseDirectory;
        var tls = options.Tls[0];
        var runs = options.Repeats;
        ResultWriter.Log($"start: {runs} runs each of dcenter, dworker, LocalCluster + Pool and the quickstart (TLS {(tls ? "on" : "off")}), after a warm-up run");
        using var credentials = tls ? ClusterCredentials.CreateTemporary() : null;
        try
        {
            List<double> center = [], worker = [];
            for (var run = 0; run <= runs; run++)
            {
                var (c, w) = await TimeCenterAndWorkerAsync(bin, credentials, cancellation);
                ResultWriter.Log($"start {run}/{runs}: dcenter {c:0.000} s, dworker {w:0.000} s{(run == 0 ? " (warm-up)" : "")}");
                if (run == 0) continue;
                center.Add(c);
                worker.Add(w);
            }
            var common = new Dictionary<string, object?> { ["tls"] = tls ? "on" : "off", ["warm_up_runs"] = 1 };
            Write(writer, "start_center", center, common, "process start (dotnet dcenter.dll) to its line `Start center at` (it accepts members)");
            Write(writer, "start_worker", worker, common, "process start (dotnet dworker.dll, 1 thread) to its line `Registered with center at:`, with a center running");

            List<double> cluster = [];
            for (var run = 0; run <= runs; run++)
            {
                var seconds = await TimeLocalClusterAsync(options.Workers, tls, cancellation);
                ResultWriter.Log($"start {run}/{runs}: LocalCluster + Pool {seconds:0.000} s{(run == 0 ? " (warm-up)" : "")}");
                if (run > 0) cluster.Add(seconds);
            }
            Write(writer, "localcluster_start", cluster, new Dictionary<string, object?>(common) { ["workers"] = options.Workers, ["threads_per_worker"] = 1 },
                $"LocalCluster.StartAsync(workers: {options.Workers}, secure: {(tls ? "true" : "false")}, connectPool: true) and LocalCluster.ConnectAsync() until the Pool is connected (its credentials made in the start)");

            var quickstart = Path.Combine(bin, "Distributed.Quickstart.dll");
            if (!File.Exists(quickstart))
            {
                writer.Write(new BenchmarkNotRun("quickstart_seconds", SystemUnderTest.Distributed, "skipped", $"{quickstart} is not built"));
                return;
            }
            List<double> wall = [], toResult = [];
            for (var run = 0; run <= runs; run++)
            {
                var (total, result) = await TimeQuickstartAsync(quickstart, cancellation);
                ResultWriter.Log($"start {run}/{runs}: quickstart {total:0.000} s (result after {result:0.000} s){(run == 0 ? " (warm-up)" : "")}");
                if (run == 0) continue;
                wall.Add(total);
                toResult.Add(result);
            }
            Write(writer, "quickstart_seconds", wall, new Dictionary<string, object?>
            {
                ["warm_up_runs"] = 1,
                ["to_result_median_s"] = Math.Round(Statistics.Median(toResult), 3),
                ["to_result_seconds"] = toResult.Select(s => Math.Round(s, 3)).ToList(),
            }, "dotnet Distributed.Quickstart.dll (built; its embedded local cluster of 2 workers, TLS) from process start to exit; to_result: to its line `-285`. `dotnet run` adds its build check on top");
        }
        finally
        {
            if (credentials?.Directory is { } directory) Directory.Delete(directory, recursive: true);
        }
    }

    private static async Task<(double Center, double Worker)> TimeCenterAndWorkerAsync(string bin, ClusterCredentials? credentials, CancellationToken cancellation)
    {
        string[] secure = credentials?.Directory is { } directory ? ["--credentials", directory] : [];
        var port = LocalCluster.FreePort();
        var clock = Stopwatch.StartNew();
        var center = ClusterProcess.Start(bin, "dcenter", ["--host", "127.0.0.1", "--port", port.ToString(), .. secure]);
        try
        {
            await center.WaitForLineAsync(l => l.StartsWith("Start center at", StringComparison.Ordinal), Patience, cancellation);
            var centerSeconds = clock.Elapsed.TotalSeconds;
            clock.Restart();
            var worker = ClusterProcess.Start(bin, "dworker", [$"127.0.0.1:{port}", "--host", "127.0.0.1", "--port", LocalCluster.FreePort().ToString(), "--nthreads", "1", .. secure]);
            try
            {
                await worker.WaitForLineAsync(l => l.StartsWith("Registered with center at:", StringComparison.Ordinal), Patience, cancellation);
                return (centerSeconds, clock.Elapsed.TotalSeconds);
            }
            finally
            {
                await worker.StopAsync(TimeSpan.FromSeconds(10));
            }
        }
        finally
        {
            await center.StopAsync(TimeSpan.FromSeconds(10));
        }
    }

    private static async Task<double> TimeLocalClusterAsync(int workers, bool tls, CancellationToken cancellation)
    {
        var clock = Stopwatch.StartNew();
        await using var cluster = await LocalCluster.StartAsync(workers: workers, threadsPerWorker: 1, cancellation: cancellation, secure: tls, connectPool: true);
        await using var pool = await cluster.ConnectAsync(cancellation: cancellation);
        return clock.Elapsed.TotalSeconds;
    }

    private static async Task<(double Total, double Result)> TimeQuickstartAsync(string quickstart, CancellationToken cancellation)
    {
        var info = new ProcessStartInfo("dotnet") { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        info.ArgumentList.Add(quickstart);
        var clock = Stopwatch.StartNew();
        using var process = Process.Start(info) ?? throw new InvalidOperationException("could not start the quickstart");
        var errors = process.StandardError.ReadToEndAsync(cancellation);
        double? result = null;
        while (await process.StandardOutput.ReadLineAsync(cancellation) is { } line)
            if (line == "-285") result ??= clock.Elapsed.TotalSeconds;
        await process.WaitForExitAsync(cancellation);
        var total = clock.Elapsed.TotalSeconds;
        if (process.ExitCode != 0 || result is null)
            throw new InvalidOperationException($"the quickstart exited with code {process.ExitCode}{(result is null ? " without printing -285" : "")}: {await errors}");
        return (total, result.Value);
    }

    private static void Write(ResultWriter writer, string name, List<double> seconds, IReadOnlyDictionary<string, object?> common, string measure)
    {
        var summary = Summary.Of(seconds);
        var all = summary.AddTo(new Dictionary<string, object?>(common) { ["measure"] = measure });
        writer.Write(new BenchmarkResult(name, SystemUnderTest.Distributed, summary.Median, "s", null, all));
    }
}
