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

/**
 * A reader of the FHIR change feed (the event router, the subscription
 * notifier): `runOnce` passes on the next batch and says how many changes it
 * passed; the follower runs it until caught up, on every poll and on every
 * write in this process that enters the feed.
 */
export abstract class FeedFollower {
  protected stopped = false;
  private loop?: FeedLoop;
  private unsubscribe?: () => void;

  protected constructor(
    private readonly follow: { store: { onChange(listener: (resourceType: string) => void): () => void }; log?: (msg: string, fields?: object) => void },
    private readonly name: string,
  ) {}

  abstract runOnce(): Promise<number>;

  /** Passes batches on until the feed is caught up (or passing is blocked). */
  async runUntilCaughtUp(): Promise<void> {
    while (!this.stopped && (await this.runOnce()) > 0);
  }

  /** Follows the change feed until stop(): polls, and wakes at once on writes in this process. */
  start(intervalMs = 250): void {
    this.loop = new FeedLoop(() => this.runUntilCaughtUp(), (error) => this.follow.log?.(`${this.name} error`, { error: error.message }), intervalMs);
    this.unsubscribe = this.follow.store.onChange(() => this.loop?.wake());
    this.loop.start();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.unsubscribe?.();
    await this.loop?.stop();
  }
}
