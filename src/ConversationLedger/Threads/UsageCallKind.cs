namespace ConversationLedger;

/// <summary>What a billed call was for.</summary>
public enum UsageCallKind
{
    /// <summary>The call of a committed turn.</summary>
    Turn,
    /// <summary>The call that wrote a summary (committed with it).</summary>
    Summary,
    /// <summary>A billed call that is part of no committed turn (<see cref="UsageRecord.Uncommitted"/> says why).</summary>
    Uncommitted,
}
