namespace Distributed.Data;

/// <summary>
/// Limits of a worker's data channel, on the serving side and on the fetching side: how many
/// connections a server keeps, how long a silent one may stay, and the largest count or length
/// either side accepts from the wire before it allocates anything for it.
/// </summary>
public sealed record DataChannelSettings
{
    /// <summary>The settings a worker and a client use unless told otherwise.</summary>
    public static DataChannelSettings Default { get; } = new();

    /// <summary>Connections a server keeps open at once; past it a new peer takes the place of the least recently active idle one.</summary>
    public int MaxConnections { get; init; } = 4096;

    /// <summary>How long a connection may move no byte before the server closes it.</summary>
    public TimeSpan IdleTimeout { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>How long a peer has to complete the TLS handshake.</summary>
    public TimeSpan HandshakeTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>The largest request frame (its payload, in bytes); a client splits larger requests.</summary>
    public int MaxRequestBytes { get; init; } = 4 << 20;

    /// <summary>The most keys one request may name; a client splits larger requests.</summary>
    public int MaxKeysPerRequest { get; init; } = 65_536;

    /// <summary>The longest key, in UTF-8 bytes.</summary>
    public int MaxKeyBytes { get; init; } = 64 << 10;

    /// <summary>The longest type name of a value, in UTF-8 bytes.</summary>
    public int MaxTypeNameBytes { get; init; } = 64 << 10;

    /// <summary>
    /// The largest value a fetcher accepts: by default the memory this process may use, since a fetched
    /// value is held in memory (values over 1 GiB in chunks, each allocated as its bytes arrive).
    /// </summary>
    public long MaxValueBytes { get; init; } = GC.GetGCMemoryInfo().TotalAvailableMemoryBytes;

    /// <summary>
    /// Whether a worker fetching a value from a worker on the same machine asks for a reference to the
    /// shared segment it lives in instead of its bytes, and whether a worker serving one answers such a
    /// request with references (<c>distributed.worker.same-host-sharing</c>). Either side off: the bytes
    /// travel over the channel, as between machines.
    /// </summary>
    public bool SameHostSharing { get; init; } = true;

    /// <summary>
    /// References one connection may hold at once (each keeps a value's segment from being reused until the
    /// peer says it has copied it, or the connection closes); past it the values' bytes are sent instead.
    /// </summary>
    public int MaxSharedLeasesPerConnection { get; init; } = 16;

    /// <summary>References all connections of a server may hold at once; past it the values' bytes are sent instead.</summary>
    public int MaxSharedLeases { get; init; } = 64;
}
