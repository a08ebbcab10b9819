/**
 * The loop a change-feed reader runs (the event router, the subscription
 * notifier): catch up, then wait for the next poll or for a wake-up, never
 * two passes at once. A write in this process wakes it at once
 * (FhirStore.onChange); the poll covers writes made by other processes.
 */
export class FeedLoop {
  private timer?: NodeJS.Timeout;
  private running?: Promise<unknown>;
  private again = false;
  private stopped = false;
  private started = false;

  constructor(
    private readonly pass: () => Promise<void>,
    private readonly onError: (error: Error) => void,
    private readonly intervalMs = 250,
  ) {}

  start(): void {
    this.started = true;
    void this.tick();
  }

  /** Something was written: run a pass now, or right after the one under way. */
  wake(): void {
    if (!this.started || this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    void this.tick();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.running;
  }

  private async tick(): Promise<void> {
    if (this.stopped || this.running) return;
    this.again = false;
    this.running = this.pass().catch((error: unknown) => this.onError(error as Error));
    await this.running;
    this.running = undefined;
    if (this.stopped) return;
    if (this.again) void this.tick();
    else this.timer = setTimeout(() => void this.tick(), this.intervalMs);
  }
}
