using Distributed.Protocol;

namespace Distributed.Center.Core;

/// <summary>What the core decided: the actor around it turns each into a message, a probe, a timer or a log line, in order.</summary>
public abstract record CenterCommand;

/// <summary>Send a protocol message to a worker.</summary>
public sealed record TellWorker(WorkerId Worker, IProtocolMessage Message) : CenterCommand;

/// <summary>Send a protocol message to a client.</summary>
public sealed record TellClient(ClientId Client, IProtocolMessage Message) : CenterCommand;

/// <summary>Run tasks of one client and code version on a worker (the actor adds the client's address for code fetching).</summary>
public sealed record RunOnWorker(WorkerId Worker, ClientId Client, CodeManifest Code, IReadOnlyList<FunctionSpec> Functions,
    IReadOnlyList<TaskSpec> Tasks, IReadOnlyList<RemoteInput> RemoteInputs) : CenterCommand;

/// <summary>Try to connect to a worker's data port and report <see cref="WorkerProbed"/>.</summary>
public sealed record ProbeWorker(WorkerId Worker, DataEndpoint Data) : CenterCommand;

/// <summary>Take a worker's node out of the cluster: its process is gone.</summary>
public sealed record DownWorker(WorkerId Worker) : CenterCommand;

/// <summary>The core forgot a worker: its messages are not heard any more.</summary>
public sealed record WorkerForgotten(WorkerId Worker) : CenterCommand;

/// <summary>The core forgot a client; with <paramref name="DownNode"/>, its node is taken out of the cluster too.</summary>
public sealed record ClientForgotten(ClientId Client, bool DownNode) : CenterCommand;

/// <summary>Report <see cref="TimerFired"/> after <paramref name="Delay"/>.</summary>
public sealed record StartTimer(long Timer, TimeSpan Delay) : CenterCommand;

/// <summary>A line for the center's log.</summary>
public sealed record LogLine(bool Warning, string Text) : CenterCommand;

/// <summary>A message refused because its sender may not send it (logged once per sender and kind by the actor).</summary>
public sealed record RefuseWorker(WorkerId Worker, string MessageKind, string Why) : CenterCommand;

/// <summary>A message refused because its sending client may not send it.</summary>
public sealed record RefuseClient(ClientId Client, string MessageKind, string Why) : CenterCommand;
