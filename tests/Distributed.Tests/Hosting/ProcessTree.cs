namespace Distributed.Tests.Hosting;

/// <summary>The child processes of a process (a worker's executors), read from /proc, and killing one by id.</summary>
public static class ProcessTree
{
    /// <summary>The ids of the direct children of <paramref name="processId"/>, over all its threads.</summary>
    public static List<int> ChildrenOf(int processId) =>
        Directory.GetDirectories($"/proc/{processId}/task")
            .SelectMany(task => ChildrenText(task).Split(' ', StringSplitOptions.RemoveEmptyEntries))
            .Select(int.Parse)
            .Distinct()
            .ToList();

    private static string ChildrenText(string task)
    {
        try { return File.ReadAllText(Path.Combine(task, "children")); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return ""; } // the thread ended meanwhile
    }

    /// <summary>Kills the process <paramref name="processId"/>; one already gone is no error.</summary>
    public static void Kill(int processId)
    {
        try
        {
            using var process = System.Diagnostics.Process.GetProcessById(processId);
            process.Kill();
        }
        catch (Exception e) when (e is ArgumentException or InvalidOperationException) { } // gone already
    }
}
