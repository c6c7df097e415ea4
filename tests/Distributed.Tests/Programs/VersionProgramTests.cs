using System.Reflection;
using System.Text.RegularExpressions;
using static Distributed.Tests.Programs.ProgramProcesses;

namespace Distributed.Tests.Programs;

/// <summary>--version prints the version git gave the build (MinVer), the same for both programs and the client library.</summary>
[ProcessTier]
public sealed partial class VersionProgramTests
{
    [Theory]
    [InlineData("dcenter")]
    [InlineData("dworker")]
    public async Task Version_prints_the_version_from_git_the_client_library_has_too(string program)
    {
        var run = await RunToExitAsync(program, TimeSpan.FromSeconds(60), "--version");

        Assert.True(run.ExitCode == 0, run.ToString());
        var printed = run.StandardOutput.Trim();
        var library = typeof(Distributed.Pool).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()!.InformationalVersion;
        Assert.Equal(library, printed);
        Assert.Matches(SemanticVersion(), printed);
        Assert.False(printed.StartsWith("1.0.0", StringComparison.Ordinal), $"{program} --version printed the SDK's default {printed}, not a version from git.");
    }

    [GeneratedRegex(@"^\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$")]
    private static partial Regex SemanticVersion();
}
