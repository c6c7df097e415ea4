using Akka.Configuration;
using Distributed.Center.Core;

namespace Distributed.Center;

/// <summary>Reads the center's settings (<see cref="CenterSettings"/>) from HOCON, under <c>distributed.center</c>.</summary>
public static class CenterConfig
{
    private const string Section = "distributed.center";

    /// <summary>The settings in <paramref name="config"/>, defaults where a setting is absent; a <see cref="FormatException"/> names a bad one.</summary>
    public static CenterSettings Read(Config config)
    {
        var defaults = new CenterSettings();
        return new CenterSettings
        {
            UnclaimedKeysGrace = Duration(config, "unclaimed-keys-grace", defaults.UnclaimedKeysGrace),
            RetirementTimeout = DurationOrOff(config, "retirement-timeout", defaults.RetirementTimeout),
            MaxTasksPerMessage = Read(config, "max-tasks-per-message", defaults.MaxTasksPerMessage, (c, p) => c.GetInt(p)),
            WindowSeconds = Read(config, "window-seconds", defaults.WindowSeconds, (c, p) => c.GetDouble(p)),
            MaxWindow = Read(config, "max-window", defaults.MaxWindow, (c, p) => c.GetInt(p)),
            GraphTasksPerCore = Read(config, "graph-tasks-per-core", defaults.GraphTasksPerCore, (c, p) => c.GetInt(p)),
            IntermediatesPerCore = Read(config, "intermediates-per-core", defaults.IntermediatesPerCore, (c, p) => c.GetInt(p)),
            BusyMargin = Read(config, "busy-margin", defaults.BusyMargin, (c, p) => c.GetDouble(p)),
            StaleRate = Duration(config, "stale-rate", defaults.StaleRate),
            MaxWorkerDeaths = Read(config, "max-worker-deaths", defaults.MaxWorkerDeaths, (c, p) => c.GetInt(p)),
            MaxInputRetries = Read(config, "max-input-retries", defaults.MaxInputRetries, (c, p) => c.GetInt(p)),
        }.Checked();
    }

    private static TimeSpan Duration(Config config, string name, TimeSpan fallback) =>
        Read(config, name, fallback, (c, p) => c.GetTimeSpan(p, fallback, allowInfinite: false), "a duration such as 150s");

    /// <summary>A duration, or null for <c>off</c> (the convention of the worker's settings, e.g. <c>executor-idle-timeout</c>).</summary>
    private static TimeSpan? DurationOrOff(Config config, string name, TimeSpan? fallback)
    {
        var path = $"{Section}.{name}";
        if (config.HasPath(path) && config.GetString(path)?.Trim() is "off" or "infinite") return null;
        return Read<TimeSpan?>(config, name, fallback, (c, p) => c.GetTimeSpan(p, null, allowInfinite: false), "a duration such as 20s, or off");
    }

    private static T Read<T>(Config config, string name, T fallback, Func<Config, string, T> get, string? what = null)
    {
        var path = $"{Section}.{name}";
        if (!config.HasPath(path)) return fallback;
        try
        {
            return get(config, path);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            string? text;
            try { text = config.GetString(path); }
            catch (Exception) { text = null; }
            throw new FormatException($"The setting {path} is not {what ?? $"a {typeof(T).Name.ToLowerInvariant()}"} (it is {(string.IsNullOrWhiteSpace(text) ? "empty" : $"'{text}'")}).", e);
        }
    }
}
