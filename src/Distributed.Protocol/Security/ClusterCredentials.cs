using System.Net.Security;
using System.Security.Authentication;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Distributed.Protocol.Security;

/// <summary>
/// A cluster's credentials: its own certificate authority and the member certificate (with its private
/// key) that every center, worker and client presents. Every connection is mutual TLS, and a peer is
/// accepted only when its certificate chains to this authority, never to the machine's trust store.
/// Made once by <c>dcenter credentials create DIR</c>; handed to programs by <c>--credentials DIR</c> or
/// the <see cref="EnvironmentVariable"/> environment variable.
/// </summary>
public sealed class ClusterCredentials : IDisposable
{
    /// <summary>The environment variable naming a credentials folder, read by every program and by <c>Pool</c>.</summary>
    public const string EnvironmentVariable = "DISTRIBUTED_CREDENTIALS";

    /// <summary>The command that makes a cluster's credentials, as the error lines tell it.</summary>
    public const string CreateCommand = "dcenter credentials create DIR";

    /// <summary>The authority's certificate (public part only) in a credentials folder.</summary>
    public const string AuthorityFile = "ca.crt";

    /// <summary>The member certificate in a credentials folder.</summary>
    public const string CertificateFile = "member.crt";

    /// <summary>The member certificate's private key in a credentials folder.</summary>
    public const string KeyFile = "member.key";

    private static readonly TimeSpan Validity = TimeSpan.FromDays(3650);

    private ClusterCredentials(X509Certificate2 authority, X509Certificate2 certificate, string? directory)
    {
        Authority = authority;
        Certificate = certificate;
        Directory = directory;
    }

    /// <summary>The cluster's certificate authority (no private key).</summary>
    public X509Certificate2 Authority { get; }

    /// <summary>The certificate this process presents, with its private key.</summary>
    public X509Certificate2 Certificate { get; }

    /// <summary>The folder the credentials were read from or written to, if any.</summary>
    public string? Directory { get; }

    /// <summary>
    /// Creates new credentials in <paramref name="directory"/> (made 0700 if new; refused if it already
    /// holds credentials): a fresh authority, whose private key is discarded once it has signed the
    /// member certificate, and that certificate with its key. Files are 0600.
    /// </summary>
    public static ClusterCredentials Create(string directory)
    {
        if (File.Exists(Path.Combine(directory, AuthorityFile)) || File.Exists(Path.Combine(directory, KeyFile)))
            throw new CredentialsException($"{directory} already holds credentials; remove them first or choose another folder.");
        PrivateFiles.CreateDirectory(directory);
        var (authority, member) = Generate();
        PrivateFiles.WriteAllText(Path.Combine(directory, AuthorityFile), authority.ExportCertificatePem());
        PrivateFiles.WriteAllText(Path.Combine(directory, CertificateFile), member.ExportCertificatePem());
        using (var key = member.GetECDsaPrivateKey()!)
            PrivateFiles.WriteAllText(Path.Combine(directory, KeyFile), key.ExportPkcs8PrivateKeyPem());
        return new ClusterCredentials(authority, member, directory);
    }

    /// <summary>New credentials in a fresh private temporary folder (for <c>LocalCluster</c> and tests); the caller deletes it.</summary>
    public static ClusterCredentials CreateTemporary() =>
        Create(System.IO.Directory.CreateTempSubdirectory("distributed-credentials-").FullName);

    /// <summary>Credentials that exist only in this process (never written to disk).</summary>
    public static ClusterCredentials CreateInMemory()
    {
        var (authority, member) = Generate();
        return new ClusterCredentials(authority, member, null);
    }

    /// <summary>Reads the credentials in <paramref name="directory"/>, with a clear error naming what is missing or wrong.</summary>
    public static ClusterCredentials Load(string directory)
    {
        var credentials = LoadUnchecked(directory);
        try
        {
            credentials.CheckOwnCertificate();
            return credentials;
        }
        catch
        {
            credentials.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Reads the credentials in <paramref name="directory"/> as <see cref="Load"/> does, but leaves out
    /// <see cref="CheckOwnCertificate"/>: a process's first chain build costs ~100 ms, which a program
    /// starting up spends beside its actor system's start instead of before it.
    /// </summary>
    public static ClusterCredentials LoadUnchecked(string directory)
    {
        if (!System.IO.Directory.Exists(directory))
            throw new CredentialsException($"The credentials folder {directory} does not exist. Create one with: dcenter credentials create {directory}");
        string Read(string name)
        {
            var path = Path.Combine(directory, name);
            if (!File.Exists(path))
                throw new CredentialsException($"The credentials folder {directory} has no {name}. Create credentials with: dcenter credentials create DIR");
            return File.ReadAllText(path);
        }
        try
        {
            var authority = X509Certificate2.CreateFromPem(Read(AuthorityFile));
            var member = X509Certificate2.CreateFromPem(Read(CertificateFile), Read(KeyFile));
            // Windows' TLS cannot use a key imported from PEM (it is ephemeral there): a PKCS#12 round trip
            // makes it a stored one. OpenSSL takes the key as it is, and the round trip costs ~30 ms of a start.
            if (!OperatingSystem.IsLinux())
            {
                using var pem = member;
                member = X509CertificateLoader.LoadPkcs12(pem.Export(X509ContentType.Pkcs12), null);
            }
            return new ClusterCredentials(authority, member, directory);
        }
        catch (CryptographicException e)
        {
            throw new CredentialsException($"The credentials in {directory} cannot be read: {e.Message}", e);
        }
    }

    /// <summary>
    /// Throws a <see cref="CredentialsException"/> when the member certificate does not chain to the
    /// credentials' own authority (files of two different clusters mixed in one folder): every peer
    /// would refuse this process, and the error says why here instead of in each refused handshake.
    /// </summary>
    public void CheckOwnCertificate()
    {
        string reason;
        try
        {
            if (IsMember(Certificate, out reason)) return;
        }
        catch (CryptographicException e)
        {
            throw new CredentialsException($"The credentials in {Directory ?? "memory"} cannot be checked: {e.Message}", e);
        }
        throw new CredentialsException($"The member certificate in {Directory ?? "these credentials"} is not valid for its own authority: {reason}.");
    }

    /// <summary>The credentials named by <paramref name="directory"/>, else by <see cref="EnvironmentVariable"/>; null if neither is set.</summary>
    public static ClusterCredentials? Resolve(string? directory) => ResolveFolder(directory) is { } folder ? Load(folder) : null;

    /// <summary>The folder <see cref="Resolve"/> reads: <paramref name="directory"/>, else <see cref="EnvironmentVariable"/>'s; null if neither is set.</summary>
    public static string? ResolveFolder(string? directory)
    {
        if (!string.IsNullOrWhiteSpace(directory)) return directory;
        var fromEnvironment = Environment.GetEnvironmentVariable(EnvironmentVariable);
        return string.IsNullOrWhiteSpace(fromEnvironment) ? null : fromEnvironment;
    }

    /// <summary>
    /// Whether <paramref name="peer"/> chains to this cluster's authority (and only to it: the machine's
    /// trust store plays no part); <paramref name="reason"/> says why not.
    /// </summary>
    public bool IsMember(X509Certificate? peer, out string reason)
    {
        if (peer is null)
        {
            reason = "no certificate was presented";
            return false;
        }
        var certificate = peer as X509Certificate2 ?? X509CertificateLoader.LoadCertificate(peer.GetRawCertData());
        try
        {
            using var chain = new X509Chain();
            chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
            chain.ChainPolicy.CustomTrustStore.Add(Authority);
            chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
            if (!chain.Build(certificate))
            {
                var status = string.Join("; ", chain.ChainStatus.Select(s => s.StatusInformation.Trim()).Where(s => s.Length > 0).Distinct());
                reason = $"its certificate ({certificate.Subject}) does not chain to this cluster's authority ({(status.Length > 0 ? status : "untrusted")})";
                return false;
            }
            var root = chain.ChainElements[^1].Certificate;
            if (!root.RawDataMemory.Span.SequenceEqual(Authority.RawDataMemory.Span))
            {
                reason = $"its certificate ({certificate.Subject}) chains to another authority ({root.Subject})";
                return false;
            }
            reason = "";
            return true;
        }
        finally
        {
            if (!ReferenceEquals(certificate, peer)) certificate.Dispose();
        }
    }

    /// <summary>
    /// The member certificate as TLS presents it, made once: making it builds the certificate's chain,
    /// which costs more than the rest of a handshake, and every connection presents the same one.
    /// </summary>
    private SslStreamCertificateContext CertificateContext =>
        LazyInitializer.EnsureInitialized(ref _certificateContext, () => SslStreamCertificateContext.Create(Certificate, additionalCertificates: null, offline: true));

    private SslStreamCertificateContext? _certificateContext;

    /// <summary>Options for the accepting side of a mutual-TLS connection (a client certificate is required).</summary>
    public SslServerAuthenticationOptions ServerOptions() => new()
    {
        ServerCertificateContext = CertificateContext,
        ClientCertificateRequired = true,
        EnabledSslProtocols = SslProtocols.Tls13 | SslProtocols.Tls12,
        CertificateRevocationCheckMode = X509RevocationMode.NoCheck,
        RemoteCertificateValidationCallback = (_, certificate, _, _) => IsMember(certificate, out _),
    };

    /// <summary>Options for the connecting side of a mutual-TLS connection to <paramref name="targetHost"/>.</summary>
    public SslClientAuthenticationOptions ClientOptions(string targetHost) => new()
    {
        TargetHost = targetHost,
        ClientCertificateContext = CertificateContext,
        EnabledSslProtocols = SslProtocols.Tls13 | SslProtocols.Tls12,
        CertificateRevocationCheckMode = X509RevocationMode.NoCheck,
        // Members share one certificate and are reached by address: the chain is the identity, not the name.
        RemoteCertificateValidationCallback = (_, certificate, _, _) => IsMember(certificate, out _),
    };

    private static (X509Certificate2 Authority, X509Certificate2 Member) Generate()
    {
        var now = DateTimeOffset.UtcNow;
        using var authorityKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var authorityRequest = new CertificateRequest($"CN=Distributed cluster authority {Guid.NewGuid():N}", authorityKey, HashAlgorithmName.SHA256);
        authorityRequest.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, true, 0, true));
        authorityRequest.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        authorityRequest.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(authorityRequest.PublicKey, false));
        using var authorityWithKey = authorityRequest.CreateSelfSigned(now.AddDays(-1), now + Validity);
        var authority = X509CertificateLoader.LoadCertificate(authorityWithKey.RawData);

        using var memberKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var memberRequest = new CertificateRequest("CN=Distributed cluster member", memberKey, HashAlgorithmName.SHA256);
        memberRequest.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
        memberRequest.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature, true));
        memberRequest.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension(
            [new Oid("1.3.6.1.5.5.7.3.1"), new Oid("1.3.6.1.5.5.7.3.2")], false)); // server and client authentication
        memberRequest.CertificateExtensions.Add(X509AuthorityKeyIdentifierExtension.CreateFromCertificate(authorityWithKey, true, false));
        var serial = RandomNumberGenerator.GetBytes(16);
        serial[0] &= 0x7f;
        using var signed = memberRequest.Create(authorityWithKey, now.AddDays(-1), now + Validity - TimeSpan.FromDays(1), serial);
        using var withKey = signed.CopyWithPrivateKey(memberKey);
        var member = X509CertificateLoader.LoadPkcs12(withKey.Export(X509ContentType.Pkcs12), null);
        return (authority, member);
    }

    /// <inheritdoc />
    public void Dispose()
    {
        Authority.Dispose();
        Certificate.Dispose();
    }
}

/// <summary>Credentials that are missing, unreadable or not valid; the message says which and how to make them.</summary>
public sealed class CredentialsException(string message, Exception? inner = null) : Exception(message, inner);
