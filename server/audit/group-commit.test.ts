import type { AuditEvent } from '@medplum/fhirtypes';
import { groupCommit } from './group-commit';

const event = (n: number): AuditEvent => ({ resourceType: 'AuditEvent', id: String(n) }) as AuditEvent;

describe('groupCommit', () => {
  it('stores events that arrive within the window in one write, and each caller waits for its own', async () => {
    const writes: string[][] = [];
    const write = groupCommit(async (events) => void writes.push(events.map((e) => e.id!)), { windowMs: 5 });
    const settled: string[] = [];
    const all = [1, 2, 3].map((n) => write(event(n)).then(() => settled.push(String(n))));
    expect(settled).toEqual([]);
    await Promise.all(all);
    expect(writes).toEqual([['1', '2', '3']]);
    expect(settled).toEqual(['1', '2', '3']);
  });

  it('puts events that arrive during a write into the next one, in batches of at most maxBatch', async () => {
    const writes: string[][] = [];
    let release!: () => void;
    const first = new Promise<void>((resolve) => (release = resolve));
    const write = groupCommit(
      async (events) => {
        writes.push(events.map((e) => e.id!));
        if (writes.length === 1) await first;
      },
      { windowMs: 0, maxBatch: 2 },
    );
    const pending = [write(event(1))];
    for (const n of [2, 3, 4]) pending.push(write(event(n)));
    release();
    await Promise.all(pending);
    expect(writes).toEqual([['1'], ['2', '3'], ['4']]);
  });

  it('fails only the event the store refuses: a failed batch is retried one by one', async () => {
    const stored: string[] = [];
    const write = groupCommit(
      async (events) => {
        if (events.some((e) => e.id === 'bad')) throw new Error('refused');
        stored.push(...events.map((e) => e.id!));
      },
      { windowMs: 5 },
    );
    const results = await Promise.allSettled([write(event(1)), write({ resourceType: 'AuditEvent', id: 'bad' } as AuditEvent), write(event(3))]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect(stored.sort()).toEqual(['1', '3']);
  });
});
