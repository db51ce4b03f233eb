namespace ConversationLedger;

/// <summary>
/// Identifies a conversation thread: the tenant that owns it, the scope it belongs to (a ticket, a
/// document, a task) and the thread's own id. No store operation ever reads across tenants.
/// </summary>
public sealed record ThreadKey
{
    /// <summary>The longest tenant, scope or thread id accepted.</summary>
    public const int MaxPartLength = 200;

    /// <summary>Creates a key; every part must be non-empty, at most 200 characters and free of control characters.</summary>
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
        return value;
    }
}
