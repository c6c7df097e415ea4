using System.Buffers.Binary;
using Distributed.Data;

namespace Distributed.Tests.Data;

/// <summary>Builds data-channel bytes by hand and reads them with the server's request reader, for the frame tests.</summary>
internal static class DataFrameBytes
{
    public static readonly DataChannelSettings Settings = DataChannelSettings.Default;

    public static byte[] Int32(int value)
    {
        var bytes = new byte[4];
        BinaryPrimitives.WriteInt32LittleEndian(bytes, value);
        return bytes;
    }

    public static byte[] Int64(long value)
    {
        var bytes = new byte[8];
        BinaryPrimitives.WriteInt64LittleEndian(bytes, value);
        return bytes;
    }

    /// <summary>A connection's bytes: a client's peer kind, then an <paramref name="op"/> frame around <paramref name="payload"/>.</summary>
    public static byte[] ClientFrame(byte op, params byte[][] payload)
    {
        var body = payload.SelectMany(p => p).ToArray();
        return [(byte)PeerKind.Client, op, .. Int32(body.Length), .. body];
    }

    /// <summary>Reads a connection's peer kind (a client's) and its first request.</summary>
    public static async Task<DataRequest?> ReadOneAsync(byte[] connection, DataChannelSettings? settings = null)
    {
        var reader = new DataRequestReader(new MemoryStream(connection), settings ?? Settings);
        Assert.Equal(PeerKind.Client, await reader.ReadKindAsync(default));
        await reader.WaitForRequestAsync(default);
        return await reader.ReadAsync(default);
    }

    /// <summary>The message of the <see cref="DataFrameException"/> reading the connection's first request raises.</summary>
    public static async Task<string> RejectedAsync(byte[] connection, DataChannelSettings? settings = null) =>
        (await Assert.ThrowsAsync<DataFrameException>(() => ReadOneAsync(connection, settings))).Message;
}
