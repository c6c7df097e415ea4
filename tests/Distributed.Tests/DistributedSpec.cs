using Akka.Configuration;
using Xunit.Abstractions;

namespace Distributed.Tests;

/// <summary>
/// The base of the actor specs: a TestKit whose actor system has the cluster provider (the center and
/// the workers read their cluster address), bound to 127.0.0.1 on a free port and never joined.
/// </summary>
public abstract class DistributedSpec(ITestOutputHelper output, Config? config = null)
    : Akka.TestKit.Xunit2.TestKit((config ?? Config.Empty).WithFallback(SpecConfig), "distributed-spec", output)
{
    private static readonly Config SpecConfig = ConfigurationFactory.ParseString("""
        akka {
          loglevel = WARNING
          actor.provider = cluster
          remote.dot-netty.tcp {
            hostname = "127.0.0.1"
            port = 0
          }
          # The node never joins a cluster: leaving one at shutdown would only wait for a timeout.
          coordinated-shutdown.run-by-actor-system-terminate = off
        }
        """);
}
