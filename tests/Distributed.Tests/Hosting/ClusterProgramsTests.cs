using Distributed.Hosting;

namespace Distributed.Tests.Hosting;

/// <summary>
/// Where LocalCluster finds dcenter and dworker, on folders laid out as the SDK lays them: a tool manifest
/// restored into a NuGet package folder, a global tool's store. No process is started.
/// </summary>
public sealed class ClusterProgramsTests : IDisposable
{
    private const string Version = "1.2.3-alpha.0.4";
    private readonly string _root = Path.Combine(Path.GetTempPath(), "distributed-tests", "cluster-programs-" + Guid.NewGuid().ToString("N")[..12]);

    private string Folder(params string[] parts)
    {
        var path = Path.Combine([_root, .. parts]);
        Directory.CreateDirectory(path);
        return path;
    }

    private static string WithProgram(string folder, string program)
    {
        File.WriteAllText(Path.Combine(folder, program + ".dll"), "");
        return folder;
    }

    private ClusterPrograms Search(string? bin = null, string? current = null) => new(
        bin, Folder("app", "bin"), current ?? Folder("project"), [Folder("nuget-packages")], [Folder("home", ".dotnet", "tools"), Folder("on-path")], Version);

    private static void WriteManifest(string directory, string tool, string version, bool isRoot = true) =>
        File.WriteAllText(Path.Combine(directory, "dotnet-tools.json"),
            $$"""{ "version": 1, "isRoot": {{(isRoot ? "true" : "false")}}, "tools": { "{{tool}}": { "version": "{{version}}", "commands": ["{{tool}}"], "rollForward": false } } }""");

    [Fact]
    public void Programs_of_another_version_than_the_library_are_named_in_one_warning_line()
    {
        // The real dworker beside the tests, built with the library: the same version.
        var built = AppContext.BaseDirectory;
        var library = ClusterPrograms.VersionOf(typeof(ClusterPrograms).Assembly);
        Assert.Null((Search() with { LibraryVersion = library }).VersionMismatch("dworker", built));

        var warning = (Search() with { LibraryVersion = "9.9.9" }).VersionMismatch("dworker", built);

        Assert.NotNull(warning);
        Assert.DoesNotContain('\n', warning);
        Assert.StartsWith("warning: ", warning, StringComparison.Ordinal);
        Assert.Contains($"dworker {library} (from {built})", warning, StringComparison.Ordinal);
        Assert.Contains("this client library is 9.9.9", warning, StringComparison.Ordinal);
        Assert.Contains("install dworker --version 9.9.9", warning, StringComparison.Ordinal);
        Assert.Null(Search().VersionMismatch("dworker", Folder("empty"))); // nothing there: Locate says so, not this
    }

    [Fact]
    public void Beside_the_application_comes_first()
    {
        var search = Search();
        WithProgram(search.ApplicationDirectory, "dcenter");

        Assert.Equal(search.ApplicationDirectory, search.Locate("dcenter"));
    }

    [Fact]
    public void A_folder_given_or_named_by_DISTRIBUTED_BIN_is_the_only_place_looked_in()
    {
        var given = Folder("given");
        var search = Search(bin: Folder("bin-variable"));
        WithProgram(search.ApplicationDirectory, "dworker");

        Assert.Equal(given, search.Locate("dworker", WithProgram(given, "dworker")));
        // dworker is beside the application, but DISTRIBUTED_BIN names a folder without it: that is an error, not a fallback.
        var error = Assert.Throws<FileNotFoundException>(() => search.Locate("dworker"));
        Assert.Contains("DISTRIBUTED_BIN", error.Message, StringComparison.Ordinal);
        WithProgram(search.BinVariable!, "dworker");
        Assert.Equal(search.BinVariable, search.Locate("dworker"));
    }

    [Fact]
    public void A_tool_manifest_in_the_current_folder_or_above_finds_the_restored_tool_package()
    {
        WriteManifest(Folder("project", ".config"), "dcenter", Version); // where 'dotnet new tool-manifest' writes it
        var current = Folder("project", "src", "app");
        // NuGet keeps a package as ID/VERSION (both lower case); a tool's files are under tools/TFM/any.
        var restored = WithProgram(Folder("nuget-packages", "dcenter", Version.ToLowerInvariant(), "tools", "net10.0", "any"), "dcenter");

        Assert.Equal(restored, Search(current: current).Locate("dcenter"));
    }

    [Fact]
    public void A_tool_the_manifest_lists_but_that_is_not_restored_is_named_with_the_command_that_restores_it()
    {
        var project = Folder("project");
        WriteManifest(project, "dworker", "9.9.9");

        var error = Assert.Throws<FileNotFoundException>(() => Search(current: project).Locate("dworker"));

        Assert.Contains("lists dworker 9.9.9", error.Message, StringComparison.Ordinal);
        Assert.Contains("dotnet tool restore", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_global_tool_is_found_in_its_store_at_the_library_version_before_a_higher_one()
    {
        var matching = WithProgram(Folder("home", ".dotnet", "tools", ".store", "dworker", Version, "dworker", Version, "tools", "net10.0", "any"), "dworker");
        WithProgram(Folder("home", ".dotnet", "tools", ".store", "dworker", "2.0.0", "dworker", "2.0.0", "tools", "net10.0", "any"), "dworker");

        Assert.Equal(matching, Search().Locate("dworker"));
    }

    [Fact]
    public void A_tool_installed_with_a_tool_path_on_the_PATH_is_found()
    {
        var installed = WithProgram(Folder("on-path", ".store", "dcenter", "0.9.0", "dcenter", "0.9.0", "tools", "net10.0", "any"), "dcenter");

        Assert.Equal(installed, Search().Locate("dcenter"));
    }

    [Fact]
    public void A_manifest_marked_root_ends_the_search_upward()
    {
        WriteManifest(Folder("project"), "dcenter", Version, isRoot: false);
        WithProgram(Folder("nuget-packages", "dcenter", Version.ToLowerInvariant(), "tools", "net10.0", "any"), "dcenter");
        var inner = Folder("project", "inner");
        WriteManifest(inner, "other-tool", "1.0.0", isRoot: true);

        Assert.Throws<FileNotFoundException>(() => Search(current: inner).Locate("dcenter"));
        Assert.NotNull(Search(current: Folder("project")).Locate("dcenter"));
    }

    [Fact]
    public void When_nothing_has_it_the_error_says_how_to_install_both_tools_at_the_library_version()
    {
        var error = Assert.Throws<FileNotFoundException>(() => Search().Locate("dcenter"));

        Assert.Contains("dotnet new tool-manifest", error.Message, StringComparison.Ordinal);
        Assert.Contains($"dotnet tool install dcenter --version {Version}", error.Message, StringComparison.Ordinal);
        Assert.Contains($"dotnet tool install dworker --version {Version}", error.Message, StringComparison.Ordinal);
        Assert.Contains($"dotnet tool install --global dcenter --version {Version}", error.Message, StringComparison.Ordinal);
        Assert.Contains("DISTRIBUTED_BIN", error.Message, StringComparison.Ordinal);
    }

    public void Dispose()
    {
        try { Directory.Delete(_root, recursive: true); }
        catch (IOException) { }
    }
}
