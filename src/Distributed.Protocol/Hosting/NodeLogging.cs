using Akka.Configuration;
using Microsoft.Extensions.Logging;

namespace Distributed.Protocol.Hosting;

/// <summary>How dcenter and dworker write their log lines: one line each, as text or as JSON.</summary>
public enum LogFormat
{
    /// <summary><c>2026-12-07T00:40:01.123Z info CenterActor: Worker w1 registered at ...</c></summary>
    Text,
    /// <summary>One JSON object a line: Timestamp, LogLevel, Category, Message, and Exception when there is one.</summary>
    Json,
}

/// <summary>
/// The log of the programs: Microsoft.Extensions.Logging, with Akka's own log bridged into it
/// (<see cref="AkkaLoggerBridge"/>), written to standard error (standard output is the programs'
/// announcements). At <see cref="LogLevel.Information"/>, Akka's own chatter (members joining,
/// leader actions) stays at warnings: the center's lines say what a user needs; lower the level to
/// debug to see Akka's too.
/// </summary>
public static class NodeLogging
{
    /// <summary>The levels <c>--log-level</c> accepts, in the order of <see cref="LogLevel"/>.</summary>
    public static readonly IReadOnlyList<string> LevelNames = ["trace", "debug", "information", "warning", "error", "critical"];

    /// <summary>The level the programs log at unless told otherwise.</summary>
    public const LogLevel DefaultLevel = LogLevel.Information;

    private static ILoggerFactory? _factory;

    /// <summary>The factory Akka's log goes to (<see cref="AkkaLoggerBridge"/>); null until <see cref="Configure"/>.</summary>
    public static ILoggerFactory? Factory => Volatile.Read(ref _factory);

    /// <summary>
    /// Makes the process's logger factory: lines at <paramref name="level"/> and above in <paramref name="format"/>
    /// on <paramref name="output"/> (standard error by default). The returned factory is also <see cref="Factory"/>.
    /// </summary>
    public static ILoggerFactory Configure(LogLevel level, LogFormat format, TextWriter? output = null)
    {
        var factory = LoggerFactory.Create(builder =>
        {
            builder.SetMinimumLevel(level);
            // Akka's categories are its types' names (Akka.Cluster.ClusterCoreDaemon, ...).
            if (level == LogLevel.Information) builder.AddFilter("Akka", LogLevel.Warning);
            builder.AddProvider(new LineLoggerProvider(format, output ?? Console.Error));
        });
        Volatile.Write(ref _factory, factory);
        return factory;
    }

    /// <summary>Parses a level name of <see cref="LevelNames"/> (case-insensitive; also <c>info</c>, <c>warn</c>).</summary>
    public static LogLevel ParseLevel(string text)
    {
        var name = text.Trim().ToLowerInvariant() switch
        {
            "info" => "information",
            "warn" => "warning",
            var other => other,
        };
        var index = LevelNames.ToList().IndexOf(name);
        if (index < 0) throw new FormatException($"'{text}' is not a log level; expected one of {string.Join(", ", LevelNames)}.");
        return (LogLevel)index;
    }

    /// <summary>Parses <c>text</c> or <c>json</c>.</summary>
    public static LogFormat ParseFormat(string text) => text.Trim().ToLowerInvariant() switch
    {
        "text" => LogFormat.Text,
        "json" => LogFormat.Json,
        _ => throw new FormatException($"'{text}' is not a log format; expected text or json."),
    };

    /// <summary>
    /// The Akka settings that send its log to <see cref="Factory"/> through <see cref="AkkaLoggerBridge"/>, at the
    /// Akka level that carries <paramref name="level"/> (Akka has no trace and no critical).
    /// </summary>
    public static Config AkkaSettings(LogLevel level)
    {
        var akkaLevel = level switch
        {
            LogLevel.Trace or LogLevel.Debug => "DEBUG",
            LogLevel.Information => "INFO",
            LogLevel.Warning => "WARNING",
            LogLevel.None => "OFF",
            _ => "ERROR",
        };
        return ConfigurationFactory.ParseString($$"""
            akka.loggers = ["{{typeof(AkkaLoggerBridge).FullName}}, {{typeof(AkkaLoggerBridge).Assembly.GetName().Name}}"]
            akka.loglevel = {{akkaLevel}}
            """);
    }
}
