using System.Text;
using Distributed.Collections;
using Distributed.Dask;

namespace Distributed.Tests.Collections.Bags;

/// <summary>ReadText against File.ReadLines: block boundaries anywhere, \r\n, empty lines, a last line without newline, globs.</summary>
public sealed class ReadTextTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("bag-read-text-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    private string Write(string name, string text, bool byteOrderMark = false)
    {
        var path = Path.Combine(_directory, name);
        File.WriteAllText(path, text, new UTF8Encoding(byteOrderMark));
        return path;
    }

    public static TheoryData<string> Texts => new()
    {
        "alpha\nbeta\ngamma\n",
        "alpha\nbeta\ngamma", // no newline after the last line
        "one\r\ntwo\r\n\r\nthree\r\n", // \r\n, and an empty line
        "\n\n\nx\n\n", // empty lines only, at the start and the end
        "naïve café\nüber straße 🚀 rocket\n日本語のテキスト\nend", // multi-byte characters that blocks cut through
        "",
        "single line without newline",
    };

    [Theory]
    [MemberData(nameof(Texts))]
    public void Every_block_size_gives_the_lines_File_ReadLines_gives(string text)
    {
        var path = Write("text.txt", text);
        var expected = File.ReadLines(path).ToList();

        foreach (var blockSize in new long[] { 1, 2, 3, 5, 7, 64, Bag.DefaultBlockSize })
            Assert.Equal(expected, Bag.ReadText(path, blockSize).Compute(Scheduler.Synchronous));
    }

    [Fact]
    public void A_tiny_block_size_makes_many_partitions_and_loses_no_line()
    {
        var lines = Enumerable.Range(0, 500).Select(i => i % 17 == 0 ? "" : $"line {i} {new string('x', i % 23)}").ToList();
        var path = Write("many.txt", string.Join("\r\n", lines) + "\r\n");

        var bag = Bag.ReadText(path, blockSize: 37);

        Assert.Equal((new FileInfo(path).Length + 36) / 37, bag.PartitionCount);
        Assert.Equal(lines, bag.Compute());
        Assert.Equal(lines.Count, bag.Count().Compute());
    }

    [Fact]
    public void A_byte_order_mark_is_not_part_of_the_first_line()
    {
        var path = Write("marked.txt", "first\nsecond\n", byteOrderMark: true);

        Assert.Equal(["first", "second"], Bag.ReadText(path, blockSize: 2).Compute());
        Assert.Equal(["first", "second"], Bag.ReadText(path).Compute());
    }

    [Fact]
    public void A_glob_reads_the_matching_files_in_name_order()
    {
        Write("b.log", "b1\nb2\n");
        Write("a.log", "a1\na2");
        Write("c.log", "");
        Write("other.txt", "not me\n");

        var bag = Bag.ReadText(Path.Combine(_directory, "*.log"), blockSize: 3);

        Assert.Equal(["a1", "a2", "b1", "b2"], bag.Compute());
    }

    [Fact]
    public void A_path_that_names_no_file_fails_at_once()
    {
        Assert.Throws<FileNotFoundException>(() => Bag.ReadText(Path.Combine(_directory, "missing.txt")));
        Assert.Throws<FileNotFoundException>(() => Bag.ReadText(Path.Combine(_directory, "*.none")));
    }

    [Fact]
    public void Take_on_a_text_file_reads_no_further_than_it_needs()
    {
        var path = Write("take.txt", string.Join("\n", Enumerable.Range(0, 200).Select(i => $"row {i}")));
        var read = 0;
        var bag = Bag.ReadText(path, blockSize: 100).Select(line => { Interlocked.Increment(ref read); return line; });

        Assert.Equal(Enumerable.Range(0, 5).Select(i => $"row {i}"), bag.Take(5));
        Assert.Equal(5, read);
    }

    [Fact]
    public void A_word_count_over_a_text_file_gives_what_LINQ_gives()
    {
        var lines = Enumerable.Range(0, 300).Select(i => string.Join(' ', Enumerable.Range(0, i % 7).Select(j => $"w{(i * j) % 11}"))).ToList();
        var path = Write("words.txt", string.Join("\n", lines));

        var counts = Bag.ReadText(path, blockSize: 200).SelectMany(l => l.Split(' ', StringSplitOptions.RemoveEmptyEntries)).Frequencies().Compute();

        Assert.Equal(lines.SelectMany(l => l.Split(' ', StringSplitOptions.RemoveEmptyEntries)).GroupBy(w => w).ToDictionary(g => g.Key, g => (long)g.Count()), counts);
    }
}
