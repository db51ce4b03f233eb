using ConversationLedger;
using Microsoft.Extensions.Options;

namespace ConversationLedger.Extensions.DependencyInjection;

/// <summary>
/// Checks <see cref="LedgerOptions"/> as the <see cref="Ledger"/> constructor does, naming each problem by its
/// configuration key (<c>ConversationLedger:MaxTokens must be positive, not 0</c>), so a bad setting stops the host at start.
/// </summary>
public sealed class LedgerOptionsValidator : IValidateOptions<LedgerOptions>
{
    private readonly string _prefix;

    /// <summary>Creates a validator whose messages start with <paramref name="sectionPath"/> (e.g. "ConversationLedger").</summary>
    public LedgerOptionsValidator(string sectionPath)
    {
        ArgumentNullException.ThrowIfNull(sectionPath);
        _prefix = sectionPath.Length == 0 ? "" : sectionPath + ":";
    }

    /// <inheritdoc />
    public ValidateOptionsResult Validate(string? name, LedgerOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var problems = options.Validate();
        return problems.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(problems.Select(p => _prefix + p));
    }
}
