using Akka.Configuration;

namespace Distributed.Worker;

/// <summary>Reads a worker's settings from HOCON, under <c>distributed.worker</c> (see hocon/worker.hocon).</summary>
internal static class WorkerConfig
{
    private const string IdleTimeoutPath = "distributed.worker.executor-idle-timeout";

    /// <summary>The default of <c>executor-idle-timeout</c>, when the configuration has none.</summary>
    public static readonly TimeSpan DefaultExecutorIdleTimeout = TimeSpan.FromMinutes(5);

    /// <summary>
    /// How long an executor may run no task before it is stopped; null when the setting is <c>off</c>.
    /// A <see cref="FormatException"/> names a value that is not a positive duration.
    /// </summary>
    public static TimeSpan? ExecutorIdleTimeout(Config config)
    {
        if (!config.HasPath(IdleTimeoutPath)) return DefaultExecutorIdleTimeout;
        var text = config.GetString(IdleTimeoutPath)?.Trim() ?? "";
        if (text is "off" or "infinite") return null;
        TimeSpan value;
        try
        {
            value = config.GetTimeSpan(IdleTimeoutPath, DefaultExecutorIdleTimeout, allowInfinite: false);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            throw new FormatException($"The setting {IdleTimeoutPath} is not a duration such as 5m, or off (it is '{text}').", e);
        }
        if (value <= TimeSpan.Zero) throw new FormatException($"The setting {IdleTimeoutPath} must be a positive duration such as 5m, or off (it is '{text}').");
        return value;
    }
}
