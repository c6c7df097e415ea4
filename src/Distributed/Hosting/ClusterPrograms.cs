using System.Diagnostics;
using System.Reflection;
using System.Text;
using System.Text.Json;

namespace Distributed.Hosting;

/// <summary>
/// Where <see cref="LocalCluster"/> finds <c>dcenter</c> and <c>dworker</c> (each as <c>program.dll</c>, run
/// with <c>dotnet</c> so that the process it starts is the program, stopped by its id): the folder given, or
/// <c>DISTRIBUTED_BIN</c>; beside the application (the repository's own programs and tests); the .NET tools
/// installed for the current folder (a tool manifest, <c>dotnet tool restore</c>d into the NuGet package
/// folder); the tools installed for the user (<c>dotnet tool install --global</c>, or <c>--tool-path</c> on
/// the PATH). The tools ship apart from the library: the library package stays small, and the same
/// <c>dotnet tool install</c> serves a real cluster's machines.
/// </summary>
internal sealed record ClusterPrograms(
    string? BinVariable,
    string ApplicationDirectory,
    string CurrentDirectory,
    IReadOnlyList<string> PackageFolders,
    IReadOnlyList<string> ToolFolders,
    string LibraryVersion)
{
    /// <summary>The environment variable naming one folder that holds both programs.</summary>
    public const string BinVariableName = "DISTRIBUTED_BIN";

    /// <summary>The places this process looks in: its environment, folders and the client library's version.</summary>
    public static ClusterPrograms OfThisProcess()
    {
        var home = Environment.GetFolderPath(Environment.SpecialFolder.UserProfile);
        List<string> packageFolders = [];
        if (Environment.GetEnvironmentVariable("NUGET_PACKAGES") is { Length: > 0 } configured) packageFolders.Add(configured);
        packageFolders.Add(Path.Combine(home, ".nuget", "packages"));
        // Global tools live in ~/.dotnet/tools (DOTNET_CLI_HOME moves it); --tool-path installs are found on the PATH.
        var cliHome = Environment.GetEnvironmentVariable("DOTNET_CLI_HOME") is { Length: > 0 } cli ? cli : home;
        List<string> toolFolders = [Path.Combine(cliHome, ".dotnet", "tools")];
        toolFolders.AddRange((Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries));
        return new ClusterPrograms(Environment.GetEnvironmentVariable(BinVariableName), AppContext.BaseDirectory, Environment.CurrentDirectory,
            packageFolders, toolFolders, VersionOf(typeof(ClusterPrograms).Assembly));
    }

    /// <summary>The package version of an assembly (its informational version without the commit).</summary>
    public static string VersionOf(Assembly assembly) =>
        (assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? assembly.GetName().Version?.ToString() ?? "0.0.0").Split('+')[0];

    /// <summary>
    /// The folder that holds <paramref name="program"/>.dll (dcenter or dworker); <paramref name="explicitDirectory"/>,
    /// when given, is the only place looked in. Throws <see cref="FileNotFoundException"/> saying where it looked and how to install the tools.
    /// </summary>
    public string Locate(string program, string? explicitDirectory = null)
    {
        var dll = program + ".dll";
        if (explicitDirectory is not null)
            return File.Exists(Path.Combine(explicitDirectory, dll))
                ? explicitDirectory
                : throw new FileNotFoundException($"{dll} is not in {explicitDirectory}, the folder given to LocalCluster.", Path.Combine(explicitDirectory, dll));
        if (BinVariable is { Length: > 0 } bin)
            return File.Exists(Path.Combine(bin, dll))
                ? bin
                : throw new FileNotFoundException($"{dll} is not in {bin}, which {BinVariableName} names.", Path.Combine(bin, dll));
        if (File.Exists(Path.Combine(ApplicationDirectory, dll))) return ApplicationDirectory;
        var notRestored = new List<string>();
        if ((FromToolManifest(program, CurrentDirectory, notRestored) ?? FromToolManifest(program, ApplicationDirectory, notRestored)) is { } local) return local;
        if (FromInstalledTools(program) is { } installed) return installed;
        throw new FileNotFoundException(NotFound(program, notRestored), dll);
    }

    /// <summary>
    /// One line saying that <paramref name="program"/>.dll in <paramref name="directory"/> is of another version
    /// than this client library (its informational version, read from the file without loading it), or null
    /// when they match or the file names none. Center, workers and client of different versions may not
    /// understand each other, and a tool installed long ago is easy to forget.
    /// </summary>
    public string? VersionMismatch(string program, string directory)
    {
        string? found;
        try { found = FileVersionInfo.GetVersionInfo(Path.Combine(directory, program + ".dll")).ProductVersion?.Split('+')[0]; }
        catch (FileNotFoundException) { return null; }
        if (string.IsNullOrEmpty(found) || found.Equals(LibraryVersion, StringComparison.OrdinalIgnoreCase)) return null;
        return $"warning: LocalCluster runs {program} {found} (from {directory}), but this client library is {LibraryVersion}: "
            + $"programs of another version may not understand it; install {program} --version {LibraryVersion}, or set {BinVariableName}.";
    }

    /// <summary>
    /// The tool's folder in a package folder when a manifest (.config/dotnet-tools.json or dotnet-tools.json,
    /// from <paramref name="start"/> up to the one marked isRoot, as <c>dotnet tool run</c> searches) lists it.
    /// </summary>
    private string? FromToolManifest(string program, string start, List<string> notRestored)
    {
        for (var directory = new DirectoryInfo(start); directory is not null; directory = directory.Parent)
        {
            foreach (var manifest in new[] { Path.Combine(directory.FullName, ".config", "dotnet-tools.json"), Path.Combine(directory.FullName, "dotnet-tools.json") })
            {
                if (!File.Exists(manifest)) continue;
                var (version, isRoot) = ReadManifest(manifest, program);
                if (version is not null)
                {
                    foreach (var folder in PackageFolders)
                        if (ProgramIn(Path.Combine(folder, program.ToLowerInvariant(), version.ToLowerInvariant()), program) is { } found) return found;
                    notRestored.Add($"{manifest} lists {program} {version}, but it is not restored in {string.Join(" or ", PackageFolders)}: run 'dotnet tool restore'.");
                    return null;
                }
                if (isRoot) return null;
            }
        }
        return null;
    }

    private static (string? Version, bool IsRoot) ReadManifest(string manifest, string program)
    {
        try
        {
            using var document = JsonDocument.Parse(File.ReadAllText(manifest));
            var root = document.RootElement;
            var isRoot = root.TryGetProperty("isRoot", out var rootFlag) && rootFlag.ValueKind == JsonValueKind.True;
            if (root.TryGetProperty("tools", out var tools) && tools.ValueKind == JsonValueKind.Object)
                foreach (var tool in tools.EnumerateObject())
                    if (tool.Name.Equals(program, StringComparison.OrdinalIgnoreCase)
                        && tool.Value.ValueKind == JsonValueKind.Object && tool.Value.TryGetProperty("version", out var version) && version.ValueKind == JsonValueKind.String)
                        return (version.GetString(), isRoot);
            return (null, isRoot);
        }
        catch (Exception e) when (e is JsonException or IOException or UnauthorizedAccessException)
        {
            return (null, false); // not a manifest this search can read: the CLI reports it when the user runs it
        }
    }

    /// <summary>
    /// The tool's folder in an install folder's store (.store/ID/VERSION/ID/VERSION/tools/...), at the library's
    /// version when several are there, else the highest.
    /// </summary>
    private string? FromInstalledTools(string program)
    {
        foreach (var folder in ToolFolders.Distinct(StringComparer.Ordinal))
        {
            var store = Path.Combine(folder, ".store", program.ToLowerInvariant());
            if (!Directory.Exists(store)) continue;
            var versions = Directory.GetDirectories(store).Select(Path.GetFileName).OfType<string>()
                .OrderByDescending(v => v.Equals(LibraryVersion, StringComparison.OrdinalIgnoreCase))
                .ThenByDescending(ReleaseOf).ThenBy(v => v.Contains('-', StringComparison.Ordinal)).ThenByDescending(v => v, StringComparer.OrdinalIgnoreCase);
            foreach (var version in versions)
                if (ProgramIn(Path.Combine(store, version, program.ToLowerInvariant(), version), program) is { } found) return found;
        }
        return null;
    }

    /// <summary>The folder of program.dll under a tool package's root (tools/TFM/any/).</summary>
    private static string? ProgramIn(string packageRoot, string program)
    {
        var tools = Path.Combine(packageRoot, "tools");
        if (!Directory.Exists(tools)) return null;
        return Directory.GetDirectories(tools)
            .Select(framework => Path.Combine(framework, "any"))
            .OrderByDescending(Path.GetFileName, StringComparer.Ordinal)
            .FirstOrDefault(candidate => File.Exists(Path.Combine(candidate, program + ".dll")));
    }

    /// <summary>The numeric part of a package version (1.2.3 of 1.2.3-alpha.0.4), for choosing the highest installed one.</summary>
    private static Version ReleaseOf(string version) => Version.TryParse(version.Split('-')[0], out var release) ? release : new Version(0, 0);

    private string NotFound(string program, List<string> notRestored)
    {
        var text = new StringBuilder();
        text.Append($"LocalCluster cannot find {program}: it is not beside this program ({ApplicationDirectory}), {BinVariableName} is not set, ");
        text.Append($"no .NET tool manifest from {CurrentDirectory} up lists it (restored), and it is not installed as a global tool ({ToolFolders[0]}).");
        foreach (var line in notRestored) text.Append(' ').Append(line);
        text.AppendLine().Append("Install dcenter and dworker at the client library's version, for this project:").AppendLine();
        text.AppendLine("  dotnet new tool-manifest");
        text.AppendLine($"  dotnet tool install dcenter --version {LibraryVersion}");
        text.AppendLine($"  dotnet tool install dworker --version {LibraryVersion}");
        text.AppendLine("or for your user account:");
        text.AppendLine($"  dotnet tool install --global dcenter --version {LibraryVersion}");
        text.AppendLine($"  dotnet tool install --global dworker --version {LibraryVersion}");
        text.Append("(add --add-source FOLDER for packages in a folder, e.g. the artifacts/tools that build.ps1 pack writes), ");
        text.Append($"or set {BinVariableName} to a folder that holds {program}.dll.");
        return text.ToString();
    }
}
