namespace ConversationLedger.Stores.Tests;

/// <summary>A clock that moves one millisecond per reading, so every append has a distinct, ordered time.</summary>
internal sealed class TickingClock : TimeProvider
{
    private long _ticks = new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero).UtcTicks;

    public override DateTimeOffset GetUtcNow() => new(Interlocked.Add(ref _ticks, TimeSpan.TicksPerMillisecond), TimeSpan.Zero);
}
