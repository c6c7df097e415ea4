using Distributed.Client;
using Distributed.Protocol;

namespace Distributed.Tests.CodeShipping;

/// <summary>Reading a deps.json, choosing the packages a function needs, and choosing a worker's native files by RID.</summary>
public sealed class NativeLibraryShippingUnitTests
{
    // The shape `dotnet build` writes for a portable program that references Microsoft.Data.Sqlite (trimmed).
    private const string PortableDeps = """
    {
      "runtimeTarget": { "name": ".NETCoreApp,Version=v10.0", "signature": "" },
      "targets": {
        ".NETCoreApp,Version=v10.0": {
          "App/1.0.0": { "dependencies": { "Microsoft.Data.Sqlite": "10.0.0", "NodaTime": "3.3.7" }, "runtime": { "App.dll": {} } },
          "Microsoft.Data.Sqlite/10.0.0": { "dependencies": { "Microsoft.Data.Sqlite.Core": "10.0.0", "SQLitePCLRaw.bundle_e_sqlite3": "2.1.11" } },
          "Microsoft.Data.Sqlite.Core/10.0.0": { "dependencies": { "SQLitePCLRaw.core": "2.1.11" }, "runtime": { "lib/net8.0/Microsoft.Data.Sqlite.dll": { "assemblyVersion": "10.0.0.0" } } },
          "SQLitePCLRaw.bundle_e_sqlite3/2.1.11": { "dependencies": { "SQLitePCLRaw.lib.e_sqlite3": "2.1.11", "SQLitePCLRaw.provider.e_sqlite3": "2.1.11" }, "runtime": { "lib/netstandard2.0/SQLitePCLRaw.batteries_v2.dll": {} } },
          "SQLitePCLRaw.core/2.1.11": { "runtime": { "lib/netstandard2.0/SQLitePCLRaw.core.dll": {} } },
          "SQLitePCLRaw.lib.e_sqlite3/2.1.11": {
            "runtimeTargets": {
              "runtimes/linux-arm64/native/libe_sqlite3.so": { "rid": "linux-arm64", "assetType": "native", "fileVersion": "0.0.0.0" },
              "runtimes/linux-x64/native/libe_sqlite3.so": { "rid": "linux-x64", "assetType": "native", "fileVersion": "0.0.0.0" },
              "runtimes/win-x64/native/e_sqlite3.dll": { "rid": "win-x64", "assetType": "native", "fileVersion": "0.0.0.0" }
            }
          },
          "SQLitePCLRaw.provider.e_sqlite3/2.1.11": { "dependencies": { "SQLitePCLRaw.core": "2.1.11" }, "runtime": { "lib/net6.0/SQLitePCLRaw.provider.e_sqlite3.dll": {} } },
          "NodaTime/3.3.7": { "runtime": { "lib/net8.0/NodaTime.dll": {} } }
        }
      },
      "libraries": {
        "App/1.0.0": { "type": "project", "serviceable": false, "sha512": "" },
        "Microsoft.Data.Sqlite/10.0.0": { "type": "package", "path": "microsoft.data.sqlite/10.0.0" },
        "Microsoft.Data.Sqlite.Core/10.0.0": { "type": "package", "path": "microsoft.data.sqlite.core/10.0.0" },
        "SQLitePCLRaw.bundle_e_sqlite3/2.1.11": { "type": "package", "path": "sqlitepclraw.bundle_e_sqlite3/2.1.11" },
        "SQLitePCLRaw.core/2.1.11": { "type": "package", "path": "sqlitepclraw.core/2.1.11" },
        "SQLitePCLRaw.lib.e_sqlite3/2.1.11": { "type": "package", "path": "sqlitepclraw.lib.e_sqlite3/2.1.11" },
        "SQLitePCLRaw.provider.e_sqlite3/2.1.11": { "type": "package", "path": "sqlitepclraw.provider.e_sqlite3/2.1.11" },
        "NodaTime/3.3.7": { "type": "package", "path": "nodatime/3.3.7" }
      }
    }
    """;

    [Fact]
    public void A_portable_deps_file_lists_each_packages_assemblies_and_its_native_files_per_RID()
    {
        var deps = DepsFile.Parse(PortableDeps, "linux-x64");

        var native = Assert.Single(deps.Libraries, l => l.Name == "SQLitePCLRaw.lib.e_sqlite3");
        Assert.Empty(native.RuntimeAssemblies);
        Assert.Equal(["linux-arm64", "linux-x64", "win-x64"], native.Natives.Select(n => n.RuntimeId));
        Assert.All(native.Natives, n => Assert.False(n.InProgramFolder));
        Assert.Equal("sqlitepclraw.lib.e_sqlite3/2.1.11", native.PackagePath);
        Assert.Empty(Assert.Single(deps.Libraries, l => l.Name == "Microsoft.Data.Sqlite").RuntimeAssemblies); // "_._"-free metapackage
        Assert.Equal("Microsoft.Data.Sqlite.Core", deps.OwnerOf("/some/folder/Microsoft.Data.Sqlite.dll")!.Name);
        Assert.False(deps.OwnerOf("App.dll")!.IsPackage);
    }

    [Fact]
    public void A_deps_file_of_a_build_for_one_RID_gives_its_flat_native_files_that_RID()
    {
        const string RidSpecific = """
        {
          "runtimeTarget": { "name": ".NETCoreApp,Version=v10.0/linux-arm64" },
          "targets": { ".NETCoreApp,Version=v10.0/linux-arm64": {
            "SQLitePCLRaw.lib.e_sqlite3/2.1.11": { "native": { "runtimes/linux-arm64/native/libe_sqlite3.so": { "fileVersion": "0.0.0.0" } } } } },
          "libraries": { "SQLitePCLRaw.lib.e_sqlite3/2.1.11": { "type": "package", "path": "sqlitepclraw.lib.e_sqlite3/2.1.11" } }
        }
        """;

        var native = Assert.Single(Assert.Single(DepsFile.Parse(RidSpecific, "linux-x64").Libraries).Natives);

        Assert.Equal(new DepsNativeAsset("linux-arm64", "runtimes/linux-arm64/native/libe_sqlite3.so", InProgramFolder: true), native);
    }

    [Fact]
    public void A_function_using_a_package_assembly_gets_the_packages_loaded_by_name_and_the_native_one_but_not_unrelated_ones()
    {
        var deps = DepsFile.Parse(PortableDeps, "linux-x64");

        var packages = deps.PackagesFor(["App.dll", "Microsoft.Data.Sqlite.dll", "SQLitePCLRaw.core.dll"]).Select(p => p.Name).ToHashSet();

        Assert.Equal(new HashSet<string> { "Microsoft.Data.Sqlite.Core", "SQLitePCLRaw.core", "Microsoft.Data.Sqlite", "SQLitePCLRaw.bundle_e_sqlite3",
            "SQLitePCLRaw.lib.e_sqlite3", "SQLitePCLRaw.provider.e_sqlite3" }, packages);
        Assert.Empty(deps.PackagesFor(["App.dll"])); // the program's own project pulls in nothing by itself
        Assert.Equal(["NodaTime"], deps.PackagesFor(["NodaTime.dll"]).Select(p => p.Name));
    }

    private static readonly string HashA = new('a', 64), HashB = new('b', 64), HashC = new('c', 64);

    private static CodeManifest SqliteManifest() => new("v1", [new AssemblyRef("Microsoft.Data.Sqlite", HashA)],
    [
        new NativeLibraryRef("SQLitePCLRaw.lib.e_sqlite3", "linux-x64", "libe_sqlite3.so", HashB),
        new NativeLibraryRef("SQLitePCLRaw.lib.e_sqlite3", "win-x64", "e_sqlite3.dll", HashC),
    ]);

    [Fact]
    public void A_worker_gets_the_assemblies_and_the_native_files_of_its_own_RID_only()
    {
        var (code, problem) = NativeLibraryFiles.ForRuntime(SqliteManifest(), "linux-x64");

        Assert.Null(problem);
        Assert.Equal("v1", code.Version);
        Assert.Equal([new AssemblyRef("Microsoft.Data.Sqlite", HashA), new AssemblyRef("libe_sqlite3.so", HashB)], code.Assemblies);
    }

    [Fact]
    public void A_worker_falls_back_from_its_RID_to_its_family()
    {
        var manifest = new CodeManifest("v1", [], [new NativeLibraryRef("P", "linux", "libp.so", HashB), new NativeLibraryRef("P", "unix", "libp-any.so", HashC)]);

        Assert.Equal(["libp.so"], NativeLibraryFiles.ForRuntime(manifest, "linux-musl-x64").Code.Assemblies.Select(a => a.Name));
        Assert.Equal(["libp-any.so"], NativeLibraryFiles.ForRuntime(manifest, "osx-arm64").Code.Assemblies.Select(a => a.Name));
        Assert.Equal(["linux-musl-x64", "linux-musl", "linux-x64", "linux", "unix", "any"], NativeLibraryFiles.FallbacksOf("linux-musl-x64"));
        Assert.Equal(["win-x64", "win", "any"], NativeLibraryFiles.FallbacksOf("win-x64"));
    }

    [Fact]
    public void A_worker_whose_RID_has_no_native_file_is_told_the_package_and_the_RID()
    {
        var (_, problem) = NativeLibraryFiles.ForRuntime(SqliteManifest(), "linux-arm64");

        Assert.NotNull(problem);
        Assert.Contains("SQLitePCLRaw.lib.e_sqlite3", problem);
        Assert.Contains("linux-arm64", problem);
        Assert.Contains("linux-x64, win-x64", problem);
    }

    [Theory]
    [InlineData("e_sqlite3")]
    [InlineData("libe_sqlite3")]
    [InlineData("libe_sqlite3.so")]
    [InlineData("e_sqlite3.dll")]
    [InlineData("libe_sqlite3.dylib")]
    [InlineData("/cache/abc/native/libe_sqlite3.so")]
    public void Every_name_a_native_library_is_asked_for_by_gives_one_key(string name) =>
        Assert.Equal("e_sqlite3", NativeLibraryFiles.LibraryKey(name));

    [Theory]
    [InlineData("libe_sqlite3.so", true)]
    [InlineData("libfoo.so.1.2", true)]
    [InlineData("e_sqlite3.dll", true)]
    [InlineData("libskia.dylib", true)]
    [InlineData("Microsoft.Data.Sqlite", false)]
    [InlineData("SQLitePCLRaw.batteries_v2", false)]
    [InlineData("System.IO.Ports", false)]
    public void Native_file_names_are_told_from_assembly_simple_names(string name, bool native) =>
        Assert.Equal(native, NativeLibraryFiles.IsNativeFileName(name));

    [Fact]
    public void A_worker_claims_the_runtime_identifier_its_setting_names_or_else_its_own()
    {
        static string? Read(string hocon) => Distributed.Worker.WorkerConfig.RuntimeIdentifier(Akka.Configuration.ConfigurationFactory.ParseString(hocon));

        Assert.Null(Read(""));
        Assert.Null(Read("distributed.worker.runtime-identifier = \"\""));
        Assert.Equal("linux-arm64", Read("distributed.worker.runtime-identifier = linux-arm64"));
        Assert.Contains("not a runtime identifier", Assert.Throws<FormatException>(() => Read("distributed.worker.runtime-identifier = \"../x\"")).Message);
    }

    [Fact]
    public void A_worker_keeps_native_libraries_in_a_native_folder_under_their_hash_and_assemblies_beside_it()
    {
        var cache = new Distributed.Worker.AssemblyCache("/cache");

        var native = cache.PathOf(new AssemblyRef("libe_sqlite3.so", HashB));
        var assembly = cache.PathOf(new AssemblyRef("Microsoft.Data.Sqlite", HashA));

        Assert.Equal(Path.Combine("/cache", HashB, "native", "libe_sqlite3.so"), native);
        Assert.True(NativeLibraryFiles.IsCachedNativePath(native));
        Assert.False(NativeLibraryFiles.IsCachedNativePath(assembly));
    }
}
