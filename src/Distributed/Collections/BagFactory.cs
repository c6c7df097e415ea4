using Distributed.Dask;

namespace Distributed.Collections;

/// <summary>Creating bags (from items in memory, from text files), and the reductions that need equatable items.</summary>
/// <example>
/// <code>
/// var numbers = Bag.FromSequence(Enumerable.Range(0, 1_000), partitions: 10);
/// var lines = Bag.ReadText("/data/logs/*.log", blockSize: Bag.DefaultBlockSize);
/// var counts = lines.Select(l => l.Split(' ')[0]).Frequencies().Compute();
/// </code>
/// </example>
public static class Bag
{
    /// <summary>The block size of <see cref="ReadText(string, long)"/>: 8 MiB.</summary>
    /// <example>
    /// <code>
    /// var lines = Bag.ReadText("/data/big.txt", blockSize: Bag.DefaultBlockSize / 4); // 2 MiB partitions, more parallel tasks
    /// </code>
    /// </example>
    public const long DefaultBlockSize = 8 * 1024 * 1024;

    /// <summary>How many partitions <see cref="FromSequence{T}"/> makes when told neither a count nor a size.</summary>
    /// <example>
    /// <code>
    /// var bag = Bag.FromSequence(Enumerable.Range(0, 1_000));
    /// Console.WriteLine(bag.PartitionCount == Bag.DefaultPartitions); // True: 16
    /// </code>
    /// </example>
    public const int DefaultPartitions = 16;

    /// <summary>
    /// A bag of <paramref name="items"/>, cut in contiguous partitions: <paramref name="partitions"/> of
    /// nearly equal size, or partitions of <paramref name="partitionSize"/> items (the last one smaller),
    /// or by default up to <see cref="DefaultPartitions"/>. The items travel inside the graph.
    /// </summary>
    /// <example>
    /// <code>
    /// var byCount = Bag.FromSequence(Enumerable.Range(0, 100), partitions: 4);       // 4 x 25 items
    /// var bySize = Bag.FromSequence(Enumerable.Range(0, 100), partitionSize: 40);    // 40, 40, 20 items
    /// </code>
    /// </example>
    public static Bag<T> FromSequence<T>(IEnumerable<T> items, int? partitions = null, int? partitionSize = null)
    {
        ArgumentNullException.ThrowIfNull(items);
        if (partitions is not null && partitionSize is not null)
            throw new ArgumentException("Give the number of partitions or their size, not both.", nameof(partitionSize));
        if (partitions is < 1) throw new ArgumentOutOfRangeException(nameof(partitions), partitions, "A bag has at least one partition.");
        if (partitionSize is < 1) throw new ArgumentOutOfRangeException(nameof(partitionSize), partitionSize, "A partition holds at least one item.");
        var all = items.ToList();
        var count = partitions ?? (partitionSize is { } size ? (all.Count + size - 1) / size : Math.Min(all.Count, DefaultPartitions));
        count = Math.Max(1, count);

        var name = LayerNames.New("from-sequence");
        var layer = new Graph();
        var keys = new List<string>(count);
        for (var i = 0; i < count; i++)
        {
            var (start, end) = partitionSize is { } fixedSize
                ? (Math.Min(all.Count, i * fixedSize), Math.Min(all.Count, (i + 1) * fixedSize))
                : ((int)((long)i * all.Count / count), (int)((long)(i + 1) * all.Count / count));
            keys.Add(LayerNames.Key(name, i));
            layer[keys[i]] = new Quoted(all.GetRange(start, end - start));
        }
        return Bag<T>.OfKeys(LayeredGraph.Empty.With(name, layer), keys, "from-sequence");
    }

    /// <summary>
    /// The lines of a text file, or of the files a wildcard pattern in the file name matches
    /// (<c>logs/*.txt</c>, in name order), one item per line without its \n or \r\n, decoded as UTF-8.
    /// A file is split in blocks of <paramref name="blockSize"/> bytes, one partition each, read where
    /// the partition is computed (on a cluster, every worker must see the files at the same path).
    /// </summary>
    /// <example>
    /// <code>
    /// var errors = Bag.ReadText("/var/log/app/*.log").Where(line => line.Contains(" ERROR ")).Take(20);
    /// </code>
    /// </example>
    public static Bag<string> ReadText(string pathOrGlob, long blockSize = DefaultBlockSize) =>
        ReadText(TextBlocks.Files(pathOrGlob), blockSize);

    /// <summary>The lines of <paramref name="paths"/>, in order; see <see cref="ReadText(string, long)"/>.</summary>
    /// <example>
    /// <code>
    /// string[] files = ["/data/2024.txt", "/data/2025.txt"];
    /// long lines = Bag.ReadText(files, blockSize: 16 &lt;&lt; 20).Count().Compute();
    /// </code>
    /// </example>
    public static Bag<string> ReadText(IEnumerable<string> paths, long blockSize = DefaultBlockSize)
    {
        ArgumentNullException.ThrowIfNull(paths);
        var files = paths.Select(Path.GetFullPath).ToList();
        if (files.Count == 0) throw new ArgumentException("No files to read.", nameof(paths));
        var sources = TextBlocks.Plan(files, blockSize)
            .Select(b => (object)new TaskNode(TextTasks.ReadLines, new Quoted(b.Path), b.Start, b.End))
            .ToList();
        return new Bag<string>(LayeredGraph.Empty, sources, [], [], "read-text");
    }

    /// <summary>How many times each distinct item occurs: per-partition counts added up in a tree.</summary>
    /// <example>
    /// <code>
    /// Dictionary&lt;string, long&gt; counts = Bag.FromSequence(["a", "b", "a"]).Frequencies().Compute(); // a: 2, b: 1
    /// </code>
    /// </example>
    public static Scalar<Dictionary<T, long>> Frequencies<T>(this Bag<T> bag) where T : notnull
    {
        ArgumentNullException.ThrowIfNull(bag);
        return bag.Reduce<FrequencyTable<T>>(
                "frequencies",
                stream => new TaskNode(FrequencyTasks<T>.Partition, stream),
                partials => new TaskNode(FrequencyTasks<T>.Combine, partials))
            .Select(FrequencyTasks<T>.ToDictionary);
    }
}
