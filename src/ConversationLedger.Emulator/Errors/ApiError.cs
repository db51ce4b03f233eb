namespace ConversationLedger.Emulator;

/// <summary>An error the emulator answers with: the HTTP status, the API's error type and its message.</summary>
/// <param name="Status">The HTTP status code.</param>
/// <param name="Type">The API's error type (invalid_request_error, not_found_error, …).</param>
/// <param name="Message">The message, worded like the API's (<c>&lt;json path&gt;: &lt;text&gt;</c>).</param>
internal sealed record ApiError(int Status, string Type, string Message);
