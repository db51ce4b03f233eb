namespace ConversationLedger.Server;

/// <summary>The service's settings, bound from the <c>Server</c> section (appsettings.json, or <c>Server__Store</c> and so on).</summary>
public sealed class ServerOptions
{
    /// <summary>The configuration section.</summary>
    public const string SectionName = "Server";

    /// <summary>
    /// Where the ledger lives: <c>sqlite:PATH</c>, <c>postgres:CONNECTION-STRING</c> or <c>redis:CONFIGURATION</c>.
    /// <value>The default value is the SQLite file <c>ledger.db</c> in the data folder (<c>$XDG_DATA_HOME/ledger</c>).</value>
    /// </summary>
    public string? Store { get; set; }

    /// <summary>
    /// Where the service keeps its own tables (keys, threads' settings, turn records), shared by every instance:
    /// <c>sqlite:PATH</c> or <c>postgres:CONNECTION-STRING</c>. <value>The default value is the ledger's own database
    /// (required with a Redis ledger).</value>
    /// </summary>
    public string? State { get; set; }

    /// <summary>
    /// The model API: <c>anthropic</c> (ANTHROPIC_API_KEY), <c>emulator</c> (started in this process) or <c>emulator:URL</c>.
    /// <value>The default value is <c>anthropic</c> when ANTHROPIC_API_KEY is set, else <c>emulator</c>.</value>
    /// </summary>
    public string? ModelApi { get; set; }

    /// <summary>
    /// A models.json file whose rows add to (or replace, by id) the built-in model table, for the ledger and the in-process
    /// emulator alike: prices, windows and capabilities of models newer than this build, or a small-window model for tests.
    /// </summary>
    public string? ModelTable { get; set; }

    /// <summary>The JWT claim that names the tenant. <value>The default value is <c>tenant</c>.</value></summary>
    public string TenantClaim { get; set; } = "tenant";

    /// <summary>JWT bearer tokens from the team's identity provider (off unless an authority or a signing key is set).</summary>
    public JwtSettings Jwt { get; set; } = new();

    /// <summary>Requests a tenant may make per second, sustained. <value>The default value is 50.</value></summary>
    public int RequestsPerSecond { get; set; } = 50;

    /// <summary>Requests a tenant may make in a burst above the sustained rate. <value>The default value is 200.</value></summary>
    public int RequestBurst { get; set; } = 200;

    /// <summary>The largest request body, imports excepted. <value>The default value is 4 MiB.</value></summary>
    public long MaxRequestBytes { get; set; } = 4L * 1024 * 1024;

    /// <summary>How long a turn may wait for a busy thread when the request asks to wait. <value>The default value is 60 seconds.</value></summary>
    public TimeSpan MaxWait { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>
    /// The longest a turn may take, model call included; a turn still running then is cancelled (nothing stored) and answered
    /// with 504. It also ends a model stream that stalls, which the SDK's own timeout (until the response starts) does not.
    /// <value>The default value is 10 minutes.</value>
    /// </summary>
    public TimeSpan TurnTimeout { get; set; } = TimeSpan.FromMinutes(10);

    /// <summary>How long a finished turn's stream can still be re-attached to. <value>The default value is 5 minutes.</value></summary>
    public TimeSpan ReattachWindow { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>How long turn records (and so idempotency keys) are kept. <value>The default value is 24 hours.</value></summary>
    public TimeSpan TurnRecordRetention { get; set; } = TimeSpan.FromHours(24);

    /// <summary>On shutdown, how long turns in flight may finish before they are cancelled. <value>The default value is 20 seconds.</value></summary>
    public TimeSpan ShutdownGrace { get; set; } = TimeSpan.FromSeconds(20);

    /// <summary>Threads idle longer than this many days are archived or erased (0: never). A thread's own setting wins, then its tenant's.</summary>
    public int RetentionDays { get; set; }

    /// <summary>Per-tenant retention in days, overriding <see cref="RetentionDays"/>.</summary>
    public Dictionary<string, int> TenantRetentionDays { get; set; } = [];

    /// <summary>What retention does to an idle thread: <c>archive</c> (a reset entry, hidden from listings) or <c>erase</c>.</summary>
    public string RetentionAction { get; set; } = "archive";

    /// <summary>How often the retention job runs. <value>The default value is 1 hour.</value></summary>
    public TimeSpan RetentionInterval { get; set; } = TimeSpan.FromHours(1);

    /// <summary>The problems with these settings, each naming its setting; empty when they are valid.</summary>
    public IEnumerable<string> Problems()
    {
        if (RequestsPerSecond < 1 || RequestBurst < 1)
        {
            yield return "Server:RequestsPerSecond and Server:RequestBurst must be at least 1";
        }
        if (TurnTimeout <= TimeSpan.Zero)
        {
            yield return "Server:TurnTimeout must be positive";
        }
        if (MaxRequestBytes < 1024)
        {
            yield return "Server:MaxRequestBytes must be at least 1024";
        }
        if (RetentionDays < 0 || TenantRetentionDays.Values.Any(d => d < 0))
        {
            yield return "Server:RetentionDays must be 0 (off) or a number of days";
        }
        if (RetentionAction is not ("archive" or "erase"))
        {
            yield return $"Server:RetentionAction must be archive or erase, not {RetentionAction}";
        }
        if (string.IsNullOrWhiteSpace(TenantClaim))
        {
            yield return "Server:TenantClaim must name a claim";
        }
    }
}

/// <summary>How JWT bearer tokens are checked.</summary>
public sealed class JwtSettings
{
    /// <summary>The identity provider (OpenID Connect discovery finds its signing keys).</summary>
    public string? Authority { get; set; }

    /// <summary>The audience tokens must name.</summary>
    public string? Audience { get; set; }

    /// <summary>The issuer tokens must name (with <see cref="SigningKey"/>).</summary>
    public string? Issuer { get; set; }

    /// <summary>A shared HMAC key (at least 32 bytes, base64) instead of an authority: for development and tests.</summary>
    public string? SigningKey { get; set; }

    /// <summary>Whether bearer tokens are accepted at all.</summary>
    public bool Enabled => !string.IsNullOrWhiteSpace(Authority) || !string.IsNullOrWhiteSpace(SigningKey);
}
