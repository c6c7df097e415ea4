using System.Diagnostics;
using System.Globalization;
using Distributed.Collections;
using Distributed.Dask;
using Microsoft.Data.Analysis;
using nietras.SeparatedValues;

namespace Distributed.Benchmarks.Workloads;

/// <summary>
/// <c>ReadCsv(file).GroupBy("key").Agg(("value", Sum), ("value", Mean))</c> over a 10,000,000-row CSV
/// file (id, key: one of 100 strings, value: double), in rows per second, on the cluster and on
/// the in-process threaded scheduler, against one pass over the file with Sep and a Dictionary in
/// this process. Each is the median of <c>--repeats</c> runs after a warm-up run; the file is made
/// once, in the temp folder, and kept for later runs.
/// </summary>
internal static class CsvGroupBy
{
    private const int Rows = 10_000_000;
    private const int Keys = 100;
    private const string BaselineName = "Sep + Dictionary, 1 pass (1 process, 1 thread)";

    public static Task RunAsync(DistributedSession session, BenchmarkOptions options, ResultWriter writer, CancellationToken cancellation)
    {
        var path = EnsureFile();
        var megabytes = new FileInfo(path).Length / 1e6;
        var expected = Baseline(path);
        ResultWriter.Log($"groupby: {Rows:N0} rows, {megabytes:0} MB, {Keys} keys");

        using var scheduler = ClusterScheduler.On(session.Pool);
        var frame = DataFrames.ReadCsv(path);
        var query = frame.GroupBy("key").Agg(("value", Agg.Sum), ("value", Agg.Mean));

        var runs = options.Repeats;
        var cluster = Time(runs, () => Check(query.Compute(scheduler), expected), cancellation);
        ResultWriter.Log($"groupby on the cluster: median {cluster.Median:0.00} s");
        var threaded = Time(runs, () => Check(query.Compute(Scheduler.Threaded), expected), cancellation);
        ResultWriter.Log($"groupby on Scheduler.Threaded: median {threaded.Median:0.00} s");
        var baselineSeconds = Time(runs, () => Baseline(path), cancellation);
        ResultWriter.Log($"groupby baseline: median {baselineSeconds.Median:0.00} s");
        var baseline = baselineSeconds.Select(s => Rows / s);

        var common = new Dictionary<string, object?>
        {
            ["rows"] = Rows,
            ["keys"] = Keys,
            ["file_mb"] = Math.Round(megabytes),
            ["partitions"] = frame.Partitions,
            ["block_mb"] = DataFrames.DefaultBlockSize / (1 << 20),
            ["baseline_seconds"] = Rounded(baselineSeconds),
        };
        foreach (var (benchmark, seconds, parameters) in new[]
        {
            ("csv_groupby", cluster, new Dictionary<string, object?>(common) { ["scheduler"] = "cluster", ["workers"] = session.Workers, ["threads_per_worker"] = 1 }),
            ("csv_groupby_threaded", threaded, new Dictionary<string, object?>(common) { ["scheduler"] = "Scheduler.Threaded (this process)", ["threads"] = Environment.ProcessorCount }),
        })
        {
            var rate = seconds.Select(s => Rows / s);
            parameters["seconds"] = Rounded(seconds);
            rate.AddTo(parameters);
            baseline.AddTo(parameters, "baseline_");
            writer.Write(new BenchmarkResult(benchmark, SystemUnderTest.Distributed, rate.Median, "rows/s",
                new Baseline(BaselineName, baseline.Median, "rows/s"), parameters));
        }
        return Task.CompletedTask;
    }

    /// <summary>The seconds of <paramref name="runs"/> runs of <paramref name="run"/>, after one run not counted.</summary>
    private static Summary Time<T>(int runs, Func<T> run, CancellationToken cancellation) => Statistics.TimeAfterWarmUp(runs, run, cancellation).Seconds;

    private static List<double> Rounded(Summary seconds) => seconds.Runs.Select(s => Math.Round(s, 3)).ToList();

    /// <summary>Sum and count per key in one pass over the file.</summary>
    private static Dictionary<string, (double Sum, long Count)> Baseline(string path)
    {
        var groups = new Dictionary<string, (double Sum, long Count)>(StringComparer.Ordinal);
        var lookup = groups.GetAlternateLookup<ReadOnlySpan<char>>();
        using var reader = Sep.Reader().FromFile(path);
        foreach (var row in reader)
        {
            var key = row[1].Span;
            var value = row[2].Parse<double>();
            lookup.TryGetValue(key, out var state);
            lookup[key] = (state.Sum + value, state.Count + 1);
        }
        return groups;
    }

    private static bool Check(DataFrame result, Dictionary<string, (double Sum, long Count)> expected)
    {
        if (result.Rows.Count != expected.Count) throw new InvalidOperationException($"groupby gave {result.Rows.Count} groups, expected {expected.Count}.");
        for (long i = 0; i < result.Rows.Count; i++)
        {
            var key = (string)result.Columns["key"][i]!;
            var (sum, mean) = ((double)result.Columns["value_sum"][i]!, (double)result.Columns["value_mean"][i]!);
            var want = expected[key];
            if (Math.Abs(sum - want.Sum) > 1e-6 * Math.Abs(want.Sum) || Math.Abs(mean - want.Sum / want.Count) > 1e-6 * Math.Abs(want.Sum / want.Count))
                throw new InvalidOperationException($"groupby gave sum {sum}, mean {mean} for {key}, expected {want.Sum}, {want.Sum / want.Count}.");
        }
        return true;
    }

    /// <summary>The benchmark's CSV file, written once (deterministic: the same seed gives the same file).</summary>
    private static string EnsureFile()
    {
        var folder = Path.Combine(Path.GetTempPath(), "distributed-benchmarks");
        var path = Path.Combine(folder, $"csv-groupby-{Rows}.csv");
        if (File.Exists(path)) return path;
        Directory.CreateDirectory(folder);
        var watch = Stopwatch.StartNew();
        var partial = path + $".{Environment.ProcessId}.tmp"; // renamed when complete, so a stopped run leaves no half file behind
        var random = new Random(20240601);
        var keys = Enumerable.Range(0, Keys).Select(k => $"key-{k:00}").ToArray();
        using (var output = new StreamWriter(partial, append: false, new System.Text.UTF8Encoding(false), bufferSize: 1 << 20))
        {
            output.Write("id,key,value\n");
            Span<char> line = stackalloc char[64];
            for (var id = 0; id < Rows; id++)
            {
                var value = random.Next(0, 100_000_000);
                line.TryWrite(CultureInfo.InvariantCulture, $"{id},{keys[random.Next(Keys)]},{value / 1000}.{value % 1000:000}\n", out var written);
                output.Write(line[..written]);
            }
        }
        File.Move(partial, path, overwrite: true);
        ResultWriter.Log($"groupby: wrote {path} in {watch.Elapsed.TotalSeconds:0.0} s");
        return path;
    }
}
