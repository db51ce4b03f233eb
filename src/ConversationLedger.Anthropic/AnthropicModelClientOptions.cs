namespace ConversationLedger.Anthropic;

/// <summary>Settings of <see cref="AnthropicModelClient"/>.</summary>
public sealed class AnthropicModelClientOptions
{
    /// <summary>The API key. <value>The default value is the ANTHROPIC_API_KEY environment variable.</value></summary>
    /// <remarks>The key is sent only as the SDK's authorization header; it never appears in errors, logs or stored data.</remarks>
    public string? ApiKey { get; set; } = Environment.GetEnvironmentVariable("ANTHROPIC_API_KEY");

    /// <summary>
    /// The API's base URL: the real API, or a local emulator such as <c>http://127.0.0.1:4010</c>.
    /// <value>The default value is ANTHROPIC_BASE_URL, else the SDK's default (the real API).</value>
    /// </summary>
    public string? BaseUrl { get; set; } = Environment.GetEnvironmentVariable("ANTHROPIC_BASE_URL");

    /// <summary>Retries of the SDK (connection errors, 408, 409, 429, 5xx, honouring retry-after). <value>The default value is 2.</value></summary>
    public int MaxRetries { get; set; } = 2;

    /// <summary>Timeout of one attempt; null lets the SDK derive it from max_tokens. <value>The default value is null.</value></summary>
    public TimeSpan? Timeout { get; set; }

    /// <summary>An HttpClient to send with (its own timeout should be infinite; the SDK applies <see cref="Timeout"/>). <value>The default value is null: the SDK's own.</value></summary>
    public HttpClient? HttpClient { get; set; }
}
