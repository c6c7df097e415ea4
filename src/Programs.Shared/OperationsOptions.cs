using System.CommandLine;
using Distributed.Protocol.Hosting;

namespace Distributed.Programs;

/// <summary>
/// The options dcenter and dworker share for running them as a service: the log's level and format.
/// One source file compiled into both programs (System.CommandLine is theirs, not the libraries').
/// </summary>
internal sealed class OperationsOptions
{
    private readonly Option<string?> _logLevel = new("--log-level")
    {
        Description = $"The least severe log lines written to standard error: {string.Join(", ", NodeLogging.LevelNames)} (default: information).",
    };

    private readonly Option<string?> _logFormat = new("--log-format")
    {
        Description = "How log lines are written: text (one line each) or json (one JSON object a line; default: text).",
    };

    /// <summary>Adds the options to <paramref name="command"/>.</summary>
    public OperationsOptions(Command command)
    {
        _logLevel.AcceptOnlyFromAmong([.. NodeLogging.LevelNames]);
        _logFormat.AcceptOnlyFromAmong("text", "json");
        command.Options.Add(_logLevel);
        command.Options.Add(_logFormat);
    }

    /// <summary>Starts the program's log as its command line says, for the rest of the process (each line is written at once).</summary>
    public void StartLogging(ParseResult parse) =>
        ProgramRunner.StartLogging(
            parse.GetValue(_logLevel) is { } level ? NodeLogging.ParseLevel(level) : NodeLogging.DefaultLevel,
            parse.GetValue(_logFormat) is { } format ? NodeLogging.ParseFormat(format) : LogFormat.Text);
}
