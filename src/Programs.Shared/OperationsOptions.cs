using System.CommandLine;
using Akka.Configuration;
using Distributed.Protocol;
using Distributed.Protocol.Hosting;

namespace Distributed.Programs;

/// <summary>
/// What dcenter and dworker share for running them as a service: <c>--config FILE</c>, the log's level
/// and format, and the <c>config</c> command that prints the settings in effect. One source file
/// compiled into both programs (System.CommandLine is theirs, not the libraries').
/// </summary>
internal sealed class OperationsOptions
{
    private const string LevelPath = "distributed.logging.level";
    private const string FormatPath = "distributed.logging.format";

    private readonly Role _role;

    private readonly Option<string?> _configFile = new("--config")
    {
        Description = $"A HOCON file of settings, with the keys of the built-in ones (hocon/ in the sources; `config` prints them), over them; {ClusterConfig.EnvironmentPrefix} environment variables and the command line win over it.",
        Recursive = true,
    };

    private readonly Option<string?> _logLevel = new("--log-level")
    {
        Description = $"The least severe log lines written to standard error: {string.Join(", ", NodeLogging.LevelNames)} (default: information; setting {LevelPath}).",
    };

    private readonly Option<string?> _logFormat = new("--log-format")
    {
        Description = $"How log lines are written: text (one line each) or json (one JSON object a line; default: text; setting {FormatPath}).",
    };

    /// <summary>Adds the options, and the <c>config</c> command, to <paramref name="root"/> of the program of <paramref name="role"/>.</summary>
    public OperationsOptions(RootCommand root, Role role)
    {
        _role = role;
        _logLevel.AcceptOnlyFromAmong([.. NodeLogging.LevelNames]);
        _logFormat.AcceptOnlyFromAmong("text", "json");
        root.Options.Add(_configFile);
        root.Options.Add(_logLevel);
        root.Options.Add(_logFormat);
        var config = new Command("config",
            $"Prints the settings in effect, as HOCON: the built-in ones under --config FILE, under the {ClusterConfig.EnvironmentPrefix} environment variables " +
            $"(e.g. {ClusterConfig.EnvironmentPrefix}LOGGING__LEVEL=debug sets {LevelPath}) and {ClusterConfig.OverridesVariable}. Akka's own defaults are left out.");
        config.SetAction(parse =>
        {
            if (!TryLoadFile(parse)) return 2;
            try
            {
                Console.WriteLine(ClusterConfig.Settings(_role).ToString(includeFallback: true));
                return 0;
            }
            catch (FormatException e)
            {
                Console.Error.WriteLine($"error: {e.Message}");
                return 2;
            }
        });
        root.Subcommands.Add(config);
    }

    /// <summary>
    /// Reads <c>--config</c> and starts the program's log, for the rest of the process (each line is
    /// written at once); false, after one line on standard error, when a setting cannot be used.
    /// </summary>
    public bool TryStart(ParseResult parse)
    {
        if (!TryLoadFile(parse)) return false;
        try
        {
            var settings = ClusterConfig.Settings(_role);
            var level = NodeLogging.ParseLevel(parse.GetValue(_logLevel) ?? Setting(settings, LevelPath) ?? "information");
            var format = NodeLogging.ParseFormat(parse.GetValue(_logFormat) ?? Setting(settings, FormatPath) ?? "text");
            ProgramRunner.StartLogging(level, format);
            return true;
        }
        catch (FormatException e)
        {
            Console.Error.WriteLine($"error: {e.Message}");
            return false;
        }
    }

    private bool TryLoadFile(ParseResult parse)
    {
        if (parse.GetValue(_configFile) is not { } path) return true;
        try
        {
            ClusterConfig.UseConfigFile(path);
            return true;
        }
        catch (FormatException e)
        {
            Console.Error.WriteLine($"error: {e.Message}");
            return false;
        }
    }

    private static string? Setting(Config settings, string path)
    {
        if (!settings.HasPath(path)) return null;
        try
        {
            return settings.GetString(path);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            throw new FormatException($"The setting {path} is not a word (e.g. information): {e.Message}", e);
        }
    }
}
