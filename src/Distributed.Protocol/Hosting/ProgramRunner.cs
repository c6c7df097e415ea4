using System.Runtime.InteropServices;
using Distributed.Protocol.Security;
using Microsoft.Extensions.Logging;

namespace Distributed.Protocol.Hosting;

/// <summary>What dcenter and dworker share: a clean stop on Ctrl+C or SIGTERM, and errors without stack dumps.</summary>
public static class ProgramRunner
{
    /// <summary>
    /// Starts reading the credentials named by <c>--credentials</c> (<paramref name="directory"/>), else by
    /// the <c>DISTRIBUTED_CREDENTIALS</c> environment variable, on the thread pool: the files and the
    /// first use of the platform's cryptography cost a program ~60 ms, spent beside its other set-up.
    /// <see cref="TryResolveCredentials"/> takes the result.
    /// </summary>
    public static Task<ClusterCredentials?> StartReadingCredentials(string? directory) =>
        ClusterCredentials.ResolveFolder(directory) is { } folder
            ? Task.Run(() => (ClusterCredentials?)ClusterCredentials.LoadUnchecked(folder))
            : Task.FromResult<ClusterCredentials?>(null);

    /// <summary>
    /// The credentials <paramref name="reading"/> (<see cref="StartReadingCredentials"/>) read; false, after
    /// one line on standard error saying what is wrong, when that folder cannot be used. The check that
    /// the member certificate chains to its own authority (a first chain build, ~100 ms) runs on the
    /// thread pool beside the node's start: <paramref name="ownCertificateChecked"/>, which
    /// <see cref="RunAsync{TNode}"/> waits for before it announces the node.
    /// </summary>
    public static bool TryResolveCredentials(Task<ClusterCredentials?> reading, out ClusterCredentials? credentials, out Task ownCertificateChecked)
    {
        try
        {
            StartTrace.Mark("arguments parsed");
            credentials = reading.GetAwaiter().GetResult();
            StartTrace.Mark("credentials loaded");
            var loaded = credentials;
            ownCertificateChecked = loaded is null ? Task.CompletedTask : Task.Run(() =>
            {
                loaded.CheckOwnCertificate();
                StartTrace.Mark("credentials checked");
            });
            return true;
        }
        catch (CredentialsException e)
        {
            Console.Error.WriteLine($"error: {e.Message}");
            credentials = null;
            ownCertificateChecked = Task.CompletedTask;
            return false;
        }
    }

    /// <summary>
    /// Sets up the program's log (<c>--log-level</c>, <c>--log-format</c>) on standard error, Akka's
    /// included, for the rest of the process.
    /// </summary>
    public static void StartLogging(LogLevel level, LogFormat format)
    {
        NodeLogging.Configure(level, format);
        ClusterConfig.ProgramSettings = NodeLogging.AkkaSettings(level);
    }

    /// <summary>
    /// Runs <paramref name="start"/>, then waits for a stop signal or for the node to end, then runs
    /// <paramref name="stop"/>. A node that ends by itself (removed from the cluster) is started again
    /// through <paramref name="restart"/> when it gives a way to, else the program fails; one that
    /// <paramref name="endedForGood"/> says was meant to end (a retired worker) ends the program with 0.
    /// Credentials that fail <paramref name="credentialsChecked"/> (see <see cref="TryResolveCredentials"/>)
    /// stop the node before it is announced, and their error is the one the program gives.
    /// </summary>
    public static async Task<int> RunAsync<TNode>(Func<CancellationToken, Task<TNode>> start, Func<TNode, Task> whenEnded, Func<TNode, Task> stop, Action<TNode> announce,
        Func<TNode, Func<CancellationToken, Task<TNode>>?>? restart = null, Func<TNode, bool>? endedForGood = null, Task? credentialsChecked = null)
    {
        credentialsChecked ??= Task.CompletedTask;
        using var stopRequested = new CancellationTokenSource();
        var signalExitCode = 130;
        void OnSignal(PosixSignalContext context)
        {
            context.Cancel = true; // we stop cleanly ourselves
            signalExitCode = context.Signal == PosixSignal.SIGTERM ? 143 : 130;
            try { stopRequested.Cancel(); }
            catch (ObjectDisposedException) { } // a signal that arrives while we are already returning
        }
        using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, OnSignal);
        using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, OnSignal);
        var stopped = Task.Delay(Timeout.Infinite, stopRequested.Token).ContinueWith(_ => { }, TaskScheduler.Default);
        var starter = start;
        while (true)
        {
            TNode node;
            try
            {
                node = await starter(stopRequested.Token);
            }
            catch (OperationCanceledException) when (stopRequested.IsCancellationRequested)
            {
                return signalExitCode;
            }
            catch (Exception e) when (e is NodeStartException or CenterUnreachableException or CredentialsException or FormatException or System.Net.Sockets.SocketException)
            {
                // Credentials of two clusters mixed make every handshake fail: their error says why.
                Console.Error.WriteLine($"error: {await CredentialsErrorAsync(credentialsChecked) ?? e.Message}");
                return 1;
            }
            if (await CredentialsErrorAsync(credentialsChecked) is { } credentialsError)
            {
                await stop(node);
                Console.Error.WriteLine($"error: {credentialsError}");
                return 1;
            }
            announce(node);
            var ended = whenEnded(node);
            await Task.WhenAny(stopped, ended);
            var stoppedBySignal = !ended.IsCompleted; // read before stop(), which ends the node too
            await stop(node);
            if (stoppedBySignal || endedForGood?.Invoke(node) == true) return 0;
            if (restart?.Invoke(node) is not { } next)
            {
                Console.Error.WriteLine("error: the node left the cluster.");
                return 1;
            }
            Console.Error.WriteLine("warning: the node was removed from the cluster (the center was lost, or this node was unreachable, e.g. paused); it joins again as a new node.");
            starter = next;
        }
    }

    private static async Task<string?> CredentialsErrorAsync(Task credentialsChecked)
    {
        try
        {
            await credentialsChecked;
            return null;
        }
        catch (CredentialsException e)
        {
            return e.Message;
        }
    }
}
