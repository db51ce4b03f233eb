namespace ConversationLedger;

/// <summary>
/// The role of a message. Kept as the string the API uses so that a role the code does not know
/// (from an import, say) can be represented and then rejected by the validator with a clear message.
/// </summary>
public readonly record struct Role
{
    /// <summary>Creates a role from its API name.</summary>
    public Role(string value)
    {
        ArgumentNullException.ThrowIfNull(value);
        Value = value;
    }

    /// <summary>The role as the API spells it.</summary>
    public string Value { get; }

    /// <summary>The user role.</summary>
    public static Role User { get; } = new("user");

    /// <summary>The assistant role.</summary>
    public static Role Assistant { get; } = new("assistant");

    /// <summary>A mid-conversation system message (accepted by the newest API versions after a user turn).</summary>
    public static Role System { get; } = new("system");

    /// <summary>Whether the API knows this role.</summary>
    public bool IsKnown => this == User || this == Assistant || this == System;

    /// <inheritdoc />
    public override string ToString() => Value ?? "";
}
