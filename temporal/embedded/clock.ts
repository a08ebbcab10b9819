/**
 * The server's clock: real time plus a skew, and one queue of everything that
 * fires at a time (workflow timers, activity retries and timeouts, workflow
 * task timeouts, run/execution timeouts, start backoffs).
 *
 * Time skipping works as in Temporal's Java test server
 * (temporal-test-server, TestWorkflowService/SelfAdvancingTimerImpl): the
 * clock starts locked (count 1); clients unlock it while they wait for a
 * result; when nobody holds a lock and the engine reports no outstanding work
 * (no workflow task, activity task or query in flight), the skew jumps so
 * that the next due entry fires at once.
 */
const MAX_NODE_TIMEOUT = 2 ** 31 - 1;

interface Entry {
  id: number;
  at: number;
  fire: () => void;
}

export class VirtualClock {
  private skew = 0;
  private lockCount: number;
  private nextId = 1;
  private readonly entries = new Map<number, Entry>();
  private heap: Entry[] = [];
  private handle: NodeJS.Timeout | undefined;
  private skipScheduled = false;
  private stopped = false;

  constructor(
    readonly timeSkipping: boolean,
    private readonly isIdle: () => boolean,
    startTime?: number,
  ) {
    this.lockCount = timeSkipping ? 1 : 0;
    if (startTime !== undefined) this.skew = startTime - Date.now();
  }

  now(): number {
    return Date.now() + this.skew;
  }

  /** How far virtual time is ahead of real time (time skipping, a start time in the past or future). */
  get skewMs(): number {
    return this.skew;
  }

  /** Runs `fire` at virtual time `at` (ms since epoch); returns an id for cancel. */
  schedule(at: number, fire: () => void): number {
    const entry = { id: this.nextId++, at, fire };
    this.entries.set(entry.id, entry);
    this.push(entry);
    this.arm();
    return entry.id;
  }

  cancel(id: number | undefined): void {
    if (id !== undefined) this.entries.delete(id);
  }

  lock(): void {
    this.lockCount++;
  }

  /**
   * Unlocks once. The count may go below zero while several clients wait for
   * results at once (each unlocks, then locks again when its result arrives).
   */
  unlock(): void {
    this.lockCount--;
    this.maybeSkip();
  }

  get locked(): boolean {
    return this.lockCount > 0;
  }

  /** Moves virtual time forward (never back); due entries fire. */
  advanceTo(at: number): void {
    const now = this.now();
    if (at > now) this.skew += at - now;
    this.arm();
  }

  /** Called by the engine after every change: skips time when everything is idle. */
  maybeSkip(): void {
    if (!this.timeSkipping || this.lockCount > 0 || this.skipScheduled || this.stopped) return;
    this.skipScheduled = true;
    // Let the engine finish the current change and grpc answer first.
    setImmediate(() => {
      this.skipScheduled = false;
      if (this.lockCount > 0 || this.stopped || !this.isIdle()) return;
      const next = this.peek();
      if (!next) return;
      if (next.at > this.now()) this.skew += next.at - this.now();
      this.fireDue();
    });
  }

  stop(): void {
    this.stopped = true;
    if (this.handle) clearTimeout(this.handle);
  }

  private peek(): Entry | undefined {
    while (this.heap.length > 0 && !this.entries.has(this.heap[0].id)) this.pop();
    return this.heap[0];
  }

  private fireDue(): void {
    for (;;) {
      const next = this.peek();
      if (!next || next.at > this.now()) break;
      this.pop();
      this.entries.delete(next.id);
      next.fire();
    }
    this.arm();
    this.maybeSkip();
  }

  private arm(): void {
    if (this.stopped) return;
    if (this.handle) clearTimeout(this.handle);
    this.handle = undefined;
    const next = this.peek();
    if (!next) return;
    const delay = Math.max(0, Math.min(next.at - this.now(), MAX_NODE_TIMEOUT));
    this.handle = setTimeout(() => this.fireDue(), delay);
    this.handle.unref();
  }

  private push(entry: Entry): void {
    const heap = this.heap;
    heap.push(entry);
    let i = heap.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (heap[parent].at <= heap[i].at) break;
      [heap[parent], heap[i]] = [heap[i], heap[parent]];
      i = parent;
    }
  }

  private pop(): Entry | undefined {
    const heap = this.heap;
    const top = heap[0];
    const last = heap.pop();
    if (heap.length > 0 && last) {
      heap[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < heap.length && heap[l].at < heap[m].at) m = l;
        if (r < heap.length && heap[r].at < heap[m].at) m = r;
        if (m === i) break;
        [heap[m], heap[i]] = [heap[i], heap[m]];
        i = m;
      }
    }
    return top;
  }
}
