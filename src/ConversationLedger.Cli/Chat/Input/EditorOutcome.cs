namespace ConversationLedger.Cli.Chat.Input;

/// <summary>How a read at the editor ended.</summary>
public enum EditorOutcome
{
    /// <summary>A message or command was entered (<see cref="EditorResult.Text"/>).</summary>
    Line,
    /// <summary>Ctrl+D on an empty line, the terminal closed, or the read was cancelled.</summary>
    End,
    /// <summary>Ctrl+C on an empty line.</summary>
    Interrupted,
}
