// These types impersonate the library's exceptions by their full names, so they must live in its
// namespace, not in the folder's.
#pragma warning disable IDE0130
namespace Distributed;

// A user type of the client program (this test assembly) named exactly as the cluster once named its
// own input-loss failure, to show that no process decides by a type name that user code can choose.

/// <summary>An exception of the user's code that is named like the cluster's input loss.</summary>
public sealed class InputLostException(string message) : Exception(message);
