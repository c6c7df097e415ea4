using System.Diagnostics;
using System.Globalization;
using Distributed.Data;
using Distributed.Protocol;

namespace Distributed.Worker;

/// <summary>
/// Measures a worker for its <see cref="WorkerStatus"/>: the store's bytes and counts, and the memory
/// and CPU of the worker process with its executor children (the children run the tasks, so the
/// worker alone would show an idle process). On Linux it reads <c>/proc</c>; elsewhere it counts the
/// worker process only.
/// </summary>
internal sealed class WorkerStatusProbe(DataStore store, TransferCounters counters)
{
    private const double ClockTicksPerSecond = 100; // USER_HZ, 100 on every Linux the runtime supports
    private readonly Dictionary<int, long> _lastTicks = [];
    private long _lastTimestamp = Stopwatch.GetTimestamp();
    private bool _measuredOnce;

    /// <summary>Executor processes that died without being told to stop.</summary>
    public long ExecutorRestarts { get; set; }

    /// <summary>The status now; the CPU share is over the time since the previous call.</summary>
    public WorkerStatus Measure(int tasksHeld)
    {
        var usage = store.Usage();
        var now = Stopwatch.GetTimestamp();
        var seconds = Stopwatch.GetElapsedTime(_lastTimestamp, now).TotalSeconds;
        _lastTimestamp = now;
        var (memory, cpuTicks) = MeasureProcesses();
        _measuredOnce = true;
        var cpuPercent = seconds > 0 ? Math.Min(100.0 * Environment.ProcessorCount, 100.0 * cpuTicks / ClockTicksPerSecond / seconds) : 0;
        return new WorkerStatus(memory, store.MemoryLimit == long.MaxValue ? 0 : store.MemoryLimit, usage.Bytes, usage.SpilledBytes, usage.Count, usage.SpilledCount,
            tasksHeld, Math.Round(cpuPercent, 1), counters.SentToWorkers + counters.SentToClients, counters.ReceivedFromWorkers, ExecutorRestarts, counters.TasksRun);
    }

    /// <summary>Resident bytes of this process and its children, and the CPU ticks they used since the last call.</summary>
    private (long Memory, long CpuTicks) MeasureProcesses()
    {
        var self = Environment.ProcessId;
        if (!OperatingSystem.IsLinux())
        {
            using var process = Process.GetCurrentProcess();
            var total = (long)(process.TotalProcessorTime.TotalSeconds * ClockTicksPerSecond);
            return (process.WorkingSet64, Delta(self, total));
        }
        long memory = 0, ticks = 0;
        var seen = new HashSet<int>();
        foreach (var pid in Children(self).Prepend(self))
        {
            if (!seen.Add(pid) || ReadProcess(pid) is not { } measured) continue;
            memory += measured.Resident;
            ticks += Delta(pid, measured.Ticks);
        }
        foreach (var gone in _lastTicks.Keys.Where(p => !seen.Contains(p)).ToList()) _lastTicks.Remove(gone);
        return (memory, ticks);
    }

    private long Delta(int pid, long total)
    {
        // A child seen for the first time started since the last call, so all its time is new; on the
        // first call nothing is (there is no interval yet).
        var delta = total - (_lastTicks.TryGetValue(pid, out var last) ? last : _measuredOnce ? 0 : total);
        _lastTicks[pid] = total;
        return Math.Max(0, delta);
    }

    private static IEnumerable<int> Children(int pid)
    {
        string[] threads;
        try { threads = Directory.GetDirectories($"/proc/{pid}/task"); }
        catch (IOException) { yield break; }
        catch (UnauthorizedAccessException) { yield break; }
        foreach (var thread in threads)
        {
            string text;
            try { text = File.ReadAllText(Path.Combine(thread, "children")); }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException) { continue; }
            foreach (var child in text.Split(' ', StringSplitOptions.RemoveEmptyEntries))
                if (int.TryParse(child, NumberStyles.None, CultureInfo.InvariantCulture, out var id)) yield return id;
        }
    }

    private static (long Resident, long Ticks)? ReadProcess(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            // The command name is in parentheses and may hold spaces: the fields count from after it.
            var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            var ticks = long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture);
            var residentPages = long.Parse(fields[21], CultureInfo.InvariantCulture);
            return (residentPages * Environment.SystemPageSize, ticks);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException or IndexOutOfRangeException or OverflowException)
        {
            return null; // gone meanwhile
        }
    }
}
