using Akka.Configuration;
using Distributed.Center;
using Distributed.Protocol;

namespace Distributed.Tests.Hosting;

/// <summary>
/// The layers of settings, the first that has a key winning: the program's (command line), the
/// DISTRIBUTED__ environment variables, DISTRIBUTED_HOCON, the --config file, the built-in hocon/.
/// </summary>
public sealed class SettingsLayersTests
{
    private const string Grace = "distributed.center.unclaimed-keys-grace";
    private static readonly Dictionary<string, string> NoEnvironment = [];
    private static readonly Config File = ConfigurationFactory.ParseString($"{Grace} = 200s\ndistributed.logging.level = warning");

    [Fact]
    public void The_built_in_settings_are_the_defaults()
    {
        var settings = ClusterConfig.Settings(Role.Center, NoEnvironment);

        Assert.Equal(TimeSpan.FromSeconds(150), settings.GetTimeSpan(Grace));
        Assert.Equal("information", settings.GetString("distributed.logging.level"));
        Assert.Equal("WARNING", settings.GetString("akka.loglevel"));
    }

    [Fact]
    public void A_file_wins_over_the_defaults()
    {
        var settings = ClusterConfig.Settings(Role.Center, NoEnvironment, file: File);

        Assert.Equal(TimeSpan.FromSeconds(200), settings.GetTimeSpan(Grace));
        Assert.Equal("warning", settings.GetString("distributed.logging.level"));
        Assert.Equal(TimeSpan.FromSeconds(1), settings.GetTimeSpan("distributed.cluster.down-unreachable-after")); // the rest stays
    }

    [Fact]
    public void The_environment_wins_over_the_file_and_its_variables_over_its_hocon()
    {
        var environment = new Dictionary<string, string>
        {
            ["DISTRIBUTED__CENTER__UNCLAIMED_KEYS_GRACE"] = "300s",
            [ClusterConfig.OverridesVariable] = $"{Grace} = 250s\ndistributed.logging.level = error",
        };

        var settings = ClusterConfig.Settings(Role.Center, environment, file: File);

        Assert.Equal(TimeSpan.FromSeconds(300), settings.GetTimeSpan(Grace));
        Assert.Equal("error", settings.GetString("distributed.logging.level"));
        Assert.Equal(TimeSpan.FromSeconds(300), CenterConfig.Read(settings).UnclaimedKeysGrace);
    }

    [Fact]
    public void The_command_line_wins_over_the_environment()
    {
        var environment = new Dictionary<string, string> { ["DISTRIBUTED__LOGGING__LEVEL"] = "debug" };
        var program = ConfigurationFactory.ParseString("distributed.logging.level = critical");

        var settings = ClusterConfig.Settings(Role.Worker, environment, program, File);

        Assert.Equal("critical", settings.GetString("distributed.logging.level"));
    }

    [Fact]
    public void Variables_map_to_akka_paths_and_lists_and_odd_values_arrive_intact()
    {
        var environment = new Dictionary<string, string>
        {
            ["DISTRIBUTED__AKKA__CLUSTER__GOSSIP_INTERVAL"] = "1s",
            ["distributed__akka__cluster__roles"] = "[worker, gpu]",
            ["DISTRIBUTED__CENTER__NOTE"] = "a \"quoted\" value, with = and # in it",
            ["DISTRIBUTED_CREDENTIALS"] = "/not/a/setting",
        };

        var settings = ClusterConfig.FromEnvironmentVariables(environment);

        Assert.Equal(TimeSpan.FromSeconds(1), settings.GetTimeSpan("akka.cluster.gossip-interval"));
        Assert.Equal(["worker", "gpu"], settings.GetStringList("akka.cluster.roles"));
        Assert.Equal("a \"quoted\" value, with = and # in it", settings.GetString("distributed.center.note"));
        Assert.False(settings.HasPath("distributed.credentials"));
    }

    [Theory]
    [InlineData("DISTRIBUTED__CENTER____GRACE")]
    [InlineData("DISTRIBUTED__CENTER__GRACE.SECONDS")]
    public void A_variable_that_names_no_setting_is_refused_by_name(string name)
    {
        var error = Assert.Throws<FormatException>(() => ClusterConfig.FromEnvironmentVariables(new Dictionary<string, string> { [name] = "1" }));

        Assert.Contains(name, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_bad_value_from_the_environment_stops_the_center_naming_the_setting()
    {
        var environment = new Dictionary<string, string> { ["DISTRIBUTED__CENTER__UNCLAIMED_KEYS_GRACE"] = "soon" };

        var error = Assert.Throws<FormatException>(() => CenterConfig.Read(ClusterConfig.Settings(Role.Center, environment)));

        Assert.Contains(Grace, error.Message, StringComparison.Ordinal);
    }
}
