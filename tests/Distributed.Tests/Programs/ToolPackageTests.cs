using System.IO.Compression;
using System.Xml.Linq;

namespace Distributed.Tests.Programs;

/// <summary>dcenter and dworker pack as .NET tools (packed once per run by <see cref="PackedFeed"/>).</summary>
[Collection(PackedFeedCollection.Name)]
[ProcessTier]
public sealed class ToolPackageTests(PackedFeed feed)
{
    [Theory]
    [InlineData("dcenter")]
    [InlineData("dworker")]
    public void The_program_packs_as_a_dotnet_tool_with_its_command_name(string program)
    {
        // The tools carry the version git gave this build (MinVer), the client library's.
        var package = feed.PackageOf(program);
        Assert.True(File.Exists(package), $"dotnet pack did not write {package}; the folder holds {string.Join(", ", Directory.GetFiles(feed.Directory).Select(Path.GetFileName))}.");
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
}
