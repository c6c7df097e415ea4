namespace Distributed.Protocol;

// In the protocol's folder because clients and workers alike report it while they reach for the
// center; in the namespace of the client's other exceptions, where programs catch it.

/// <summary>The center cannot be reached, or went away.</summary>
public sealed class CenterUnreachableException(string message, Exception? inner = null) : Exception(message, inner);
