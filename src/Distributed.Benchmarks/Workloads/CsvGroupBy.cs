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
/// this process. Each is timed after a warm-up run, best of a few runs; the file is made once, in the
/// temp folder, and kept for later runs.
/// </summary>
internal static class CsvGroupBy
{
    private const int Rows = 10_000_000;
    private const int Keys = 100;
    private const int Runs = 2;
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

        var cluster = Best(() => Check(query.Compute(scheduler), expected), cancellation);
        ResultWriter.Log($"groupby on the cluster: best {cluster:0.00} s");
        var threaded = Best(() => Check(query.Compute(Scheduler.Threaded), expected), cancellation);
        ResultWriter.Log($"groupby on Scheduler.Threaded: best {threaded:0.00} s");
        var baseline = Best(() => Baseline(path), cancellation);
        ResultWriter.Log($"groupby baseline: best {baseline:0.00} s");

        var common = new Dictionary<string, object?>
        {
            ["rows"] = Rows,
            ["keys"] = Keys,
            ["file_mb"] = Math.Round(megabytes),
            ["partitions"] = frame.Partitions,
            ["block_mb"] = DataFrames.DefaultBlockSize / (1 << 20),
            ["runs"] = $"best of {Runs} after a warm-up",
            ["baseline_seconds"] = Math.Round(baseline, 3),
        };
        writer.Write(new BenchmarkResult("csv_groupby", SystemUnderTest.Distributed, Rows / cluster, "rows/s",
            new Baseline(BaselineName, Rows / baseline, "rows/s"),
            new Dictionary<string, object?>(common) { ["scheduler"] = "cluster", ["workers"] = session.Workers, ["threads_per_worker"] = 1, ["seconds"] = Math.Round(cluster, 3) }));
        writer.Write(new BenchmarkResult("csv_groupby_threaded", SystemUnderTest.Distributed, Rows / threaded, "rows/s",
            new Baseline(BaselineName, Rows / baseline, "rows/s"),
            new Dictionary<string, object?>(common) { ["scheduler"] = "Scheduler.Threaded (this process)", ["threads"] = Environment.ProcessorCount, ["seconds"] = Math.Round(threaded, 3) }));
        return Task.CompletedTask;
    }

    /// <summary>Seconds of the fastest of <see cref="Runs"/> runs of <paramref name="run"/>, after one run not counted.</summary>
    private static double Best<T>(Func<T> run, CancellationToken cancellation) => Statistics.FastestAfterWarmUp(Runs, run, cancellation).Seconds;

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
