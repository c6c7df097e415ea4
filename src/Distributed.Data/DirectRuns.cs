using System.Buffers.Binary;
using Distributed.Protocol;

namespace Distributed.Data;

/// <summary>
/// A task a client hands to a worker straight over the data channel (one hop instead of two Akka round
/// trips through the center): the worker declines it at once, or runs it and answers its end, always
/// through <see cref="Outcome"/>, which must be completed.
/// </summary>
public sealed class DirectRun(SubmitTasks submission)
{
    /// <summary>One task, its function and code.</summary>
    public SubmitTasks Submission { get; } = submission;

    /// <summary>
    /// How the task ended, or why it was not taken. Its continuation (the answer's write) runs on the
    /// thread that completes it: a hand-over to the thread pool would cost more than the write.
    /// </summary>
    public TaskCompletionSource<DirectOutcome> Outcome { get; } = new();
}

/// <summary>
/// How a task handed over directly ended: its result stored on the worker, or its failure; neither when
/// the worker cannot say (cancelled, sent again, stopping), and the client hears the end from the center.
/// <see cref="Declined"/>: it was not taken, and why.
/// </summary>
public sealed record DirectOutcome(StoredKey? Result, FailedTask? Failure, string? Declined = null)
{
    /// <summary>Neither result nor failure: the client waits for the center's word.</summary>
    public static readonly DirectOutcome Unanswered = new(null, null);
}

/// <summary>What a client hears of a task it handed to a worker directly.</summary>
public abstract record DirectReply
{
    /// <summary>The worker did not take it (busy, code not loaded there yet...): send it through the center.</summary>
    public sealed record Declined(string Reason) : DirectReply;

    /// <summary>It ran; its result is stored on the worker, and comes along when it is small (<see cref="DirectFrames.InlineLimit"/>).</summary>
    public sealed record Finished(StoredKey Result, StoredValue? Value) : DirectReply;

    /// <summary>It ran and failed.</summary>
    public sealed record Failed(FailedTask Failure) : DirectReply;

    /// <summary>The worker cannot say how it ended (or the connection broke, taken or not): the center will.</summary>
    public sealed record Unanswered(string Reason) : DirectReply;
}

/// <summary>
/// The data channel's direct runs:
/// <code>
///   'R' submission (as <see cref="ProtocolSerializer.EncodeSubmission"/>, one task)
///       → declined (0) reason
///       | finished (2) key type size(int64) inline (0|1) [size value-bytes]
///       | failed (3) key kind(byte) type message stack-trace
///       | unanswered (4)
/// </code>
/// One answer, when the task ended (or at once when it is declined). Strings are UTF-8 with an int32
/// length, each bounded on reading as every other field of the channel.
/// </summary>
public static class DirectFrames
{
    internal const byte Declined = 0, Finished = 2, Failed = 3, Unanswered = 4;

    /// <summary>
    /// Results up to this size travel with the answer, so that reading them costs no second request; the
    /// client keeps them with their RemoteData (as Ray keeps small objects with their owner), so the limit stays small.
    /// </summary>
    public const int InlineLimit = 16 << 10;

    internal static void WriteString(Stream output, string text)
    {
        var bytes = DataFrames.Utf8.GetBytes(text);
        Span<byte> length = stackalloc byte[sizeof(int)];
        BinaryPrimitives.WriteInt32LittleEndian(length, bytes.Length);
        output.Write(length);
        output.Write(bytes);
    }

    /// <summary>A string of the data channel's answers (a value's type name, a direct answer's fields): its length checked before anything is allocated, strict UTF-8.</summary>
    internal static string ReadString(Stream input, byte[] scratch, int limit, string what)
    {
        input.ReadExactly(scratch, 0, sizeof(int));
        var length = DataFrames.CheckLength($"{what} length", BinaryPrimitives.ReadInt32LittleEndian(scratch), limit);
        var bytes = length <= scratch.Length ? scratch : new byte[length];
        input.ReadExactly(bytes, 0, length);
        try { return DataFrames.Utf8.GetString(bytes, 0, length); }
        catch (System.Text.DecoderFallbackException) { throw new DataFrameException($"a {what} is not valid UTF-8"); }
    }
}
