using System.Buffers.Binary;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace Distributed.Benchmarks.Baselines;

/// <summary>
/// A <see cref="LoopbackSink"/> process started by this benchmark, and the near end of the
/// loopback TCP baselines: the raw cost of moving bytes, or of one small request and its answer,
/// between two processes on this machine. Stopped by its process id on dispose.
/// </summary>
public sealed class LoopbackPeer : IDisposable
{
    private readonly Process _process;

    private LoopbackPeer(Process process, int port)
    {
        _process = process;
        Port = port;
    }

    /// <summary>The sink's port on 127.0.0.1.</summary>
    public int Port { get; }

    /// <summary>Starts this program as a sink (<c>dotnet Distributed.Benchmarks.dll tcp-sink</c>) and waits for its port.</summary>
    public static async Task<LoopbackPeer> StartAsync(CancellationToken cancellation = default)
    {
        var info = new ProcessStartInfo("dotnet")
        {
            UseShellExecute = false,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
        };
        info.ArgumentList.Add(typeof(LoopbackPeer).Assembly.Location);
        info.ArgumentList.Add(LoopbackSink.Verb);
        var process = Process.Start(info) ?? throw new InvalidOperationException("Could not start the tcp-sink process.");
        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellation);
            timeout.CancelAfter(TimeSpan.FromSeconds(60));
            var line = await process.StandardOutput.ReadLineAsync(timeout.Token).ConfigureAwait(false);
            if (line is null || !line.StartsWith("port ", StringComparison.Ordinal))
                throw new InvalidOperationException($"The tcp-sink process said '{line}' instead of its port.");
            return new LoopbackPeer(process, int.Parse(line["port ".Length..], System.Globalization.CultureInfo.InvariantCulture));
        }
        catch
        {
            Stop(process);
            throw;
        }
    }

    /// <summary>Opens a connection to the sink in sink mode.</summary>
    public BulkConnection OpenBulk() => new(Connect(LoopbackSink.SinkMode));

    /// <summary>Opens a connection to the sink in echo mode.</summary>
    public EchoConnection OpenEcho() => new(Connect(LoopbackSink.EchoMode));

    private Socket Connect(byte mode)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            socket.Connect(new IPEndPoint(IPAddress.Loopback, Port));
            socket.Send([mode]);
            return socket;
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>Closes the sink's standard input (its signal to exit), then kills it by process id if it lingers.</summary>
    public void Dispose() => Stop(_process);

    private static void Stop(Process process)
    {
        using (process)
        {
            try { process.StandardInput.Close(); } catch (IOException) { }
            if (!process.WaitForExit(TimeSpan.FromSeconds(5)))
            {
                try { process.Kill(entireProcessTree: true); } catch (InvalidOperationException) { }
            }
        }
    }

    /// <summary>A connection that sends whole messages and waits until the sink has every byte.</summary>
    public sealed class BulkConnection(Socket socket) : IDisposable
    {
        /// <summary>Sends <paramref name="payload"/>; returns the time until the sink acknowledged all of it.</summary>
        public TimeSpan Send(ReadOnlySpan<byte> payload)
        {
            Span<byte> header = stackalloc byte[sizeof(long)];
            BinaryPrimitives.WriteInt64LittleEndian(header, payload.Length);
            Span<byte> ack = stackalloc byte[1];
            var watch = Stopwatch.StartNew();
            SendAll(socket, header);
            SendAll(socket, payload);
            if (!LoopbackSink.ReceiveExactly(socket, ack)) throw new IOException("The tcp-sink closed the connection.");
            return watch.Elapsed;
        }

        /// <summary>Tells the sink this connection is done, and closes it.</summary>
        public void Dispose()
        {
            try { SendAll(socket, stackalloc byte[sizeof(long)]); } catch (SocketException) { }
            socket.Dispose();
        }
    }

    /// <summary>A connection that sends small messages and waits for each to come back.</summary>
    public sealed class EchoConnection(Socket socket) : IDisposable
    {
        private readonly byte[] _message = new byte[LoopbackSink.EchoMessageBytes];

        /// <summary>One request and its answer; returns the round-trip time.</summary>
        public TimeSpan RoundTrip(long value)
        {
            BinaryPrimitives.WriteInt64LittleEndian(_message, value);
            var watch = Stopwatch.StartNew();
            SendAll(socket, _message);
            if (!LoopbackSink.ReceiveExactly(socket, _message)) throw new IOException("The tcp-sink closed the connection.");
            var elapsed = watch.Elapsed;
            if (BinaryPrimitives.ReadInt64LittleEndian(_message) != value) throw new InvalidDataException("The echo came back changed.");
            return elapsed;
        }

        /// <inheritdoc />
        public void Dispose() => socket.Dispose();
    }

    private static void SendAll(Socket socket, ReadOnlySpan<byte> bytes)
    {
        while (!bytes.IsEmpty) bytes = bytes[socket.Send(bytes)..];
    }
}
