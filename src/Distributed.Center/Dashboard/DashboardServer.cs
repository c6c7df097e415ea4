using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using Akka.Actor;
using Distributed.Protocol.Security;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Https;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Distributed.Center.Dashboard;

/// <summary>How the dashboard is served: its <see cref="Port"/> (0: no dashboard).</summary>
/// <param name="Port">The port; 0 turns the dashboard off.</param>
/// <param name="NextFreeIfTaken">Take the next free port (up to 20 further) when <paramref name="Port"/> is taken, as the default port does.</param>
/// <param name="RequireCredentials">Ask for the cluster's credentials even on loopback (tests of the policy; needs credentials).</param>
public sealed record DashboardSettings(int Port, bool NextFreeIfTaken = false, bool RequireCredentials = false)
{
    /// <summary>The dashboard's default port (dask's is 8787, the center's here; workers start at 8788).</summary>
    public const int DefaultPort = 8790;
}

/// <summary>
/// The web dashboard of the center, in its process: the page (<c>/</c>), its live feed
/// (<c>/api/stream</c>, server-sent events), a JSON API (<c>/api/workers</c>, <c>/api/progress</c>,
/// <c>/api/errors</c>, <c>/api/events</c>, <c>/api/tasks</c>) and <c>/metrics</c> for Prometheus.
/// Access follows <see cref="DashboardAccess"/>.
/// </summary>
public sealed class DashboardServer : IAsyncDisposable
{
    /// <summary>How long a request keeps the center recording task spans and computations.</summary>
    public static readonly TimeSpan WatchWindow = TimeSpan.FromSeconds(60);

    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);
    private static readonly Lazy<byte[]> Page = new(() =>
    {
        using var stream = typeof(DashboardServer).Assembly.GetManifestResourceStream("Distributed.Center.Dashboard.dashboard.html")
            ?? throw new InvalidOperationException("The dashboard page is not embedded in Distributed.Center.");
        using var copy = new MemoryStream();
        stream.CopyTo(copy);
        return copy.ToArray();
    });

    private readonly WebApplication _app;

    private DashboardServer(WebApplication app, string url, DashboardAccess access)
    {
        _app = app;
        Url = url;
        Access = access;
    }

    /// <summary>Where the page is, e.g. <c>http://127.0.0.1:8790/</c>.</summary>
    public string Url { get; }

    /// <summary>Who may see it.</summary>
    public DashboardAccess Access { get; }

    /// <summary>
    /// Starts the dashboard of the center in <paramref name="system"/>, which listens at
    /// <paramref name="centerHost"/>; a taken port is a <see cref="Protocol.Hosting.PortInUseException"/>
    /// unless <see cref="DashboardSettings.NextFreeIfTaken"/>. Its URL names <paramref name="advertisedHost"/>
    /// (the center's advertised address) when it listens where the center does.
    /// </summary>
    public static async Task<DashboardServer> StartAsync(ActorSystem system, string centerHost, ClusterCredentials? credentials, DashboardSettings settings, CancellationToken cancellation = default,
        string? advertisedHost = null)
    {
        var access = DashboardAccess.For(centerHost, credentials, settings.RequireCredentials);
        var address = ResolveAddress(access.BindHost);
        // The default port takes the next free one, and past 20 taken (many centers and workers on one
        // machine) any free one: a dashboard never stops a center from starting.
        var tries = settings.NextFreeIfTaken ? 21 : 1;
        for (var port = settings.Port; ; port = tries == 1 ? 0 : port + 1)
        {
            var app = Build(system, address, port, access, credentials);
            try
            {
                await app.StartAsync(cancellation).ConfigureAwait(false);
                var scheme = access.Https ? "https" : "http";
                var shown = access.BindHost == centerHost && advertisedHost is not null ? advertisedHost : access.BindHost;
                var host = address.AddressFamily == AddressFamily.InterNetworkV6 ? $"[{shown}]" : shown;
                var bound = port != 0 ? port : new Uri(app.Urls.First()).Port;
                return new DashboardServer(app, $"{scheme}://{host}:{bound}/", access);
            }
            catch (IOException e) when (e.InnerException is Microsoft.AspNetCore.Connections.AddressInUseException)
            {
                await app.DisposeAsync().ConfigureAwait(false);
                if (--tries == 0 || port == 65535) throw new Protocol.Hosting.PortInUseException(access.BindHost, port,
                    $"Port {port} on {access.BindHost} is already in use; choose another port for the dashboard with --dashboard-port (0: no dashboard).");
            }
        }
    }

    private static IPAddress ResolveAddress(string host)
    {
        if (IPAddress.TryParse(host, out var address)) return address;
        if (string.Equals(host, "localhost", StringComparison.OrdinalIgnoreCase)) return IPAddress.Loopback;
        var addresses = Dns.GetHostAddresses(host);
        return addresses.FirstOrDefault(a => a.AddressFamily == AddressFamily.InterNetwork) ?? addresses.First();
    }

    private static WebApplication Build(ActorSystem system, IPAddress address, int port, DashboardAccess access, ClusterCredentials? credentials)
    {
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = [], ContentRootPath = AppContext.BaseDirectory });
        builder.Logging.ClearProviders(); // the center's output is its own; a failed request is answered, not logged
        // dcenter handles Ctrl+C and SIGTERM itself (and stops the dashboard): the host must not hook them too.
        builder.Services.AddSingleton<Microsoft.Extensions.Hosting.IHostLifetime, HostLifetimeOfTheCenter>();
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.AddServerHeader = false;
            ApplyLimits(kestrel.Limits);
            kestrel.Listen(address, port, listen =>
            {
                if (!access.Https) return;
                listen.UseHttps(new HttpsConnectionAdapterOptions
                {
                    ServerCertificate = credentials!.Certificate,
                    // Asked for, not required: a browser without one is answered 401 with why, and may use the token.
                    ClientCertificateMode = ClientCertificateMode.AllowCertificate,
                    ClientCertificateValidation = (_, _, _) => true, // checked per request against the cluster's authority
                    HandshakeTimeout = HandshakeTimeout,
                });
            });
        });
        var app = builder.Build();
        var observations = CenterObservations.Get(system);
        var data = new DashboardData(system, observations);
        app.Use(async (context, next) =>
        {
            if (access.RequiresCredentials)
            {
                var certificate = await context.Connection.GetClientCertificateAsync(context.RequestAborted).ConfigureAwait(false);
                var queryToken = context.Request.Query["token"].FirstOrDefault();
                if (!access.Allows(credentials, certificate, context.Request.Headers.Authorization.FirstOrDefault(), context.Request.Cookies[DashboardAccess.Cookie], queryToken))
                {
                    context.Response.StatusCode = StatusCodes.Status401Unauthorized;
                    context.Response.Headers.WWWAuthenticate = "Bearer realm=\"distributed\"";
                    await context.Response.WriteAsync("This dashboard needs the cluster's credentials: a client certificate of the cluster, or its token " +
                        "(dcenter credentials token DIR) as 'Authorization: Bearer TOKEN' or by opening /?token=TOKEN once.\n", context.RequestAborted).ConfigureAwait(false);
                    return;
                }
                if (queryToken is not null)
                {
                    // Once: the browser keeps it as a cookie, and the address bar loses it.
                    context.Response.Cookies.Append(DashboardAccess.Cookie, queryToken, new CookieOptions { HttpOnly = true, Secure = true, SameSite = SameSiteMode.Strict, Path = "/" });
                    context.Response.Redirect(context.Request.Path);
                    return;
                }
            }
            // /metrics is scraped all day long: only people looking at the page or the API turn on the recording of task spans.
            if (!context.Request.Path.StartsWithSegments("/metrics", StringComparison.Ordinal)) observations.Watch(WatchWindow);
            await next(context).ConfigureAwait(false);
        });
        app.MapGet("/", () => Results.Bytes(Page.Value, "text/html; charset=utf-8"));
        app.MapGet("/api/workers", async () => Results.Json(DashboardData.Workers(await data.ViewAsync().ConfigureAwait(false), observations.Statuses()), Json));
        app.MapGet("/api/progress", async () => Results.Json(new ProgressRows((await data.ViewAsync().ConfigureAwait(false)).Clients, observations.Computations()), Json));
        app.MapGet("/api/errors", () => Results.Json(observations.Errors(), Json));
        app.MapGet("/api/events", () => Results.Json(observations.Events(), Json));
        app.MapGet("/api/tasks", (long? since) => Results.Json(observations.Spans(since ?? 0), Json));
        app.MapGet("/api/state", async () => Results.Json(await data.StateAsync(0).ConfigureAwait(false), Json));
        app.MapGet("/metrics", async () =>
        {
            var view = await data.ViewAsync().ConfigureAwait(false);
            return Results.Text(PrometheusText.Write(view, DashboardData.Workers(view, observations.Statuses()), observations.ExecutorRestartsOfGoneWorkers), PrometheusText.ContentType);
        });
        app.MapGet("/api/stream", async context =>
        {
            context.Response.Headers.ContentType = "text/event-stream";
            context.Response.Headers.CacheControl = "no-cache";
            var after = 0L;
            var token = context.RequestAborted;
            try
            {
                while (!token.IsCancellationRequested)
                {
                    observations.Watch(WatchWindow);
                    var state = await data.StateAsync(after).ConfigureAwait(false);
                    after = state.LastSpan;
                    await context.Response.WriteAsync($"event: state\ndata: {JsonSerializer.Serialize(state, Json)}\n\n", token).ConfigureAwait(false);
                    await context.Response.Body.FlushAsync(token).ConfigureAwait(false);
                    await Task.Delay(TimeSpan.FromSeconds(1), token).ConfigureAwait(false);
                }
            }
            catch (OperationCanceledException) { } // the page closed
            catch (AskTimeoutException) { } // the center is stopping
        });
        return app;
    }

    /// <summary>How long a TLS handshake may take: a connection that stalls in it is closed.</summary>
    internal static readonly TimeSpan HandshakeTimeout = TimeSpan.FromSeconds(5);

    /// <summary>
    /// The dashboard shares the center's process: its port must not let a client tie the center up. It
    /// serves small GETs to a few people and scrapers, so requests are small (a request line of 4 KiB,
    /// 16 KiB of at most 50 headers, no body to speak of), a connection that is slow to send its headers
    /// (slowloris) is closed after 5 s and an idle one after 10 s, and past 500 connections new ones are
    /// refused rather than queued. Answers stream at any rate: the live page's event stream is slow by design.
    /// </summary>
    internal static void ApplyLimits(Microsoft.AspNetCore.Server.Kestrel.Core.KestrelServerLimits limits)
    {
        limits.MaxConcurrentConnections = 500;
        limits.MaxConcurrentUpgradedConnections = 0; // no WebSockets here
        limits.MaxRequestLineSize = 4 * 1024;
        limits.MaxRequestHeadersTotalSize = 16 * 1024;
        limits.MaxRequestHeaderCount = 50;
        limits.MaxRequestBodySize = 4 * 1024;
        limits.RequestHeadersTimeout = TimeSpan.FromSeconds(5);
        limits.KeepAliveTimeout = TimeSpan.FromSeconds(10);
        limits.Http2.MaxStreamsPerConnection = 20;
        limits.Http2.MaxRequestHeaderFieldSize = 8 * 1024;
        limits.Http2.HeaderTableSize = 4 * 1024;
    }

    /// <summary>A host lifetime that waits for nothing and hooks no signal: the center's program owns both.</summary>
    private sealed class HostLifetimeOfTheCenter : Microsoft.Extensions.Hosting.IHostLifetime
    {
        public Task WaitForStartAsync(CancellationToken cancellationToken) => Task.CompletedTask;
        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }

    /// <summary>Stops serving.</summary>
    public async ValueTask DisposeAsync()
    {
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        try { await _app.StopAsync(deadline.Token).ConfigureAwait(false); }
        catch (OperationCanceledException) { }
        await _app.DisposeAsync().ConfigureAwait(false);
    }
}
