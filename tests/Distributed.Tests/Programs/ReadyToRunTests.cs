using System.Reflection;
using System.Reflection.PortableExecutable;

namespace Distributed.Tests.Programs;

/// <summary>
/// The programs a user starts carry ReadyToRun (precompiled) code in their `dotnet build` output, for
/// themselves and the libraries beside them: without it every dcenter, dworker and quickstart start
/// spends about half its time in the JIT (see Directory.Build.props).
/// </summary>
public sealed class ReadyToRunTests
{
    /// <summary>Each program's output folder (under src/), with the assemblies its start runs most of.</summary>
    public static TheoryData<string, string> ProgramAssemblies()
    {
        var data = new TheoryData<string, string>();
        string[] libraries = ["Distributed.Protocol.dll", "Akka.dll", "Akka.Remote.dll", "Akka.Cluster.dll", "DotNetty.Transport.dll"];
        foreach (var (program, assemblies) in new (string, string[])[]
        {
            ("dcenter", ["dcenter.dll", "Distributed.Center.dll", .. libraries]),
            ("dworker", ["dworker.dll", "Distributed.Worker.dll", "Distributed.Data.dll", .. libraries]),
            ("Distributed.Quickstart", ["Distributed.Quickstart.dll", "Distributed.dll", "dcenter.dll", "dworker.dll", .. libraries]),
        })
        {
            foreach (var assembly in assemblies) data.Add(program, assembly);
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(ProgramAssemblies))]
    public void A_built_program_carries_ReadyToRun_code(string program, string assembly)
    {
        var configuration = typeof(ReadyToRunTests).Assembly.GetCustomAttribute<AssemblyConfigurationAttribute>()?.Configuration ?? "Debug";
        // The output folder stays bin/CONFIG/net10.0 (no runtime identifier in it): LocalCluster and the README use it.
        var path = Path.Combine(RepositoryRoot(), "src", program, "bin", configuration, "net10.0", assembly);

        Assert.True(File.Exists(path), $"{path} is not built");
        Assert.True(IsReadyToRun(path), $"{path} has no ReadyToRun code: every start of {program} JIT-compiles it");
    }

    [Fact]
    public void The_programs_the_process_tier_starts_carry_ReadyToRun_code()
    {
        foreach (var program in new[] { "dcenter.dll", "dworker.dll" })
        {
            var path = Path.Combine(AppContext.BaseDirectory, program);
            Assert.True(IsReadyToRun(path), $"{path} has no ReadyToRun code");
        }
    }

    /// <summary>Whether the assembly's CLI header points to a ReadyToRun header (crossgen2's output; IL-only assemblies have none).</summary>
    private static bool IsReadyToRun(string path)
    {
        using var stream = File.OpenRead(path);
        using var reader = new PEReader(stream);
        return reader.PEHeaders.CorHeader is { ManagedNativeHeaderDirectory.Size: > 0 };
    }

    private static string RepositoryRoot()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
            if (File.Exists(Path.Combine(directory.FullName, "Distributed.sln"))) return directory.FullName;
        throw new InvalidOperationException($"No Distributed.sln above {AppContext.BaseDirectory}.");
    }
}
