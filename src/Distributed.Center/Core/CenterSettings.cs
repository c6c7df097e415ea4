namespace Distributed.Center.Core;

/// <summary>
/// The center's settings, one typed object read from HOCON under <c>distributed.center</c>
/// (<c>CenterConfig.Read</c>); the defaults are the values the scheduler was tuned with.
/// </summary>
public sealed record CenterSettings
{
    /// <summary>How long a value adopted from a worker that rejoined after a restart waits for a client to claim it before it is deleted.</summary>
    public TimeSpan UnclaimedKeysGrace { get; init; } = TimeSpan.FromSeconds(150);

    /// <summary>
    /// How long a worker's retirement may take (finishing its tasks and handing its values over) before the
    /// center gives up and tells it to leave anyway: what was not handed over is made again from its lineage
    /// when needed, as after a crash. Null (<c>off</c>): as long as it takes.
    /// </summary>
    public TimeSpan? RetirementTimeout { get; init; } = TimeSpan.FromSeconds(20);

    /// <summary>Tasks per RunTasks message: small enough for a fast frame, big enough to amortize it.</summary>
    public int MaxTasksPerMessage { get; init; } = 2048;

    /// <summary>Map and Apply tasks a worker may have at once, at most: as many as it finishes in this many seconds.</summary>
    public double WindowSeconds { get; init; } = 0.25;

    /// <summary>The largest Map window, whatever the rate.</summary>
    public int MaxWindow { get; init; } = 16_384;

    /// <summary>Graph tasks per core a worker may always have at once.</summary>
    public int GraphTasksPerCore { get; init; } = 16;

    /// <summary>Value-adding graph tasks in flight plus unread intermediates per core before more such tasks wait.</summary>
    public int IntermediatesPerCore { get; init; } = 64;

    /// <summary>How many more queued tasks per core a holder of a task's inputs may have before the inputs are moved instead.</summary>
    public double BusyMargin { get; init; } = 8;

    /// <summary>After this long idle, a worker's finishing rate says nothing about its next work.</summary>
    public TimeSpan StaleRate { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>Deaths of the workers running one task after which it fails instead of running again.</summary>
    public int MaxWorkerDeaths { get; init; } = 3;

    /// <summary>Times a task goes back because an input could not be fetched, before it fails.</summary>
    public int MaxInputRetries { get; init; } = 20;

    /// <summary>Throws a <see cref="FormatException"/> naming the first setting out of range.</summary>
    public CenterSettings Checked()
    {
        Require(UnclaimedKeysGrace > TimeSpan.Zero, "unclaimed-keys-grace", "a positive duration", UnclaimedKeysGrace);
        Require(RetirementTimeout is null || RetirementTimeout > TimeSpan.Zero, "retirement-timeout", "a positive duration or off", RetirementTimeout!);
        Require(MaxTasksPerMessage > 0, "max-tasks-per-message", "positive", MaxTasksPerMessage);
        Require(WindowSeconds > 0, "window-seconds", "positive", WindowSeconds);
        Require(MaxWindow > 0, "max-window", "positive", MaxWindow);
        Require(GraphTasksPerCore > 0, "graph-tasks-per-core", "positive", GraphTasksPerCore);
        Require(IntermediatesPerCore > 0, "intermediates-per-core", "positive", IntermediatesPerCore);
        Require(BusyMargin >= 0, "busy-margin", "zero or more", BusyMargin);
        Require(StaleRate > TimeSpan.Zero, "stale-rate", "a positive duration", StaleRate);
        Require(MaxWorkerDeaths > 0, "max-worker-deaths", "positive", MaxWorkerDeaths);
        Require(MaxInputRetries >= 0, "max-input-retries", "zero or more", MaxInputRetries);
        return this;
    }

    private static void Require(bool ok, string name, string what, object value)
    {
        if (!ok) throw new FormatException($"The setting distributed.center.{name} must be {what}, not {value}.");
    }
}
