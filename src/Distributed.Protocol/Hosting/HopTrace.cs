using System.Collections.Concurrent;
using System.Diagnostics;

namespace Distributed.Protocol.Hosting;

/// <summary>
/// Where a task's time goes inside one process, when <c>DISTRIBUTED_HOP_TRACE</c> is set: a task's key
/// is marked when it arrives (<see cref="Begin"/>), and each later step records the time since the
/// mark before it (<see cref="Lap"/>). Every <see cref="ReportEvery"/> laps of a step, one line gives
/// their median, 90th percentile and mean in microseconds: on standard error when the variable is 1,
/// else appended to the file it names (a local cluster keeps its children's standard error to itself).
/// <see cref="Count"/> summarizes sizes the same way (tasks per message, bytes per frame). Off, it costs one check.
/// </summary>
public static class HopTrace
{
    /// <summary>The environment variable that turns the trace on.</summary>
    public const string EnvironmentVariable = "DISTRIBUTED_HOP_TRACE";

    /// <summary>Laps of one step summarized per line.</summary>
    public const int ReportEvery = 1000;

    /// <summary>Whether the trace is on (the environment variable is set).</summary>
    public static bool Enabled { get; } = !string.IsNullOrEmpty(Environment.GetEnvironmentVariable(EnvironmentVariable));

    private static readonly string? OutputFile = Environment.GetEnvironmentVariable(EnvironmentVariable) is { Length: > 0 } value && value != "1" ? value : null;

    private static readonly ConcurrentDictionary<string, long> Marks = new(StringComparer.Ordinal);
    private static readonly ConcurrentDictionary<string, List<double>> Laps = new(StringComparer.Ordinal);

    /// <summary>Marks <paramref name="key"/> as arrived now.</summary>
    public static void Begin(string key)
    {
        if (Enabled) Marks[key] = Stopwatch.GetTimestamp();
    }

    /// <summary>Records the time since <paramref name="key"/>'s last mark as a lap of <paramref name="step"/>, and marks it again; the last step of a process forgets it.</summary>
    public static void Lap(string key, string step, bool last = false)
    {
        if (!Enabled) return;
        var now = Stopwatch.GetTimestamp();
        if (!(last ? Marks.TryRemove(key, out var before) : Marks.TryGetValue(key, out before))) return;
        if (!last) Marks[key] = now;
        Record(step, Stopwatch.GetElapsedTime(before, now).TotalMicroseconds);
    }

    /// <summary>Records how long <paramref name="step"/> took since <paramref name="started"/> (a <see cref="Stopwatch.GetTimestamp"/>).</summary>
    public static void Since(long started, string step)
    {
        if (Enabled) Record(step, Stopwatch.GetElapsedTime(started).TotalMicroseconds);
    }

    /// <summary>
    /// Writes one line at once for a rare, long step (a large value mapped, copied or received) that
    /// began at <paramref name="started"/> (a <see cref="Stopwatch.GetTimestamp"/>): too few to summarize per thousand.
    /// </summary>
    public static void Once(long started, string step)
    {
        if (Enabled) Write($"[hop-trace] pid {Environment.ProcessId} {step}: {Stopwatch.GetElapsedTime(started).TotalMilliseconds:0.00} ms");
    }

    /// <summary>Records how many items (tasks, results) one message of <paramref name="step"/> carried: how well messages batch.</summary>
    public static void Count(string step, int items)
    {
        if (Enabled) Record(step, items, "");
    }

    private static void Write(string line)
    {
        if (OutputFile is null) Console.Error.WriteLine(line);
        else lock (Marks) File.AppendAllLines(OutputFile, [line]);
    }

    private static void Record(string step, double microseconds, string unit = " us")
    {
        var laps = Laps.GetOrAdd(step, _ => new List<double>(ReportEvery));
        double[]? full = null;
        lock (laps)
        {
            laps.Add(microseconds);
            if (laps.Count >= ReportEvery)
            {
                full = [.. laps];
                laps.Clear();
            }
        }
        if (full is null) return;
        Array.Sort(full);
        var line = $"[hop-trace] pid {Environment.ProcessId} {step}: n {full.Length} median {full[full.Length / 2]:0.0}{unit} p90 {full[full.Length * 9 / 10]:0.0}{unit} mean {full.Average():0.0}{unit}";
        Write(line);
    }
}
