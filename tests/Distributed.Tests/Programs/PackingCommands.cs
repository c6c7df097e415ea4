using System.Diagnostics;

namespace Distributed.Tests.Programs;

/// <summary>What the packing tests share: the repository they run in, and a command run to its end.</summary>
internal static class PackingCommands
{
    /// <summary>The folder of Distributed.sln above the test binaries.</summary>
    public static string RepositoryRoot()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
            if (File.Exists(Path.Combine(directory.FullName, "Distributed.sln"))) return directory.FullName;
        throw new InvalidOperationException($"No Distributed.sln above {AppContext.BaseDirectory}: the tests run outside the repository.");
    }

    /// <summary>Runs <paramref name="file"/> to its end (at most 2 minutes): its exit code and its output, standard error after standard output.</summary>
    public static async Task<(int ExitCode, string Output)> RunAsync(string file, params string[] arguments)
    {
        Protocol.ChildProcessSwitch.ThrowIfForbidden(file);
        var info = new ProcessStartInfo(file) { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var argument in arguments) info.ArgumentList.Add(argument);
        using var process = Process.Start(info)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var deadline = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        try
        {
            await process.WaitForExitAsync(deadline.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail($"{file} {string.Join(' ', arguments)} did not finish within 2 minutes.");
        }
        return (process.ExitCode, await stdout + await stderr);
    }
}
