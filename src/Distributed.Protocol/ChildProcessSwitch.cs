namespace Distributed.Protocol;

/// <summary>
/// An environment variable that forbids this process to start dcenter, dworker, executor or other helper
/// processes. The fast test tier sets it: a test that starts a process there fails at once with a message
/// that names the variable, instead of slowing the tier down. Checked only where a process is launched.
/// It sits with the protocol, at the bottom, so that every role that launches processes can check it.
/// </summary>
public static class ChildProcessSwitch
{
    /// <summary>The variable's name.</summary>
    public const string Variable = "DISTRIBUTED_NO_CHILD_PROCESSES";

    /// <summary>Throws when <see cref="Variable"/> is set (to anything but empty or 0) in this process's environment.</summary>
    public static void ThrowIfForbidden(string program)
    {
        if (Refusal(program, Environment.GetEnvironmentVariable(Variable)) is { } refusal) throw new InvalidOperationException(refusal);
    }

    /// <summary>Why starting <paramref name="program"/> is refused when the variable has <paramref name="value"/>, or null when it is not.</summary>
    public static string? Refusal(string program, string? value) =>
        string.IsNullOrEmpty(value) || value == "0"
            ? null
            : $"Refused to start {program}: {Variable}={value} forbids child processes here. The fast test tier sets it; " +
              "a test that starts processes belongs in the process tier (mark its class [ProcessTier]).";
}
