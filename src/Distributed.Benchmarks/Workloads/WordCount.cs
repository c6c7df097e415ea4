using System.Text;
using Distributed.Collections;
using Distributed.Dask;

namespace Distributed.Benchmarks.Workloads;

/// <summary>
/// A word count over a generated text file of 1,000,000 lines: <c>Bag.ReadText → SelectMany(split)
/// → Frequencies</c> on the cluster and on the local threaded scheduler, in lines per second, the
/// median of <c>--repeats</c> runs after a warm-up, against one plain loop (<c>File.ReadLines</c> into
/// a <c>Dictionary</c>, summarized the same way).
/// </summary>
internal static class WordCount
{
    private const int Lines = 1_000_000;
    private const int Vocabulary = 20_000;

    /// <summary>One instance, so that every run ships and encodes the same function.</summary>
    private static readonly Func<string, IEnumerable<string>> SplitWords = line => line.Split(' ', StringSplitOptions.RemoveEmptyEntries);

    public static Task RunAsync(DistributedSession session, BenchmarkOptions options, ResultWriter writer, CancellationToken cancellation)
    {
        var directory = Directory.CreateTempSubdirectory("wordcount-").FullName;
        try
        {
            var path = Path.Combine(directory, "words.txt");
            var bytes = Generate(path);
            ResultWriter.Log($"wordcount: {Lines} lines, {bytes / 1e6:0.0} MB, blocks of {Bag.DefaultBlockSize / (1024 * 1024)} MiB");

            var (baselineSeconds, expected) = Time(options.Repeats, () => PlainLoop(path), cancellation);
            using var cluster = ClusterScheduler.On(session.Pool);
            var (clusterSeconds, onCluster) = Time(options.Repeats, () => BagCount(path, cluster), cancellation);
            var (threadedSeconds, threaded) = Time(options.Repeats, () => BagCount(path, Scheduler.Threaded), cancellation);
            Check("cluster", onCluster, expected);
            Check("threaded", threaded, expected);

            var partitions = Bag.ReadText(path).PartitionCount;
            var baselineRate = baselineSeconds.Select(s => Lines / s);
            foreach (var (benchmark, seconds, scheduler) in new[] { ("wordcount", clusterSeconds, "cluster"), ("wordcount_threaded", threadedSeconds, "Scheduler.Threaded") })
            {
                var rate = seconds.Select(s => Lines / s);
                var parameters = new Dictionary<string, object?>
                {
                    ["lines"] = Lines,
                    ["bytes"] = bytes,
                    ["distinct_words"] = expected.Count,
                    ["partitions"] = partitions,
                    ["scheduler"] = scheduler,
                    ["workers"] = scheduler == "cluster" ? session.Workers : null,
                    ["seconds"] = seconds.Runs.Select(s => Math.Round(s, 3)).ToList(),
                    ["baseline_seconds"] = baselineSeconds.Runs.Select(s => Math.Round(s, 3)).ToList(),
                };
                rate.AddTo(parameters);
                baselineRate.AddTo(parameters, "baseline_");
                writer.Write(new BenchmarkResult(benchmark, SystemUnderTest.Distributed, rate.Median, "lines/s",
                    new Baseline("File.ReadLines + Dictionary, one thread", baselineRate.Median, "lines/s"), parameters));
            }
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
        return Task.CompletedTask;
    }

    private static Dictionary<string, long> BagCount(string path, IScheduler scheduler) =>
        Bag.ReadText(path).SelectMany(SplitWords).Frequencies().Compute(scheduler);

    private static Dictionary<string, long> PlainLoop(string path)
    {
        var counts = new Dictionary<string, long>();
        foreach (var line in File.ReadLines(path))
            foreach (var word in line.Split(' ', StringSplitOptions.RemoveEmptyEntries))
                counts[word] = counts.GetValueOrDefault(word) + 1;
        return counts;
    }

    /// <summary>The seconds of <paramref name="runs"/> timed runs after one untimed run, and the last result.</summary>
    private static (Summary Seconds, Dictionary<string, long> Counts) Time(int runs, Func<Dictionary<string, long>> count, CancellationToken cancellation) =>
        Statistics.TimeAfterWarmUp(runs, count, cancellation);

    private static void Check(string what, Dictionary<string, long> counts, Dictionary<string, long> expected)
    {
        if (counts.Count != expected.Count || counts.Any(kv => expected.GetValueOrDefault(kv.Key) != kv.Value))
            throw new InvalidOperationException($"The word count on {what} differs from the plain loop's ({counts.Count} vs {expected.Count} words).");
    }

    /// <summary>Writes the text: 3 to 12 words a line, drawn from a fixed-seed generator with a skew towards short, frequent words.</summary>
    private static long Generate(string path)
    {
        var random = new Random(20_260_101);
        using (var output = new StreamWriter(path, append: false, new UTF8Encoding(false), bufferSize: 1 << 20))
        {
            var line = new StringBuilder();
            for (var i = 0; i < Lines; i++)
            {
                line.Clear();
                var words = random.Next(3, 13);
                for (var w = 0; w < words; w++)
                {
                    if (w > 0) line.Append(' ');
                    var rank = Math.Min(random.Next(Vocabulary), random.Next(Vocabulary)); // low ranks are more frequent
                    line.Append('w').Append(rank);
                }
                output.Write(line);
                output.Write('\n');
            }
        }
        return new FileInfo(path).Length;
    }
}
