namespace ConversationLedger;

/// <summary>The base of every error the ledger reports on purpose. Its message is meant for the end user.</summary>
public class LedgerException : Exception
{
    /// <summary>Creates the exception.</summary>
    public LedgerException(string message, Exception? innerException = null) : base(message, innerException)
    {
    }
}

/// <summary>Input that is not in the expected format (broken JSON, a block without a type, …).</summary>
public sealed class LedgerFormatException(string message, Exception? innerException = null)
    : LedgerException(message, innerException);

/// <summary>A conversation that breaks the API's rules or the ledger's strict alternation.</summary>
public sealed class LedgerValidationException : LedgerException
{
    /// <summary>Creates the exception from the violations found.</summary>
    public LedgerValidationException(IReadOnlyList<Violation> violations)
        : base(Describe(violations))
    {
        Violations = violations;
    }

    /// <summary>Every violation found, in message order.</summary>
    public IReadOnlyList<Violation> Violations { get; }

    private static string Describe(IReadOnlyList<Violation> violations)
    {
        ArgumentNullException.ThrowIfNull(violations);
        return violations.Count == 1
            ? $"invalid conversation: {violations[0]}"
            : $"invalid conversation ({violations.Count} problems): " + string.Join("; ", violations);
    }
}

/// <summary>
/// Another writer got to the thread first; nothing of this operation was stored. Either another writer appended first
/// (<see cref="ExpectedSequence"/> and <see cref="ActualSequence"/> say where), or, before any model call was made, another
/// turn held the thread's turn lease (<see cref="TurnInFlight"/>).
/// </summary>
public sealed class ConcurrencyConflictException : LedgerException
{
    /// <summary>Creates the exception for an append that found the thread further on than expected.</summary>
    public ConcurrencyConflictException(ThreadKey key, long expectedSequence, long actualSequence)
        : base($"thread {key} changed while this turn was in flight (expected entry {expectedSequence}, found {actualSequence}); nothing was stored — reload and send again")
    {
        Key = key;
        ExpectedSequence = expectedSequence;
        ActualSequence = actualSequence;
    }

    private ConcurrencyConflictException(ThreadKey key)
        : base($"another turn on thread {key} is in flight; this one was refused before calling the model, and nothing was sent or stored — send again once that turn is done")
    {
        Key = key;
        ExpectedSequence = -1;
        ActualSequence = -1;
        TurnInFlight = true;
    }

    /// <summary>The thread.</summary>
    public ThreadKey Key { get; }

    /// <summary>The last sequence number the writer expected (-1 when <see cref="TurnInFlight"/>).</summary>
    public long ExpectedSequence { get; }

    /// <summary>The last sequence number actually stored (-1 when <see cref="TurnInFlight"/>).</summary>
    public long ActualSequence { get; }

    /// <summary>Whether the turn was refused up front because another turn held the thread's lease (no model call was made).</summary>
    public bool TurnInFlight { get; }

    /// <summary>The refusal of a turn because another turn on <paramref name="key"/> holds the thread's turn lease.</summary>
    public static ConcurrencyConflictException ForTurnInFlight(ThreadKey key)
    {
        ArgumentNullException.ThrowIfNull(key);
        return new ConcurrencyConflictException(key);
    }
}

/// <summary>A request that cannot fit in the model's context window; it was not sent.</summary>
public sealed class ContextBudgetExceededException(long requestTokens, long budgetTokens, string advice)
    : LedgerException($"the request needs about {requestTokens:N0} tokens but the budget is {budgetTokens:N0} ({requestTokens - budgetTokens:N0} over); {advice}")
{
    /// <summary>Estimated tokens of the request.</summary>
    public long RequestTokens { get; } = requestTokens;

    /// <summary>The budget: context window − max_tokens − margin.</summary>
    public long BudgetTokens { get; } = budgetTokens;
}

/// <summary>A thread, entry or tenant that does not exist.</summary>
public sealed class LedgerNotFoundException(string message) : LedgerException(message);

/// <summary>A model id that the model table does not know.</summary>
public sealed class UnknownModelException(string model)
    : LedgerException($"unknown model {model}: add it to the model table (models.json) or pick a listed one")
{
    /// <summary>The id asked for.</summary>
    public string Model { get; } = model;
}

/// <summary>
/// A model call that failed: an API error, a dropped connection, a cut stream or a timeout. Nothing was committed.
/// The message keeps the status, the API's error type and message and the request id; never the API key. The API errors
/// a caller handles differently have types of their own (<see cref="ForApiError"/> picks it): <see cref="RateLimitedException"/>,
/// <see cref="OverloadedException"/> and <see cref="PromptTooLongException"/>.
/// </summary>
public class ModelCallException : LedgerException
{
    /// <summary>Creates the exception.</summary>
    public ModelCallException(string message, int? statusCode = null, string? errorType = null, string? requestId = null,
        TimeSpan? retryAfter = null, Exception? innerException = null)
        : base(Format(message, statusCode, errorType, requestId), innerException)
    {
        StatusCode = statusCode;
        ErrorType = errorType;
        RequestId = requestId;
        RetryAfter = retryAfter;
        ApiMessage = message;
    }

    /// <summary>The HTTP status, when the API answered.</summary>
    public int? StatusCode { get; }

    /// <summary>The API's error type (invalid_request_error, rate_limit_error, overloaded_error, …).</summary>
    public string? ErrorType { get; }

    /// <summary>The API's request id, when known.</summary>
    public string? RequestId { get; }

    /// <summary>How long the API asked to wait before retrying (429).</summary>
    public TimeSpan? RetryAfter { get; }

    /// <summary>The API's own error message.</summary>
    public string ApiMessage { get; }

    /// <summary>
    /// The exception for an error the API answered with: by status or error type (a stream's error event has only the
    /// type), and a 400 whose message says the prompt is too long (the API gives that no type of its own).
    /// </summary>
    public static ModelCallException ForApiError(string message, int? statusCode, string? errorType, string? requestId = null,
        TimeSpan? retryAfter = null, Exception? innerException = null)
    {
        ArgumentNullException.ThrowIfNull(message);
        return (statusCode, errorType) switch
        {
            (429, _) or (null, "rate_limit_error") => new RateLimitedException(message, statusCode, errorType, requestId, retryAfter, innerException),
            (529, _) or (null, "overloaded_error") => new OverloadedException(message, statusCode, errorType, requestId, retryAfter, innerException),
            (400 or 413 or null, "invalid_request_error") when message.Contains("prompt is too long", StringComparison.OrdinalIgnoreCase)
                => new PromptTooLongException(message, statusCode, errorType, requestId, innerException),
            _ => new ModelCallException(message, statusCode, errorType, requestId, retryAfter, innerException),
        };
    }

    private static string Format(string message, int? status, string? type, string? requestId)
    {
        var head = status is null ? "model call failed" : $"model call failed with {status}{(type is null ? "" : " " + type)}";
        return requestId is null ? $"{head}: {message}; nothing was stored" : $"{head}: {message} (request {requestId}); nothing was stored";
    }
}

/// <summary>The API refused the call for this key's rate limit (429); <see cref="ModelCallException.RetryAfter"/> says when to try again.</summary>
public sealed class RateLimitedException(string message, int? statusCode, string? errorType, string? requestId, TimeSpan? retryAfter, Exception? innerException)
    : ModelCallException(message, statusCode, errorType, requestId, retryAfter, innerException);

/// <summary>The API is overloaded (529, or an <c>overloaded_error</c> event in a stream); trying again later usually works.</summary>
public sealed class OverloadedException(string message, int? statusCode, string? errorType, string? requestId, TimeSpan? retryAfter, Exception? innerException)
    : ModelCallException(message, statusCode, errorType, requestId, retryAfter, innerException);

/// <summary>The API said the prompt does not fit the model's context window: history must be cut further, or the model changed.</summary>
public sealed class PromptTooLongException(string message, int? statusCode, string? errorType, string? requestId, Exception? innerException)
    : ModelCallException(message, statusCode, errorType, requestId, null, innerException);
