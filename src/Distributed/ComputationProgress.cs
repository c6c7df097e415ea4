namespace Distributed;

/// <summary>
/// How far one computation (a Map, a SubmitMap, a graph Get) has come, reported through an
/// <see cref="IProgress{T}"/> as its tasks end: at most once per message from the center, never per task.
/// </summary>
/// <example>
/// <code>
/// var progress = new Progress&lt;ComputationProgress&gt;(p => Console.Write($"\r{p.Done}/{p.Total}"));
/// var squares = await pool.MapAsync(x => x * x, Enumerable.Range(0, 1_000), progress: progress);
/// </code>
/// </example>
/// <param name="Total">Tasks in the computation (a graph's: every task, intermediates included).</param>
/// <param name="Done">Tasks finished.</param>
/// <param name="Failed">Tasks failed, or dropped because an input failed or was cancelled.</param>
/// <param name="ResultBytes">Bytes of the results made so far, on the workers.</param>
public sealed record ComputationProgress(int Total, int Done, int Failed, long ResultBytes)
{
    /// <summary>Whether every task has ended.</summary>
    /// <example>
    /// <code>
    /// var progress = new Progress&lt;ComputationProgress&gt;(p => { if (p.IsComplete) Console.WriteLine($"done, {p.Failed} failed"); });
    /// await pool.MapAsync(x => x * 2, Enumerable.Range(0, 100), progress: progress);
    /// </code>
    /// </example>
    public bool IsComplete => Done + Failed >= Total;
}

/// <summary>Every client's progress as the center counts it (graphs' intermediates included), and this pool's own entry.</summary>
/// <param name="Clients">One entry per client connected now.</param>
/// <param name="Mine">The asking pool's entry.</param>
/// <example>
/// <code>
/// ClusterProgress progress = await pool.ProgressAsync(cancellation);
/// foreach (var client in progress.Clients) Console.WriteLine($"{client.Client}: {client.Finished}/{client.Submitted}");
/// </code>
/// </example>
public sealed record ClusterProgress(IReadOnlyList<Protocol.ClientProgress> Clients, Protocol.ClientProgress? Mine);
