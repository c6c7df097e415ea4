using System.Diagnostics;
using System.Globalization;

namespace Distributed.Benchmarks.Workloads;

/// <summary>
/// CPU an idle cluster burns: after the session's cluster has been quiet for a while (no task, the
/// pool connected), the user and system CPU time of the center, the workers and every process they
/// started (the executors), read from Linux's <c>/proc</c> at the start and the end of a window, as
/// % of one core. Per process in the params; per thread on standard error, to say where it goes.
/// </summary>
internal static class IdleCpu
{
    public static async Task RunAsync(DistributedSession session, BenchmarkOptions options, ResultWriter writer, CancellationToken cancellation)
    {
        if (!ProcessCpu.IsAvailable(session.CenterProcessId))
            throw new NotSupportedException("needs Linux's /proc to read the processes' CPU time.");
        var roots = new List<(string Role, int Id)> { ("dcenter", session.CenterProcessId) };
        roots.AddRange(session.Cluster.Workers.Select((w, i) => ($"dworker{i + 1}", w.Id)));

        ResultWriter.Log($"idle: settling for {options.IdleSettleSeconds} s, then measuring {options.IdleSeconds} s of an idle center, {session.Workers} workers and their executors");
        await Task.Delay(TimeSpan.FromSeconds(options.IdleSettleSeconds), cancellation);

        var before = Snapshot(roots);
        var client = ProcessCpu.Read(Environment.ProcessId);
        var watch = Stopwatch.StartNew();
        await Task.Delay(TimeSpan.FromSeconds(options.IdleSeconds), cancellation);
        var after = Snapshot(roots);
        var clientAfter = ProcessCpu.Read(Environment.ProcessId);
        var seconds = watch.Elapsed.TotalSeconds;

        // a process counts when it lived through the whole window; one that came or went is named
        var measured = before.Keys.Intersect(after.Keys).ToList();
        var perProcess = new Dictionary<string, object?>();
        double totalSeconds = 0;
        foreach (var process in measured.OrderBy(p => p.Label, StringComparer.Ordinal))
        {
            var used = after[process].Total - before[process].Total;
            totalSeconds += used.TotalSeconds;
            perProcess[process.Label] = Percent(used.TotalSeconds, seconds);
            LogThreads(process.Label, before[process], after[process], seconds);
        }
        var changed = before.Keys.Except(after.Keys).Select(p => $"{p.Label} (exited)")
            .Concat(after.Keys.Except(before.Keys).Select(p => $"{p.Label} (started)")).ToList();
        var total = Percent(totalSeconds, seconds);
        ResultWriter.Log($"idle: {total:0.00}% of one core in total over {seconds:0.0} s ({totalSeconds:0.000} CPU-s)");

        var parameters = new Dictionary<string, object?>
        {
            ["seconds"] = Math.Round(seconds, 1),
            ["settle_seconds"] = options.IdleSettleSeconds,
            ["workers"] = session.Workers,
            ["cpu_seconds"] = Math.Round(totalSeconds, 3),
            ["processes"] = perProcess,
            // the benchmark itself, a connected client member of the cluster, for comparison (not in the total)
            ["client_percent"] = Percent((clientAfter.Total - client.Total).TotalSeconds, seconds),
            ["source"] = "utime+stime of /proc/<pid>/stat, processes alive through the whole window",
        };
        if (changed.Count > 0) parameters["processes_changed"] = changed;
        writer.Write(new BenchmarkResult("idle_cpu", SystemUnderTest.Distributed, total, "% of one core",
            new Baseline("a process that sleeps", 0, "% of one core"), parameters));
    }

    private static double Percent(double cpuSeconds, double wallSeconds) => Math.Round(100 * cpuSeconds / wallSeconds, 2);

    /// <summary>The CPU of each root and of each of its descendants now, labelled by role (an executor by its worker).</summary>
    private static Dictionary<MeasuredProcess, ProcessCpu.Reading> Snapshot(IReadOnlyList<(string Role, int Id)> roots)
    {
        var children = ProcessCpu.ChildrenByParent();
        var readings = new Dictionary<MeasuredProcess, ProcessCpu.Reading>();
        foreach (var (role, id) in roots)
        {
            var pending = new Stack<(int Id, string Label)>();
            pending.Push((id, role));
            while (pending.TryPop(out var next))
            {
                if (ProcessCpu.TryRead(next.Id) is { } reading) readings[new MeasuredProcess(next.Id, next.Label)] = reading;
                foreach (var child in children.GetValueOrDefault(next.Id, []))
                    pending.Push((child, $"{role} child {child}"));
            }
        }
        return readings;
    }

    /// <summary>Logs where a process's CPU went, by thread name (a pool's threads share one), busiest first.</summary>
    private static void LogThreads(string label, ProcessCpu.Reading before, ProcessCpu.Reading after, double seconds)
    {
        var byName = after.Threads
            .Select(t => (t.Value.Name, Used: t.Value.Used - (before.Threads.TryGetValue(t.Key, out var b) ? b.Used : TimeSpan.Zero)))
            .GroupBy(t => t.Name, StringComparer.Ordinal)
            .Select(g => (Name: g.Key, Count: g.Count(), Busy: g.Count(t => t.Used > TimeSpan.Zero), Used: g.Sum(t => t.Used.TotalSeconds)))
            .Where(g => g.Used > 0)
            .OrderByDescending(g => g.Used)
            .Select(g => $"{g.Name} ({g.Busy} of {g.Count} busy) {Percent(g.Used, seconds):0.00}%");
        var total = Percent((after.Total - before.Total).TotalSeconds, seconds);
        ResultWriter.Log($"idle: {label}: {total:0.00}%; by thread: {string.Join(", ", byName)}");
    }

    private sealed record MeasuredProcess(int Id, string Label);
}

/// <summary>CPU time of processes and their threads from Linux's <c>/proc</c>.</summary>
internal static class ProcessCpu
{
    /// <summary>
    /// The unit of the times in <c>/proc/*/stat</c> (USER_HZ): 100 on every architecture Linux runs
    /// .NET on (the kernel scales its own tick rate to it for user space).
    /// </summary>
    private const double TicksPerSecond = 100;

    /// <summary>A process's user + system time, and each live thread's, with its name.</summary>
    public sealed record Reading(TimeSpan Total, IReadOnlyDictionary<int, (string Name, TimeSpan Used)> Threads);

    public static bool IsAvailable(int processId) => File.Exists($"/proc/{processId}/stat");

    public static Reading Read(int processId) =>
        TryRead(processId) ?? throw new InvalidOperationException($"process {processId} is gone.");

    /// <summary>The process's reading, or null when it exited meanwhile.</summary>
    public static Reading? TryRead(int processId)
    {
        try
        {
            var (_, _, total) = Parse(File.ReadAllText($"/proc/{processId}/stat"));
            var threads = new Dictionary<int, (string, TimeSpan)>();
            foreach (var task in Directory.EnumerateDirectories($"/proc/{processId}/task"))
            {
                try
                {
                    var (name, _, used) = Parse(File.ReadAllText(Path.Combine(task, "stat")));
                    threads[int.Parse(Path.GetFileName(task), CultureInfo.InvariantCulture)] = (name, used);
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException) { } // the thread ended meanwhile
            }
            return new Reading(total, threads);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    /// <summary>Every process's children, by parent id (the 4th field of its stat).</summary>
    public static Dictionary<int, List<int>> ChildrenByParent()
    {
        var children = new Dictionary<int, List<int>>();
        foreach (var directory in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(directory), NumberStyles.None, CultureInfo.InvariantCulture, out var id)) continue;
            try
            {
                var (_, parent, _) = Parse(File.ReadAllText(Path.Combine(directory, "stat")));
                if (!children.TryGetValue(parent, out var list)) children[parent] = list = [];
                list.Add(id);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
        }
        return children;
    }

    /// <summary>
    /// Name, parent id and utime + stime of a <c>stat</c> line. The name is in parentheses and may hold
    /// spaces and parentheses itself (.NET names threads ".NET TP Worker"), so the fields are counted after the last ')'.
    /// </summary>
    internal static (string Name, int Parent, TimeSpan Used) Parse(string stat)
    {
        var open = stat.IndexOf('(', StringComparison.Ordinal);
        var close = stat.LastIndexOf(')');
        var name = stat[(open + 1)..close];
        // after the name: state(3) ppid(4) pgrp session tty_nr tpgid flags minflt cminflt majflt cmajflt utime(14) stime(15)
        var fields = stat[(close + 2)..].Split(' ');
        var parent = int.Parse(fields[1], CultureInfo.InvariantCulture);
        var ticks = long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture);
        return (name, parent, TimeSpan.FromSeconds(ticks / TicksPerSecond));
    }
}
