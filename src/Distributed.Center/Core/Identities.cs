namespace Distributed.Center.Core;

/// <summary>
/// A registered worker, as the core knows it: a number the actor around it maps to the worker's actor.
/// A worker that registers again after being counted as gone gets a new one.
/// </summary>
public readonly record struct WorkerId(long Value)
{
    /// <inheritdoc />
    public override string ToString() => $"worker#{Value}";
}

/// <summary>A connected client, as the core knows it: a number the actor around it maps to the client's actor.</summary>
public readonly record struct ClientId(long Value)
{
    /// <inheritdoc />
    public override string ToString() => $"client#{Value}";
}
