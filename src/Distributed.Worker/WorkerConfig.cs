using Akka.Configuration;

namespace Distributed.Worker;

/// <summary>Reads a worker's settings from HOCON, under <c>distributed.worker</c> (see hocon/worker.hocon).</summary>
internal static class WorkerConfig
{
    private const string IdleTimeoutPath = "distributed.worker.executor-idle-timeout";
    private const string StatusIntervalPath = "distributed.worker.status-interval";
    private const string RuntimeIdentifierPath = "distributed.worker.runtime-identifier";
    private const string SameHostSharingPath = "distributed.worker.same-host-sharing";

    /// <summary>The default of <c>executor-idle-timeout</c>, when the configuration has none.</summary>
    public static readonly TimeSpan DefaultExecutorIdleTimeout = TimeSpan.FromMinutes(5);

    /// <summary>The default of <c>status-interval</c>, when the configuration has none.</summary>
    public static readonly TimeSpan DefaultStatusInterval = TimeSpan.FromSeconds(2);

    /// <summary>
    /// How long an executor may run no task before it is stopped; null when the setting is <c>off</c>.
    /// A <see cref="FormatException"/> names a value that is not a positive duration.
    /// </summary>
    public static TimeSpan? ExecutorIdleTimeout(Config config) => Duration(config, IdleTimeoutPath, DefaultExecutorIdleTimeout, "5m");

    /// <summary>How often a registered worker tells the center its status (the dashboard's figures); null when <c>off</c>.</summary>
    public static TimeSpan? StatusInterval(Config config) => Duration(config, StatusIntervalPath, DefaultStatusInterval, "2s");

    /// <summary>
    /// The runtime identifier whose native libraries the worker asks for (<c>runtime-identifier</c>); null
    /// when the setting is empty or absent: the machine's own (<c>RuntimeInformation.RuntimeIdentifier</c>).
    /// </summary>
    public static string? RuntimeIdentifier(Config config)
    {
        var text = config.HasPath(RuntimeIdentifierPath) ? config.GetString(RuntimeIdentifierPath)?.Trim() ?? "" : "";
        if (text.Length == 0) return null;
        if (!text.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '.' or '_'))
            throw new FormatException($"The setting {RuntimeIdentifierPath} is not a runtime identifier such as linux-x64 or linux-arm64 (it is '{text}').");
        return text;
    }

    /// <summary>
    /// Whether values move between workers on one machine through shared memory (<c>same-host-sharing</c>,
    /// on unless the setting says off). A <see cref="FormatException"/> names a value that is neither.
    /// </summary>
    public static bool SameHostSharing(Config config)
    {
        if (!config.HasPath(SameHostSharingPath)) return true;
        var text = config.GetString(SameHostSharingPath)?.Trim().ToLowerInvariant() ?? "";
        return text switch
        {
            "on" or "true" or "yes" => true,
            "off" or "false" or "no" => false,
            _ => throw new FormatException($"The setting {SameHostSharingPath} is on or off (it is '{text}')."),
        };
    }

    private static TimeSpan? Duration(Config config, string path, TimeSpan fallback, string example)
    {
        if (!config.HasPath(path)) return fallback;
        var text = config.GetString(path)?.Trim() ?? "";
        if (text is "off" or "infinite") return null;
        TimeSpan value;
        try
        {
            value = config.GetTimeSpan(path, fallback, allowInfinite: false);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            throw new FormatException($"The setting {path} is not a duration such as {example}, or off (it is '{text}').", e);
        }
        if (value <= TimeSpan.Zero) throw new FormatException($"The setting {path} must be a positive duration such as {example}, or off (it is '{text}').");
        return value;
    }
}
