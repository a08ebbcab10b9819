/**
 * Live updates: the dashboard follows the FHIR change feed (the same feed
 * the event router reads; the workflows' own writes, such as the CarePlan
 * after a missed window, are in it) and tells every open page over
 * server-sent events that something changed; the page then re-reads its
 * own data through the API, with the user's access checks. The event
 * carries no data of any family, so nobody learns more than they may read.
 * https://html.spec.whatwg.org/multipage/server-sent-events.html
 */
import type { Response } from 'express';
import { FeedLoop } from '../../events/feed-loop';
import type { FhirStore } from '../../fhir/store';

/** Types whose changes can change what a dashboard page shows. */
const SHOWN = new Set(['CarePlan', 'Task', 'Communication', 'Consent', 'Encounter', 'Observation', 'EpisodeOfCare', 'ServiceRequest', 'Patient']);

export class LiveUpdates {
  private readonly clients = new Set<Response>();
  private seq?: number;
  private loop?: FeedLoop;
  private unsubscribe?: () => void;
  private heartbeat?: NodeJS.Timeout;
  private pending?: NodeJS.Timeout;

  /** @param debounceMs changes that come together (a workflow's several writes) are told once. */
  constructor(
    private readonly store: Pick<FhirStore, 'changesAfter' | 'onChange'>,
    private readonly options: { intervalMs?: number; debounceMs?: number; onError?: (error: Error) => void } = {},
  ) {}

  /** Starts following at the feed's head (changes before now are not news). */
  private start(): void {
    if (this.loop) return;
    this.loop = new FeedLoop(() => this.pass(), (error) => this.options.onError?.(error), this.options.intervalMs ?? 500);
    this.unsubscribe = this.store.onChange(() => this.loop?.wake());
    this.loop.start();
    // A comment line now and then keeps proxies from closing an idle stream.
    this.heartbeat = setInterval(() => this.write(': keep-alive\n\n'), 25_000);
    this.heartbeat.unref();
  }

  private async pass(): Promise<void> {
    if (this.seq === undefined) {
      let seq = 0;
      for (let batch = await this.store.changesAfter(0, 1000); batch.length > 0; batch = await this.store.changesAfter(seq, 1000)) seq = batch[batch.length - 1].seq;
      this.seq = seq;
      return;
    }
    for (;;) {
      const batch = await this.store.changesAfter(this.seq, 500);
      if (batch.length === 0) return;
      this.seq = batch[batch.length - 1].seq;
      if (batch.some((c) => SHOWN.has(c.resource.resourceType))) this.changed();
    }
  }

  private changed(): void {
    if (this.pending) return;
    this.pending = setTimeout(() => {
      this.pending = undefined;
      this.write(`event: changed\ndata: ${Date.now()}\n\n`);
    }, this.options.debounceMs ?? 150);
  }

  private write(chunk: string): void {
    for (const res of this.clients) res.write(chunk);
  }

  /** Opens an event stream on `res` until the browser goes away. */
  connect(res: Response): void {
    this.start();
    res.status(200).set({ 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-store', connection: 'keep-alive', 'x-accel-buffering': 'no' });
    res.flushHeaders();
    res.write('retry: 2000\n\n');
    this.clients.add(res);
    res.on('close', () => this.clients.delete(res));
  }

  async stop(): Promise<void> {
    this.unsubscribe?.();
    if (this.heartbeat) clearInterval(this.heartbeat);
    if (this.pending) clearTimeout(this.pending);
    for (const res of this.clients) res.end();
    this.clients.clear();
    await this.loop?.stop();
  }
}
