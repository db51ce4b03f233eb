namespace ConversationLedger;

/// <summary>
/// Identifies a conversation thread: the tenant that owns it, the scope it belongs to (a ticket, a
/// document, a task) and the thread's own id. No store operation ever reads across tenants.
/// </summary>
public sealed record ThreadKey
{
    /// <summary>The longest tenant, scope or thread id accepted.</summary>
    public const int MaxPartLength = 200;

    /// <summary>
    /// Creates a key; every part must be non-empty, at most 200 characters, free of control characters and valid
    /// Unicode. Parts are compared exactly as given, by every store: no normalization, no case folding.
    /// </summary>
    public ThreadKey(string tenant, string scope, string threadId)
    {
        Tenant = CheckPart(tenant, nameof(tenant));
        Scope = CheckPart(scope, nameof(scope));
        ThreadId = CheckPart(threadId, nameof(threadId));
    }

    /// <summary>The owning tenant.</summary>
    public string Tenant { get; }

    /// <summary>The scope (context id) the thread belongs to.</summary>
    public string Scope { get; }

    /// <summary>The thread's id within its tenant and scope.</summary>
    public string ThreadId { get; }

    /// <inheritdoc />
    public override string ToString() => $"{Tenant}/{Scope}/{ThreadId}";

    /// <summary>Checks one part of a key; used wherever a tenant or scope arrives on its own.</summary>
    public static string CheckPart(string value, string paramName)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(value, paramName);
        if (value.Length > MaxPartLength)
        {
            throw new ArgumentException($"must be at most {MaxPartLength} characters, got {value.Length}", paramName);
        }
        if (value.Any(char.IsControl))
        {
            throw new ArgumentException("must not contain control characters", paramName);
        }
        // Drivers encode an unpaired surrogate as U+FFFD (or fail), so keys that differ only there would meet in a store.
        if (UnpairedSurrogate(value) is { } index)
        {
            throw new ArgumentException($"{paramName} contains an unpaired surrogate at index {index}", paramName);
        }
        return value;
    }

    private static int? UnpairedSurrogate(string value)
    {
        for (var i = 0; i < value.Length; i++)
        {
            if (char.IsHighSurrogate(value[i]) && i + 1 < value.Length && char.IsLowSurrogate(value[i + 1]))
            {
                i++;
            }
            else if (char.IsSurrogate(value[i]))
            {
                return i;
            }
        }
        return null;
    }
}
