namespace Distributed.Protocol;

// In the protocol's folder because clients and workers alike report it while they reach for the
// center; in the namespace of the client's other exceptions, where programs catch it.

/// <summary>The center cannot be reached, or went away.</summary>
public class CenterUnreachableException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>
/// The center answered at one address but answers only to another (its advertised one): Akka drops every
/// message addressed otherwise, so a node must name the center as the center names itself.
/// </summary>
public sealed class CenterElsewhereException(HostPort dialed, HostPort answersTo) : CenterUnreachableException(
    $"The center reached at {dialed} answers only to {answersTo} (its advertised address); name it {answersTo}, " +
    $"or start the center with --advertise {dialed.Host} if that is the address every node reaches it at.")
{
    /// <summary>The address this node used.</summary>
    public HostPort Dialed { get; } = dialed;

    /// <summary>The address the center answers to.</summary>
    public HostPort AnswersTo { get; } = answersTo;
}
