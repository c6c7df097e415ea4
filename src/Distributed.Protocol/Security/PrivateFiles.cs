namespace Distributed.Protocol.Security;

/// <summary>
/// Folders and files readable only by the user who runs the process (0700 and 0600 on Unix): a
/// cluster's credentials, spilled values and cached assemblies are nobody else's business.
/// </summary>
public static class PrivateFiles
{
    private const UnixFileMode FolderMode = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;
    private const UnixFileMode PrivateFileMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;

    /// <summary>Creates <paramref name="path"/> (and missing parents) as 0700; an existing folder is made 0700 too.</summary>
    public static void CreateDirectory(string path)
    {
        if (OperatingSystem.IsWindows())
        {
            Directory.CreateDirectory(path);
            return;
        }
        // Directory.CreateDirectory gives the mode to the last folder only: the missing parents are made one by one.
        var missing = new Stack<string>();
        for (var folder = Path.GetFullPath(path); !Directory.Exists(folder) && Path.GetDirectoryName(folder) is { } parent; folder = parent)
            missing.Push(folder);
        while (missing.TryPop(out var folder)) Directory.CreateDirectory(folder, FolderMode);
        File.SetUnixFileMode(path, FolderMode);
    }

    /// <summary>Opens a new file (replacing an existing one) that only this user can read or write.</summary>
    public static FileStream Create(string path, int bufferSize = 4096, FileOptions options = FileOptions.None)
    {
        var streamOptions = new FileStreamOptions
        {
            Mode = FileMode.Create,
            Access = FileAccess.Write,
            Share = FileShare.None,
            BufferSize = bufferSize,
            Options = options,
        };
        if (!OperatingSystem.IsWindows()) streamOptions.UnixCreateMode = PrivateFileMode;
        var stream = new FileStream(path, streamOptions);
        // UnixCreateMode applies only to a file that did not exist: an older one keeps its mode otherwise.
        if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(stream.SafeFileHandle, PrivateFileMode);
        return stream;
    }

    /// <summary>Writes <paramref name="text"/> to a file only this user can read.</summary>
    public static void WriteAllText(string path, string text)
    {
        using var stream = Create(path);
        using var writer = new StreamWriter(stream);
        writer.Write(text);
    }

    /// <summary>Writes <paramref name="bytes"/> to a file only this user can read.</summary>
    public static void WriteAllBytes(string path, ReadOnlySpan<byte> bytes)
    {
        using var stream = Create(path);
        stream.Write(bytes);
    }
}
