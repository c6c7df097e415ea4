namespace Distributed.Protocol;

/// <summary>
/// Worker → center, every couple of seconds once registered: how the worker is doing, for the
/// dashboard and <c>/metrics</c>. The center records it beside its own state and decides nothing by
/// it. Memory and CPU count the worker process and its executor children; <see cref="CpuPercent"/> is
/// of one core (a worker busy on 4 cores shows 400). <see cref="MemoryLimit"/> is 0 when the store has
/// none. Byte counts and <see cref="ExecutorRestarts"/> (executor processes that died without being
/// stopped) are totals since the worker started.
/// </summary>
public sealed record WorkerStatus(long MemoryBytes, long MemoryLimit, long StoredBytes, long SpilledBytes, int Keys, int SpilledKeys,
    int TasksHeld, double CpuPercent, long BytesSent, long BytesReceived, long ExecutorRestarts, long TasksRun) : IProtocolMessage;
