namespace Distributed.Protocol;

/// <summary>
/// When, and on which of its executor's threads, a task ran: <see cref="System.Diagnostics.Stopwatch"/>
/// timestamps of the worker's machine (one clock for the worker and its executors). The default is
/// "not known" (a task that failed before it ran, say).
/// </summary>
public readonly record struct TaskRun(int Slot, long Started, long Finished)
{
    /// <summary>Whether the executor timed it.</summary>
    public bool Known => Finished != 0;
}

/// <summary>One task's run as the center places it: its thread, and when it started and ended, in milliseconds before the report came.</summary>
public readonly record struct TaskRunAgo(int Slot, double StartedMsAgo, double FinishedMsAgo);

/// <summary>
/// The runs of a report's tasks (<see cref="TasksFinished.Times"/>), for the dashboard's task stream
/// per worker thread. It rides on every report, so it is small: per task, its thread (plus one, 0:
/// not known), how long before the report it ended and how long it ran, in units of 100 µs, as 7-bit
/// encoded integers: 3 to 5 bytes a task. Times before the report rather than clock readings, since
/// the center's clock is another machine's.
/// </summary>
public static class TaskTimes
{
    /// <summary>Stopwatch ticks in one unit of the encoding (100 µs).</summary>
    private static readonly long TicksPerUnit = Math.Max(1, System.Diagnostics.Stopwatch.Frequency / 10_000);

    /// <summary>The encoding of <paramref name="runs"/>, reported at <paramref name="now"/> (a Stopwatch timestamp).</summary>
    public static byte[] Encode(IReadOnlyList<TaskRun> runs, long now)
    {
        var buffer = new byte[runs.Count * 12];
        var at = 0;
        foreach (var run in runs)
        {
            if (!run.Known)
            {
                buffer[at++] = 0;
                continue;
            }
            at = Write(buffer, at, (ulong)run.Slot + 1);
            at = Write(buffer, at, (ulong)Math.Max(0, (now - run.Finished) / TicksPerUnit));
            at = Write(buffer, at, (ulong)Math.Max(0, (run.Finished - run.Started) / TicksPerUnit));
        }
        return buffer[..at];
    }

    /// <summary>
    /// The runs of a report of <paramref name="count"/> tasks (slot -1 where not known), or null when
    /// <paramref name="times"/> is not such an encoding: a worker's word, only shown, never trusted further.
    /// </summary>
    public static TaskRunAgo[]? Decode(byte[] times, int count)
    {
        var runs = new TaskRunAgo[count];
        var at = 0;
        for (var i = 0; i < count; i++)
        {
            if (!Read(times, ref at, out var slot)) return null;
            if (slot == 0)
            {
                runs[i] = new TaskRunAgo(-1, 0, 0);
                continue;
            }
            if (slot > int.MaxValue || !Read(times, ref at, out var finishedAgo) || !Read(times, ref at, out var duration)) return null;
            var finished = finishedAgo / 10.0;
            runs[i] = new TaskRunAgo((int)slot - 1, finished + duration / 10.0, finished);
        }
        return at == times.Length ? runs : null;
    }

    private static int Write(byte[] buffer, int at, ulong value)
    {
        while (value >= 0x80)
        {
            buffer[at++] = (byte)(value | 0x80);
            value >>= 7;
        }
        buffer[at++] = (byte)value;
        return at;
    }

    private static bool Read(byte[] buffer, ref int at, out ulong value)
    {
        value = 0;
        for (var shift = 0; shift < 64; shift += 7)
        {
            if (at >= buffer.Length) return false;
            var b = buffer[at++];
            value |= (ulong)(b & 0x7F) << shift;
            if (b < 0x80) return true;
        }
        return false;
    }
}
