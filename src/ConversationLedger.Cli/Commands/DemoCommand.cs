using System.ComponentModel;
using ConversationLedger.Cli.Hosting;
using Spectre.Console;

namespace ConversationLedger.Cli.Commands;

/// <summary>
/// <c>ledger demo</c>: the guide's stateless-vs-stateful demonstration, side by side. Stateless sends two
/// independent requests; stateful sends the second message on one thread that carries the first exchange.
/// </summary>
[Description("The stateless-vs-stateful demonstration: does the second reply know your name?")]
public sealed class DemoCommand(CliServices services) : LedgerCommand<LedgerSettings>(services)
{
    /// <summary>The first message.</summary>
    public const string Introduction = "My name is Hesham and I build automation systems.";

    /// <summary>The second message.</summary>
    public const string Question = "What's my name and what do I do?";

    /// <summary>The fact the second reply can only know from the history.</summary>
    public const string Name = "Hesham";

    private const int MaxTokens = 256;

    /// <inheritdoc />
    protected override async Task<int> RunAsync(LedgerSettings settings, CancellationToken cancellationToken)
    {
        // The demo thread is throwaway: a store of its own keeps it out of the user's ledger.
        await using var session = await OpenAsync(new LedgerSettings { Store = "memory:", Scope = settings.Scope, Model = settings.Model }, withModel: true, cancellationToken);
        var model = session.Ledger.Model;
        var modelId = session.Ledger.Options.Model;

        // Stateless: each request carries only its own message, as in the guide.
        var stateless1 = await model.SendAsync(Single(modelId, Introduction), cancellationToken);
        var stateless2 = await model.SendAsync(Single(modelId, Question), cancellationToken);

        // Stateful: one thread; the ledger carries the first exchange into the second request.
        var thread = new Ledger(session.Store, model, new LedgerOptions { Model = modelId, MaxTokens = MaxTokens }).Open(session.Key("demo"));
        var stateful1 = await thread.SendAsync(Introduction, cancellationToken);
        var stateful2 = await thread.SendAsync(Question, cancellationToken);

        var table = new Table().Border(TableBorder.Rounded).Expand()
            .AddColumn("[bold]stateless[/]: two independent requests")
            .AddColumn("[bold]stateful[/]: one thread, full history");
        table.AddRow(Turn(1, Introduction, stateless1.Message.Text, 1), Turn(1, Introduction, stateful1.ReplyText, stateful1.MessagesSent));
        table.AddRow(Turn(2, Question, stateless2.Message.Text, 1), Turn(2, Question, stateful2.ReplyText, stateful2.MessagesSent));
        Console.Write(table);

        var statelessKnew = stateless2.Message.Text.Contains(Name, StringComparison.OrdinalIgnoreCase);
        var statefulKnew = stateful2.ReplyText.Contains(Name, StringComparison.OrdinalIgnoreCase);
        Console.MarkupLine($"did the second reply know the name? stateless: {YesNo(statelessKnew)}, stateful: {YesNo(statefulKnew)}");
        Console.MarkupLine("[dim]the API keeps no state: the stateful side knows only because the ledger sent the first exchange again[/]");
        return 0;
    }

    private static ModelRequest Single(string model, string text) =>
        new() { Model = model, MaxTokens = MaxTokens, Messages = [Message.User(text)] };

    private static Markup Turn(int number, string sent, string reply, int messagesSent) => new(
        $"[dim]turn {number} · {messagesSent} message{(messagesSent == 1 ? "" : "s")} sent[/]\n[green]you:[/] {Markup.Escape(sent)}\n[blue]claude:[/] {Markup.Escape(reply)}");

    private static string YesNo(bool value) => value ? "[green]yes[/]" : "[red]no[/]";
}
