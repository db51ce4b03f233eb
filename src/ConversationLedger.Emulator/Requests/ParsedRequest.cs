using System.Text.Json;

namespace ConversationLedger.Emulator;

/// <summary>A Messages API request body that passed the emulator's shape checks.</summary>
public sealed record ParsedRequest
{
    /// <summary>The request as the core library models it (used for token counting and validation).</summary>
    public required ModelRequest Request { get; init; }

    /// <summary>Whether the client asked for a server-sent event stream.</summary>
    public bool Stream { get; init; }

    /// <summary>Each tool definition, verbatim, in order.</summary>
    public IReadOnlyList<JsonElement> Tools { get; init; } = [];

    /// <summary>Whether extended thinking is enabled.</summary>
    public bool ThinkingEnabled { get; init; }
}
