/**
 * The server's clock: real time plus a skew, and one queue of everything that
 * fires at a time (workflow timers, activity retries and timeouts, workflow
 * task timeouts, run/execution timeouts, start backoffs).
 *
 * Time skipping works as in Temporal's Java test server
 * (temporal-test-server, TestService/SelfAdvancingTimerImpl): one lock count
 * made of the callers' locks (the clock starts locked, count 1; clients
 * unlock while they wait for a result) plus one lock per piece of work the
 * engine has outstanding (a workflow task, an activity, a query, an update).
 * When the count is zero the skew jumps so that the next due entry fires at
 * once. UnlockTimeSkippingWithSleep takes one lock off the count until its
 * time comes, whoever holds it: a test's mocked activity that sleeps two
 * virtual days lets a workflow timer of one day fire meanwhile, as in Java.
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
  /** UnlockTimeSkippingWithSleep calls waiting for their time: each takes one lock off the count. */
  private sleepers = 0;
  private nextId = 1;
  private readonly entries = new Map<number, Entry>();
  private heap: Entry[] = [];
  private handle: NodeJS.Timeout | undefined;
  private skipScheduled = false;
  private stopped = false;

  constructor(
    readonly timeSkipping: boolean,
    /** Locks held by outstanding work (workflow tasks, activities, queries, updates). */
    private readonly outstanding: () => number,
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
    return this.held(0) > 0;
  }

  /** Moves virtual time forward (never back); due entries fire. */
  advanceTo(at: number): void {
    const now = this.now();
    if (at > now) this.skew += at - now;
    this.arm();
  }

  /**
   * Unlocks once until virtual time `at`, then locks again and calls `fire`
   * (UnlockTimeSkippingWithSleep). Unlike unlock(), this takes a lock off
   * the count even when outstanding work holds it, as the Java test server's
   * single counter does.
   */
  sleepUnlocked(at: number, fire: () => void): void {
    this.sleepers++;
    this.schedule(at, () => {
      this.sleepers--;
      fire();
    });
    this.maybeSkip();
  }

  /** The lock count: callers' locks (negative counts, several clients waiting at once, count as none) and outstanding work, less sleepers. */
  private held(work: number): number {
    return Math.max(this.lockCount, 0) + work - this.sleepers;
  }

  /** Called by the engine after every change: skips time when nothing holds a lock. */
  maybeSkip(): void {
    if (!this.timeSkipping || this.held(0) > 0 || this.skipScheduled || this.stopped) return;
    this.skipScheduled = true;
    // Let the engine finish the current change and grpc answer first.
    setImmediate(() => {
      this.skipScheduled = false;
      if (this.stopped || this.held(this.outstanding()) > 0) return;
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
