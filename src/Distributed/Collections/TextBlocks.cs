using System.Text;

namespace Distributed.Collections;

/// <summary>
/// Text files read as byte blocks, one partition each. A block owns the lines that start inside it:
/// it skips the end of a line begun in the block before, and reads its own last line to the end
/// even when that line crosses into the next block, so no line is lost or read twice.
/// </summary>
internal static class TextBlocks
{
    private const int BufferSize = 64 * 1024;

    /// <summary>One block: the bytes [<see cref="Start"/>, <see cref="End"/>) of <see cref="Path"/>.</summary>
    public sealed record Block(string Path, long Start, long End);

    /// <summary>The files a path names: the file itself, or the files matching wildcards (* and ?) in its last part, in name order.</summary>
    public static List<string> Files(string pathOrGlob)
    {
        var fileName = Path.GetFileName(pathOrGlob);
        if (fileName.IndexOfAny(['*', '?']) < 0)
        {
            var path = Path.GetFullPath(pathOrGlob);
            if (!File.Exists(path)) throw new FileNotFoundException($"No file at '{path}'.", path);
            return [path];
        }
        var directory = Path.GetFullPath(Path.GetDirectoryName(pathOrGlob) is { Length: > 0 } d ? d : ".");
        if (Path.GetDirectoryName(pathOrGlob)?.IndexOfAny(['*', '?']) >= 0)
            throw new ArgumentException($"Wildcards are read in the file name only, not in the directory: '{pathOrGlob}'.", nameof(pathOrGlob));
        var files = Directory.Exists(directory) ? Directory.GetFiles(directory, fileName) : [];
        if (files.Length == 0) throw new FileNotFoundException($"No file matches '{pathOrGlob}'.");
        Array.Sort(files, StringComparer.Ordinal);
        return [.. files];
    }

    /// <summary>The blocks of <paramref name="files"/>: each file cut every <paramref name="blockSize"/> bytes (an empty file is one empty block).</summary>
    public static List<Block> Plan(IEnumerable<string> files, long blockSize)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(blockSize, 1);
        var blocks = new List<Block>();
        foreach (var file in files)
        {
            var length = new FileInfo(file).Length;
            if (length == 0) blocks.Add(new Block(file, 0, 0));
            for (long start = 0; start < length; start += blockSize)
                blocks.Add(new Block(file, start, Math.Min(start + blockSize, length)));
        }
        return blocks;
    }

    /// <summary>
    /// The lines that start in [<paramref name="start"/>, <paramref name="end"/>) of <paramref name="path"/>,
    /// read lazily, without their \n or \r\n, decoded as UTF-8 (a byte-order mark at the file's start is skipped).
    /// Lines end at \n only: a byte 0x0A never occurs inside a multi-byte UTF-8 character, so
    /// cutting at any byte and resynchronizing on \n is safe.
    /// </summary>
    public static IEnumerable<string> ReadLines(string path, long start, long end)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 1, FileOptions.SequentialScan);
        var buffer = new byte[BufferSize];
        var filled = 0; // bytes of buffer holding data
        var consumed = 0; // bytes of buffer already handed out
        var bufferStart = start; // file position of buffer[0]
        var atFileEnd = false;

        // Refills the buffer, keeping the unconsumed bytes (a line being read) at its front.
        bool Fill()
        {
            if (atFileEnd) return false;
            if (consumed > 0)
            {
                Buffer.BlockCopy(buffer, consumed, buffer, 0, filled - consumed);
                bufferStart += consumed;
                filled -= consumed;
                consumed = 0;
            }
            if (filled == buffer.Length) Array.Resize(ref buffer, buffer.Length * 2); // a line longer than the buffer
            var read = stream.Read(buffer, filled, buffer.Length - filled);
            if (read == 0) atFileEnd = true;
            filled += read;
            return read > 0;
        }

        if (start > 0)
        {
            // The line that contains byte start-1 belongs to an earlier block, unless it ends there.
            stream.Position = start - 1;
            bufferStart = start - 1;
            while (true)
            {
                var newline = buffer.AsSpan(consumed, filled - consumed).IndexOf((byte)'\n');
                if (newline >= 0) { consumed += newline + 1; break; }
                consumed = filled;
                if (!Fill()) yield break;
            }
        }
        else
        {
            Fill();
            if (filled >= 3 && buffer[0] == 0xEF && buffer[1] == 0xBB && buffer[2] == 0xBF) consumed = 3;
        }

        // The file's first line starts at 0 even when a byte-order mark was skipped before it.
        var firstLineOfFile = start == 0;
        while (firstLineOfFile || bufferStart + consumed < end)
        {
            var newline = buffer.AsSpan(consumed, filled - consumed).IndexOf((byte)'\n');
            if (newline < 0)
            {
                if (Fill()) continue;
                if (consumed == filled) yield break; // the file ends with \n: no empty last line
                yield return Decode(buffer.AsSpan(consumed, filled - consumed));
                yield break;
            }
            var line = Decode(buffer.AsSpan(consumed, newline));
            consumed += newline + 1;
            firstLineOfFile = false;
            yield return line;
        }
    }

    private static string Decode(ReadOnlySpan<byte> line)
    {
        if (line.Length > 0 && line[^1] == (byte)'\r') line = line[..^1];
        return Encoding.UTF8.GetString(line);
    }
}
