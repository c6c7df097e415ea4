using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using Distributed.Protocol.Hosting;
using Distributed.Protocol.Security;

namespace Distributed.Center.Dashboard;

/// <summary>
/// Who may see the dashboard, decided from where the center listens. On loopback only this machine
/// reaches it: plain HTTP, no credentials asked. Off loopback with the cluster's credentials it is
/// HTTPS with the center's certificate, and every request must present either a client certificate of
/// the cluster or the dashboard token derived from the cluster's key (<see cref="TokenOf"/>). Off
/// loopback without credentials (<c>--insecure</c>) it listens on 127.0.0.1 only: never anonymous on
/// the network.
/// </summary>
/// <param name="BindHost">The address the dashboard listens on.</param>
/// <param name="Https">Whether it serves HTTPS with the center's certificate.</param>
/// <param name="RequiresCredentials">Whether a request must present a cluster certificate or the token.</param>
/// <param name="Note">Why the dashboard listens elsewhere than the center, if it does.</param>
public sealed record DashboardAccess(string BindHost, bool Https, bool RequiresCredentials, string? Note = null)
{
    /// <summary>The name of the cookie that carries the token once a browser opened <c>/?token=…</c>.</summary>
    public const string Cookie = "distributed-dashboard";

    /// <summary>
    /// The access for a center at <paramref name="centerHost"/>. <paramref name="requireCredentials"/>
    /// asks for credentials even on loopback (when <paramref name="credentials"/> are given).
    /// </summary>
    public static DashboardAccess For(string centerHost, ClusterCredentials? credentials, bool requireCredentials = false)
    {
        var loopback = NodeSecurity.IsLoopback(centerHost);
        if (credentials is not null && (!loopback || requireCredentials)) return new DashboardAccess(centerHost, Https: true, RequiresCredentials: true);
        if (loopback) return new DashboardAccess(centerHost, Https: false, RequiresCredentials: false);
        return new DashboardAccess("127.0.0.1", Https: false, RequiresCredentials: false,
            $"the center runs without credentials (--insecure), so its dashboard listens on 127.0.0.1 only, never anonymously at {centerHost}");
    }

    /// <summary>
    /// Whether a request may be answered: always when no credentials are required; otherwise when it
    /// presents a certificate of the cluster, or the token as a bearer, a cookie or a <c>token</c> query parameter.
    /// </summary>
    public bool Allows(ClusterCredentials? credentials, X509Certificate2? clientCertificate, string? authorization, string? cookie, string? queryToken)
    {
        if (!RequiresCredentials) return true;
        if (credentials is null) return false;
        if (clientCertificate is not null && credentials.IsMember(clientCertificate, out _)) return true;
        var token = TokenOf(credentials);
        if (authorization is not null && authorization.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase) && SameToken(authorization[7..].Trim(), token)) return true;
        return SameToken(cookie, token) || SameToken(queryToken, token);
    }

    /// <summary>
    /// The dashboard token of a cluster: a keyed hash of the cluster's private key, so whoever holds the
    /// credentials can make it (<c>dcenter credentials token DIR</c>), and it tells nothing of the key.
    /// </summary>
    public static string TokenOf(ClusterCredentials credentials)
    {
        using var key = credentials.Certificate.GetECDsaPrivateKey()
            ?? throw new CredentialsException("The cluster's certificate has no private key here: no dashboard token can be made from it.");
        var secret = key.ExportParameters(includePrivateParameters: true).D!;
        try
        {
            var mac = HMACSHA256.HashData(secret, Encoding.UTF8.GetBytes("distributed dashboard token v1"));
            return Convert.ToHexStringLower(mac);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(secret);
        }
    }

    private static bool SameToken(string? presented, string token) =>
        presented is not null && CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(presented), Encoding.UTF8.GetBytes(token));
}
