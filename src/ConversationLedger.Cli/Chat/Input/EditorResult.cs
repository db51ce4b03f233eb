namespace ConversationLedger.Cli.Chat.Input;

/// <summary>The end of one read.</summary>
/// <param name="Outcome">How it ended.</param>
/// <param name="Text">What was entered (for <see cref="EditorOutcome.Line"/>), as typed: fences and all.</param>
public readonly record struct EditorResult(EditorOutcome Outcome, string Text = "");
