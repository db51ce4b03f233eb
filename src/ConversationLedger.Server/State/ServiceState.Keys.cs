using System.Security.Cryptography;
using System.Text;

namespace ConversationLedger.Server.State;

/// <summary>An API key as listed: never its secret, which is shown once when created and stored only as a hash.</summary>
public sealed record ApiKeyInfo(string Id, string Tenant, string Name, string Prefix, DateTimeOffset CreatedAt, DateTimeOffset? RevokedAt)
{
    /// <summary>Whether the key still authenticates.</summary>
    public bool Active => RevokedAt is null;
}

public sealed partial class ServiceState
{
    /// <summary>Every secret starts with this, so a leaked one is recognizable (and secret scanners can look for it).</summary>
    public const string KeyPrefix = "cl_";

    /// <summary>Creates a key for <paramref name="tenant"/>; the returned secret is the only copy there will ever be.</summary>
    public async Task<(ApiKeyInfo Key, string Secret)> CreateKeyAsync(string tenant, string name, CancellationToken cancellationToken = default)
    {
        ThreadKey.CheckPart(tenant, nameof(tenant));
        ArgumentNullException.ThrowIfNull(name);
        if (name.Length > 200 || name.Any(char.IsControl))
        {
            throw new ArgumentException("a key's name is at most 200 characters, without control characters", nameof(name));
        }
        var secret = KeyPrefix + Base64Url(RandomNumberGenerator.GetBytes(32));
        var info = new ApiKeyInfo("key_" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(8)), tenant, name,
            secret[..(KeyPrefix.Length + 6)], Time(Now), null);
        await ExecuteAsync(
            "INSERT INTO ledger_api_keys (id, tenant, name, prefix, hash, created_at) VALUES (@id, @tenant, @name, @prefix, @hash, @now)",
            cancellationToken, ("@id", info.Id), ("@tenant", tenant), ("@name", name), ("@prefix", info.Prefix), ("@hash", Hash(secret)),
            ("@now", info.CreatedAt.ToUnixTimeMilliseconds()));
        return (info, secret);
    }

    /// <summary>The tenant of an active key with this secret, or null (unknown, malformed or revoked).</summary>
    public async Task<string?> AuthenticateAsync(string secret, CancellationToken cancellationToken = default)
    {
        if (string.IsNullOrEmpty(secret) || !secret.StartsWith(KeyPrefix, StringComparison.Ordinal) || secret.Length > 100)
        {
            return null;
        }
        var rows = await QueryAsync("SELECT tenant FROM ledger_api_keys WHERE hash = @hash AND revoked_at IS NULL",
            r => r.GetString(0), cancellationToken, ("@hash", Hash(secret)));
        return rows.Count == 1 ? rows[0] : null;
    }

    /// <summary>The keys of one tenant, or of every tenant when <paramref name="tenant"/> is null, oldest first.</summary>
    public Task<List<ApiKeyInfo>> ListKeysAsync(string? tenant, CancellationToken cancellationToken = default) =>
        QueryAsync(
            "SELECT id, tenant, name, prefix, created_at, revoked_at FROM ledger_api_keys" +
            (tenant is null ? "" : " WHERE tenant = @tenant") + " ORDER BY created_at, id",
            r => new ApiKeyInfo(r.GetString(0), r.GetString(1), r.GetString(2), r.GetString(3), Time(r.GetInt64(4)), TimeOrNull(r, 5)),
            cancellationToken, tenant is null ? [] : [("@tenant", tenant)]);

    /// <summary>Revokes a key at once, for every instance. Returns false when no active key has that id.</summary>
    public async Task<bool> RevokeKeyAsync(string id, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(id);
        return await ExecuteAsync("UPDATE ledger_api_keys SET revoked_at = @now WHERE id = @id AND revoked_at IS NULL",
            cancellationToken, ("@now", Now), ("@id", id)) == 1;
    }

    // Keys carry 256 random bits, so a fast hash is enough: nothing to brute-force, unlike a password.
    private static string Hash(string secret) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(secret)));

    internal static string Base64Url(ReadOnlySpan<byte> bytes) =>
        Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');
}
