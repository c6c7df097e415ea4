using System.Diagnostics;

namespace Distributed.Tests.Programs;

/// <summary>What the packing tests share: the repository they run in, and a command run to its end.</summary>
internal static class PackingCommands
{
    private static readonly TimeSpan DefaultTimeout = TimeSpan.FromMinutes(2);

    /// <summary>The folder of Distributed.sln above the test binaries.</summary>
    public static string RepositoryRoot()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
            if (File.Exists(Path.Combine(directory.FullName, "Distributed.sln"))) return directory.FullName;
        throw new InvalidOperationException($"No Distributed.sln above {AppContext.BaseDirectory}: the tests run outside the repository.");
    }

    /// <summary>Runs <paramref name="file"/> to its end (at most 2 minutes): its exit code and its output, standard error after standard output.</summary>
    public static Task<(int ExitCode, string Output)> RunAsync(string file, params string[] arguments) =>
        RunAsync(new CommandSettings(), file, arguments);

    /// <summary>
    /// Runs <paramref name="file"/> to its end in <see cref="CommandSettings.WorkingDirectory"/>, with the environment changes
    /// of <see cref="CommandSettings.Environment"/> (null removes a variable), killed with its children after the timeout.
    /// A nested dotnet never sees the MSBuild variables that 'dotnet test' leaves to the test host.
    /// </summary>
    public static async Task<(int ExitCode, string Output)> RunAsync(CommandSettings settings, string file, params string[] arguments)
    {
        Protocol.ChildProcessSwitch.ThrowIfForbidden(file);
        var info = new ProcessStartInfo(file) { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        if (settings.WorkingDirectory is not null) info.WorkingDirectory = settings.WorkingDirectory;
        foreach (var argument in arguments) info.ArgumentList.Add(argument);
        foreach (var name in info.Environment.Keys.Where(n => n.StartsWith("MSBuild", StringComparison.OrdinalIgnoreCase)).ToList())
            info.Environment.Remove(name);
        info.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        info.Environment["DOTNET_NOLOGO"] = "1";
        foreach (var (name, value) in settings.Environment ?? new Dictionary<string, string?>())
        {
            if (value is null) info.Environment.Remove(name);
            else info.Environment[name] = value;
        }
        using var process = Process.Start(info)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        var timeout = settings.Timeout ?? DefaultTimeout;
        using var deadline = new CancellationTokenSource(timeout);
        try
        {
            await process.WaitForExitAsync(deadline.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail($"{file} {string.Join(' ', arguments)} did not finish within {timeout.TotalSeconds:0} s. Its output so far is lost with it.");
        }
        return (process.ExitCode, await stdout + await stderr);
    }

    /// <summary>Runs a command that must succeed; fails the test with its output otherwise.</summary>
    public static async Task<string> RunToSuccessAsync(CommandSettings settings, string file, params string[] arguments)
    {
        var (exitCode, output) = await RunAsync(settings, file, arguments);
        Assert.True(exitCode == 0, $"{file} {string.Join(' ', arguments)} exited with {exitCode}:{Environment.NewLine}{output}");
        return output;
    }
}

/// <summary>Where and how <see cref="PackingCommands.RunAsync(CommandSettings, string, string[])"/> runs a command.</summary>
internal sealed record CommandSettings(string? WorkingDirectory = null, IReadOnlyDictionary<string, string?>? Environment = null, TimeSpan? Timeout = null);
