using System.Globalization;

namespace ConversationLedger.Emulator;

/// <summary>
/// What goes wrong with one request. Written as a comma-separated list, e.g. <c>429</c>, <c>429:2</c>
/// (retry-after 2 s), <c>429:150ms</c> (retry-after-ms 150), <c>529</c>, <c>500</c>, <c>drop</c>,
/// <c>cut:3</c> (stream aborted after 3 events), <c>error-event</c> or <c>error-event:4</c>,
/// <c>ttft:200</c> (ms before the first token), <c>tps:50</c> (tokens per second), <c>none</c>.
/// Latency parts combine with the others (<c>ttft:100,tps:20</c>); no pause they cause is longer than <see cref="MaxDelay"/>.
/// </summary>
public sealed record FaultSpec
{
    /// <summary>The longest pause a fault may cause: a time to first token, one token, or a whole reply's pacing.</summary>
    public static readonly TimeSpan MaxDelay = TimeSpan.FromHours(1);

    /// <summary>No fault.</summary>
    public static FaultSpec None { get; } = new();

    /// <summary>An HTTP error status to answer with (429, 500 or 529), if any.</summary>
    public int? Status { get; init; }

    /// <summary>The delay a 429 asks for. <value>The default value is 1 second.</value></summary>
    public TimeSpan RetryAfter { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>Abort the connection without any response.</summary>
    public bool Drop { get; init; }

    /// <summary>Abort a stream after this many SSE events.</summary>
    public int? CutAfterEvents { get; init; }

    /// <summary>Send an <c>event: error</c> (overloaded_error) after this many SSE events and end the stream.</summary>
    public int? ErrorEventAfter { get; init; }

    /// <summary>Delay before the first token (after message_start in a stream).</summary>
    public TimeSpan TimeToFirstToken { get; init; }

    /// <summary>Pace output at this many tokens per second; null for no pacing.</summary>
    public double? TokensPerSecond { get; init; }

    /// <summary>How long <paramref name="tokens"/> output tokens take at <see cref="TokensPerSecond"/>, at most <see cref="MaxDelay"/>.</summary>
    public TimeSpan OutputDelay(long tokens) =>
        TokensPerSecond is { } tps ? TimeSpan.FromSeconds(Math.Min(tokens / tps, MaxDelay.TotalSeconds)) : TimeSpan.Zero;

    /// <summary>Whether the request is answered without a normal reply.</summary>
    public bool Fails => Status is not null || Drop;

    /// <summary>The spec in its text form.</summary>
    public string Text { get; init; } = "none";

    /// <summary>Parses a fault spec.</summary>
    /// <exception cref="FormatException">The text names an unknown fault or a bad number.</exception>
    public static FaultSpec Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var spec = new FaultSpec { Text = text.Trim() };
        foreach (var raw in text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var colon = raw.IndexOf(':', StringComparison.Ordinal);
            var name = (colon < 0 ? raw : raw[..colon]).ToLowerInvariant();
            var arg = colon < 0 ? null : raw[(colon + 1)..];
            spec = name switch
            {
                "none" => spec,
                "429" => spec with { Status = 429, RetryAfter = arg is null ? spec.RetryAfter : ParseDelay(arg, raw) },
                "500" or "529" => spec with { Status = int.Parse(name, CultureInfo.InvariantCulture) },
                "drop" => spec with { Drop = true },
                "cut" => spec with { CutAfterEvents = ParseCount(arg ?? "3", raw) },
                "error-event" => spec with { ErrorEventAfter = ParseCount(arg ?? "3", raw) },
                "ttft" => spec with { TimeToFirstToken = ParseTimeToFirstToken(arg ?? "", raw) },
                "tps" => spec with { TokensPerSecond = ParseTokensPerSecond(arg ?? "", raw) },
                _ => throw new FormatException($"unknown fault \"{raw}\" (known: 429[:S|:MSms], 529, 500, drop, cut:K, error-event[:K], ttft:MS, tps:N, none)"),
            };
        }
        return spec;
    }

    /// <summary>Parses a spec, or returns null with the reason.</summary>
    public static FaultSpec? TryParse(string text, out string? error)
    {
        try
        {
            error = null;
            return Parse(text);
        }
        catch (FormatException ex)
        {
            error = ex.Message;
            return null;
        }
    }

    private static TimeSpan ParseDelay(string arg, string raw) => arg.EndsWith("ms", StringComparison.OrdinalIgnoreCase)
        ? TimeSpan.FromMilliseconds(ParseCount(arg[..^2], raw))
        : TimeSpan.FromSeconds(ParseCount(arg, raw));

    private static int ParseCount(string arg, string raw) =>
        int.TryParse(arg, NumberStyles.None, CultureInfo.InvariantCulture, out var value)
            ? value
            : throw new FormatException($"fault \"{raw}\" needs a whole number");

    // Longer pauses are refused here, when the fault is set, rather than failing the request they would delay.
    private static TimeSpan ParseTimeToFirstToken(string arg, string raw) =>
        TimeSpan.FromMilliseconds(ParseCount(arg, raw)) is var delay && delay <= MaxDelay
            ? delay
            : throw new FormatException($"fault \"{raw}\" asks for more than {MaxDelay.TotalMilliseconds:F0} ms");

    private static double ParseTokensPerSecond(string arg, string raw) =>
        double.TryParse(arg, NumberStyles.Float, CultureInfo.InvariantCulture, out var value) && value >= 1 / MaxDelay.TotalSeconds
            ? value
            : throw new FormatException($"fault \"{raw}\" needs a number of tokens per second of at least one token per hour");
}
