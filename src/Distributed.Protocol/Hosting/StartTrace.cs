using System.Diagnostics;

namespace Distributed.Protocol.Hosting;

/// <summary>
/// Timestamps of the start path on standard error, when <c>DISTRIBUTED_START_TRACE</c> is set: each
/// line gives the wall clock (to line up the processes of one cluster), the milliseconds since this
/// process started (the runtime's own start included) and the phase reached. Off, it costs one check.
/// </summary>
public static class StartTrace
{
    /// <summary>The environment variable that turns the trace on.</summary>
    public const string EnvironmentVariable = "DISTRIBUTED_START_TRACE";

    /// <summary>Whether the trace is on (the environment variable is set).</summary>
    public static bool Enabled { get; } = !string.IsNullOrEmpty(Environment.GetEnvironmentVariable(EnvironmentVariable));

    /// <summary>Writes one line for <paramref name="phase"/> when the trace is on.</summary>
    public static void Mark(string phase)
    {
        if (!Enabled) return;
        var now = DateTime.Now;
        using var self = Process.GetCurrentProcess();
        var sinceStart = (now - self.StartTime).TotalMilliseconds;
        Console.Error.WriteLine($"[start-trace] {now:HH:mm:ss.fff} pid {Environment.ProcessId} +{sinceStart,6:0} ms {phase}");
    }
}
