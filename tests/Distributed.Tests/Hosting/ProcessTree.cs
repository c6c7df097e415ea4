namespace Distributed.Tests.Hosting;

/// <summary>The child processes of a process (a worker's executors), read from /proc, and killing one by id.</summary>
public static class ProcessTree
{
    /// <summary>The ids of the direct children of <paramref name="processId"/>, over all its threads.</summary>
    public static List<int> ChildrenOf(int processId) =>
        Directory.GetDirectories($"/proc/{processId}/task")
            .SelectMany(task => File.ReadAllText(Path.Combine(task, "children")).Split(' ', StringSplitOptions.RemoveEmptyEntries))
            .Select(int.Parse)
            .ToList();

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
