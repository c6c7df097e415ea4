using System.Diagnostics;
using System.IO.Compression;
using System.Reflection;
using System.Xml.Linq;

namespace Distributed.Tests.Programs;

/// <summary>The client library packs as a NuGet package with its metadata. Packs the build the tests use (no rebuild).</summary>
[ProcessTier]
public sealed class LibraryPackageTests : IDisposable
{
    private readonly string _output = Path.Combine(Path.GetTempPath(), $"distributed-libpack-{Guid.NewGuid():N}");

    [Fact]
    public async Task The_client_library_packs_with_its_description_readme_docs_symbols_and_the_version_from_git()
    {
        var root = RepositoryRoot();
        var configuration = typeof(LibraryPackageTests).Assembly.GetCustomAttribute<AssemblyConfigurationAttribute>()?.Configuration ?? "Debug";

        var (exitCode, output) = await RunAsync("dotnet", "pack", Path.Combine(root, "src", "Distributed", "Distributed.csproj"),
            "--no-build", "--no-restore", "--disable-build-servers", "-c", configuration, "-o", _output);

        Assert.True(exitCode == 0, $"dotnet pack Distributed exited with {exitCode}:{Environment.NewLine}{output}");
        // The version git gave this build (MinVer), without its +commit suffix, as the assemblies carry it.
        var informational = typeof(Pool).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()!.InformationalVersion;
        var version = informational.Split('+')[0];
        var package = Path.Combine(_output, $"Distributed.{version}.nupkg");
        Assert.True(File.Exists(package), $"no {package}; the folder holds {string.Join(", ", Directory.GetFiles(_output).Select(Path.GetFileName))}.");
        Assert.True(File.Exists(Path.ChangeExtension(package, ".snupkg")), "no symbols package beside it");
        using var zip = ZipFile.OpenRead(package);
        var nuspec = XDocument.Load(zip.Entries.Single(e => e.FullName == "Distributed.nuspec").Open());
        string Field(string name) => nuspec.Descendants().Single(e => e.Name.LocalName == name).Value;
        Assert.Equal("Distributed", Field("id"));
        Assert.Equal(version, Field("version"));
        Assert.Contains("Pool", Field("description"), StringComparison.Ordinal);
        Assert.Equal("README.md", Field("readme"));
        Assert.Contains(zip.Entries, e => e.FullName == "README.md");
        Assert.Contains(zip.Entries, e => e.FullName == "lib/net10.0/Distributed.dll");
        Assert.Contains(zip.Entries, e => e.FullName == "lib/net10.0/Distributed.xml"); // the XML docs, for IntelliSense
        var dependencies = nuspec.Descendants().Where(e => e.Name.LocalName == "dependency")
            .ToDictionary(e => e.Attribute("id")!.Value, e => e.Attribute("version")!.Value);
        Assert.Equal(version, dependencies["Distributed.Protocol"]);
        Assert.Equal(version, dependencies["Distributed.Data"]);
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
