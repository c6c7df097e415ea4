using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;

namespace Distributed.Benchmarks.Baselines;

/// <summary>
/// The far end of the loopback TCP baselines, run in its own process (the hidden <c>tcp-sink</c> verb
/// of this program) so that the bytes really cross from one process to another, as they do between
/// two workers. It listens on 127.0.0.1 at a free port, prints <c>port N</c>, and serves each
/// connection in one of two modes, chosen by the connection's first byte:
/// <list type="bullet">
/// <item><c>'S'</c> (sink): repeatedly an 8-byte length, then that many bytes, received into a fresh
/// buffer, answered by one byte once all have arrived; a length of 0 ends the connection.</item>
/// <item><c>'E'</c> (echo): 8-byte messages sent straight back, until the peer closes.</item>
/// </list>
/// It exits when its standard input closes, i.e. when the benchmark that started it ends.
/// </summary>
public static class LoopbackSink
{
    /// <summary>The hidden verb that runs the sink.</summary>
    public const string Verb = "tcp-sink";

    internal const byte SinkMode = (byte)'S';
    internal const byte EchoMode = (byte)'E';
    internal const int EchoMessageBytes = 8;

    /// <summary>Runs the sink until standard input closes.</summary>
    public static int Run()
    {
        using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        listener.Listen(16);
        Console.WriteLine($"port {((IPEndPoint)listener.LocalEndPoint!).Port}");
        Console.Out.Flush();

        var acceptor = new Thread(() => AcceptLoop(listener)) { IsBackground = true, Name = "tcp-sink accept" };
        acceptor.Start();
        // The parent holds our standard input: when it closes (or dies), we are done.
        Console.In.ReadToEnd();
        return 0;
    }

    private static void AcceptLoop(Socket listener)
    {
        while (true)
        {
            Socket connection;
            try { connection = listener.Accept(); }
            catch (SocketException) { return; }
            catch (ObjectDisposedException) { return; }
            connection.NoDelay = true;
            new Thread(() => Serve(connection)) { IsBackground = true, Name = "tcp-sink connection" }.Start();
        }
    }

    private static void Serve(Socket connection)
    {
        using (connection)
        {
            try
            {
                Span<byte> mode = stackalloc byte[1];
                if (connection.Receive(mode) != 1) return;
                if (mode[0] == SinkMode) Sink(connection);
                else if (mode[0] == EchoMode) Echo(connection);
            }
            catch (SocketException)
            {
                // the benchmark went away; nothing to clean up
            }
        }
    }

    private static void Sink(Socket connection)
    {
        var header = new byte[sizeof(long)];
        while (ReceiveExactly(connection, header))
        {
            var length = BinaryPrimitives.ReadInt64LittleEndian(header);
            if (length == 0) return;
            // A fresh buffer for every message, as a receiver of a new value needs.
            var buffer = GC.AllocateUninitializedArray<byte>(checked((int)length));
            if (!ReceiveExactly(connection, buffer)) return;
            connection.Send([1]);
        }
    }

    private static void Echo(Socket connection)
    {
        var message = new byte[EchoMessageBytes];
        while (ReceiveExactly(connection, message)) connection.Send(message);
    }

    /// <summary>Fills <paramref name="buffer"/>; false when the peer closed first.</summary>
    internal static bool ReceiveExactly(Socket socket, Span<byte> buffer)
    {
        var received = 0;
        while (received < buffer.Length)
        {
            var n = socket.Receive(buffer[received..]);
            if (n == 0) return false;
            received += n;
        }
        return true;
    }
}
