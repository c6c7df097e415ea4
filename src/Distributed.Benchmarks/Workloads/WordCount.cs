using System.Text;
using Distributed.Collections;
using Distributed.Dask;

namespace Distributed.Benchmarks.Workloads;

/// <summary>
/// A word count over a generated text file of 1,000,000 lines: <c>Bag.ReadText → SelectMany(split)
/// → Frequencies</c> on the cluster and on the local threaded scheduler, in lines per second, best of
/// a few runs after a warm-up, against one plain loop (<c>File.ReadLines</c> into a <c>Dictionary</c>).
/// </summary>
internal static class WordCount
{
    private const int Lines = 1_000_000;
    private const int Vocabulary = 20_000;
    private const int Runs = 3;

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

            var (baselineSeconds, expected) = Best(() => PlainLoop(path), cancellation);
            using var cluster = ClusterScheduler.On(session.Pool);
            var (clusterSeconds, onCluster) = Best(() => BagCount(path, cluster), cancellation);
            var (threadedSeconds, threaded) = Best(() => BagCount(path, Scheduler.Threaded), cancellation);
            Check("cluster", onCluster, expected);
            Check("threaded", threaded, expected);

            var partitions = Bag.ReadText(path).PartitionCount;
            var baseline = new Baseline("File.ReadLines + Dictionary, one thread", Lines / baselineSeconds, "lines/s");
            foreach (var (benchmark, seconds, scheduler) in new[] { ("wordcount", clusterSeconds, "cluster"), ("wordcount_threaded", threadedSeconds, "Scheduler.Threaded") })
            {
                writer.Write(new BenchmarkResult(benchmark, SystemUnderTest.Distributed, Lines / seconds, "lines/s", baseline, new Dictionary<string, object?>
                {
                    ["lines"] = Lines,
                    ["bytes"] = bytes,
                    ["distinct_words"] = expected.Count,
                    ["partitions"] = partitions,
                    ["scheduler"] = scheduler,
                    ["workers"] = scheduler == "cluster" ? session.Workers : null,
                    ["seconds"] = Math.Round(seconds, 3),
                    ["baseline_seconds"] = Math.Round(baselineSeconds, 3),
                    ["runs"] = $"best of {Runs} after a warm-up",
                }));
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

    /// <summary>The fastest of <see cref="Runs"/> timed runs after one untimed run, and the last result.</summary>
    private static (double Seconds, Dictionary<string, long> Counts) Best(Func<Dictionary<string, long>> count, CancellationToken cancellation) =>
        Statistics.FastestAfterWarmUp(Runs, count, cancellation);

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
