namespace Distributed;

// A user type of the client program (this test assembly) named exactly as the cluster once named its
// own input-loss failure, to show that no process decides by a type name that user code can choose.

/// <summary>An exception of the user's code that is named like the cluster's input loss.</summary>
public sealed class InputLostException(string message) : Exception(message);
