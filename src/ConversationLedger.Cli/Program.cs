using ConversationLedger.Cli;
using ConversationLedger.Cli.Hosting;

var services = CliServices.ForProcess();
using (services.Interrupts)
{
    return await LedgerApp.RunAsync(args, services);
}
