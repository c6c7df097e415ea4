using Distributed.Dask;

namespace Distributed.Collections;

/// <summary>Creating bags (from items in memory, from text files), and the reductions that need equatable items.</summary>
public static class Bag
{
    /// <summary>The block size of <see cref="ReadText(string, long)"/>: 8 MiB.</summary>
    public const long DefaultBlockSize = 8 * 1024 * 1024;

    /// <summary>How many partitions <see cref="FromSequence{T}"/> makes when told neither a count nor a size.</summary>
    public const int DefaultPartitions = 16;

    /// <summary>
    /// A bag of <paramref name="items"/>, cut in contiguous partitions: <paramref name="partitions"/> of
    /// nearly equal size, or partitions of <paramref name="partitionSize"/> items (the last one smaller),
    /// or by default up to <see cref="DefaultPartitions"/>. The items travel inside the graph.
    /// </summary>
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
    public static Bag<string> ReadText(string pathOrGlob, long blockSize = DefaultBlockSize) =>
        ReadText(TextBlocks.Files(pathOrGlob), blockSize);

    /// <summary>The lines of <paramref name="paths"/>, in order; see <see cref="ReadText(string, long)"/>.</summary>
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
