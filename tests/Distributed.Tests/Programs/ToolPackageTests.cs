using System.Diagnostics;
using System.IO.Compression;
using System.Reflection;
using System.Xml.Linq;

namespace Distributed.Tests.Programs;

/// <summary>dcenter and dworker pack as .NET tools. Packs the build the tests use (no rebuild), so it takes seconds.</summary>
[ProcessTier]
public sealed class ToolPackageTests : IDisposable
{
    private readonly string _output = Path.Combine(Path.GetTempPath(), $"distributed-pack-{Guid.NewGuid():N}");

    [Theory]
    [InlineData("dcenter")]
    [InlineData("dworker")]
    public async Task The_program_packs_as_a_dotnet_tool_with_its_command_name(string program)
    {
        var project = Path.Combine(RepositoryRoot(), "src", program, program + ".csproj");
        var configuration = typeof(ToolPackageTests).Assembly.GetCustomAttribute<AssemblyConfigurationAttribute>()?.Configuration ?? "Debug";

        var (exitCode, output) = await RunAsync("dotnet", "pack", project, "--no-build", "--no-restore", "--disable-build-servers", "-c", configuration, "-o", _output);

        Assert.True(exitCode == 0, $"dotnet pack {program} exited with {exitCode}:{Environment.NewLine}{output}");
        // The tools carry the version git gave this build (MinVer), the client library's.
        var version = typeof(Pool).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()!.InformationalVersion.Split('+')[0];
        var package = Path.Combine(_output, $"{program}.{version}.nupkg");
        Assert.True(File.Exists(package), $"dotnet pack did not write {package}; the folder holds {string.Join(", ", Directory.GetFiles(_output).Select(Path.GetFileName))}.");
        using var zip = ZipFile.OpenRead(package);
        var settings = zip.Entries.SingleOrDefault(e => e.FullName.EndsWith("/DotnetToolSettings.xml", StringComparison.Ordinal));
        Assert.True(settings is not null, $"{package} is not a tool package (no DotnetToolSettings.xml).");
        var command = XDocument.Load(settings.Open()).Descendants("Command").Single();
        Assert.Equal(program, command.Attribute("Name")?.Value);
        var entryPoint = command.Attribute("EntryPoint")?.Value;
        Assert.Equal($"{program}.dll", entryPoint);
        var folder = settings.FullName[..(settings.FullName.LastIndexOf('/') + 1)];
        Assert.Contains(zip.Entries, e => e.FullName == folder + entryPoint);
        Assert.Contains(zip.Entries, e => e.FullName == folder + "Distributed.Protocol.dll");
        if (program == "dcenter")
        {
            // The center schedules; it never holds values, so it ships without them.
            Assert.Contains(zip.Entries, e => e.FullName == folder + "Distributed.Center.dll");
            Assert.DoesNotContain(zip.Entries, e => e.FullName == folder + "Distributed.Data.dll");
            Assert.DoesNotContain(zip.Entries, e => e.FullName == folder + "Microsoft.Data.Analysis.dll");
        }
        else
        {
            Assert.Contains(zip.Entries, e => e.FullName == folder + "Distributed.Worker.dll");
            // Executors run user code built against the client library.
            Assert.Contains(zip.Entries, e => e.FullName == folder + "Distributed.dll");
        }
    }

    public void Dispose()
    {
        if (Directory.Exists(_output)) Directory.Delete(_output, recursive: true);
    }

    private static string RepositoryRoot()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
            if (File.Exists(Path.Combine(directory.FullName, "Distributed.sln"))) return directory.FullName;
        throw new InvalidOperationException($"No Distributed.sln above {AppContext.BaseDirectory}: the tests run outside the repository.");
    }

    private static async Task<(int ExitCode, string Output)> RunAsync(string file, params string[] arguments)
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
