/**
 * Task queues: a FIFO of task references per (namespace, queue name) and the
 * long polls waiting on it. A poll that finds nothing waits until a task
 * arrives or its deadline passes (then it answers "no task", as Temporal's
 * matching service does).
 */
export interface Waiter<T> {
  resolve: (task: T | undefined) => void;
  timer: NodeJS.Timeout;
}

export class TaskQueues<T> {
  private readonly backlog = new Map<string, T[]>();
  private readonly waiters = new Map<string, Waiter<T>[]>();

  push(queue: string, task: T): void {
    const waiting = this.waiters.get(queue);
    const waiter = waiting?.shift();
    if (waiter) {
      waiter.resolve(task);
      return;
    }
    let list = this.backlog.get(queue);
    if (!list) this.backlog.set(queue, (list = []));
    list.push(task);
  }

  /** Removes matching tasks from a queue's backlog (e.g. a cancelled activity). */
  remove(queue: string, match: (task: T) => boolean): void {
    const list = this.backlog.get(queue);
    if (!list) return;
    const kept = list.filter((t) => !match(t));
    if (kept.length === 0) this.backlog.delete(queue);
    else this.backlog.set(queue, kept);
  }

  /**
   * Takes the next task for which `claim` returns a value (stale entries are
   * skipped), or waits up to `timeoutMs` for one.
   */
  poll<R>(queue: string, timeoutMs: number, claim: (task: T) => R | undefined, onCancel: (cancel: () => void) => void): Promise<R | undefined> {
    const list = this.backlog.get(queue);
    while (list && list.length > 0) {
      const task = list.shift()!;
      const claimed = claim(task);
      if (claimed !== undefined) return Promise.resolve(claimed);
    }
    return new Promise<R | undefined>((resolve) => {
      let done = false;
      const waiter: Waiter<T> = {
        resolve: (task) => {
          if (done) return;
          const claimed = task === undefined ? undefined : claim(task);
          if (task !== undefined && claimed === undefined) {
            // Stale task: keep waiting until the original deadline.
            let waiting = this.waiters.get(queue);
            if (!waiting) this.waiters.set(queue, (waiting = []));
            waiting.push(waiter);
            return;
          }
          done = true;
          clearTimeout(waiter.timer);
          resolve(claimed);
        },
        timer: setTimeout(() => expire(), timeoutMs),
      };
      const expire = () => {
        const waiting = this.waiters.get(queue);
        if (waiting) {
          const i = waiting.indexOf(waiter);
          if (i >= 0) waiting.splice(i, 1);
        }
        if (!done) {
          done = true;
          resolve(undefined);
        }
      };
      let waiting = this.waiters.get(queue);
      if (!waiting) this.waiters.set(queue, (waiting = []));
      waiting.push(waiter);
      onCancel(() => {
        clearTimeout(waiter.timer);
        expire();
      });
    });
  }

  /** Ends every waiting poll with "no task" (server shutdown). */
  releaseAll(): void {
    for (const waiting of this.waiters.values()) {
      for (const w of waiting.splice(0)) {
        clearTimeout(w.timer);
        w.resolve(undefined);
      }
    }
  }

  backlogSize(queue: string): number {
    return this.backlog.get(queue)?.length ?? 0;
  }
}
