namespace Distributed.Tests.Simulation;

/// <summary>A clock that moves only when the simulation moves it.</summary>
internal sealed class ManualClock : TimeProvider
{
    private static readonly DateTimeOffset Epoch = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);
    private long _ticks = TimeSpan.TicksPerSecond; // not 0: the center reads 0 as "never"

    public TimeSpan Now => TimeSpan.FromTicks(_ticks);
    public override long TimestampFrequency => TimeSpan.TicksPerSecond;
    public override long GetTimestamp() => _ticks;
    public override DateTimeOffset GetUtcNow() => Epoch.AddTicks(_ticks);
    public void Advance(TimeSpan by) => _ticks += by.Ticks;
}
