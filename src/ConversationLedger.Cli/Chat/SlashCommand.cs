namespace ConversationLedger.Cli.Chat;

/// <summary>
/// One of the chat's slash commands: the names it answers to, what it takes, its line in <c>/help</c> and what it does.
/// The chat's table of these is both what it runs and what <c>/help</c> lists, so the two cannot disagree.
/// </summary>
/// <param name="Names">Its names, slash included (<c>/pin</c>, <c>/unpin</c>); matched ignoring case.</param>
/// <param name="Arguments">What it takes after its name, as <c>/help</c> shows it (<c>N</c>, <c>[TEXT]</c>), or empty.</param>
/// <param name="Help">Its one line in <c>/help</c>.</param>
/// <param name="RunAsync">What it does, given the name it was called by and the rest of the line.</param>
internal sealed record SlashCommand(string[] Names, string Arguments, string Help, Func<string, string, CancellationToken, Task> RunAsync)
{
    /// <summary>Keys that do the same, listed after its names (Ctrl+D for /exit). <value>The default value is null.</value></summary>
    public string? Keys { get; init; }

    /// <summary>Whether it ends the chat (after <see cref="RunAsync"/>). <value>The default value is false.</value></summary>
    public bool EndsChat { get; init; }

    /// <summary>How <c>/help</c> names it: each name with its arguments (<c>/pin N, /unpin N</c>), then its keys.</summary>
    public string Usage =>
        string.Join(", ", Names.Select(name => Arguments.Length == 0 ? name : name + " " + Arguments)) + (Keys is null ? "" : ", " + Keys);
}
