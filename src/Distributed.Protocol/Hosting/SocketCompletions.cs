namespace Distributed.Protocol.Hosting;

/// <summary>
/// Whether a process's socket completions run on the socket engine's own thread instead of being handed
/// to the thread pool: .NET reads <see cref="EnvironmentVariable"/> once, when the process first waits on
/// a socket. A worker turns it on at the start of its program: a task handed over on its data channel then
/// reaches the worker actor one thread wake-up sooner. Only for code whose socket continuations never block
/// (the data server and client, Akka.Remote's transport); never for user code, so an executor does not
/// inherit it from a worker that set it itself.
/// </summary>
public static class SocketCompletions
{
    /// <summary>The runtime's switch ("1": inline).</summary>
    public const string EnvironmentVariable = "DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS";

    /// <summary>Whether this process set <see cref="EnvironmentVariable"/> itself (its children are then started without it).</summary>
    public static bool SetByThisProcess { get; private set; }

    /// <summary>
    /// Turns inline completions on for this process, unless its environment already says (that is then
    /// kept); call it before any socket is used. Returns whether they are on.
    /// </summary>
    public static bool RunInline()
    {
        var given = Environment.GetEnvironmentVariable(EnvironmentVariable);
        if (!string.IsNullOrEmpty(given)) return given == "1";
        Environment.SetEnvironmentVariable(EnvironmentVariable, "1");
        SetByThisProcess = true;
        return true;
    }

    /// <summary>Leaves the switch out of a child's environment when this process set it itself: the child chooses its own.</summary>
    public static void KeepFrom(System.Diagnostics.ProcessStartInfo child)
    {
        if (SetByThisProcess) child.Environment.Remove(EnvironmentVariable);
    }
}
