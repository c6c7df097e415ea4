namespace Distributed.Benchmarks.Workloads;

/// <summary>
/// Stands in for <c>Pool.ReplicateAsync</c> until the library has it: an instance method of that
/// signature wins over this extension, so this file is deleted once main is merged.
/// </summary>
internal static class ReplicateShim
{
    public static Task ReplicateAsync(this Pool pool, IEnumerable<IRemoteData> data, string workerName, CancellationToken cancellation = default) =>
        throw new NotSupportedException("Pool.ReplicateAsync is not in the library yet (merge main).");
}
