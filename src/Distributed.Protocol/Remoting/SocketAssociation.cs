using System.Buffers;
using System.Buffers.Binary;
using System.Net.Security;
using System.Net.Sockets;
using Akka.Actor;
using Akka.Event;
using Akka.Remote.Transport;
using Google.Protobuf;

namespace Distributed.Protocol.Remoting;

/// <summary>
/// One connection of <see cref="SocketTransport"/>: Akka's frames out (queued, and written by whichever
/// thread finds the connection idle, several frames to one send) and in (handed to Akka's listener once
/// it has registered, nothing read before). Closing sends what is queued, says so to the peer (TLS
/// close_notify, then FIN) and waits a little for the peer's end, so that the last frames are not lost
/// to a reset.
/// </summary>
internal sealed class SocketAssociation : AssociationHandle
{
    private const int BufferBytes = 64 * 1024;
    private const int LargeFrameStepBytes = 1024 * 1024;

    private readonly SocketTransport _transport;
    private readonly Socket _socket;
    private readonly Stream _stream;
    private readonly Lock _gate = new();
    private readonly Queue<ByteString> _pending = new();
    private readonly TaskCompletionSource _writesDone = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _readsDone = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _closed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private bool _writing;
    private bool _closing;
    private bool _failed;
    private int _aborted;

    public SocketAssociation(SocketTransport transport, Socket socket, Stream stream, Address localAddress, Address remoteAddress)
        : base(localAddress, remoteAddress)
    {
        _transport = transport;
        _socket = socket;
        _stream = stream;
        _ = ReadLoopAsync();
    }

    /// <summary>Completes when the connection is closed; null while nobody has asked it to close.</summary>
    public Task? Draining
    {
        get
        {
            lock (_gate) return _closing ? _closed.Task : null;
        }
    }

    /// <inheritdoc />
    public override bool Write(ByteString payload)
    {
        lock (_gate)
        {
            if (_closing || _failed) return false;
            _pending.Enqueue(payload);
            if (_writing) return true;
            _writing = true;
        }
        _ = WriteLoopAsync();
        return true;
    }

#pragma warning disable CS0672 // Akka's transports implement the obsolete overload; the one with a reason calls it.
    /// <inheritdoc />
    public override void Disassociate()
#pragma warning restore CS0672
    {
        bool writing;
        lock (_gate)
        {
            if (_closing) return;
            _closing = true;
            writing = _writing;
        }
        _ = CloseGracefullyAsync(writing);
    }

    /// <summary>Closes the connection at once.</summary>
    public void Abort()
    {
        if (Interlocked.Exchange(ref _aborted, 1) != 0) return;
        lock (_gate) _failed = true;
        try { _stream.Dispose(); }
        catch (Exception e) when (e is not OutOfMemoryException) { } // a TLS stream may fail to say goodbye
        _socket.Dispose();
        _transport.Forget(this);
        _closed.TrySetResult();
    }

    private async Task CloseGracefullyAsync(bool writing)
    {
        try
        {
            if (writing) await Task.WhenAny(_writesDone.Task, Task.Delay(_transport.FlushWait)).ConfigureAwait(false);
            using var shutdown = new CancellationTokenSource(_transport.FlushWait);
            if (_stream is SslStream tls) await tls.ShutdownAsync().WaitAsync(shutdown.Token).ConfigureAwait(false);
            _socket.Shutdown(SocketShutdown.Send);
            // The peer's own close ends the read loop; a peer that never closes is cut off after the wait.
            await Task.WhenAny(_readsDone.Task, Task.Delay(_transport.FlushWait)).ConfigureAwait(false);
        }
        catch (Exception e) when (e is not OutOfMemoryException) { } // closing anyway
        finally
        {
            Abort();
        }
    }

    private async Task WriteLoopAsync()
    {
        var buffer = ArrayPool<byte>.Shared.Rent(BufferBytes);
        try
        {
            while (true)
            {
                var used = 0;
                while (true)
                {
                    ByteString? next;
                    lock (_gate)
                    {
                        if (!_pending.TryDequeue(out next))
                        {
                            if (used > 0) break;
                            _writing = false;
                            if (_closing) _writesDone.TrySetResult();
                            return;
                        }
                    }
                    var frame = 4 + next.Length;
                    if (frame > buffer.Length - used && used > 0)
                    {
                        await _stream.WriteAsync(buffer.AsMemory(0, used)).ConfigureAwait(false);
                        used = 0;
                    }
                    if (frame <= buffer.Length - used)
                    {
                        BinaryPrimitives.WriteInt32LittleEndian(buffer.AsSpan(used), next.Length);
                        next.Span.CopyTo(buffer.AsSpan(used + 4));
                        used += frame;
                    }
                    else
                    {
                        // Larger than the buffer: its length, then the payload as it is.
                        BinaryPrimitives.WriteInt32LittleEndian(buffer, next.Length);
                        await _stream.WriteAsync(buffer.AsMemory(0, 4)).ConfigureAwait(false);
                        await _stream.WriteAsync(next.Memory).ConfigureAwait(false);
                    }
                }
                await _stream.WriteAsync(buffer.AsMemory(0, used)).ConfigureAwait(false);
            }
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            if (e is not (IOException or SocketException or ObjectDisposedException))
                _transport.Log.Warning("Writing to {0} failed: {1}", RemoteAddress, e.Message);
            lock (_gate)
            {
                _writing = false;
                _pending.Clear();
            }
            _writesDone.TrySetResult();
            // The read loop ends on the closed socket and tells Akka the association is gone.
            Abort();
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private async Task ReadLoopAsync()
    {
        // Nothing is read before Akka registers its listener: the peer waits in the socket's buffers.
        await Task.WhenAny(ReadHandlerSource.Task, _closed.Task).ConfigureAwait(false);
        if (!ReadHandlerSource.Task.IsCompletedSuccessfully)
        {
            _readsDone.TrySetResult();
            Abort();
            return;
        }
        var listener = ReadHandlerSource.Task.Result;
        var buffer = new byte[BufferBytes];
        int start = 0, end = 0;
        try
        {
            while (true)
            {
                while (end - start < 4)
                {
                    if (!await FillAsync()) return;
                }
                var length = BinaryPrimitives.ReadInt32LittleEndian(buffer.AsSpan(start));
                if (length < 0 || length > _transport.MaximumFrameBytes)
                {
                    _transport.Log.Warning("Closed the connection with {0}: it announced a frame of {1} bytes (at most {2}).", RemoteAddress, length, _transport.MaximumFrameBytes);
                    return;
                }
                start += 4;
                // A large frame grows as its bytes arrive: a peer announcing one cannot make us allocate it up front.
                var frame = new byte[Math.Min(length, LargeFrameStepBytes)];
                var filled = Math.Min(length, end - start);
                if (filled > frame.Length) frame = new byte[length];
                buffer.AsSpan(start, filled).CopyTo(frame);
                start += filled;
                while (filled < length)
                {
                    if (filled == frame.Length) Array.Resize(ref frame, (int)Math.Min(length, 2L * frame.Length));
                    var read = await _stream.ReadAsync(frame.AsMemory(filled)).ConfigureAwait(false);
                    if (read == 0) return;
                    filled += read;
                }
                if (start == end) start = end = 0;
                if (!Volatile.Read(ref _closing)) listener.Notify(new InboundPayload(UnsafeByteOperations.UnsafeWrap(frame)));
            }
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            if (e is not (IOException or SocketException or ObjectDisposedException or OperationCanceledException))
                _transport.Log.Warning("Reading from {0} failed: {1}", RemoteAddress, e.Message);
        }
        finally
        {
            _readsDone.TrySetResult();
            listener.Notify(new Disassociated(DisassociateInfo.Unknown));
            Abort();
        }

        async Task<bool> FillAsync()
        {
            if (start > 0 && end == buffer.Length)
            {
                buffer.AsSpan(start, end - start).CopyTo(buffer);
                end -= start;
                start = 0;
            }
            var read = await _stream.ReadAsync(buffer.AsMemory(end)).ConfigureAwait(false);
            end += read;
            return read > 0;
        }
    }
}
