using System.IO.Compression;
using System.Xml.Linq;

namespace Distributed.Tests.Programs;

/// <summary>The client library packs as a NuGet package with its metadata (packed once per run by <see cref="PackedFeed"/>).</summary>
[Collection(PackedFeedCollection.Name)]
[ProcessTier]
public sealed class LibraryPackageTests(PackedFeed feed)
{
    [Fact]
    public void The_client_library_packs_with_its_description_readme_docs_symbols_and_the_version_from_git()
    {
        // The version git gave this build (MinVer), without its +commit suffix, as the assemblies carry it.
        var version = feed.Version;
        var package = feed.PackageOf("Distributed");
        Assert.True(File.Exists(package), $"no {package}; the folder holds {string.Join(", ", Directory.GetFiles(feed.Directory).Select(Path.GetFileName))}.");
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
}
